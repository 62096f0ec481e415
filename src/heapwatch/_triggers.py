"""Captures started by something other than a call: a signal, the RSS
passing a threshold, a worker about to be recycled.

Every trigger goes through capture_to(): a file named for the host, the
process and the time in a directory created 0700, at most one capture per
min_interval seconds per process, the start logged on the
"heapwatch.capture" logger at INFO and the result (from a thread that waits
for the child) at INFO or, when the child failed, at WARNING.  A trigger
never raises into the code it interrupts: a refused or failed start is
logged and the program goes on.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from heapwatch import _args
from heapwatch._capture import Capture, CaptureError, capture
from heapwatch._format import human_bytes

__all__ = ["capture_to", "install_signal_handler", "signal_number", "snapshot_name"]

log = logging.getLogger("heapwatch.capture")

SUFFIX = ".hwsnap"

_lock = threading.Lock()
_last_start = float("-inf")     # time.monotonic() of this process's last start
_last_pid = os.getpid()         # a forked child starts with no history


def snapshot_name(now: float | None = None) -> str:
    """host-pid-UTC time.hwsnap: sorts by host, then process, then time;
    the microseconds keep two captures in one second apart."""
    t = time.time() if now is None else now
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z"
    host = socket.gethostname().replace(os.sep, "_") or "host"
    return f"{host}-{os.getpid()}-{stamp}{SUFFIX}"


def prepare_directory(directory: str | os.PathLike[str]) -> str:
    """The directory, created 0700 (parents too) when missing; an existing
    one is used as it is.  OSError when it cannot be."""
    d = os.fspath(directory)
    if not isinstance(d, str):
        raise TypeError("directory must be a str or os.PathLike[str]")
    try:
        os.makedirs(d, mode=0o700)
    except FileExistsError:
        if not os.path.isdir(d):
            raise NotADirectoryError(f"{d!r} exists and is not a directory") from None
    return d


def _report_when_done(cap: Capture, reason: str) -> None:
    try:
        path = cap.wait()
    except CaptureError as e:
        log.warning("heapwatch: the capture for %s failed: %s", reason, e)
        return
    except Exception:  # pragma: no cover - wait() raises CaptureError only
        log.exception("heapwatch: waiting for the capture process %d", cap.pid)
        return
    try:
        size = human_bytes(os.path.getsize(path))
    except OSError:
        size = "?"
    log.info("heapwatch: heap snapshot written: %s (%s, %s nodes, %.1f s in process %d)",
             os.fsdecode(path), size, f"{cap.stats.get('nodes', 0):,}",
             cap.stats.get("child_seconds", 0.0), cap.pid)


def capture_to(directory: str | os.PathLike[str], reason: str, *, reprs: bool = False,
               min_interval: float = 60.0) -> Capture | None:
    """Starts a capture into directory for `reason` (said in the log) and
    returns it, or None when it was not started (within min_interval of
    the last start in this process, another capture running, not enough
    memory, the directory unusable: each logged).  Never raises for those."""
    global _last_start, _last_pid
    with _lock:
        if _last_pid != os.getpid():
            _last_pid, _last_start = os.getpid(), float("-inf")
        now = time.monotonic()
        if now - _last_start < min_interval:
            log.info("heapwatch: no capture for %s: the last one started %.0f s ago "
                     "(at most one per %g s)", reason, now - _last_start, min_interval)
            return None
        try:
            d = prepare_directory(directory)
            cap = capture(os.path.join(d, snapshot_name()), reprs=reprs)
        except (CaptureError, MemoryError, OSError, ValueError, TypeError) as e:
            log.warning("heapwatch: no capture for %s: %s", reason, e)
            return None
        _last_start = now
    log.info("heapwatch: capturing the heap of process %d for %s into %s "
             "(the process stopped %.1f ms; process %d writes the file)",
             os.getpid(), reason, os.fsdecode(cap.path), cap.pause_seconds * 1e3, cap.pid)
    threading.Thread(target=_report_when_done, args=(cap, reason),
                     name="heapwatch-capture-wait", daemon=True).start()
    return cap


def signal_number(value: Any) -> int | None:
    """A signal given by name ("SIGUSR2", "USR2", any case) or number, as
    a number, when this platform has it and a handler can be set for it;
    else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        name = value.strip().upper()
        name = name if name.startswith("SIG") else "SIG" + name
        number = getattr(signal.Signals, name, None)
        value = None if number is None else int(number)
    if not isinstance(value, int) or value in (signal.SIGKILL, signal.SIGSTOP):
        return None
    try:
        signal.Signals(value)
    except ValueError:
        return None
    return value


Handler = Callable[[int, Any], Any]


def install_signal_handler(signum: int = signal.SIGUSR2, *,
                           directory: str | os.PathLike[str],
                           reprs: bool = False, min_interval: float = 60.0) -> Any:
    """Capture the heap into directory whenever this process receives
    signum (by default SIGUSR2): `kill -USR2 <pid>` from a shell.  The
    capture starts in the main thread, between two bytecodes, as every
    Python signal handler does; the files are named host-pid-time.hwsnap,
    the directory is created 0700, and at most one capture starts per
    min_interval seconds.  A handler installed before this one is still
    called after it (one installed by this function is replaced).  Must be
    called from the main thread (as signal.signal()).  Returns the previous
    handler."""
    signum = signal.Signals(signum)
    reprs = _args.flag(reprs, "reprs")
    min_interval = _args.seconds(min_interval, "min_interval")
    d = prepare_directory(directory)
    previous = signal.getsignal(signum)
    # Installed again (the Django setting and the gunicorn hook, say): the
    # new handler replaces the old one rather than run after it.
    previous = getattr(previous, "heapwatch_previous", previous)

    def handler(sig: int, frame: Any) -> None:
        try:
            capture_to(d, f"signal {signal.Signals(sig).name}", reprs=reprs,
                       min_interval=min_interval)
        except Exception:  # pragma: no cover - capture_to logs its own failures
            log.exception("heapwatch: the capture for signal %d failed", sig)
        if callable(previous):
            previous(sig, frame)

    handler.heapwatch_directory = d  # type: ignore[attr-defined]
    handler.heapwatch_previous = previous  # type: ignore[attr-defined]
    signal.signal(signum, handler)
    return previous
