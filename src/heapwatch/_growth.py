"""growth() and show_growth(): what grew since the last call.

The seed's author redirected objgraph.show_growth into Django's logging by
hand; this is that, first-class.  Unlike objgraph, which compares against
the peak count ever seen, these are true deltas against the previous call:
a drop followed by a rise shows the rise.
"""

from __future__ import annotations

import gc
import logging
import sys
from typing import IO

from heapwatch import _args
from heapwatch import _engine
from heapwatch._engine import Census, GrowthRow


def _first_rows(current: Census) -> list[GrowthRow]:
    # Everything is new on the first call; same order as Census subtraction:
    # count delta, then bytes delta, both descending, ties by first sighting.
    rows = [GrowthRow((name, s.count, s.count, s.bytes)) for name, s in current.items()]
    rows.sort(key=lambda r: (-r.delta, -r.bytes_delta))
    return rows


def growth(
    limit: int | None = None,
    *,
    collect: bool = False,
    include_untracked: bool = False,
    fullnames: bool = False,
) -> list[GrowthRow]:
    """Types whose object count or shallow bytes grew since the previous call.

    Returns GrowthRow(name, count, delta, bytes_delta) rows, largest count
    delta first (then largest bytes delta).  The first call reports every
    type as new.  ``collect=True`` runs a full garbage collection first, so
    cyclic garbage does not show as growth (costly on a big heap).
    """
    _args.limit(limit)
    if collect:
        gc.collect()
    current = _engine.census(include_untracked=include_untracked, fullnames=fullnames)
    previous = _engine.swap_baseline(current)
    if previous is None or (
        previous.fullnames != current.fullnames
        or previous.include_untracked != current.include_untracked
    ):
        rows = _first_rows(current)
    else:
        rows = [r for r in current - previous if r.delta > 0 or r.bytes_delta > 0]
    return rows if limit is None else rows[:limit]


def format_row(row: GrowthRow) -> str:
    """One row in the seed's format: ``FirstModel 98327 +98327``."""
    return f"{row.name} {row.count} {row.delta:+d}"


def show_growth(
    limit: int | None = 10,
    *,
    file: IO[str] | None = None,
    logger: logging.Logger | logging.LoggerAdapter[logging.Logger] | str | None = None,
    level: int = logging.INFO,
    collect: bool = False,
) -> None:
    """Print, or log, the types that grew since the previous call.

    Printed lines are aligned in columns like objgraph's; with ``logger``
    (a Logger, an adapter or a logger name) each type is one record
    ``Type count +delta`` at ``level``, with the numbers also in ``extra``
    (heapwatch_type, heapwatch_count, heapwatch_delta,
    heapwatch_bytes_delta) for structured logging.  Without a logger the
    lines go to ``file`` (default: sys.stdout); with both, to both.
    """
    if isinstance(logger, str):
        logger = logging.getLogger(logger)
    if logger is not None and not isinstance(logger, (logging.Logger, logging.LoggerAdapter)):
        raise TypeError(f"logger must be a logging.Logger or a name, not {type(logger).__name__}")
    if not isinstance(level, int) or isinstance(level, bool):
        raise TypeError(f"level must be an int logging level, not {type(level).__name__}")
    if file is not None and not callable(getattr(file, "write", None)):
        raise TypeError(f"file must have a write() method, not {type(file).__name__}")
    rows = growth(limit, collect=collect)
    if not rows:
        return
    if logger is not None:
        for r in rows:
            logger.log(
                level,
                "%s %d %+d",
                r.name,
                r.count,
                r.delta,
                extra={
                    "heapwatch_type": r.name,
                    "heapwatch_count": r.count,
                    "heapwatch_delta": r.delta,
                    "heapwatch_bytes_delta": r.bytes_delta,
                },
            )
    if logger is None or file is not None:
        out = sys.stdout if file is None else file
        width = max(len(r.name) for r in rows)
        for r in rows:
            out.write("%-*s%9d %+9d\n" % (width, r.name, r.count, r.delta))
