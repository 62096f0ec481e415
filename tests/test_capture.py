"""heapwatch.capture(): a snapshot written by a forked child.

Each scenario that forks a big heap, kills a child or joins a cgroup runs
in a fresh interpreter (a child of pytest), so pytest's own process only
ever forks its own modest heap.
"""

from __future__ import annotations

import json
import os
import pathlib
import stat
import subprocess
import sys
import textwrap
import time
from typing import Any

import pytest

import heapwatch
from heapwatch import _capture

IN_CI = bool(os.environ.get("CI"))


def run(code: str, *args: str, timeout: float = 180,
        preexec: Any = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args],
                          capture_output=True, text=True, timeout=timeout,
                          preexec_fn=preexec)


def gone(pid: int, within: float = 5.0) -> bool:
    """The process has left the process table (so it is no zombie)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state not in ("Z", "X"):
            time.sleep(0.02)
            continue
        time.sleep(0.02)
    return False


class Leaf:
    pass


# Held from this module, so that both snapshots name the same path.
HELD: dict[str, list[Leaf]] = {}


# ---- the file it writes ------------------------------------------------------------


def test_capture_writes_what_load_reads_and_answers_like_a_snapshot(tmp_path: pathlib.Path
                                                                     ) -> None:
    HELD["leaves"] = [Leaf() for _ in range(3000)]
    try:
        inproc = tmp_path / "inproc.hwsnap"
        heapwatch.snapshot().save(inproc)
        cap = heapwatch.capture(tmp_path / "cap.hwsnap")
        assert cap.pid > 0 and cap.pid != os.getpid()
        assert cap.pause_seconds > 0
        assert cap.wait(timeout=120) == os.fspath(tmp_path / "cap.hwsnap")
        assert cap.done()
        assert stat.S_IMODE(os.stat(cap.path).st_mode) == 0o600
        assert cap.stats["nodes"] > 10_000 and cap.stats["edges"] > cap.stats["nodes"] // 2
        assert gone(cap.pid)

        one, two = heapwatch.load(inproc), heapwatch.load(cap.path)
        mine = [(g.count, g.bytes, g.via) for g in one.retention(Leaf, None, retained=True)]
        theirs = [(g.count, g.bytes, g.via) for g in two.retention(Leaf, None, retained=True)]
        assert mine == theirs
        assert mine[0][0] == 3000 and "HELD" in mine[0][2]
        # The fork keeps addresses: the same leaf, the same path.
        for leaf in HELD["leaves"][::500]:
            a, b = one.node_at(id(leaf)), two.node_at(id(leaf))
            assert a is not None and b is not None
            assert str(one.path(a)) == str(two.path(b))
            assert "HELD ['leaves'] -> list [" in str(two.path(b))
        # Nothing in the file but what snapshot() keeps: no reprs.
        assert two.graph.info["has_reprs"] is False
    finally:
        HELD.clear()


def test_reprs_are_kept_only_when_asked(tmp_path: pathlib.Path) -> None:
    HELD["secret"] = ["s3cr3t-" + "x" * 20]  # type: ignore[list-item]
    try:
        plain = heapwatch.capture(tmp_path / "plain.hwsnap")
        plain.wait(120)
        assert b"s3cr3t-" not in pathlib.Path(plain.path).read_bytes()
        kept = heapwatch.capture(tmp_path / "kept.hwsnap", reprs=True)
        kept.wait(120)
        assert heapwatch.load(kept.path).graph.info["has_reprs"] is True
        assert b"s3cr3t-" in pathlib.Path(kept.path).read_bytes()
    finally:
        HELD.clear()


def test_arguments_are_checked_before_forking(tmp_path: pathlib.Path) -> None:
    with pytest.raises(TypeError, match="reprs must be True or False"):
        heapwatch.capture(tmp_path / "x", reprs="yes")  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError, match="no such directory"):
        heapwatch.capture(tmp_path / "missing" / "x.hwsnap")
    with pytest.raises(IsADirectoryError):
        heapwatch.capture(tmp_path)
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(OSError, match="not a regular file"):
        heapwatch.capture(tmp_path / "fifo")
    with pytest.raises(TypeError):
        heapwatch.capture(42)  # type: ignore[arg-type]
    assert os.listdir(tmp_path) == ["fifo"]


def test_bytes_and_pathlike_paths(tmp_path: pathlib.Path) -> None:
    for target in (os.fsencode(tmp_path / "b.hwsnap"), tmp_path / "p.hwsnap"):
        cap = heapwatch.capture(target)
        assert cap.wait(120) == os.fspath(target)
    assert sorted(os.listdir(tmp_path)) == ["b.hwsnap", "p.hwsnap"]


def test_audit_event(tmp_path: pathlib.Path) -> None:
    out = run(f"""
        import sys, heapwatch
        seen = []
        sys.addaudithook(lambda e, a: seen.append(a) if e == "heapwatch.capture" else None)
        heapwatch.capture({str(tmp_path / 'a.hwsnap')!r}, reprs=True).wait(120)
        print(seen)
    """)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"[({str(tmp_path / 'a.hwsnap')!r}, True)]"


def test_an_audit_hook_can_refuse(tmp_path: pathlib.Path) -> None:
    out = run(f"""
        import sys, heapwatch
        def hook(event, args):
            if event == "heapwatch.capture":
                raise PermissionError("no heap captures here")
        sys.addaudithook(hook)
        try:
            heapwatch.capture({str(tmp_path / 'a.hwsnap')!r})
        except PermissionError as e:
            print("refused:", e)
        import os
        print(os.listdir({str(tmp_path)!r}))
    """)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["refused: no heap captures here", "[]"]


# ---- the child and the parent ----------------------------------------------------------


BIG_HEAP = """
    import os, sys, time, gc, signal, heapwatch
    class Row:
        __slots__ = ("a", "b", "c")
    rows = []
    for i in range(int(sys.argv[2])):
        r = Row(); r.a = i; r.b = (i, str(i)); r.c = [i]; rows.append(r)
    gc.collect()
"""


def test_the_parent_goes_on_while_the_child_writes(tmp_path: pathlib.Path) -> None:
    # The parent counts what it does between capture() returning and the
    # child's report: it must have run (and allocated, and collected)
    # while the child was still at work.
    out = run(BIG_HEAP + """
    path = sys.argv[1]
    cap = heapwatch.capture(path)
    assert not os.path.exists(path)
    work = 0
    while not cap.done():
        junk = [{"n": n} for n in range(1000)]
        gc.collect(0)
        work += 1
    cap.wait()
    print(work, cap.pause_seconds, os.path.getsize(path))
    """, str(tmp_path / "big.hwsnap"), "1500000")
    assert out.returncode == 0, out.stderr
    work, pause, size = out.stdout.split()
    assert int(work) >= 10
    assert int(size) > 50_000_000
    snap = heapwatch.load(tmp_path / "big.hwsnap")
    assert dict(snap.census().items())["Row"].count == 1_500_000


def test_a_killed_child_is_reported_and_leaves_nothing(tmp_path: pathlib.Path) -> None:
    out = run(BIG_HEAP + """
    import json
    path = sys.argv[1]
    cap = heapwatch.capture(path)
    os.kill(cap.pid, signal.SIGKILL)
    try:
        cap.wait(60)
    except heapwatch.CaptureError as e:
        print(json.dumps([cap.pid, str(e)]))
    # The parent is unharmed, and can capture again.
    again = heapwatch.capture(path + ".2")
    print(json.dumps(again.wait(120)))
    """, str(tmp_path / "k.hwsnap"), "800000")
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.splitlines()
    pid, message = json.loads(first)
    assert f"the capture process {pid} ended without finishing" in message
    assert "killed by signal 9 (SIGKILL)" in message and "OOM killer" in message
    assert gone(pid)
    assert json.loads(second) == str(tmp_path / "k.hwsnap.2")
    assert sorted(os.listdir(tmp_path)) == ["k.hwsnap.2"]   # no temporary file left


def test_two_captures_at_once_are_refused(tmp_path: pathlib.Path) -> None:
    out = run(BIG_HEAP + """
    first = heapwatch.capture(sys.argv[1] + "/one")
    try:
        heapwatch.capture(sys.argv[1] + "/two")
    except heapwatch.CaptureError as e:
        print(str(e).replace(str(first.pid), "PID"))
    first.wait()
    heapwatch.capture(sys.argv[1] + "/three").wait()
    print(sorted(os.listdir(sys.argv[1])))
    """, str(tmp_path), "500000")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("a capture is already running: process PID writing ")
    assert lines[1] == "['one', 'three']"


def test_the_child_runs_no_python_code(tmp_path: pathlib.Path) -> None:
    # At-fork handlers, atexit, signal handlers: none runs in the child.
    # Its SIGTERM takes the default action (it dies) instead of calling
    # the parent's handler, which would set the parent's flag through the
    # shared wakeup fd.
    marker = tmp_path / "marker"
    out = run(BIG_HEAP + """
    import atexit, json
    marker = sys.argv[3]
    def touched(what):
        with open(marker, "a") as f:
            f.write(what + " %d\\n" % os.getpid())
    os.register_at_fork(before=lambda: touched("before"), after_in_child=lambda: touched("child"))
    atexit.register(lambda: touched("atexit"))
    got = []
    signal.signal(signal.SIGTERM, lambda s, f: got.append(s))
    r, w = os.pipe()
    os.set_blocking(w, False)
    signal.set_wakeup_fd(w, warn_on_full_buffer=False)
    cap = heapwatch.capture(sys.argv[1])
    time.sleep(0.05)
    os.kill(cap.pid, signal.SIGTERM)
    try:
        cap.wait(60)
        print(json.dumps("finished"))
    except heapwatch.CaptureError as e:
        print(json.dumps(str(e)))
    time.sleep(0.2)
    os.set_blocking(r, False)
    try:
        woken = os.read(r, 100)
    except BlockingIOError:
        woken = b""
    print(json.dumps([got, list(woken), os.getpid()]))
    """, str(tmp_path / "s.hwsnap"), "800000", str(marker))
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.splitlines()
    assert "killed by signal 15 (SIGTERM)" in json.loads(first)
    got, woken, parent = json.loads(second)
    assert got == [] and woken == []
    # Only the parent's atexit ran (at its own exit).
    assert marker.read_text().splitlines() == [f"atexit {parent}"]


def test_a_child_that_cannot_write_says_why(tmp_path: pathlib.Path) -> None:
    # The directory is writable when capture() checks it and gone when the
    # child writes: the reason comes back through wait().
    out = run(BIG_HEAP + """
    import shutil
    d = sys.argv[1]
    os.mkdir(d)
    cap = heapwatch.capture(d + "/x.hwsnap")
    shutil.rmtree(d)
    try:
        cap.wait(60)
        print("finished?")
    except heapwatch.CaptureError as e:
        print(e)
    """, str(tmp_path / "d"), "300000")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("the capture process "), out.stdout
    assert "could not finish" in out.stdout
    assert out.stdout.rstrip().endswith(": writing the file: No such file or directory, creating "
                                        "a temporary file in its directory"), out.stdout


def test_wait_times_out_and_done_does_not_block(tmp_path: pathlib.Path) -> None:
    out = run(BIG_HEAP + """
    cap = heapwatch.capture(sys.argv[1])
    t = time.monotonic()
    print(cap.done())
    try:
        cap.wait(timeout=0.01)
    except TimeoutError as e:
        print("timeout", "still writing" in str(e))
    print(time.monotonic() - t < 5)
    cap.wait()
    print(cap.done())
    """, str(tmp_path / "t.hwsnap"), "800000")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "timeout", "True", "True", "True"]


def test_threads_keep_running_and_a_threaded_capture_works(tmp_path: pathlib.Path) -> None:
    # Other Python threads exist in the parent at the fork; the child has
    # only the forking thread, and never needs the others.
    out = run(BIG_HEAP + """
    import threading
    stop = threading.Event()
    ticks = [0]
    def spin():
        while not stop.is_set():
            ticks[0] += 1
            time.sleep(0.001)
    threads = [threading.Thread(target=spin) for _ in range(4)]
    for t in threads: t.start()
    result = []
    def capture_from_a_thread():
        result.append(heapwatch.capture(sys.argv[1]).wait())
    c = threading.Thread(target=capture_from_a_thread)
    c.start(); c.join()
    before = ticks[0]; time.sleep(0.1); after = ticks[0]
    stop.set()
    for t in threads: t.join()
    print(result == [sys.argv[1]], after > before)
    """, str(tmp_path / "th.hwsnap"), "300000")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True"]


# ---- memory --------------------------------------------------------------------------


def test_memory_estimate_reads_this_machine() -> None:
    needed, objects = _capture.memory_needed()
    assert objects > 10_000
    assert needed > objects * _capture.BYTES_PER_OBJECT
    available, where = _capture.memory_available()
    assert available is not None and available > 0
    with open("/proc/meminfo") as f:
        meminfo = dict(line.split(":", 1) for line in f)
    assert available <= int(meminfo["MemAvailable"].split()[0]) * 1024
    assert where


def _memory_cgroup() -> pathlib.Path | None:
    """A directory where a memory cgroup of our own can be made (v1 or v2),
    or None."""
    for d, limit_file, _usage in _capture._cgroup_dirs():
        p = pathlib.Path(d)
        if os.access(p, os.W_OK):
            return p
    return None


@pytest.fixture
def small_cgroup() -> Any:
    parent = _memory_cgroup()
    if parent is None or os.geteuid() != 0:
        pytest.skip("no writable memory cgroup here (needs root and cgroup v1 or v2 memory)")
    d = parent / f"heapwatch-test-{os.getpid()}"
    d.mkdir()
    v2 = (d / "memory.max").exists()
    limit_file = d / ("memory.max" if v2 else "memory.limit_in_bytes")
    yield d, limit_file
    for _ in range(50):
        try:
            d.rmdir()
            break
        except OSError:
            time.sleep(0.1)


def _join(d: pathlib.Path) -> Any:
    def preexec() -> None:
        (d / "cgroup.procs").write_text(str(os.getpid()))
    return preexec


def _in_small_cgroup(d: pathlib.Path, limit_file: pathlib.Path, tail: str, *args: str
                     ) -> tuple[int, str, str]:
    """Runs BIG_HEAP then `tail` in a child that joins cgroup d; once its
    heap is built, the limit is set to its usage plus 64 MiB (whatever the
    build costs: ASan's allocator takes several times pymalloc's memory),
    and the child goes on."""
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(BIG_HEAP + """
    print("built", flush=True)
    sys.stdin.readline()
    """ + tail), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, preexec_fn=_join(d))
    assert proc.stdin is not None and proc.stdout is not None
    try:
        assert proc.stdout.readline().strip() == "built"
        usage_file = d / ("memory.current" if limit_file.name == "memory.max"
                          else "memory.usage_in_bytes")
        usage = int(usage_file.read_text())
        limit_file.write_text(str(usage + (64 << 20)))
        proc.stdin.write("go\n")
        proc.stdin.flush()
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, out, err


def test_a_capture_that_would_not_fit_is_refused(small_cgroup: Any, tmp_path: pathlib.Path
                                                 ) -> None:
    d, limit_file = small_cgroup
    rc, out, err = _in_small_cgroup(d, limit_file, """
    try:
        heapwatch.capture(sys.argv[1])
        print("captured?")
    except heapwatch.CaptureMemoryError as e:
        print(e.needed > e.available, "cgroup limit" in str(e), str(e)[:60])
    print(os.listdir(os.path.dirname(sys.argv[1])))
    """, str(tmp_path / "m.hwsnap"), "1000000")
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("True True a capture needs about "), lines
    assert lines[1] == "[]"


def test_a_child_killed_for_memory_leaves_the_parent_alive(small_cgroup: Any,
                                                          tmp_path: pathlib.Path) -> None:
    # check_memory=False in a cgroup too small for the graph: the kernel's
    # OOM killer takes the child (oom_score_adj 1000), not the parent.
    d, limit_file = small_cgroup
    rc, out, err = _in_small_cgroup(d, limit_file, """
    cap = heapwatch.capture(sys.argv[1], check_memory=False)
    try:
        cap.wait(120)
        print("finished")
    except heapwatch.CaptureError as e:
        print(e)
    print("parent alive", len(rows))
    """, str(tmp_path / "o.hwsnap"), "1000000")
    assert rc == 0, err
    first, second = out.splitlines()
    assert "killed by signal 9 (SIGKILL)" in first, first
    assert second == "parent alive 1000000"
    assert os.listdir(tmp_path) == []


def test_a_forked_child_neither_waits_for_nor_blocks_on_its_parents_capture(
        tmp_path: pathlib.Path) -> None:
    out = run("""
        import os, sys, heapwatch
        cap = heapwatch.capture(sys.argv[1] + "/parent.hwsnap")
        pid = os.fork()
        if pid == 0:
            try:
                cap.wait()
                code = 1
            except heapwatch.CaptureError as e:
                code = 0 if "belongs to process" in str(e) else 2
            # Its own capture is not refused as "already running".
            heapwatch.capture(sys.argv[1] + "/child.hwsnap").wait(60)
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status), cap.wait(60).endswith("parent.hwsnap"))
    """, str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["0", "True"]
    assert sorted(os.listdir(tmp_path)) == ["child.hwsnap", "parent.hwsnap"]

