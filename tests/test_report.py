"""The HTML report (heapwatch.report, `python -m heapwatch report`) and the
engine's cut dominator tree it draws (Graph.domtree)."""

from __future__ import annotations

import html as html_module
import json
import os
import re
import stat
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

import heapwatch
from heapwatch import report
from tests.browser import browser, console_errors, screenshot  # noqa: F401  (fixture)


class ReportRow:
    """The type that grows between the two snapshots."""

    def __init__(self, i: int) -> None:
        self.i = i


class ReportCache:
    def __init__(self) -> None:
        self.rows: list[ReportRow] = []


CACHE = ReportCache()
SECRET = "s3cr3t-" + "value-kept-in-the-heap"


def _data(html: str) -> dict[str, Any]:
    m = re.search(r'<script type="application/json" id="hw-data">(.*?)</script>', html, re.S)
    assert m is not None
    data: dict[str, Any] = json.loads(m.group(1))
    return data


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    d = tmp_path_factory.mktemp("report")
    a, b = str(d / "a.hwsnap"), str(d / "b.hwsnap")
    CACHE.rows.clear()
    heapwatch.snapshot().save(a)
    CACHE.rows.extend(ReportRow(i) for i in range(3000))
    heapwatch.snapshot().save(b)
    return a, b


# ---- the engine's cut tree ---------------------------------------------------


def test_domtree_is_a_tree_whose_sizes_add_up() -> None:
    holder = ReportCache()
    holder.rows.extend(ReportRow(i) for i in range(2000))
    snap = heapwatch.snapshot()
    rows = snap.graph.domtree(300)
    kept = {r[0]: r for r in rows if r[0] is not None}
    assert 0 < len(kept) <= 300 + 50         # ancestors may be added
    children: defaultdict[int | None, int] = defaultdict(int)
    for node, parent, _t, count, retained in rows:
        assert count >= 1 and retained > 0
        # Every parent is a kept node, the roots (None) or garbage (-1).
        assert parent is None or parent == -1 or parent in kept
        if parent is not None and parent != -1:
            children[parent] += retained
        if node is not None:
            assert retained == snap.graph.retained(node)
            assert parent == snap.graph.idom(node) or (parent == -1
                                                       and snap.graph.idom(node) is None)
    for node, r in kept.items():
        assert children[node] <= r[4]
    # The rows cover the heap: what the roots hold plus the garbage is
    # every object's size.
    total = sum(b for _t, _c, b in snap.graph.census())
    assert sum(r[4] for r in rows if r[1] in (None, -1)) == total
    # The 2000 rows are one summed-up row under the list that holds them.
    lst = snap.node_of(holder.rows)
    assert lst is not None and lst in kept
    under = [r for r in rows if r[1] == lst and r[0] is None]
    assert [(r[2], r[3]) for r in under] == [(f"{__name__}.ReportRow", 2000)]


def test_domtree_arguments() -> None:
    snap = heapwatch.snapshot()
    rows = snap.graph.domtree(0)
    assert rows and all(r[0] is None for r in rows)
    assert len(snap.graph.domtree(5)) > 0
    with pytest.raises(ValueError):
        snap.graph.domtree(-1)
    with pytest.raises(TypeError):
        snap.graph.domtree("5")  # type: ignore[arg-type]


# ---- the report's content ----------------------------------------------------


def test_report_of_two_snapshots(pair: tuple[str, str], tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    report.write(pair, out)
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    html = out.read_text()
    data = _data(html)
    name = f"{__name__}.ReportRow"
    assert data["series"] is True and len(data["snapshots"]) == 2
    grown = {t["name"]: t for t in data["types"]}
    assert grown[name]["delta"] == 3000 and grown[name]["counts"] == [0, 3000]
    assert grown[name]["bytes_delta"] > 0
    # What holds the new objects: the cache's list, by name.
    (x,) = [x for x in data["explained"] if x["type"] == name]
    assert x["count"] == 3000
    assert x["groups"][0]["count"] == 3000
    assert re.search(r"module tests\.test_report \.CACHE -> \S*ReportCache \.rows -> list",
                     x["groups"][0]["example"]["text"])
    # The icicle: the list summed up under the path that names it.
    ic = data["icicle"]
    i = ic["labels"].index("3,000 ReportRow")
    parent = ic["ids"].index(ic["parents"][i])
    assert ic["labels"][parent] == ".rows list"
    # (escaped: plotly reads hover texts as HTML)
    assert re.search(r"\.CACHE -> \S*ReportCache \.rows -> list",
                     html_module.unescape(ic["hovers"][parent]))
    # Values add up: a box holds at least its children.
    kids: defaultdict[str, int] = defaultdict(int)
    for p, v in zip(ic["parents"], ic["values"]):
        kids[p] += v
    for ident, v in zip(ic["ids"], ic["values"]):
        assert kids[ident] <= v
    assert data["top_objects"] and data["top_holders"]
    # The memory split each snapshot recorded, around its own objects.
    for head in data["snapshots"]:
        mem = head["memory"]
        assert mem["rss"] > 0 and mem["python_objects"] == head["bytes"]


def test_report_is_self_contained(pair: tuple[str, str]) -> None:
    html = report.render([heapwatch.load(p, fullnames=True) for p in pair], ["a", "b"])
    # Nothing is fetched: no external script, style, image or frame.
    assert not re.search(r'<(script|link|img|iframe)[^>]+(src|href)=', html)
    assert "plotly.js v4.1.1" in html and "MIT" in html
    # One <script> element each for the data, plotly and the page's code.
    assert html.count("<script") == 3 and html.count("</script>") == 3


def test_report_redacts_contents_unless_reprs_kept(tmp_path: Path) -> None:
    secret = [SECRET + str(i) for i in range(3)]
    plain, kept = tmp_path / "plain.hwsnap", tmp_path / "kept.hwsnap"
    heapwatch.snapshot().save(plain)
    heapwatch.snapshot(reprs=True).save(kept)
    del secret
    without = report.render([heapwatch.load(plain)])
    assert SECRET not in without
    assert "Object contents are redacted" in without
    # reprs=True keeps short texts; the report says so and may show them.
    with_reprs = report.render([heapwatch.load(kept)])
    assert _data(with_reprs)["reprs"] is True
    assert "kept object contents" in with_reprs


def test_report_of_one_snapshot(pair: tuple[str, str]) -> None:
    data = _data(report.render([heapwatch.load(pair[1], fullnames=True)], ["b"]))
    assert data["series"] is False
    assert data["types"] and all(t["delta"] is None for t in data["types"])
    assert data["explained"]


def test_report_script_text_cannot_close_the_element() -> None:
    # A dict key is part of a path; one that spells "</script>" must stay
    # inside the JSON.
    holder = {"</script><script>alert(1)</script>": [ReportRow(0) for _ in range(50)]}
    html = report.render([heapwatch.snapshot()])
    assert "<script>alert(1)" not in html
    del holder


def test_report_arguments() -> None:
    with pytest.raises(ValueError):
        report.render([])
    with pytest.raises(TypeError):
        report.render(["not a snapshot"])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        report.render([heapwatch.snapshot()], ["a", "b"])


def test_report_cli(pair: tuple[str, str], tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    run = subprocess.run([sys.executable, "-m", "heapwatch", "report", *pair, "-o", str(out),
                          "--title", "nightly"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "report of 2 snapshots" in run.stdout
    assert "<title>nightly</title>" in out.read_text()
    bad = tmp_path / "bad.hwsnap"
    bad.write_bytes(b"not a snapshot")
    run = subprocess.run([sys.executable, "-m", "heapwatch", "report", str(bad), "-o",
                          str(tmp_path / "x.html")], capture_output=True, text=True)
    assert run.returncode == 1 and "heapwatch:" in run.stderr
    assert not (tmp_path / "x.html").exists()
    run = subprocess.run([sys.executable, "-m", "heapwatch", "report", str(tmp_path), "-o",
                          str(tmp_path / "x.html")], capture_output=True, text=True)
    assert run.returncode == 1 and "is a directory" in run.stderr


# ---- in a browser ------------------------------------------------------------


def test_report_renders_in_chromium(browser: Any, pair: tuple[str, str],  # noqa: F811
                                    tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    report.write(pair, out, title="heapwatch report: two snapshots of the test's heap")
    browser.get(out.as_uri())
    from selenium.webdriver.support.ui import WebDriverWait
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script("return document.body.dataset.ready === '1'"))
    assert console_errors(browser) == []
    name = f"{__name__}.ReportRow"
    # The table's first row is the grown type; its sparkline is drawn.
    first = browser.execute_script(
        "return document.querySelector('#hw-types tbody tr').dataset.type")
    assert first == name
    # The icicle chart holds the grown type, under the list that holds it.
    labels = browser.execute_script("return document.getElementById('hw-icicle').data[0].labels")
    assert "3,000 ReportRow" in labels
    # The memory split: four stacked parts, one bar per snapshot.
    assert browser.execute_script(
        "return document.getElementById('hw-memory-chart').data.length") == 4
    assert browser.execute_script(
        "return document.querySelectorAll('#hw-icicle svg .slice').length") > 10
    shot = screenshot(browser, "report", max_height=2600)
    assert os.path.getsize(shot) > 10_000


def test_heap_names_are_text_not_markup_in_the_charts(browser: Any,  # noqa: F811
                                                      tmp_path: Path) -> None:
    # plotly reads labels and hover texts as a subset of HTML (<b>, <a
    # href>...): a dict key holding markup must show as text.
    key = "<b>bold</b> & <a href='javascript:alert(1)'>x</a>"
    holder = {key: [ReportRow(i) for i in range(20000)]}
    out = tmp_path / "markup.html"
    out.write_text(report.render([heapwatch.snapshot()]))
    del holder
    browser.get(out.as_uri())
    from selenium.webdriver.support.ui import WebDriverWait
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script("return document.body.dataset.ready === '1'"))
    assert console_errors(browser) == []
    assert browser.execute_script("return document.querySelectorAll('#hw-icicle a').length") == 0
    texts = browser.execute_script(
        "return Array.from(document.querySelectorAll('#hw-icicle text'))"
        ".map(t => t.textContent).filter(t => t.includes('bold'))")
    assert texts and all(key in t for t in texts)
