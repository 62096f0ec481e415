"""The HTML report: one self-contained file for one snapshot or a series.

    python -m heapwatch report SNAP [SNAP ...] -o report.html

or ``heapwatch.report.write(paths, "report.html")`` /
``render(snapshots, names)`` for the text.  The file opens offline: the
data, the page's code and plotly.js (vendored at build time from the
`plotly` wheel on PyPI, MIT licence; see tools/vendor_plotly.py) are all
inside it; nothing is fetched.

What it shows, for the series in the order given (oldest first):

- the snapshots: when, how many objects, references, CPython version,
  whether object contents were kept;
- the process's memory when each snapshot was taken, split as
  heapwatch.memory() splits it (live objects, free memory pymalloc and
  malloc keep, the rest), for snapshots that recorded it (snapshot() and
  capture() do); and the heap's size across the series;
- the types that grew from the first snapshot to the last (a sortable
  table of counts and bytes, a sparkline of each type's count);
- the retained size of the last snapshot as an icicle of its dominator
  tree, cut to the largest retainers (the rest summed by type under each
  holder), each box with its named path;
- the top retainers (single objects, and objects held the same way);
- for each grown type, the retention groups of its new objects with an
  example path (for a single snapshot: of the largest types).

Object contents are redacted: paths name references (attributes, dict
keys, indexes), never values.  Texts appear only when the snapshot was
taken with reprs=True, and the report says so at the top.

The work is the engine's (census, dominators, retention groups, in C);
this module arranges the results as JSON for the page.
"""

from __future__ import annotations

import datetime
import functools
import html
import json
import os
from collections.abc import Sequence
from typing import Any

from heapwatch._explain import Path, Retainer, Snapshot, load
from heapwatch._files import write_private
from heapwatch._format import edge_text, human_bytes, short_name

_VENDOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_vendor")

# How much of each section the page shows.
ICICLE_NODES = 1500        # kept objects of the dominator tree
GROWTH_ROWS = 300          # rows of the growth table
TOP_RETAINERS = 25
GROUPS_PER_TYPE = 5
TYPES_EXPLAINED = 10


def plotly_js() -> str:
    """The vendored plotly.js (src/heapwatch/_vendor/plotly.min.js)."""
    path = os.path.join(_VENDOR, "plotly.min.js")
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        raise RuntimeError(
            f"{path} is missing: plotly.js is vendored at build time; run "
            f"`python tools/vendor_plotly.py` in heapwatch's source tree (make does) "
            f"and reinstall") from None


def plotly_license() -> str:
    with open(os.path.join(_VENDOR, "plotly.LICENSE.txt"), encoding="utf-8") as f:
        return f.read()


# ---- the data ----------------------------------------------------------------


def _path_dict(p: Path | None, reprs: bool) -> dict[str, Any] | None:
    if p is None:
        return None
    d: dict[str, Any] = {"text": str(p)}
    if reprs and p.repr is not None:
        d["repr"] = p.repr
    return d


def _node_label(snap: Snapshot, node: int, p: Path | None) -> str:
    """A box of the icicle: the reference that reaches the object (as its
    named path's last step) and its type; a root's own name."""
    tname = short_name(snap.graph.node(node)[0])
    if p is None or len(p) == 0:
        return tname
    if len(p) == 1:
        return p.root or f"{tname} (held from outside)"
    edge = edge_text(p.steps[-1], False, False)
    return f"{edge} {tname}" if edge else tname


def _icicle(snap: Snapshot, reprs: bool) -> dict[str, Any]:
    """Plotly icicle arrays (ids, labels, parents, values, hover texts) of
    the cut dominator tree (Graph.domtree): values are retained bytes and
    add up ("total" branch values)."""
    rows = snap.graph.domtree(ICICLE_NODES)
    ids, labels, parents, values, hovers = [], [], [], [], []
    top = garbage = 0
    for node, parent, _tname, _count, retained in rows:
        if parent is None:
            top += retained
        elif parent == -1:
            garbage += retained
    ids += ["heap", "garbage"]
    labels += ["heap", "unreachable (garbage)"]
    parents += ["", "heap"]
    values += [top + garbage, garbage]
    hovers += [f"all objects: {human_bytes(top + garbage)}",
               f"objects no root reaches (not collected yet): {human_bytes(garbage)}"]

    def pid(parent: int | None) -> str:
        return "heap" if parent is None else "garbage" if parent == -1 else f"n{parent}"

    # Plotly reads its labels and hover texts as a subset of HTML (<b>,
    # <br>, <a href>...): names from the heap (dict keys, type names) are
    # escaped, so that they show as text and never become markup.
    esc = functools.partial(html.escape, quote=False)
    for i, (node, parent, tname, count, retained) in enumerate(rows):
        if node is not None:
            p = snap.path(node)
            ids.append(f"n{node}")
            labels.append(esc(_node_label(snap, node, p)))
            path = _path_dict(p, reprs)
            hovers.append(esc(path["text"] if path else short_name(tname))
                          + f"<br>retains {human_bytes(retained)}")
        else:
            ids.append(f"r{i}")
            labels.append(esc(f"{count:,} {short_name(tname)}"))
            hovers.append(esc(f"{count:,} {tname}") + " (each retaining less than the boxes "
                          f"shown)<br>retain {human_bytes(retained)} together")
        parents.append(pid(parent))
        values.append(retained)
    return {"ids": ids, "labels": labels, "parents": parents, "values": values,
            "hovers": hovers}


def _group_dict(g: Any, reprs: bool) -> dict[str, Any]:
    return {"count": g.count, "bytes": g.bytes, "retained": g.retained, "type": g.type,
            "via": g.via, "example": _path_dict(g.example, reprs)}


def build(snapshots: Sequence[Snapshot], names: Sequence[str]) -> dict[str, Any]:
    """The report's data (what the page draws), as JSON-ready values."""
    if not snapshots:
        raise ValueError("a report needs at least one snapshot")
    if len(names) != len(snapshots):
        raise ValueError("one name per snapshot")
    for s in snapshots:
        if not isinstance(s, Snapshot):
            raise TypeError(f"expected heapwatch.Snapshot objects, not {type(s).__name__}")
    last = snapshots[-1]
    reprs = bool(last.info["has_reprs"])
    censuses = [s.census() for s in snapshots]
    heads = []
    for name, s, c in zip(names, snapshots, censuses):
        info = s.info
        heads.append({
            "name": name,
            "created": datetime.datetime.fromtimestamp(info["created"], datetime.timezone.utc)
            .strftime("%Y-%m-%d %H:%M:%S UTC"),
            "objects": info["nodes"], "tracked": info["tracked"], "edges": info["edges"],
            "bytes": c.total_bytes, "python": info["python_version"],
            "reprs": bool(info["has_reprs"]),
            "memory": None if s.memory is None else s.memory.as_dict(),
        })

    # Types: every type of the last snapshot and of the first, with its
    # count and bytes in each snapshot.
    first, final = censuses[0], censuses[-1]
    types: dict[str, dict[str, Any]] = {}
    if len(snapshots) > 1:
        grew = [g for g in final - first if g.delta > 0][:GROWTH_ROWS]
        for g in grew:
            types[g.name] = {"name": g.name, "delta": g.delta, "bytes_delta": g.bytes_delta}
    else:
        for name, _stats in final.most_common(GROWTH_ROWS, by="bytes"):
            types[name] = {"name": name, "delta": None, "bytes_delta": None}
    for name, row in types.items():
        stats = [c.get(name) for c in censuses]
        row["counts"] = [0 if st is None else st.count for st in stats]
        row["bytes"] = [0 if st is None else st.bytes for st in stats]

    # What holds the grown types' new objects: their retention groups.
    # For one snapshot, the groups of the largest types' objects, taken
    # from the groups of every object (one pass over the heap, where a
    # pass per type cost seconds each on millions of objects).
    everything = [] if len(snapshots) > 1 else last.retention("*", None, by="retained")
    explained = []
    for name in list(types)[:TYPES_EXPLAINED]:
        if len(snapshots) > 1:
            nodes = last.graph.new_since(snapshots[0].graph, (name,))
            if not nodes:
                continue
            groups = last.retention(nodes, GROUPS_PER_TYPE)
            what, count = "new objects", len(nodes)
        else:
            mine = sorted((g for g in everything if g.type == name), key=lambda g: -g.count)
            groups, what = mine[:GROUPS_PER_TYPE], "objects"
            count = sum(g.count for g in mine)
            if not groups:
                continue
        explained.append({"type": name, "what": what, "count": count,
                          "groups": [_group_dict(g, reprs) for g in groups]})

    objects = []
    for r in last.top_retainers(TOP_RETAINERS, by="object"):
        assert isinstance(r, Retainer)
        objects.append({"type": r.type, "address": f"{r.address:#x}" if r.address else None,
                        "bytes": r.bytes, "retained": r.retained,
                        "path": _path_dict(r.path, reprs),
                        **({"repr": r.repr} if reprs and r.repr is not None else {})})
    holders = [_group_dict(g, reprs)
               for g in (everything[:TOP_RETAINERS] if everything
                         else last.top_retainers(TOP_RETAINERS, by="holder"))]

    icicle = _icicle(last, reprs)
    return {
        "snapshots": heads,
        "reprs": reprs,
        "series": len(snapshots) > 1,
        "types": list(types.values()),
        "icicle": icicle,
        "top_objects": objects,
        "top_holders": holders,
        "explained": explained,
    }


# ---- the page ----------------------------------------------------------------


def _script_safe(text: str) -> str:
    """Text that cannot end the <script> element it is put in."""
    return text.replace("</", "<\\/")


def _json_safe(data: Any) -> str:
    # In a <script type="application/json">, "<" as \u003c keeps any
    # "</script" or "<!--" inside strings from ending or changing it.
    return (json.dumps(data, separators=(",", ":"), ensure_ascii=False)
            .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def render(snapshots: Sequence[Snapshot], names: Sequence[str] | None = None, *,
           title: str | None = None) -> str:
    """The report of these snapshots (oldest first) as one HTML document."""
    snapshots = list(snapshots)
    if names is None:
        names = [f"snapshot {i + 1}" for i in range(len(snapshots))]
    names = [str(n) for n in names]
    data = build(snapshots, names)
    if title is None:
        title = "heapwatch report: " + (names[0] if len(names) == 1
                                        else f"{names[0]} .. {names[-1]}")
    return (_PAGE.replace("@TITLE@", html.escape(title))
            .replace("@CSS@", PAGE_CSS)
            .replace("@DATA@", _json_safe(data))
            .replace("@APP@", _script_safe(_APP_JS))
            .replace("@LICENSE@", html.escape(plotly_license()))
            .replace("@PLOTLY@", _script_safe(plotly_js())))


def write(paths: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str], *,
          title: str | None = None) -> None:
    """Load the snapshot files (oldest first) and write their report to
    out: created 0600 (a report shows type names and reference names of
    the heap), replaced atomically."""
    paths = [os.fspath(p) for p in paths]
    # Offline, the module tells apart types that share a name.
    snaps = [load(p, fullnames=True) for p in paths]
    text = render(snaps, [os.path.basename(p) for p in paths], title=title)
    write_private(os.fspath(out), text.encode("utf-8"))


PAGE_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:14px 24px}
header h1{font-size:19px;margin:0}
header p{margin:4px 0 0;color:#c4c9d4;font-size:13px}
main{padding:8px 24px 40px;max-width:1400px}
section{background:#fff;border:1px solid #dde1e8;border-radius:6px;margin:16px 0;padding:12px 16px}
h2{font-size:16px;margin:4px 0 10px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eceff3;vertical-align:top}
th{background:#f0f2f5;position:sticky;top:0}
th.sortable{cursor:pointer;user-select:none}
th.sortable:after{content:" \\2195";color:#98a0ae}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
code,.path{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
.path{word-break:break-all}
.spark{width:140px;height:32px}
.muted{color:#6b7383}
.note{background:#fff8e1;border:1px solid #f0d98c;padding:6px 10px;border-radius:4px}
.grew{color:#b3261e}
details summary{cursor:pointer}
"""

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="generator" content="heapwatch">
<title>@TITLE@</title>
<style>@CSS@</style>
</head><body>
<header><h1>@TITLE@</h1><p id="hw-sub"></p></header>
<main>
<section id="hw-snapshots"><h2>Snapshots</h2><div id="hw-privacy"></div><table id="hw-snap-table"></table></section>
<section id="hw-size"><h2>Memory</h2><p class="muted" id="hw-memory-note"></p>
<div id="hw-memory-chart" style="height:300px"></div></section>
<section id="hw-growth"><h2 id="hw-growth-title">Types</h2><p class="muted" id="hw-growth-note"></p><table id="hw-types"></table></section>
<section id="hw-retained"><h2>Retained size (dominator tree of the last snapshot)</h2>
<p class="muted">Each box is an object and what freeing it would free; below it, the objects it alone keeps alive. Click a box to drill down; hover for its named path.</p>
<div id="hw-icicle" style="height:560px"></div></section>
<section id="hw-top"><h2>Top retainers</h2><h3>Objects</h3><table id="hw-top-objects"></table>
<h3>Objects held the same way</h3><table id="hw-top-holders"></table></section>
<section id="hw-explained"><h2 id="hw-explained-title">What holds them</h2><div id="hw-explained-body"></div></section>
<footer class="muted" style="padding:0 24px 24px">Written by heapwatch. Charts: plotly.js, vendored from the PyPI package plotly, MIT licence:
<details><summary>licence text</summary><pre>@LICENSE@</pre></details></footer>
</main>
<script type="application/json" id="hw-data">@DATA@</script>
<script>@PLOTLY@</script>
<script>@APP@</script>
</body></html>
"""

_APP_JS = r"""
"use strict";
(function () {
  const D = JSON.parse(document.getElementById("hw-data").textContent);
  const $ = (id) => document.getElementById(id);
  const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];
  function bytes(n, signed) {
    if (n === null || n === undefined) return "";
    const sign = n < 0 ? "-" : (signed ? "+" : "");
    let s = Math.abs(n);
    if (s < 1024) return sign + s + " B";
    let u = 0;
    while (s >= 1024 && u < UNITS.length - 1) { s /= 1024; u++; }
    return sign + s.toFixed(1) + " " + UNITS[u];
  }
  const num = (n, signed) => (n === null || n === undefined) ? "" :
    ((signed && n > 0) ? "+" : "") + n.toLocaleString("en-US");
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v; else e.setAttribute(k, v);
    }
    for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
    return e;
  }
  function table(t, head, rows) {
    const tr = el("tr");
    head.forEach((h) => tr.append(el("th", {class: h.num ? "num" : ""}, h.label)));
    t.append(el("thead", {}, tr));
    const body = el("tbody");
    rows.forEach((r) => body.append(r));
    t.append(body);
    return body;
  }
  const pathCell = (p) => {
    const td = el("td", {class: "path"}, p ? p.text : "(no path)");
    if (p && p.repr !== undefined) td.append(el("div", {class: "muted"}, "value: " + p.repr));
    return td;
  };
  const last = D.snapshots[D.snapshots.length - 1];

  $("hw-sub").textContent = D.snapshots.length + (D.series ? " snapshots, oldest first" : " snapshot") +
    "; last: " + num(last.objects) + " objects, " + bytes(last.bytes) + ", CPython " + last.python;
  $("hw-privacy").append(el("p", {class: D.reprs ? "note" : "muted"}, D.reprs ?
    "This snapshot kept object contents (reprs=True): short texts of str, bytes, int and float objects appear below." :
    "Object contents are redacted: paths name references (attributes, keys, indexes), never values."));
  table($("hw-snap-table"), [{label: "snapshot"}, {label: "taken"}, {label: "objects", num: 1},
    {label: "tracked", num: 1}, {label: "references", num: 1}, {label: "bytes", num: 1}, {label: "CPython"}],
    D.snapshots.map((s) => el("tr", {}, el("td", {}, s.name), el("td", {}, s.created),
      el("td", {class: "num"}, num(s.objects)), el("td", {class: "num"}, num(s.tracked)),
      el("td", {class: "num"}, num(s.edges)), el("td", {class: "num"}, bytes(s.bytes)),
      el("td", {}, s.python))));

  const config = {displaylogo: false, responsive: true};
  const withMemory = D.snapshots.filter((s) => s.memory);
  if (withMemory.length) {
    const parts = [["python_objects", "live Python objects", "#3b6fb6"],
                   ["pymalloc_free", "free, kept by pymalloc", "#e8a33d"],
                   ["malloc_free", "free, kept by malloc", "#d9634c"],
                   ["other", "other (C extensions, interpreter, stacks, code)", "#9aa3b2"]];
    Plotly.newPlot("hw-memory-chart", parts.map(([key, name, color]) => ({
      x: withMemory.map((s) => s.name), y: withMemory.map((s) => s.memory[key]), name: name,
      type: "bar", marker: {color: color}, customdata: withMemory.map((s) => bytes(s.memory[key])),
      hovertemplate: name + ": %{customdata}<extra></extra>"})),
      {barmode: "stack", margin: {t: 10, r: 10, b: 40, l: 70}, yaxis: {title: {text: "bytes"}},
       legend: {orientation: "h"}}, config);
    const m = withMemory[withMemory.length - 1].memory;
    const free = m.pymalloc_free + m.malloc_free;
    $("hw-memory-note").textContent = "The process's resident memory when each snapshot was taken (" +
      "last: RSS " + bytes(m.rss) + ": live objects " + bytes(m.python_objects) + ", free memory the allocators keep " +
      bytes(free) + ", other " + bytes(m.other) + ")." + (free > m.python_objects ?
      " Most of it is freed memory the allocators keep for reuse (fragmentation), not live objects." : "");
  } else {
    $("hw-memory-note").textContent = "These snapshots do not record the process's memory " +
      "(snapshot() and capture() do; graphs built otherwise do not). The size of the objects in each:";
    Plotly.newPlot("hw-memory-chart", [{x: D.snapshots.map((s) => s.name), y: D.snapshots.map((s) => s.bytes),
      type: "bar", name: "Python objects", marker: {color: "#3b6fb6"},
      customdata: D.snapshots.map((s) => bytes(s.bytes) + ", " + num(s.objects) + " objects"),
      hovertemplate: "%{customdata}<extra></extra>"}],
      {margin: {t: 10, r: 10, b: 40, l: 70}, yaxis: {title: {text: "bytes"}}}, config);
  }
  // The types table, sortable; one sparkline per row, drawn when seen.
  $("hw-growth-title").textContent = D.series ? "Types that grew" : "Largest types";
  $("hw-growth-note").textContent = D.series ?
    "Types whose count grew from the first snapshot to the last, largest growth first; click a heading to sort." :
    "One snapshot: the types with the most bytes; give two or more snapshots to see growth.";
  const cols = [
    {label: "type", key: (r) => r.name},
    {label: "first", num: 1, key: (r) => r.counts[0], fmt: (r) => num(r.counts[0])},
    {label: "last", num: 1, key: (r) => r.counts[r.counts.length - 1], fmt: (r) => num(r.counts[r.counts.length - 1])},
    {label: "count +", num: 1, key: (r) => r.delta, fmt: (r) => num(r.delta, true)},
    {label: "bytes +", num: 1, key: (r) => r.bytes_delta, fmt: (r) => bytes(r.bytes_delta, true)},
    {label: "bytes (last)", num: 1, key: (r) => r.bytes[r.bytes.length - 1], fmt: (r) => bytes(r.bytes[r.bytes.length - 1])},
    {label: "count over the series"}];
  const visible = D.series ? cols : cols.filter((c, i) => i !== 1 && i !== 3 && i !== 4 && i !== 6);
  const tt = $("hw-types");
  const hr = el("tr");
  visible.forEach((c) => {
    const th = el("th", {class: (c.num ? "num " : "") + (c.key ? "sortable" : "")}, c.label);
    if (c.key) th.addEventListener("click", () => sortBy(c));
    hr.append(th);
  });
  tt.append(el("thead", {}, hr));
  const tbody = el("tbody");
  tt.append(tbody);
  const observer = "IntersectionObserver" in window ? new IntersectionObserver((entries) => {
    for (const e of entries) if (e.isIntersecting) { observer.unobserve(e.target); drawSpark(e.target); }
  }) : null;
  function drawSpark(div) {
    const r = D.types[+div.dataset.row];
    Plotly.newPlot(div, [{y: r.counts, type: "scatter", mode: "lines", line: {width: 1.5, color: "#b3261e"},
      fill: "tozeroy", fillcolor: "rgba(179,38,30,0.1)"}],
      {margin: {t: 2, r: 2, b: 2, l: 2}, xaxis: {visible: false}, yaxis: {visible: false},
       showlegend: false, width: 140, height: 32}, {staticPlot: true});
  }
  let order = D.types.map((r, i) => i);
  function fill() {
    tbody.replaceChildren();
    for (const i of order) {
      const r = D.types[i];
      const tr = el("tr", {"data-type": r.name});
      visible.forEach((c) => {
        if (!c.key) {
          const div = el("div", {class: "spark", "data-row": i});
          tr.append(el("td", {}, div));
          if (observer) observer.observe(div); else drawSpark(div);
        } else {
          tr.append(el("td", {class: c.num ? "num" : (c === cols[0] ? "path" : "")}, c.fmt ? c.fmt(r) : c.key(r)));
        }
      });
      tbody.append(tr);
    }
  }
  let sorted = null;
  function sortBy(c) {
    const dir = sorted === c ? -1 : 1;
    sorted = dir === 1 ? c : null;
    order.sort((a, b) => {
      const x = c.key(D.types[a]), y = c.key(D.types[b]);
      return (typeof x === "string" ? x.localeCompare(y) : (y - x)) * dir;
    });
    fill();
  }
  fill();

  const ic = D.icicle;
  Plotly.newPlot("hw-icicle", [{type: "icicle", ids: ic.ids, labels: ic.labels, parents: ic.parents,
    values: ic.values, branchvalues: "total", customdata: ic.hovers,
    hovertemplate: "%{customdata}<extra></extra>", maxdepth: 6, tiling: {orientation: "h"},
    root: {color: "#eef1f6"}, pathbar: {visible: true}}],
    {margin: {t: 30, r: 4, b: 4, l: 4}}, config);

  table($("hw-top-objects"), [{label: "retained", num: 1}, {label: "object"}, {label: "path"}],
    D.top_objects.map((o) => el("tr", {}, el("td", {class: "num"}, bytes(o.retained)),
      el("td", {}, o.type + (o.address ? " at " + o.address : "")), pathCell(o.path))));
  table($("hw-top-holders"), [{label: "retained", num: 1}, {label: "objects", num: 1}, {label: "held via"}, {label: "example"}],
    D.top_holders.map((g) => el("tr", {}, el("td", {class: "num"}, bytes(g.retained)),
      el("td", {class: "num"}, num(g.count) + " " + g.type), el("td", {class: "path"}, g.via), pathCell(g.example))));

  $("hw-explained-title").textContent = D.series ? "What holds the grown types' new objects" :
    "What holds the largest types";
  const box = $("hw-explained-body");
  if (!D.explained.length) box.append(el("p", {class: "muted"}, D.series ? "No type grew." : "Nothing to show."));
  for (const x of D.explained) {
    box.append(el("h3", {"data-type": x.type}, x.type + ": " + num(x.count) + " " + x.what));
    table(box.appendChild(el("table")), [{label: "objects", num: 1}, {label: "bytes", num: 1},
      {label: "retained", num: 1}, {label: "held via"}, {label: "example path"}],
      x.groups.map((g) => el("tr", {}, el("td", {class: "num"}, num(g.count)), el("td", {class: "num"}, bytes(g.bytes)),
        el("td", {class: "num"}, bytes(g.retained)), el("td", {class: "path"}, g.via), pathCell(g.example))));
  }
  document.body.setAttribute("data-ready", "1");
})();
"""
