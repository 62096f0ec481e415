"""growth() and show_growth(): true deltas, the seed's line format, logging."""

from __future__ import annotations

import gc
import io
import logging
import re
import sys
from typing import Any

import objgraph as real_objgraph
import pytest

import heapwatch
from tests import heaps


@pytest.mark.valgrind
def test_first_call_reports_everything_then_only_growth(quiet_gc: None) -> None:
    first = heapwatch.growth()
    assert first and all(r.delta == r.count for r in first)
    assert heapwatch.growth(limit=5) == [] or all(r.delta > 0 or r.bytes_delta > 0
                                                  for r in heapwatch.growth())
    rows = heaps.seed_heap(700)
    grown = {r.name: r for r in heapwatch.growth()}
    assert grown["FirstModel"].delta == 700
    assert grown["ModelState"].delta == 700
    assert grown["FirstModel"].bytes_delta == sum(sys.getsizeof(r) for r in rows)
    assert grown["FirstModel"].count == heapwatch.census()["FirstModel"].count
    del rows


def test_true_deltas_not_peaks(quiet_gc: None) -> None:
    """A drop followed by a smaller rise: objgraph's peak comparison hides the
    rise; heapwatch reports it."""
    peak: dict[str, int] = {}
    rows = heaps.seed_heap(1000)
    heapwatch.growth()
    real_objgraph.growth(peak_stats=peak)
    del rows
    gc.collect()
    heapwatch.growth()
    real_objgraph.growth(peak_stats=peak)
    rows = heaps.seed_heap(400)
    ours = {r.name: r.delta for r in heapwatch.growth()}
    theirs = {name: delta for name, _, delta in real_objgraph.growth(None, peak_stats=peak)}
    assert ours.get("FirstModel") == 400
    assert "FirstModel" not in theirs
    del rows


def test_bytes_only_growth_is_reported(quiet_gc: None) -> None:
    big: list[int] = []
    heapwatch.growth()
    big.extend(range(100_000))  # same number of lists, far more bytes
    rows = {r.name: r for r in heapwatch.growth()}
    assert rows["list"].bytes_delta >= 100_000 * 8
    del big


def test_limit() -> None:
    heaps_kept = heaps.seed_heap(10)
    assert len(heapwatch.growth(limit=3)) == 3
    heaps_kept += heaps.seed_heap(10)
    assert len(heapwatch.growth(limit=0)) == 0
    for bad, exc in [(-1, ValueError), ("2", TypeError), (True, TypeError), (1.5, TypeError)]:
        with pytest.raises(exc):
            heapwatch.growth(limit=bad)  # type: ignore[arg-type]
    del heaps_kept


def test_collect_hides_cyclic_garbage() -> None:
    class Node:
        def __init__(self) -> None:
            self.me = self

    heapwatch.growth(collect=True)
    gc.disable()
    try:
        for _ in range(500):
            Node()
        without = {r.name for r in heapwatch.growth()}
        for _ in range(500):
            Node()
        with_collect = {r.name for r in heapwatch.growth(collect=True)}
    finally:
        gc.enable()
    assert "Node" in without
    assert "Node" not in with_collect


LINE = re.compile(r"^(\S+) +(\d+) +\+(\d+)$")


def test_show_growth_prints_seed_format(quiet_gc: None) -> None:
    heapwatch.growth()
    rows = heaps.seed_heap(321)
    out = io.StringIO()
    heapwatch.show_growth(3, file=out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    parsed = {m.group(1): (int(m.group(2)), int(m.group(3)))
              for m in map(LINE.match, lines) if m}
    assert len(parsed) == 3, lines
    assert parsed["FirstModel"][1] == 321
    assert parsed["ModelState"][1] == 321
    assert len({len(line) for line in lines}) == 1, "columns are aligned"
    del rows


def test_show_growth_defaults_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    heapwatch.growth()
    rows = heaps.seed_heap(50)
    heapwatch.show_growth()
    assert re.search(r"^FirstModel +\d+ +\+50$", capsys.readouterr().out, re.M)
    heapwatch.show_growth()  # the models did not grow again
    assert "FirstModel" not in capsys.readouterr().out
    del rows


def test_show_growth_logs_one_record_per_type(caplog: pytest.LogCaptureFixture,
                                              quiet_gc: None) -> None:
    log = logging.getLogger("leaky_app.views")
    heapwatch.growth()
    rows = heaps.seed_heap(1000)
    with caplog.at_level(logging.DEBUG, logger="leaky_app.views"):
        heapwatch.show_growth(5, logger=log, level=logging.DEBUG)
    recs = {r.heapwatch_type: r for r in caplog.records}  # type: ignore[attr-defined]
    fm = recs["FirstModel"]
    assert fm.getMessage() == f"FirstModel {fm.heapwatch_count} +1000"  # type: ignore[attr-defined]
    assert fm.heapwatch_delta == 1000  # type: ignore[attr-defined]
    assert fm.heapwatch_bytes_delta > 0  # type: ignore[attr-defined]
    assert fm.levelno == logging.DEBUG and fm.name == "leaky_app.views"
    assert len(caplog.records) == 5
    del rows


def test_show_growth_logger_by_name_and_file_too(caplog: pytest.LogCaptureFixture) -> None:
    heapwatch.growth()
    rows = heaps.seed_heap(20)
    out = io.StringIO()
    with caplog.at_level(logging.INFO, logger="heapwatch.test"):
        heapwatch.show_growth(2, logger="heapwatch.test", file=out)
    assert len(caplog.records) == 2
    assert len(out.getvalue().splitlines()) == 2
    del rows


@pytest.mark.parametrize("kwargs", [
    {"logger": 5}, {"level": "INFO"}, {"file": object()}, {"limit": -2},
])
def test_show_growth_bad_input(kwargs: dict[str, Any]) -> None:
    with pytest.raises((TypeError, ValueError)):
        heapwatch.show_growth(**kwargs)
