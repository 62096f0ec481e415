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
    code, text = run("census", str(after))
    assert code == 0
    line = next(ln for ln in text.splitlines() if ln.startswith("tests.test_cli.CliModel"))
    assert line.split()[1:] == ["2,500", f"{2500 * sys.getsizeof(CliModel(0)):,}"]
    code, text = run("census", str(after), "--limit", "2")
    assert len(text.splitlines()) == 1 + 1 + 2


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
    assert "No such file" in capsys.readouterr().err
    assert run("why", str(after), "0x10")[0] == 1
    assert run("why", str(after), "NoSuchType")[0] == 1
    with pytest.raises(SystemExit) as exc:
        run("top", str(after), "--limit", "-1")
    assert exc.value.code == 2


def test_module_entry_point(files: tuple[Path, Path, int]) -> None:
    _, after, addr = files
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, "-m", "heapwatch", "why", str(after), hex(addr)],
                         capture_output=True, text=True, env=env, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.endswith("-> list [7] -> CliModel\n")
