"""Heap captures in a Django process, from the settings (SNAPSHOT_*):
a signal handler installed when the app is ready, and one capture when the
RSS first passes SNAPSHOT_ON_RSS MiB, checked by the middleware after each
request.  Both go through heapwatch._triggers.capture_to (files named
host-pid-time.hwsnap in SNAPSHOT_DIR, created 0700; rate limited; logged
on "heapwatch.capture")."""

from __future__ import annotations

import logging
import os
import signal
import threading

from heapwatch._memory import current_rss
from heapwatch._triggers import capture_to, install_signal_handler, signal_number
from heapwatch.django.conf import get_settings, setting

log = logging.getLogger("heapwatch.capture")

# Signals servers use to control their workers: a capture handler there
# would take the server's place (gunicorn: TERM, INT, QUIT stop a worker,
# USR1 reopens its logs, HUP, WINCH, ABRT, CHLD; uWSGI: HUP, TERM, INT,
# QUIT, USR1, USR2 is free).
SERVER_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP,
                  signal.SIGUSR1, signal.SIGWINCH, signal.SIGABRT, signal.SIGCHLD}

_rss_pid: int | None = None     # the process whose RSS capture was started


def install() -> None:
    """Installs the SNAPSHOT_SIGNAL handler, when one is set, from the main
    thread (the only one that can); elsewhere says so in the log."""
    cfg = get_settings()
    number = signal_number(setting(cfg, "SNAPSHOT_SIGNAL"))
    if number is None:
        return
    if threading.current_thread() is not threading.main_thread():
        log.warning("heapwatch: SNAPSHOT_SIGNAL is set but Django was set up outside the "
                    "main thread, where no signal handler can be installed; with gunicorn "
                    "use heapwatch.gunicorn's post_worker_init hook")
        return
    try:
        install_signal_handler(number, directory=setting(cfg, "SNAPSHOT_DIR"),
                               min_interval=setting(cfg, "SNAPSHOT_INTERVAL"))
    except (OSError, ValueError) as e:
        log.warning("heapwatch: no capture signal handler: %s", e)


def after_request() -> None:
    """Starts the one capture of SNAPSHOT_ON_RSS when this request left the
    RSS above it (once per process: a forked worker has a chance of its
    own)."""
    global _rss_pid
    cfg = get_settings()
    limit = setting(cfg, "SNAPSHOT_ON_RSS")
    if limit is None or _rss_pid == os.getpid():
        return
    rss = current_rss()
    if rss is None or rss < limit * (1 << 20):
        return
    _rss_pid = os.getpid()
    capture_to(setting(cfg, "SNAPSHOT_DIR"), f"RSS {rss >> 20} MiB >= SNAPSHOT_ON_RSS "
               f"{limit:g} MiB", min_interval=setting(cfg, "SNAPSHOT_INTERVAL"))
