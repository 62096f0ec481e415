"""capture(): a snapshot file written by a forked child, in the background.

snapshot().save() stops the process for the whole graph build and the
write (seconds on a big heap, and the graph's memory in the process
itself).  capture() stops it for as long as collecting the roots and one
fork() take: the child, a copy-on-write image of this process at that
instant, builds the graph and writes the file while this process goes on.
What the child may do and how it reports is in _engine/capture.h.

Before forking, the child's memory is estimated and compared with what the
machine and the process's cgroup have free: a capture that would not fit
is refused here (CaptureMemoryError) rather than left to the kernel's OOM
killer, which could pick the worker instead of the child.
"""

from __future__ import annotations

import errno
import os
import select
import signal
import stat
import sys
import threading
import time
from typing import Any, Union

from heapwatch import _args, _engine
from heapwatch._explain import collect_roots
from heapwatch._format import human_bytes
from heapwatch._memory import current_rss

__all__ = ["Capture", "CaptureError", "CaptureMemoryError", "capture"]

PathArg = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]

# What the child allocates per object of the heap, at its peak: the graph
# build's peak RSS growth per node (bench/graph.py: 56.6 B on the 6M-object
# heap, 17.5M nodes), rounded up; reprs add a string table.
BYTES_PER_OBJECT = 64
REPR_BYTES_PER_OBJECT = 24
# Besides the graph: the child's own stacks and tables, and the pages of
# this process it copies as this process writes them meanwhile.
FIXED_OVERHEAD = 32 << 20
COPIED_SHARE = 0.10     # of this process's RSS


class CaptureError(RuntimeError):
    """A capture could not start (another is running) or its child failed;
    the message says why."""


class CaptureMemoryError(MemoryError):
    """The child of a capture would need more memory than is free."""

    def __init__(self, message: str, needed: int, available: int) -> None:
        super().__init__(message)
        self.needed = needed
        self.available = available


# ---- memory --------------------------------------------------------------------


def _read_int(path: str) -> int | None:
    try:
        with open(path, "rb") as f:
            text = f.read().strip()
    except OSError:
        return None
    if text == b"max":
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _cgroup_dirs() -> list[tuple[str, str, str]]:
    """(directory, limit file, usage file) of this process's memory cgroup
    and each of its ancestors, v2 and v1, those that exist."""
    try:
        with open("/proc/self/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":
            bases = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
            files = ("memory.max", "memory.current")
        elif "memory" in controllers.split(","):
            bases = ["/sys/fs/cgroup/memory"]
            files = ("memory.limit_in_bytes", "memory.usage_in_bytes")
        else:
            continue
        for base in bases:
            # Inside a container the cgroup namespace may show the path
            # from a root the mount does not have: walk up from it, and the
            # mount's own root last.
            rel = path.strip("/")
            while True:
                d = os.path.join(base, rel) if rel else base
                if os.path.exists(os.path.join(d, files[0])):
                    found.append((d, *files))
                if not rel:
                    break
                rel = os.path.dirname(rel)
    return found


def memory_available() -> tuple[int | None, str]:
    """The bytes a new process may still take here, and what limits it:
    the smallest of MemAvailable and every memory cgroup limit above this
    process minus its usage.  (None, reason) when nothing can be read."""
    best: int | None = None
    where = "nothing could be read"
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    best = int(line.split()[1]) * 1024
                    where = "MemAvailable in /proc/meminfo"
                    break
    except (OSError, ValueError, IndexError):
        pass
    for d, limit_file, usage_file in _cgroup_dirs():
        limit = _read_int(os.path.join(d, limit_file))
        usage = _read_int(os.path.join(d, usage_file))
        if limit is None or usage is None or limit >= 1 << 60:
            continue
        free = max(0, limit - usage)
        if best is None or free < best:
            best = free
            where = f"the cgroup limit {os.path.join(d, limit_file)} ({human_bytes(limit)}) " \
                    f"minus its usage ({human_bytes(usage)})"
    return best, where


def memory_needed(reprs: bool = False) -> tuple[int, int]:
    """(bytes, objects): what the child of a capture is estimated to take,
    for about how many objects.  The objects are the blocks Python's small
    object allocator has handed out (sys.getallocatedblocks(), which counts
    its pools rather than walking the heap); with pymalloc off it reads 0,
    and the RSS over 64 bytes stands in."""
    rss = current_rss() or 0
    objects = sys.getallocatedblocks() or rss // 64
    per_object = BYTES_PER_OBJECT + (REPR_BYTES_PER_OBJECT if reprs else 0)
    return objects * per_object + FIXED_OVERHEAD + int(rss * COPIED_SHARE), objects


# ---- the capture ---------------------------------------------------------------


class Capture:
    """A snapshot being written by a child process: see capture()."""

    def __init__(self, pid: int, path: str | bytes, pause_seconds: float, fd: int,
                 reaper: Any) -> None:
        self.pid = pid
        self.path = path
        self.owner = os.getpid()    # a forked child of this process does not own it
        self.pause_seconds = pause_seconds
        self.started = time.time()
        self._fd: int | None = fd
        self._reaper = reaper
        self._report = b""
        self._lock = threading.Lock()
        self._result: tuple[bool, str] | None = None
        self.stats: dict[str, float] = {}

    def __repr__(self) -> str:
        state = "running" if self._result is None else ("done" if self._result[0] else "failed")
        return f"<heapwatch.Capture pid={self.pid} path={self.path!r} {state}>"

    def _read(self, timeout: float | None) -> bool:
        """Reads what the child reported, waiting at most timeout seconds
        (None: until it ends); True once the report has ended."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._fd is not None:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                ready, _, _ = select.select([self._fd], [], [], wait)
            except InterruptedError:  # pragma: no cover - PEP 475 retries
                continue
            if not ready:
                return False
            try:
                chunk = os.read(self._fd, 65536)
            except InterruptedError:  # pragma: no cover
                continue
            if chunk:
                self._report += chunk
                continue
            os.close(self._fd)
            self._fd = None
        return True

    def _finish(self) -> tuple[bool, str]:
        ok_line = error = None
        tmp = None
        for line in self._report.decode("utf-8", "replace").splitlines():
            kind, _, rest = line.partition(" ")
            if kind == "ok":
                ok_line = rest
            elif kind == "error":
                error = rest
            elif kind == "tmp":
                try:
                    tmp = bytes.fromhex(rest)
                except ValueError:
                    pass
        if ok_line is not None:
            nodes, edges, seconds, maxrss, private = ok_line.split()
            self.stats = {"nodes": int(nodes), "edges": int(edges),
                          "child_seconds": float(seconds),
                          "child_maxrss_bytes": int(maxrss) * 1024,
                          "child_private_bytes": max(-1, int(private) * 1024)}
            return True, ""
        state = self._status()
        if error is not None:
            error = f"the capture process {self.pid} could not finish {self.path!r}: {error}"
        else:
            # Died before it could say: its temporary file is left over.
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
            error = f"the capture process {self.pid} ended without finishing {self.path!r}"
            if state is not None and state[0] == "signaled":
                name = _signal_name(state[1])
                error += f": killed by signal {state[1]} ({name})"
                if state[1] == signal.SIGKILL:
                    error += " (the kernel's OOM killer sends SIGKILL: check the memory " \
                             "limit, or capture when the worker is smaller)"
            elif state is not None and state[0] == "exited":
                error += f": it exited with status {state[1]}"
        return False, error

    def _status(self) -> tuple[str, Any] | None:
        """The child's exit as capture_state() says it, waiting briefly for
        the reaper (the report ends when the child exits)."""
        for _ in range(200):
            state = _engine.capture_state(self._reaper)
            if state is not None:
                return state
            time.sleep(0.005)
        return None

    def _check_owner(self) -> None:
        if os.getpid() != self.owner:
            raise CaptureError(f"this capture belongs to process {self.owner}, which started "
                               f"it before forking this one")

    def done(self) -> bool:
        """True once the child has finished (written the file or failed);
        does not wait."""
        self._check_owner()
        with self._lock:
            if self._result is None and self._read(0):
                self._result = self._finish()
            return self._result is not None

    def wait(self, timeout: float | None = None) -> str | bytes:
        """Waits for the child (at most timeout seconds; None: as long as it
        takes) and returns the path of the file.  Raises CaptureError with
        the child's reason when it failed (killed, out of memory, the file
        could not be written), TimeoutError when it is still running."""
        if timeout is not None:
            timeout = _args.seconds(timeout, "timeout")
        self._check_owner()
        with self._lock:
            if self._result is None:
                if not self._read(timeout):
                    raise TimeoutError(f"the capture process {self.pid} is still writing "
                                       f"{self.path!r} after {timeout} s")
                self._result = self._finish()
            ok, error = self._result
        if not ok:
            raise CaptureError(error)
        return self.path

    def __del__(self) -> None:
        fd = getattr(self, "_fd", None)
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return "unknown signal"


_running: Capture | None = None
_running_lock = threading.Lock()


def _check_target(path: str | bytes) -> None:
    """What the child would refuse, refused now: a missing directory, a
    target that is a directory or not a regular file."""
    directory = os.path.dirname(path) or (b"." if isinstance(path, bytes) else ".")
    if not os.path.isdir(directory):
        raise FileNotFoundError(errno.ENOENT, "no such directory", os.fsdecode(directory))
    if not os.access(directory, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, "cannot write into the directory",
                              os.fsdecode(directory))
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, "is a directory, not a snapshot file",
                                os.fsdecode(path))
    if not stat.S_ISREG(st.st_mode):
        raise OSError(errno.EINVAL, "not a regular file, not replaced", os.fsdecode(path))


def capture(path: PathArg, *, reprs: bool = False, check_memory: bool = True) -> Capture:
    """Write a snapshot of this process's heap to path from a forked child,
    in the background: this process is stopped only to collect the roots
    and fork (Capture.pause_seconds), and goes on while the child builds
    the graph and writes the file (0600, atomically, the format load()
    reads).  The child runs no Python code, has the lowest CPU and I/O
    priority, and exits when done; it is reaped without the application's
    help.  Capture.wait() returns the path, or raises CaptureError with the
    child's reason.

    One capture at a time: a second while one runs raises CaptureError.
    With check_memory (the default), a capture the machine's or the
    cgroup's free memory cannot hold raises CaptureMemoryError before
    forking.  Raises the audit event 'heapwatch.capture'."""
    global _running
    start = time.perf_counter()
    reprs = _args.flag(reprs, "reprs")
    check_memory = _args.flag(check_memory, "check_memory")
    target = os.fspath(path)
    if not isinstance(target, (str, bytes)):  # pragma: no cover - fspath checks
        raise TypeError("path must be str, bytes or os.PathLike")
    _check_target(target)
    with _running_lock:
        # A capture started by the process this one was forked from is not
        # this process's to wait for (its pipe and reaper are the parent's).
        if _running is not None and _running.owner == os.getpid() and not _running.done():
            raise CaptureError(f"a capture is already running: process {_running.pid} "
                               f"writing {_running.path!r}")
        if check_memory:
            needed, objects = memory_needed(reprs)
            available, where = memory_available()
            if available is not None and needed > available:
                raise CaptureMemoryError(
                    f"a capture needs about {human_bytes(needed)} in its child process "
                    f"(the graph of ~{objects:,} objects) and only {human_bytes(available)} "
                    f"is free ({where}); capture when the process is smaller, raise the "
                    f"limit, or pass check_memory=False to try anyway",
                    needed, available)
        made: list[object] = []
        roots = collect_roots((), made)
        pid, fd, reaper = _engine.capture(target, roots, exclude=tuple(made) + (made,),
                                          reprs=reprs, memory=True)
        pause = time.perf_counter() - start
        del roots, made
        _running = Capture(pid, target, pause, fd, reaper)
        return _running
