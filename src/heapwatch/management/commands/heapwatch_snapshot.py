"""manage.py heapwatch_snapshot PID: capture the heaps of running workers.

PID is a gunicorn master (or any process whose children are the workers:
each child is signalled, the master never) or a single worker.  Each is sent
SNAPSHOT_SIGNAL (SIGUSR2 unless the settings say otherwise), on which its
handler (HEAPWATCH['SNAPSHOT_SIGNAL'] or heapwatch.gunicorn) starts a
background capture; the command then waits for each worker's file in
SNAPSHOT_DIR and prints its path.  A worker without the handler would take
the signal's default action (SIGUSR2 ends it), so the command refuses to
signal a process unless it runs heapwatch's handler, as far as it can tell
from /proc: the process has heapwatch imported (a mapping of its engine).
"""

from __future__ import annotations

import glob
import os
import signal
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from heapwatch._triggers import SUFFIX
from heapwatch._triggers import signal_number
from heapwatch.django.conf import get_settings, setting


def children(pid: int) -> list[int]:
    """The pids whose parent is pid, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid:
            found.append(int(entry))
    return sorted(found)


def runs_heapwatch(pid: int) -> bool:
    """The process has heapwatch's engine mapped (so heapwatch is imported);
    without it, there is no handler to catch the signal."""
    try:
        with open(f"/proc/{pid}/maps") as f:
            return any("heapwatch/_engine" in line for line in f)
    except OSError:
        return False


class Command(BaseCommand):
    help = ("Signal every worker of a gunicorn master (or one process) to capture its heap "
            "in the background, and wait for the files.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("pid", type=int, metavar="PID",
                            help="a gunicorn master's pid (its workers are signalled), or a "
                                 "worker's")
        parser.add_argument("--signal", metavar="NAME",
                            help="the signal the workers capture on (default: "
                                 "SNAPSHOT_SIGNAL, else SIGUSR2)")
        parser.add_argument("--dir", metavar="DIR",
                            help="where the workers write (default: $HEAPWATCH_SNAPSHOT_DIR, "
                                 "as heapwatch.gunicorn reads it, else SNAPSHOT_DIR)")
        parser.add_argument("--timeout", type=float, default=300.0, metavar="SECONDS",
                            help="how long to wait for the files (default 300)")
        parser.add_argument("--force", action="store_true",
                            help="signal processes that do not seem to run heapwatch")

    def handle(self, *args: Any, **options: Any) -> None:
        cfg = get_settings()
        raw = options["signal"] or setting(cfg, "SNAPSHOT_SIGNAL") or "SIGUSR2"
        number = signal_number(raw)
        if number is None:
            raise CommandError(f"{raw!r} is not a signal a handler can be set for")
        directory = (options["dir"] or os.environ.get("HEAPWATCH_SNAPSHOT_DIR")
                     or setting(cfg, "SNAPSHOT_DIR"))
        pid = options["pid"]
        if not os.path.exists(f"/proc/{pid}"):
            raise CommandError(f"no process {pid}")
        workers = children(pid) or [pid]
        if not options["force"]:
            missing = [w for w in workers if not runs_heapwatch(w)]
            if missing:
                raise CommandError(
                    f"process(es) {', '.join(map(str, missing))} do not run heapwatch, so "
                    f"nothing there would catch {signal.Signals(number).name} (its default "
                    f"action may end them); install the handler (HEAPWATCH['SNAPSHOT_SIGNAL'] "
                    f"or heapwatch.gunicorn) or pass --force")
        started = time.time()
        before = set(glob.glob(os.path.join(glob.escape(directory), "*" + SUFFIX)))
        for w in workers:
            try:
                os.kill(w, number)
            except ProcessLookupError:
                self.stderr.write(f"process {w} is gone")
            except PermissionError as e:
                raise CommandError(f"cannot signal process {w}: {e}") from None
        self.stdout.write(f"sent {signal.Signals(number).name} to {len(workers)} process(es): "
                          f"{' '.join(map(str, workers))}; waiting for their files in "
                          f"{directory}")
        pending = set(workers)
        deadline = time.monotonic() + options["timeout"]
        while pending and time.monotonic() < deadline:
            for w in sorted(pending):
                pattern = os.path.join(glob.escape(directory), f"*-{w}-*{SUFFIX}")
                new = [p for p in glob.glob(pattern)
                       if p not in before and os.path.getmtime(p) >= started - 1]
                if new:
                    self.stdout.write(max(new))
                    pending.discard(w)
            if pending:
                time.sleep(0.2)
        if pending:
            raise CommandError(f"no file from process(es) {' '.join(map(str, sorted(pending)))} "
                               f"after {options['timeout']:g} s (see their logs, logger "
                               f"heapwatch.capture)")
