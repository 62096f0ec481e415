"""Snapshot files on a real file system: heapwatch.load() and
Snapshot.save() against the paths and files users and programs hand them
(bytes and PathLike paths, FIFOs, devices, directories, huge files,
concurrent writers, leftovers of a crash, names near NAME_MAX).

The format itself is tested in tests/test_snapfile_fuzz.py; the graph in
tests/test_graph.py.  Whatever could hang or crash runs in a child
process with a timeout.
"""

from __future__ import annotations

import errno
import os
import pathlib
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import heapwatch
from heapwatch import _engine

needs_mkfifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")


@pytest.fixture(scope="module")
def snap() -> heapwatch.Snapshot:
    return heapwatch.snapshot()


@pytest.fixture(scope="module")
def snap_file(snap: heapwatch.Snapshot, tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    f = tmp_path_factory.mktemp("snapfiles") / "good.hwsnap"
    snap.save(f)
    return f


def child(code: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Runs code in a fresh interpreter (sys.argv[1:] = args)."""
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=timeout)


def entries(d: pathlib.Path) -> list[str]:
    return sorted(os.listdir(d))


def fsencode(p: pathlib.Path) -> Any:
    """A bytes path (Any: Snapshot.save() is annotated for str paths, the
    engine takes bytes too)."""
    return os.fsencode(p)


# ---- load: the path argument ------------------------------------------------------


def test_load_bytes_path_of_a_bad_file(tmp_path: pathlib.Path) -> None:
    # It used to format the bytes path with %U: a crash on 3.11.
    bad = tmp_path / "bad.hwsnap"
    bad.write_bytes(b"not a snapshot at all")
    r = child("import sys, heapwatch\n"
              "try:\n"
              "    heapwatch.load(sys.argv[1].encode())\n"
              "except ValueError as e:\n"
              "    print('ValueError', e)\n", str(bad))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ValueError ")
    assert repr(str(bad)) in r.stdout and "not a heapwatch snapshot" in r.stdout


def test_load_path_kinds(snap: heapwatch.Snapshot, snap_file: pathlib.Path) -> None:
    for p in (str(snap_file), os.fsencode(snap_file), snap_file):
        assert heapwatch.load(p).info["nodes"] == snap.info["nodes"]
        assert len(_engine.load(p)) == snap.info["nodes"]


def test_load_error_messages_show_the_path(tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "b\xe9d\n.hwsnap"
    bad.write_bytes(b"")
    for p in (bad, str(bad), os.fsencode(bad)):
        with pytest.raises(ValueError) as e:
            heapwatch.load(p)
        assert str(e.value) == f"{str(bad)!r}: not a heapwatch snapshot"


def test_load_undecodable_bytes_path(tmp_path: pathlib.Path, snap_file: pathlib.Path) -> None:
    if sys.getfilesystemencoding().lower() not in ("utf-8", "utf8"):
        pytest.skip("needs a UTF-8 file system encoding")
    raw = os.fsencode(tmp_path) + b"/\xff\xfe.hwsnap"
    with open(raw, "wb") as f:
        f.write(snap_file.read_bytes()[:-1])
    with pytest.raises(ValueError) as e:
        heapwatch.load(raw)
    assert str(e.value).startswith(repr(os.fsdecode(raw)) + ": truncated file")
    with pytest.raises(FileNotFoundError) as nf:
        heapwatch.load(raw + b".missing")
    assert nf.value.filename == raw + b".missing"


def test_load_argument_errors() -> None:
    with pytest.raises(TypeError):
        _engine.load(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="null"):
        _engine.load("a\0b")


# ---- load: what the path names ------------------------------------------------------


def test_load_nonexistent(tmp_path: pathlib.Path) -> None:
    missing = tmp_path / "missing.hwsnap"
    with pytest.raises(FileNotFoundError) as e:
        heapwatch.load(missing)
    assert e.value.errno == errno.ENOENT and e.value.filename == str(missing)
    (tmp_path / "file").write_bytes(b"x")
    with pytest.raises(NotADirectoryError) as nd:
        heapwatch.load(tmp_path / "file" / "x")
    assert nd.value.filename == str(tmp_path / "file" / "x")


def test_load_directory(tmp_path: pathlib.Path) -> None:
    with pytest.raises(IsADirectoryError) as e:
        heapwatch.load(tmp_path)
    assert e.value.errno == errno.EISDIR
    assert e.value.strerror == os.strerror(errno.EISDIR)
    assert e.value.filename == str(tmp_path)


def test_load_dev_null() -> None:
    with pytest.raises(OSError) as e:
        heapwatch.load("/dev/null")
    assert str(e.value) == "'/dev/null': not a regular file (a character device)"


@needs_mkfifo
def test_load_fifo_does_not_hang(tmp_path: pathlib.Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    r = child("import sys, heapwatch\n"
              "try:\n"
              "    heapwatch.load(sys.argv[1])\n"
              "except OSError as e:\n"
              "    print(type(e).__name__, e)\n", str(fifo), timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"OSError {str(fifo)!r}: not a regular file (a FIFO)\n"


def test_load_empty_and_truncated(tmp_path: pathlib.Path, snap_file: pathlib.Path) -> None:
    f = tmp_path / "f.hwsnap"
    f.write_bytes(b"")
    with pytest.raises(ValueError, match="not a heapwatch snapshot"):
        heapwatch.load(f)
    data = snap_file.read_bytes()
    for cut in (5, 8, 20, 95, len(data) // 2, len(data) - 1):
        f.write_bytes(data[:cut])
        with pytest.raises(ValueError, match="truncated file"):
            heapwatch.load(f)
    f.write_bytes(data + b"\0")
    with pytest.raises(ValueError, match="trailing garbage"):
        heapwatch.load(f)


LOAD_AND_MEASURE = """
import resource, sys, time, heapwatch
def peak_kib():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
before = peak_kib()
t = time.monotonic()
try:
    heapwatch.load(sys.argv[1])
    print('accepted')
except ValueError as e:
    print(peak_kib() - before, time.monotonic() - t, e)
"""


@pytest.mark.parametrize("head", ["zeros", "wrong size", "huge size"])
def test_load_large_file_is_refused_early(tmp_path: pathlib.Path, snap_file: pathlib.Path,
                                          head: str) -> None:
    """A 1 GiB file (sparse) is refused from its header: no read of the
    rest, no allocation of its size."""
    f = tmp_path / "big"
    with open(f, "wb") as out:
        if head != "zeros":
            header = bytearray(snap_file.read_bytes()[:24])
            size = 1000 if head == "wrong size" else 1 << 50
            header[16:24] = size.to_bytes(8, "little")
            out.write(header)
        out.truncate(1 << 30)
    r = child(LOAD_AND_MEASURE, str(f))
    assert r.returncode == 0, r.stderr
    grew_kib, seconds, message = r.stdout.split(" ", 2)
    want = {"zeros": "not a heapwatch snapshot", "wrong size": "trailing garbage",
            "huge size": "truncated file"}[head]
    assert want in message
    assert int(grew_kib) < 50 * 1024, f"peak RSS grew by {grew_kib} KiB"
    assert float(seconds) < 5


# ---- save ---------------------------------------------------------------------------


def test_save_mode_0600_whatever_the_umask(tmp_path: pathlib.Path, snap: heapwatch.Snapshot) -> None:
    f = tmp_path / "s.hwsnap"
    old = os.umask(0)
    try:
        snap.save(f)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(f).st_mode) == 0o600
    f.chmod(0o666)
    snap.save(f)        # replaced: a new file, 0600 again
    assert stat.S_IMODE(os.stat(f).st_mode) == 0o600
    assert entries(tmp_path) == ["s.hwsnap"]


def test_save_path_kinds(tmp_path: pathlib.Path, snap: heapwatch.Snapshot,
                         monkeypatch: pytest.MonkeyPatch) -> None:
    snap.save(fsencode(tmp_path / "b.hwsnap"))
    snap.graph.save(tmp_path / "p.hwsnap")          # a PathLike, straight to the engine
    monkeypatch.chdir(tmp_path)
    snap.save("rel.hwsnap")                         # no directory part
    for name in ("b.hwsnap", "p.hwsnap", "rel.hwsnap"):
        assert heapwatch.load(tmp_path / name).info["nodes"] == snap.info["nodes"]
    assert entries(tmp_path) == ["b.hwsnap", "p.hwsnap", "rel.hwsnap"]


def test_concurrent_saves_to_one_path(tmp_path: pathlib.Path, snap: heapwatch.Snapshot) -> None:
    f = tmp_path / "shared.hwsnap"
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def saver() -> None:
        try:
            start.wait()
            for _ in range(5):
                snap.save(f)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=saver) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert heapwatch.load(f).info["nodes"] == snap.info["nodes"]
    assert entries(tmp_path) == ["shared.hwsnap"]


def test_stale_temp_file_does_not_block(tmp_path: pathlib.Path, snap: heapwatch.Snapshot) -> None:
    # What an earlier version left after a crash, with our pid (containers
    # reuse pids).
    f = tmp_path / "s.hwsnap"
    stale = tmp_path / f"s.hwsnap.tmp{os.getpid()}"
    stale.write_bytes(b"left by a crash")
    snap.save(f)
    assert heapwatch.load(f).info["nodes"] == snap.info["nodes"]
    assert stale.read_bytes() == b"left by a crash"     # not ours to remove
    assert entries(tmp_path) == ["s.hwsnap", stale.name]


@pytest.mark.parametrize("length", [250, 255])
def test_long_file_name(tmp_path: pathlib.Path, snap: heapwatch.Snapshot, length: int) -> None:
    name = "s" * (length - 7) + ".hwsnap"
    assert len(name) == length
    snap.save(tmp_path / name)
    assert heapwatch.load(tmp_path / name).info["nodes"] == snap.info["nodes"]
    assert entries(tmp_path) == [name]


def test_long_multibyte_file_name(tmp_path: pathlib.Path, snap: heapwatch.Snapshot) -> None:
    # 2-byte characters: a temporary name cut inside one would not decode.
    name = "\xe9" * 120 + ".hwsnap"
    snap.save(tmp_path / name)
    assert entries(tmp_path) == [name]


@needs_mkfifo
def test_save_refuses_a_fifo(tmp_path: pathlib.Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    r = child("import sys, heapwatch\n"
              "try:\n"
              "    heapwatch.snapshot().save(sys.argv[1])\n"
              "except OSError as e:\n"
              "    print(type(e).__name__, e)\n", str(fifo), timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"OSError {str(fifo)!r}: not a regular file (a FIFO), not replaced\n"
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert entries(tmp_path) == ["pipe"]


def test_save_refuses_a_link_to_a_device(tmp_path: pathlib.Path,
                                         snap: heapwatch.Snapshot) -> None:
    link = tmp_path / "null"
    link.symlink_to("/dev/null")
    with pytest.raises(OSError) as e:
        snap.save(link)
    assert str(e.value) == \
        f"{str(link)!r}: not a regular file (a character device), not replaced"
    assert os.readlink(link) == "/dev/null"
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert entries(tmp_path) == ["null"]


def test_save_refuses_a_directory(tmp_path: pathlib.Path, snap: heapwatch.Snapshot) -> None:
    d = tmp_path / "d"
    d.mkdir()
    for target in (d, str(d) + "/"):
        with pytest.raises(IsADirectoryError) as e:
            snap.save(target)
        assert e.value.filename == str(target)
    assert d.is_dir() and entries(d) == [] and entries(tmp_path) == ["d"]


def test_save_replaces_a_symlink_not_its_target(tmp_path: pathlib.Path,
                                                snap: heapwatch.Snapshot) -> None:
    # Documented: like most atomic writers, the link itself is replaced.
    real = tmp_path / "real.hwsnap"
    real.write_bytes(b"old contents")
    link = tmp_path / "link.hwsnap"
    link.symlink_to(real.name)
    snap.save(link)
    assert not link.is_symlink()
    assert heapwatch.load(link).info["nodes"] == snap.info["nodes"]
    assert real.read_bytes() == b"old contents"


def test_save_into_a_missing_directory(tmp_path: pathlib.Path, snap: heapwatch.Snapshot) -> None:
    target = tmp_path / "nowhere" / "s.hwsnap"
    with pytest.raises(FileNotFoundError) as e:
        snap.save(target)
    assert e.value.filename == str(target)
    assert "nowhere" in str(e.value)
    with pytest.raises(FileNotFoundError) as eb:
        snap.save(fsencode(target))
    assert eb.value.filename == os.fsencode(target)
    assert entries(tmp_path) == []


def test_save_under_a_regular_file(tmp_path: pathlib.Path, snap: heapwatch.Snapshot) -> None:
    # A failure root hits too (permissions do not stop root).
    (tmp_path / "file").write_bytes(b"x")
    target = tmp_path / "file" / "s.hwsnap"
    with pytest.raises(NotADirectoryError) as e:
        snap.save(target)
    assert e.value.filename == str(target)
    assert entries(tmp_path) == ["file"]


SAVE_OVER_LIMIT = """
import resource, signal, sys, heapwatch
snap = heapwatch.snapshot()
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
try:
    snap.save(sys.argv[1])
    print('saved')
except OSError as e:
    print(e.errno, e.filename)
"""


def test_failed_write_leaves_no_temp_file(tmp_path: pathlib.Path) -> None:
    """The file size limit stops the write half way (root included): the
    old file stays whole and no temporary file is left."""
    target = tmp_path / "s.hwsnap"
    target.write_bytes(b"the previous snapshot")
    r = child(SAVE_OVER_LIMIT, str(target))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [str(errno.EFBIG), str(target)]
    assert target.read_bytes() == b"the previous snapshot"
    assert entries(tmp_path) == ["s.hwsnap"]


@pytest.fixture
def audit_log() -> Iterator[list[tuple[str, tuple[Any, ...]]]]:
    seen: list[tuple[str, tuple[Any, ...]]] = []
    on = [True]

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if on[0] and event == "heapwatch.snapshot.save":
            seen.append((event, args))

    sys.addaudithook(hook)
    try:
        yield seen
    finally:
        on[0] = False


def test_save_audit_sees_the_path_given(tmp_path: pathlib.Path, snap: heapwatch.Snapshot,
                                        audit_log: list[tuple[str, tuple[Any, ...]]]) -> None:
    snap.save(fsencode(tmp_path / "a.hwsnap"))
    assert audit_log == [("heapwatch.snapshot.save", (os.fsencode(tmp_path / "a.hwsnap"),))]


def test_snapshot_keeps_the_memory_split(tmp_path: pathlib.Path) -> None:
    """snapshot() and capture() record the process's memory (RSS and the
    allocators' figures, read before the build); the file keeps them
    (version 2), and Snapshot.memory splits them as heapwatch.memory()
    does, around the snapshot's own objects."""
    import heapwatch
    from heapwatch import _engine
    snap = heapwatch.snapshot()
    mem = snap.memory
    assert mem is not None
    live = heapwatch.memory()
    # The same process a moment apart: same order of magnitude.
    assert 0.5 * live.rss < mem.rss < 2 * live.rss
    assert mem.python_objects == sum(b for _t, _c, b in snap.graph.census())
    assert mem.other == max(0, mem.rss - mem.python_objects - mem.pymalloc_free
                            - mem.malloc_free)
    path = tmp_path / "m.hwsnap"
    snap.save(path)
    assert path.read_bytes()[8:12] == (2).to_bytes(4, "little")
    assert heapwatch.load(path).memory == mem
    # A graph built without the figures is written as version 1, as before.
    bare = tmp_path / "bare.hwsnap"
    _engine.graph([], labels="all").save(str(bare))
    assert bare.read_bytes()[8:12] == (1).to_bytes(4, "little")
    assert heapwatch.load(bare).memory is None
    cap = heapwatch.capture(tmp_path / "c.hwsnap")
    cap.wait(120)
    captured = heapwatch.load(tmp_path / "c.hwsnap").memory
    assert captured is not None and captured.rss > 0
