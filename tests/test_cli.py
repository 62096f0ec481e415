"""python -m heapwatch on snapshot files."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

import heapwatch
from heapwatch.__main__ import main


class CliModel:
    def __init__(self, i: int) -> None:
        self.pk = i


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, int]]:
    d = tmp_path_factory.mktemp("snaps")
    mod = types.ModuleType("hw_cli_views")
    sys.modules[mod.__name__] = mod
    try:
        before = d / "before.hwsnap"
        heapwatch.snapshot().save(before)
        mod.CACHE = {"dump": [CliModel(i) for i in range(2500)]}  # type: ignore[attr-defined]
        after = d / "after.hwsnap"
        heapwatch.snapshot().save(after)
        yield before, after, id(mod.CACHE["dump"][7])  # type: ignore[attr-defined]
    finally:
        del sys.modules[mod.__name__]


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out)
    return code, out.getvalue()


def test_census(files: tuple[Path, Path, int]) -> None:
    _, after, _ = files
    code, text = run("census", str(after), "--limit", "0")
    assert code == 0
    line = next(ln for ln in text.splitlines() if ln.startswith("tests.test_cli.CliModel"))
    assert line.split()[1:] == ["2,500", f"{2500 * sys.getsizeof(CliModel(0)):,}"]
    ntypes = len(heapwatch.load(after, fullnames=True).census())
    # Header, column titles, one row per type, and no note: nothing was cut.
    assert len(text.splitlines()) == 1 + 1 + ntypes
    code, text = run("census", str(after), "--limit", "2")
    assert text.splitlines()[4:] == [f"(2 of {ntypes:,} types; --limit 0 shows all)"]
    assert len(text.splitlines()) == 1 + 1 + 2 + 1


def test_census_shows_the_top_20_by_default(files: tuple[Path, Path, int]) -> None:
    _, after, _ = files
    code, text = run("census", str(after))
    assert code == 0
    lines = text.splitlines()
    assert len(lines) == 1 + 1 + 20 + 1 and lines[-1].startswith("(20 of ")
    everything = run("census", str(after), "--limit", "0")[1].splitlines()
    assert [ln.split() for ln in lines[:22]] == [ln.split() for ln in everything[:22]]


def test_limit_0_lifts_the_limit_everywhere(files: tuple[Path, Path, int]) -> None:
    before, after, _ = files
    for argv in (["diff", str(before), str(after)], ["why", str(after), "dict"],
                 ["top", str(after), "--by", "type"]):
        code, text = run(*argv, "--limit", "0")
        assert (code, text) == run(*argv, "--limit", str(10**9)), argv
        assert code == 0 and len(text.splitlines()) >= len(run(*argv)[1].splitlines()), argv
        assert "no type grew" not in text


def test_diff(files: tuple[Path, Path, int]) -> None:
    before, after, _ = files
    code, text = run("diff", str(before), str(after), "--limit", "3")
    assert code == 0
    assert any(ln.split()[:3] == ["tests.test_cli.CliModel", "2,500", "+2,500"]
               for ln in text.splitlines())
    assert "2,500 CliModel (" in text
    assert "held via module hw_cli_views .CACHE [*] -> list [*]" in text
    code, text = run("diff", str(after), str(after))
    assert (code, text) == (0, "no type grew\n")


def test_why_address_and_type(files: tuple[Path, Path, int]) -> None:
    _, after, addr = files
    code, text = run("why", str(after), hex(addr))
    assert (code, text) == (0, "module hw_cli_views .CACHE ['dump'] -> list [7] -> CliModel\n")
    code, text = run("why", str(after), "CliModel")
    assert code == 0
    assert text.splitlines()[0].startswith("2,500 CliModel (")
    assert text.splitlines()[1].startswith("    e.g. module hw_cli_views .CACHE ['dump'] -> list [")


def test_top(files: tuple[Path, Path, int]) -> None:
    _, after, _ = files
    code, text = run("top", str(after), "--limit", "3")
    assert code == 0 and len(text.splitlines()) == 3
    assert all(" retained by " in ln for ln in text.splitlines())
    code, text = run("top", str(after), "--by", "type", "--limit", "5")
    assert code == 0 and len(text.splitlines()) == 5
    code, text = run("top", str(after), "--by", "holder", "--limit", "1000000")
    assert code == 0
    assert any(ln.startswith("2,500 CliModel (") and "held via module hw_cli_views .CACHE" in ln
               for ln in text.splitlines())


def test_errors(files: tuple[Path, Path, int], tmp_path: Path,
                capsys: pytest.CaptureFixture[str]) -> None:
    _, after, _ = files
    bad = tmp_path / "bad.hwsnap"
    bad.write_bytes(b"\0" * 64)
    assert run("census", str(bad))[0] == 1
    assert "not a heapwatch snapshot" in capsys.readouterr().err
    assert run("census", str(tmp_path / "missing"))[0] == 1
    assert capsys.readouterr().err == f"heapwatch: {tmp_path / 'missing'}: No such file or directory\n"
    assert run("why", str(after), "0x10")[0] == 1
    assert run("why", str(after), "NoSuchType")[0] == 1
    with pytest.raises(SystemExit) as exc:
        run("top", str(after), "--limit", "-1")
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        run("census", str(after), "--limit", "many")
    assert exc.value.code == 2
    assert "argument --limit: not a whole number: 'many'" in capsys.readouterr().err


def test_module_entry_point(files: tuple[Path, Path, int]) -> None:
    _, after, addr = files
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, "-m", "heapwatch", "why", str(after), hex(addr)],
                         capture_output=True, text=True, env=env, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.endswith("-> list [7] -> CliModel\n")


# ---- the command line, in a process of its own -------------------------------


def heapwatch_command(*argv: str) -> list[str]:
    return [sys.executable, "-m", "heapwatch", *argv]


def cli_env(unbuffered: bool = False) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    env.pop("PYTHONUNBUFFERED", None)
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    return env


def test_directory_instead_of_a_snapshot(files: tuple[Path, Path, int], tmp_path: Path) -> None:
    _, after, _ = files
    for argv in (["census", str(tmp_path)], ["diff", str(after), str(tmp_path)],
                 ["why", str(tmp_path), "dict"], ["top", str(tmp_path)]):
        done = subprocess.run(heapwatch_command(*argv), capture_output=True, text=True,
                              env=cli_env(), timeout=120, check=False)
        assert (done.returncode, done.stdout) == (1, ""), argv
        assert done.stderr == f"heapwatch: {tmp_path} is a directory, not a snapshot file\n"


@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
def test_closed_pipe_ends_quietly(files: tuple[Path, Path, int], unbuffered: bool) -> None:
    """The reader is gone before anything is written: every write fails
    with EPIPE, at once (unbuffered) or when stdout is flushed.  No
    traceback, no "Exception ignored" at exit, status 1 as Python's own on
    EPIPE."""
    _, after, addr = files
    for argv in (["census", str(after)], ["why", str(after), hex(addr)], ["--help"]):
        read_end, write_end = os.pipe()
        os.close(read_end)
        try:
            done = subprocess.run(heapwatch_command(*argv), stdout=write_end,
                                  stderr=subprocess.PIPE, text=True, env=cli_env(unbuffered),
                                  timeout=120, check=False)
        finally:
            os.close(write_end)
        assert done.stderr == "", argv
        # argparse drops a failed write of its help text: unbuffered,
        # nothing is left to fail, and --help exits 0 as it would have.
        assert done.returncode == (0 if unbuffered and argv == ["--help"] else 1), argv


@pytest.fixture(scope="module")
def many_types(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A snapshot whose census is about 1 MiB of text: far more than a pipe
    holds, so that a reader that stops early breaks the pipe."""
    mod = types.ModuleType("hw_cli_many")
    # One instance of each of 6000 types: 6000 census rows of 180 columns.
    kinds = [type(f"PipeFiller{i:05d}" + "x" * 150, (), {"__module__": mod.__name__})()
             for i in range(6000)]
    mod.KINDS = kinds  # type: ignore[attr-defined]
    sys.modules[mod.__name__] = mod
    try:
        path = tmp_path_factory.mktemp("many") / "many.hwsnap"
        heapwatch.snapshot().save(path)
    finally:
        del sys.modules[mod.__name__]
        mod.__dict__.clear()
    yield path


def test_census_into_head_ends_quietly(many_types: Path) -> None:
    """`python -m heapwatch census --limit 0 FILE | head -n 1`: head exits
    after the first line, the census is still being written."""
    script = 'set -o pipefail; "$@" | head -n 1'
    done = subprocess.run(["bash", "-c", script, "bash",
                           *heapwatch_command("census", "--limit", "0", str(many_types))],
                          capture_output=True, text=True, env=cli_env(), timeout=120,
                          check=False)
    assert done.stderr == ""
    assert done.stdout.startswith(f"{many_types}: ") and done.stdout.count("\n") == 1
    assert done.returncode == 1  # heapwatch's status: pipefail passes it on


HELPS = [[], ["census"], ["diff"], ["why"], ["top"]]


@pytest.mark.parametrize("command", HELPS, ids=lambda c: c[0] if c else "main")
def test_help_names_arguments_without_underscores(command: list[str]) -> None:
    done = subprocess.run(heapwatch_command(*command, "--help"), capture_output=True,
                          text=True, env=cli_env(), timeout=120, check=False)
    assert (done.returncode, done.stderr) == (0, "")
    usage, _, rest = done.stdout.partition("\n\n")
    # The usage lines and the left column of the argument lists: what the
    # user types or reads as a placeholder.
    names = [usage] + [ln.strip().split("  ")[0] for ln in rest.splitlines()
                       if ln.startswith("  ") and not ln.startswith("   ")]
    assert names[1:], done.stdout
    assert not [n for n in names if "_" in n], done.stdout


def test_usage_lines() -> None:
    usages = {}
    for command in HELPS[1:]:
        text = subprocess.run(heapwatch_command(*command, "--help"), capture_output=True,
                              text=True, env=cli_env(), timeout=120, check=True).stdout
        usages[command[0]] = " ".join(text.partition("\n\n")[0].split())
    assert usages == {
        "census": "usage: python -m heapwatch census [-h] [--limit N] SNAPSHOT",
        "diff": "usage: python -m heapwatch diff [-h] [--limit N] OLD NEW",
        "why": "usage: python -m heapwatch why [-h] [--limit N] SNAPSHOT ADDRESS|TYPE",
        "top": "usage: python -m heapwatch top [-h] [--limit N] [--by {object,type,holder}] "
               "SNAPSHOT",
    }
