"""heapwatch.dot: DOT text for paths and snapshot neighbourhoods, and files.

The DOT produced is fed to Graphviz's dot (when installed) to check that it
parses; labels are checked for escaping by what Graphviz makes of them.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import heapwatch
from heapwatch import Step
from heapwatch.dot import GraphvizError, path_dot, quote, render, subgraph_dot

HAVE_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAVE_DOT, reason="Graphviz's dot is not installed")

SECRET = "hw-dot-secret-" + "51c0ffee"

NODE = re.compile(r"^  (\w+) \[label=\"((?:[^\"\\]|\\.)*)\"", re.M)
EDGE = re.compile(r"^  (\w+) -> (\w+)(?: \[label=\"((?:[^\"\\]|\\.)*)\")?", re.M)


class DotWidget:
    def __init__(self, payload: object = None) -> None:
        self.payload = payload


@pytest.fixture
def module() -> Iterator[Any]:
    name = "hw_dot_test_mod"
    m = types.ModuleType(name)
    sys.modules[name] = m
    try:
        yield m
    finally:
        del sys.modules[name]
        m.__dict__.clear()


def run_dot(text: str, fmt: str = "svg") -> bytes:
    done = subprocess.run(["dot", f"-T{fmt}"], input=text.encode(), capture_output=True,
                          check=False)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def parses(text: str) -> None:
    assert text.isascii()
    assert text.startswith("digraph ") and text.endswith("}\n")
    if HAVE_DOT:
        assert b"<svg" in run_dot(text)


def labels(text: str) -> list[str]:
    return [label for _, label in NODE.findall(text)]


def edge_labels(text: str) -> list[str]:
    return [label for _, _, label in EDGE.findall(text)]


def mode(path: str | Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# ---- quoting ----------------------------------------------------------------


def test_quote_escapes() -> None:
    assert quote('say "hi"') == '"say \\"hi\\""'
    assert quote("a\\b") == '"a\\\\b"'
    assert quote("two\nlines") == '"two\\nlines"'
    assert quote("tab\there") == '"tab\\\\x09here"'
    assert quote("caf\u00e9 \u2603") == '"caf&#233; &#9731;"'
    assert quote("&amp;") == '"&amp;amp;"'
    assert quote("\ud800") == '"&#65533;"'
    assert quote("\\N \\G") == '"\\\\N \\\\G"'


@needs_dot
def test_graphviz_reads_labels_back() -> None:
    text = ('digraph g {\n  a [label=' + quote('caf\u00e9 "q" \\N &amp; x\ty') + '];\n}\n')
    plain = run_dot(text, "plain").decode("utf-8")
    # Graphviz's plain output quotes the label again, with its own escapes.
    assert 'caf\u00e9 \\"q\\" \\\\N &amp; x\\\\x09y' in plain


# ---- path_dot ---------------------------------------------------------------


def test_path_dot_of_a_why_path(module: Any) -> None:
    obj = DotWidget()
    module.HOLD = {"k": [obj]}
    path = heapwatch.why(obj)
    assert path is not None
    text = path_dot(path)
    parses(text)
    got = labels(text)
    assert len(got) == len(path.steps)
    assert got[0] == "module\\nmodule hw_dot_test_mod"
    assert got[-1] == "DotWidget"
    # Edge names as why() prints them.
    assert edge_labels(text) == [".__dict__", ".HOLD", "['k']", "[0]"]
    assert str(path) == "module hw_dot_test_mod .HOLD ['k'] -> list [0] -> DotWidget"
    assert re.search(r'^  n4 \[label="DotWidget", fontcolor="red"\];$', text, re.M)


def test_path_dot_closure_and_fullnames(module: Any) -> None:
    obj = DotWidget()

    def make(value: object) -> Any:
        def reader() -> object:
            return value

        return reader

    module.reader = make([obj])
    path = heapwatch.why(obj, fullnames=True)
    assert path is not None
    text = path_dot(path)
    parses(text)
    assert "(closure value)" in edge_labels(text)
    assert ".cell_contents" in edge_labels(text)
    assert labels(text)[-1] == f"{__name__}.DotWidget"


def test_path_dot_roots_and_escaping() -> None:
    steps = [
        Step("dict", 1, "root", None),
        Step("builtins.list", 2, "key", "'we\"ird\\\nk\u00e9y'"),
        Step("pkg.Thing", 3, "index", 4),
        Step("set", 4, "attr", "members"),
        Step("object", 5, "member", None),
    ]
    held = heapwatch.Path(None, True, steps)
    text = path_dot(held)
    parses(text)
    assert labels(text)[0] == "dict\\n(held from outside)"
    assert edge_labels(text) == ["['we\\\"ird\\\\\\nk&#233;y']", "[4]", ".members", "{member}"]
    text = path_dot(heapwatch.Path(None, False, steps[:1]))
    assert labels(text) == ["dict\\n(unreachable)"]
    assert edge_labels(text) == []


def test_path_dot_rejects_other_things() -> None:
    with pytest.raises(TypeError, match="heapwatch.Path"):
        path_dot("module x .y -> list")  # type: ignore[arg-type]


# ---- subgraph_dot -----------------------------------------------------------


def hold(module: Any) -> DotWidget:
    """A widget in two lists in a dict in the module.  (Not a fixture's
    value: pytest would hold it too.)"""
    obj = DotWidget(SECRET + "-value")
    module.HOLD = {"k": [obj], "again": [obj, obj]}
    return obj


def test_subgraph_referrers(module: Any) -> None:
    held = hold(module)
    snap = heapwatch.snapshot()
    node = snap.node_of(held)
    assert node is not None
    text = subgraph_dot(snap, node)
    parses(text)
    got = labels(text)
    assert got[0].startswith("DotWidget\\n") and "retained" in got[0]
    # Two lists hold it, the dict holds them; each list once, though one
    # holds it twice.  (Before 3.13, the snapshot's look at this frame's
    # variables makes the frame's f_locals dict, which holds it too.)
    assert sum(label.startswith("list\\n") for label in got) == 2
    dicts = [label for label in got if label.startswith("dict\\n")]
    assert len([d for d in dicts if "held from outside" not in d]) == 1
    assert len(dicts) <= (1 if sys.version_info >= (3, 13) else 2)
    assert len(EDGE.findall(text)) == 3 + len(dicts)
    # The path tree's edges are named, the others not: the widget is a
    # root itself (this frame's variable), so no edge into it is named.
    assert "local held" in got[0]
    assert sorted(edge_labels(text)) == ["", ""] + [""] * (len(dicts) - 1) + [
        "['again']", "['k']"]
    assert SECRET not in text


def test_subgraph_referents_depth_and_cap(module: Any) -> None:
    hold(module)
    snap = heapwatch.snapshot()
    node = snap.node_of(module)
    assert node is not None
    text = subgraph_dot(snap, node, depth=4, direction="referents")
    parses(text)
    assert "['k']" in edge_labels(text) and ".__dict__" in edge_labels(text)
    assert any(label.startswith("DotWidget") for label in labels(text))
    one = subgraph_dot(snap, node, depth=0, direction="referents")
    assert len(labels(one)) == 1 and not EDGE.findall(one)
    capped = subgraph_dot(snap, node, depth=3, direction="referents", max_nodes=3)
    parses(capped)
    assert len(labels(capped)) == 4  # three nodes and the note
    assert "more referents not shown (max_nodes=3)" in capped
    plain = subgraph_dot(snap, node, depth=1, direction="referents", retained=False)
    assert "retained" not in plain


def test_subgraph_reprs(module: Any, tmp_path: Path) -> None:
    held = hold(module)
    snap = heapwatch.snapshot(reprs=True)
    node = snap.node_of(held)
    assert node is not None
    text = subgraph_dot(snap, node, depth=1, direction="referents")
    assert SECRET not in text
    text = subgraph_dot(snap, node, depth=1, direction="referents", reprs=True)
    assert SECRET in text
    parses(text)
    # A saved and loaded snapshot draws the same.
    snap.save(tmp_path / "s.hwsnap")
    loaded = heapwatch.load(tmp_path / "s.hwsnap")
    assert subgraph_dot(loaded, node, depth=1, direction="referents", reprs=True) == text
    plain = heapwatch.snapshot()
    with pytest.raises(ValueError, match="no reprs"):
        subgraph_dot(plain, 0, reprs=True)


def test_subgraph_arguments() -> None:
    snap = heapwatch.snapshot()
    with pytest.raises(ValueError, match="direction"):
        subgraph_dot(snap, 0, direction="up")
    with pytest.raises(ValueError, match="depth must be >= 0"):
        subgraph_dot(snap, 0, depth=-1)
    with pytest.raises(TypeError, match="depth must be an int"):
        subgraph_dot(snap, 0, depth=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_nodes must be >= 1"):
        subgraph_dot(snap, 0, max_nodes=0)
    with pytest.raises(TypeError, match="node must be an int"):
        subgraph_dot(snap, True)
    with pytest.raises(IndexError):
        subgraph_dot(snap, len(snap) + 5)
    with pytest.raises(TypeError, match="heapwatch.Snapshot"):
        subgraph_dot(snap.graph, 0)


# ---- render -----------------------------------------------------------------

SMALL = 'digraph g {\n  a [label="a"];\n  a -> b;\n}\n'


def test_render_dot_file_is_private(tmp_path: Path) -> None:
    target = tmp_path / "g.dot"
    target.write_text("old")
    target.chmod(0o644)
    old = os.umask(0)
    try:
        assert render(SMALL, target) == str(target)
    finally:
        os.umask(old)
    assert target.read_text() == SMALL and mode(target) == 0o600
    assert render(SMALL, str(tmp_path / "g.gv")) == str(tmp_path / "g.gv")
    assert mode(tmp_path / "g.gv") == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.dot", "g.gv"]


@needs_dot
@pytest.mark.parametrize("ext, magic", [(".svg", b"<svg"), (".png", b"\x89PNG"),
                                        (".SVG", b"<svg")])
def test_render_image(tmp_path: Path, ext: str, magic: bytes) -> None:
    target = tmp_path / f"g{ext}"
    old = os.umask(0)
    try:
        render(SMALL, target)
    finally:
        os.umask(old)
    assert magic in target.read_bytes()[:1000] and mode(target) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


@needs_dot
def test_render_failures_leave_nothing(tmp_path: Path) -> None:
    with pytest.raises(GraphvizError, match="dot -Tsvg failed"):
        render("digraph { this is not dot", tmp_path / "bad.svg")
    with pytest.raises(GraphvizError, match="dot -Tnosuchformat failed"):
        render(SMALL, tmp_path / "g.nosuchformat")
    assert list(tmp_path.iterdir()) == []


def test_render_without_graphviz(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(GraphvizError, match="needs Graphviz's 'dot' program.*write a .dot"):
        render(SMALL, tmp_path / "g.png")
    assert render(SMALL, tmp_path / "g.dot") == str(tmp_path / "g.dot")
    assert [p.name for p in tmp_path.iterdir()] == ["g.dot"]


def test_render_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="extension"):
        render(SMALL, tmp_path / "graph")
    with pytest.raises(ValueError, match="extension"):
        render(SMALL, tmp_path / "graph.s;vg")
    with pytest.raises(TypeError, match="dot_text must be a str"):
        render(SMALL.encode(), tmp_path / "g.dot")  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError):
        render(SMALL, tmp_path / "no" / "such" / "g.dot")
    assert list(tmp_path.iterdir()) == []
