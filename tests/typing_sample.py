"""Uses the public API the way a typed application would; `make test` runs
mypy --strict over it so the stubs cannot drift from the API."""

from __future__ import annotations

import io
import logging

import heapwatch
import heapwatch.objgraph as objgraph


def typed_usage() -> int:
    c: heapwatch.Census = heapwatch.census(include_untracked=False, fullnames=False)
    stats: heapwatch.TypeStats = c["dict"]
    total: int = stats.count + stats.bytes + c.total_count + c.total_bytes
    top: list[tuple[str, heapwatch.TypeStats]] = c.most_common(3, by="bytes")
    rows: list[heapwatch.GrowthRow] = heapwatch.census() - c
    grown: list[heapwatch.GrowthRow] = heapwatch.growth(limit=5, collect=False)
    names: list[str] = [r.name for r in rows + grown] + [n for n, _ in top] + list(c)
    heapwatch.show_growth(3, file=io.StringIO(), logger=logging.getLogger("x"), level=10)
    counts: dict[str, int] = objgraph.typestats()
    objgraph.show_growth(limit=3, file=io.StringIO())
    found: object | None = heapwatch.at(id(names))
    mem: heapwatch.Memory = heapwatch.memory()
    total += mem.rss + mem.python_objects + mem.pymalloc_free + mem.malloc_free + mem.other
    return total + len(names) + len(counts) + (found is None)


def typed_capture(path: str) -> str | bytes:
    cap: heapwatch.Capture = heapwatch.capture(path, reprs=False, check_memory=True)
    pause: float = cap.pause_seconds
    pid: int = cap.pid
    done: bool = cap.done()
    try:
        written: str | bytes = cap.wait(timeout=60.0)
    except heapwatch.CaptureError:
        written = ""
    except heapwatch.CaptureMemoryError as e:
        written = str(e.needed - e.available)
    previous: object = heapwatch.install_signal_handler(directory="/tmp", min_interval=5)
    return written if pause >= 0 and pid and (done or previous is None) else ""


def typed_leak_check() -> bool:
    report = heapwatch.no_leaks(lambda: None, runs=2, warmup=1, types=None, ignore=("Row",),
                                max_objects=0)
    try:
        heapwatch.no_leaks(lambda: None)
    except heapwatch.LeakError as e:
        return bool(e.report.leaks)
    return bool(report)

