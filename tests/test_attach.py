"""python -m heapwatch attach PID: a capture of a process that never
imported heapwatch, through gdb.  The targets are real processes: a plain
interpreter that cannot import heapwatch (the base interpreter of the
venv, without its site-packages), and a gunicorn sync worker."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from typing import Any
from pathlib import Path

import pytest

import heapwatch
from heapwatch._attach import AttachError, attach

ROOT = Path(__file__).resolve().parent.parent
IN_CI = bool(os.environ.get("CI"))
BASE_PYTHON = getattr(sys, "_base_executable", sys.executable)


@pytest.fixture(autouse=True)
def _needs_gdb() -> None:
    if shutil.which("gdb") is None:
        if IN_CI:
            pytest.fail("gdb is not installed (required in CI)")
        pytest.skip("gdb is not installed (Debian: apt-get install gdb)")


def _spawn(code: str, *prefix: str, python: str = BASE_PYTHON) -> subprocess.Popen[str]:
    """A target: `python -I -c code` (isolated: no site-packages, no
    PYTHONPATH, so heapwatch cannot be imported there), started and
    running its loop when this returns."""
    proc = subprocess.Popen([*prefix, python, "-I", "-c", textwrap.dedent(code)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read() if proc.stderr else ""
    return proc


def _end(proc: subprocess.Popen[str]) -> tuple[str, str]:
    proc.kill()
    out, err = proc.communicate(timeout=30)
    return out, err


UNPREPARED = """
    import sys, time
    class Kept:
        pass
    kept = [Kept() for _ in range(4321)]
    try:
        import heapwatch
        print("heapwatch importable?!", flush=True)
    except ImportError:
        pass
    print("ready", flush=True)
    while True:
        time.sleep(0.05)
"""


def test_attach_captures_an_unprepared_process(tmp_path: Path) -> None:
    proc = _spawn(UNPREPARED)
    try:
        out = subprocess.run([sys.executable, "-m", "heapwatch", "attach", str(proc.pid),
                              "-o", str(tmp_path / "a.hwsnap")],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith(f"{tmp_path / 'a.hwsnap'}: ")
        assert f"process {proc.pid} stopped" in out.stdout
        snap = heapwatch.load(tmp_path / "a.hwsnap")
        assert dict(snap.census().items())["Kept"].count == 4321
        assert os.stat(tmp_path / "a.hwsnap").st_mode & 0o777 == 0o600
        # Held by the main module's frame, which the capture names.
        groups = snap.retention("Kept", 3)
        assert groups and groups[0].count == 4321 and "local kept [*]" in groups[0].via
        assert proc.poll() is None                  # still running
        # Twice: the second time heapwatch is already imported there.
        state = attach(proc.pid, tmp_path / "b.hwsnap", timeout=60)
        assert state["state"] == "done" and state["nodes"] > 10_000
    finally:
        stdout, stderr = _end(proc)
    assert "heapwatch importable" not in stdout
    assert stderr == ""                              # no traceback, no warning there
    assert sorted(os.listdir(tmp_path)) == ["a.hwsnap", "b.hwsnap"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_APP = """
class Row:
    pass

ROWS = []


def application(environ, start_response):
    ROWS.extend(Row() for _ in range(100))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
"""


@pytest.fixture
def gunicorn_worker(tmp_path: Path) -> Iterator[tuple[int, str, subprocess.Popen[bytes]]]:
    import importlib.util

    if importlib.util.find_spec("gunicorn") is None:
        if IN_CI:
            pytest.fail("gunicorn is not installed (required in CI)")
        pytest.skip("gunicorn is not installed")
    (tmp_path / "plainapp.py").write_text(_APP)
    (tmp_path / "conf.py").write_text("control_socket_disable = True\n")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "plainapp:application", "-c", "conf.py",
         "--workers", "1", "--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base, timeout=5).read()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError("gunicorn did not start")
                time.sleep(0.2)
        from heapwatch.management.commands.heapwatch_snapshot import children
        workers = children(proc.pid)
        assert len(workers) == 1
        yield workers[0], base, proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_attach_captures_a_gunicorn_worker(gunicorn_worker: tuple[int, str, Any],
                                           tmp_path: Path) -> None:
    worker, base, master = gunicorn_worker
    for _ in range(7):
        urllib.request.urlopen(base, timeout=10).read()
    # A sync worker waits in select() between requests: the capture runs
    # when its loop next runs Python (within gunicorn's timeout / 2).
    state = attach(worker, tmp_path / "w.hwsnap", timeout=90)
    assert state["state"] == "done"
    census = dict(heapwatch.load(tmp_path / "w.hwsnap").census().items())
    assert census["Row"].count >= 700
    # The worker serves on, the same one.
    urllib.request.urlopen(base, timeout=10).read()
    from heapwatch.management.commands.heapwatch_snapshot import children
    assert children(master.pid) == [worker]


# ---- what can go wrong, said with the fix ------------------------------------------


def test_no_such_process(tmp_path: Path) -> None:
    p = subprocess.Popen(["true"])
    p.wait()
    with pytest.raises(AttachError, match=f"no process {p.pid}"):
        attach(p.pid, tmp_path / "x")


def test_not_a_python_process(tmp_path: Path) -> None:
    p = subprocess.Popen(["sleep", "60"])
    try:
        with pytest.raises(AttachError, match="is not a CPython interpreter"):
            attach(p.pid, tmp_path / "x")
        assert p.poll() is None
    finally:
        p.kill()
        p.wait()


def _other_python() -> str | None:
    """A supported CPython of another minor version, as the Makefile finds
    them (tools/pythons.sh)."""
    out = subprocess.run(["sh", str(ROOT / "tools" / "pythons.sh")], capture_output=True,
                         text=True)
    mine = "%d.%d" % sys.version_info[:2]
    for path in out.stdout.split():
        if not path.endswith("python" + mine):
            return path
    return None


def test_a_python_of_another_version(tmp_path: Path) -> None:
    other = _other_python()
    if other is None:
        pytest.skip("no CPython of another version here")
    proc = _spawn(UNPREPARED, python=other)
    try:
        with pytest.raises(AttachError, match=r"runs Python 3\.1\d\.\d+, and this heapwatch is "
                                              r"for Python 3\.1\d: run `python3\.1\d -m heapwatch"):
            attach(proc.pid, tmp_path / "x")
        assert proc.poll() is None
    finally:
        _end(proc)


def test_ptrace_refused_says_the_fix(tmp_path: Path) -> None:
    # A process that made itself non-dumpable may be traced only with
    # CAP_SYS_PTRACE, which the attacher here runs without.
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to drop CAP_SYS_PTRACE")
    proc = _spawn("""
        import ctypes, time
        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)      # PR_SET_DUMPABLE 0
        print("ready", flush=True)
        while True:
            time.sleep(0.05)
    """)
    try:
        out = subprocess.run(
            ["setpriv", "--bounding-set=-sys_ptrace", "--inh-caps=-sys_ptrace",
             sys.executable, "-m", "heapwatch", "attach", str(proc.pid), "-o",
             str(tmp_path / "x.hwsnap")],
            capture_output=True, text=True, timeout=120)
        assert out.returncode == 1, out.stdout + out.stderr
        assert f"not allowed to trace process {proc.pid} (ptrace: Operation not permitted)" \
            in out.stderr
        assert "CAP_SYS_PTRACE" in out.stderr
        assert proc.poll() is None
    finally:
        _end(proc)


def test_another_mount_namespace(tmp_path: Path) -> None:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare for a mount namespace")
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("unshare -m is not allowed here")
    proc = _spawn(UNPREPARED, "unshare", "-m")
    try:
        # unshare execs the interpreter: the pid is the target's.
        with pytest.raises(AttachError, match="is in another mount namespace"):
            attach(proc.pid, tmp_path / "x")
    finally:
        _end(proc)


def test_no_gdb(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "heapwatch", "attach", "1", "-o",
                          str(tmp_path / "x")], capture_output=True, text=True,
                         env=dict(os.environ, PATH=str(tmp_path)), timeout=60)
    assert out.returncode == 1
    assert "gdb is not installed" in out.stderr and "apt-get install gdb" in out.stderr


def test_a_main_thread_that_runs_no_python_code(tmp_path: Path) -> None:
    proc = _spawn("""
        import time
        print("ready", flush=True)
        time.sleep(600)
    """)
    try:
        with pytest.raises(AttachError, match="main thread ran no Python code within 1 s"):
            attach(proc.pid, tmp_path / "x", timeout=1)
        assert proc.poll() is None
    finally:
        _end(proc)


def test_arguments(tmp_path: Path) -> None:
    with pytest.raises(AttachError, match="that is this process"):
        attach(os.getpid(), tmp_path / "x")
    with pytest.raises(AttachError, match="not a process id"):
        attach(-3, tmp_path / "x")
    with pytest.raises(AttachError, match="no directory"):
        attach(1, tmp_path / "missing" / "x")
