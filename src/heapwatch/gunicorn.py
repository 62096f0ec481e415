"""gunicorn server hooks that capture a worker's heap in the background.

One line in gunicorn.conf.py:

    from heapwatch.gunicorn import *  # noqa: F401,F403  (post_worker_init, post_request)

and, in the environment of gunicorn (each optional):

    HEAPWATCH_SNAPSHOT_DIR=/var/tmp/heapwatch   where files go (created 0700; this default)
    HEAPWATCH_SNAPSHOT_SIGNAL=USR2              capture on `kill -USR2 <worker pid>`
                                                ("" or "none": no handler)
    HEAPWATCH_SNAPSHOT_ON_RSS=900               capture once when a worker's RSS passes
                                                900 MiB (unset: never)
    HEAPWATCH_SNAPSHOT_ON_RECYCLE=1             capture when max_requests recycles a
                                                worker (0: not)

The signal handler is installed in post_worker_init, after gunicorn has
reset the worker's signals (a handler installed before, with --preload,
would be gone by then).  post_request checks the two thresholds after each
request: the recycle one when the worker has served its max_requests (the
child finishes the file after the worker has exited), the RSS one once per
worker.  A gunicorn.conf.py with hooks of its own calls these from them.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
from typing import Any

from heapwatch._memory import current_rss
from heapwatch._triggers import capture_to, install_signal_handler, signal_number

__all__ = ["post_request", "post_worker_init"]

log = logging.getLogger("heapwatch.capture")

DEFAULT_DIR = "/var/tmp/heapwatch"

_rss_done = False


@functools.lru_cache(maxsize=1)
def _config() -> tuple[str, signal.Signals | None, int | None, bool]:
    """(directory, signal or None, RSS threshold in bytes or None, on recycle)
    from the environment; a bad value is logged and its default used.  Read
    once per process: post_request asks after every request, and a bad value
    is said once, not per request."""
    directory = os.environ.get("HEAPWATCH_SNAPSHOT_DIR") or DEFAULT_DIR
    sig: signal.Signals | None = signal.SIGUSR2
    raw = os.environ.get("HEAPWATCH_SNAPSHOT_SIGNAL")
    if raw is not None:
        if raw.strip().upper() in ("", "NONE", "0"):
            sig = None
        else:
            number = signal_number(raw)
            if number is None:
                log.warning("heapwatch: HEAPWATCH_SNAPSHOT_SIGNAL=%r is not a signal a "
                            "handler can be set for; using SIGUSR2", raw)
            else:
                sig = signal.Signals(number)
    rss: int | None = None
    raw = os.environ.get("HEAPWATCH_SNAPSHOT_ON_RSS")
    if raw:
        try:
            rss = int(float(raw) * (1 << 20))
            if rss <= 0:
                raise ValueError
        except ValueError:
            log.warning("heapwatch: HEAPWATCH_SNAPSHOT_ON_RSS=%r is not a positive number of "
                        "MiB; no RSS threshold", raw)
            rss = None
    recycle = os.environ.get("HEAPWATCH_SNAPSHOT_ON_RECYCLE", "1").strip().lower() not in (
        "0", "false", "no", "off", "")
    return directory, sig, rss, recycle


def post_worker_init(worker: Any) -> None:
    """gunicorn hook: install the capture signal handler in the worker."""
    directory, sig, _, _ = _config()
    if sig is None:
        return
    try:
        install_signal_handler(sig, directory=directory)
    except (OSError, ValueError) as e:
        log.warning("heapwatch: no capture signal handler in worker %d: %s", os.getpid(), e)
        return
    log.info("heapwatch: worker %d captures its heap into %s on %s", os.getpid(), directory,
             sig.name)


def post_request(worker: Any, req: Any, environ: Any, resp: Any) -> None:
    """gunicorn hook: capture when max_requests is about to recycle this
    worker, or once when its RSS passes the threshold."""
    global _rss_done
    directory, _, rss_limit, recycle = _config()
    max_requests = getattr(worker, "max_requests", 0) or 0
    if recycle and 0 < max_requests <= getattr(worker, "nr", 0):
        capture_to(directory, f"the recycling of worker {os.getpid()} after "
                              f"{worker.nr} requests (max_requests)", min_interval=0)
        return
    if rss_limit is not None and not _rss_done:
        rss = current_rss()
        if rss is not None and rss >= rss_limit:
            _rss_done = True
            capture_to(directory, f"RSS {rss >> 20} MiB >= {rss_limit >> 20} MiB",
                       min_interval=0)
