"""Graphviz DOT output for paths, neighbourhoods and object graphs.

:func:`path_dot` draws one :class:`heapwatch.Path` (root first);
:func:`subgraph_dot` draws the referrers or referents of one node of a
:class:`heapwatch.Snapshot`, a few levels deep; :func:`render` writes the
text to a ``.dot`` file, or runs Graphviz's ``dot`` program to make an
image (``.svg``, ``.png``, ``.pdf``...).  ``heapwatch.objgraph``'s
``show_refs`` / ``show_backrefs`` / ``show_chain`` draw with it too.

Nodes are labelled with type names, sizes and the names of the references
between them (``.attr``, ``['key']``, ``[3]``, ``local x``...), as
:func:`heapwatch.why` prints them.  Object contents are not shown: a
snapshot taken with ``reprs=True`` keeps the text of its strings and
numbers, and :func:`subgraph_dot` shows it only when asked (``reprs=True``)
too.  The text produced is ASCII whatever the labels hold (other
characters are written as character references, which Graphviz decodes),
and files are created readable by their owner only (mode 0600).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping

from heapwatch import _args
from heapwatch._engine import Graph
from heapwatch._explain import Path, Snapshot
from heapwatch._files import write_private
from heapwatch._format import Step, edge_text, human_bytes, short_name

__all__ = ["GraphvizError", "path_dot", "render", "subgraph_dot"]


class GraphvizError(RuntimeError):
    """Graphviz's ``dot`` program is missing, or failed to render."""


# ---- DOT text ------------------------------------------------------------

_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def quote(text: str) -> str:
    """text as a double-quoted DOT string, ASCII only.

    A newline is a line break; a backslash or a double quote stands for
    itself (Graphviz's escapes such as ``\\N`` cannot be injected), as do
    other control characters, shown as ``\\xNN``; ``&`` and every
    non-ASCII character are written as character references.
    """
    out = ['"']
    for ch in str(text):
        o = ord(ch)
        if ch == "\n":
            out.append("\\n")
        elif ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "&":
            out.append("&amp;")
        elif o < 0x20 or o == 0x7F:
            out.append("\\\\x%02x" % o)
        elif o > 0x7F:
            # A lone surrogate cannot be encoded: the replacement character.
            out.append("&#%d;" % (0xFFFD if 0xD800 <= o <= 0xDFFF else o))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _attrs(attrs: Mapping[str, object]) -> str:
    parts = []
    for name, value in attrs.items():
        if value is None:
            continue
        if not _ID.match(name):
            raise ValueError(f"not a Graphviz attribute name: {name!r}")
        parts.append(f"{name}={quote(str(value))}")
    return f" [{', '.join(parts)}]" if parts else ""


class Digraph:
    """A DOT digraph, written line by line (node ids must be plain ids)."""

    def __init__(self, name: str = "heapwatch", **graph_attrs: object) -> None:
        if not _ID.match(name):
            raise ValueError(f"not a DOT graph name: {name!r}")
        self._lines = [f"digraph {name} {{"]
        if graph_attrs:
            self._lines.append(f"  graph{_attrs(graph_attrs)};")
        node_style = {"shape": "box", "style": "filled", "fillcolor": "white"}
        self._lines.append(f"  node{_attrs(node_style)};")
        self._lines.append(f"  edge{_attrs({'fontsize': '10'})};")
        self.nodes = 0

    def node(self, node_id: str, label: Iterable[str], **attrs: object) -> None:
        if not _ID.match(node_id):
            raise ValueError(f"not a DOT node id: {node_id!r}")
        self.nodes += 1
        text = "\n".join(label)
        self._lines.append(f"  {node_id}{_attrs({'label': text, **attrs})};")

    def edge(self, tail: str, head: str, label: str | None = None, **attrs: object) -> None:
        if not (_ID.match(tail) and _ID.match(head)):
            raise ValueError(f"not DOT node ids: {tail!r}, {head!r}")
        self._lines.append(f"  {tail} -> {head}{_attrs({'label': label or None, **attrs})};")

    def source(self) -> str:
        return "\n".join(self._lines + ["}"]) + "\n"


# ---- edge names ----------------------------------------------------------


def edge_name(step: Step, previous: Step | None) -> str:
    """The name of the reference into step, as heapwatch.why() prints it:
    ``.attr``, ``['key']``, ``[3]``, ``local x``, ``(closure x)``...; ""
    when it is not named.  A key of a ``__dict__`` reads as an attribute."""
    if step.kind in ("root", "held", "unreached"):
        return ""
    attr_dict = previous is not None and previous.kind == "field" and previous.label == "__dict__"
    return edge_text(step, attr_dict, False)


def _type_label(name: str, fullnames: bool) -> str:
    return name if fullnames else short_name(name)


# ---- paths ---------------------------------------------------------------


def path_dot(path: Path) -> str:
    """A DOT digraph of one path, from its root (labelled as why() names
    it) to the object, each edge named as why() prints it."""
    if not isinstance(path, Path):
        raise TypeError(f"path_dot() takes a heapwatch.Path, not {type(path).__name__}")
    dot = Digraph("path")
    previous: Step | None = None
    last = len(path.steps) - 1
    for i, step in enumerate(path.steps):
        lines = [_type_label(step.type, path.fullnames)]
        attrs: dict[str, object] = {}
        if i == 0:
            if path.root is not None:
                lines.append(path.root)
            else:
                lines.append("(held from outside)" if path.held else "(unreachable)")
            attrs["penwidth"] = "2"
        if i == last:
            attrs["fontcolor"] = "red"
        dot.node(f"n{i}", lines, **attrs)
        if i:
            dot.edge(f"n{i - 1}", f"n{i}", edge_name(step, previous))
        previous = step
    return dot.source()


# ---- neighbourhoods ------------------------------------------------------

_DIRECTIONS = ("referrers", "referents")


def tree_edges(graph: Graph, nodes: Iterable[int]) -> dict[int, tuple[int, str]]:
    """{node: (its parent in the path tree, the edge's name)} for the given
    nodes that have a parent; the name is "" where the graph did not name
    the edge."""
    out: dict[int, tuple[int, str]] = {}
    for n in nodes:
        p = graph.path(n)
        if p is None or len(p[2]) < 2:
            continue
        *_, before, here = (Step(*s) for s in p[2])
        parent = graph.find(before.address)
        if parent is not None:
            out[n] = (parent, edge_name(here, before))
    return out


def root_label(graph: Graph, n: int) -> str | None:
    """The root name of a node that is itself a named root, else None."""
    p = graph.path(n)
    if p is not None and len(p[2]) == 1 and p[0] is not None:
        label: str = p[0]
        return label
    return None


def subgraph_dot(snapshot: Snapshot, node: int, depth: int = 2, direction: str = "referrers",
                 max_nodes: int = 200, *, reprs: bool = False, retained: bool = True) -> str:
    """A DOT digraph of a node's neighbourhood in a snapshot: breadth first
    over its referrers (what holds it) or its referents (what it holds), at
    most depth levels and max_nodes nodes.

    Nodes show their type, shallow size and, with retained=True, what
    freeing them would free (the dominator tree, computed on first use);
    nodes that are named roots show the root's name.  Edges that are on
    the snapshot's path tree carry their names (a snapshot from
    heapwatch.snapshot() names all of them).  reprs=True adds the text of
    strings and numbers, for a snapshot taken with reprs=True.
    """
    if not isinstance(snapshot, Snapshot):
        raise TypeError(f"subgraph_dot() takes a heapwatch.Snapshot, not {type(snapshot).__name__}")
    _args.integer(node, "node", 0)
    depth = _args.integer(depth, "depth", 0)
    max_nodes = _args.integer(max_nodes, "max_nodes", 1)
    if direction not in _DIRECTIONS:
        raise ValueError(f"direction must be 'referrers' or 'referents', not {direction!r}")
    graph = snapshot.graph
    if reprs and not snapshot.info.get("has_reprs"):
        raise ValueError("this snapshot has no reprs: take it with heapwatch.snapshot(reprs=True)")
    graph.node(node)  # IndexError for a node not in the graph
    neighbours = graph.referrers if direction == "referrers" else graph.referents

    level = {node: 0}
    order = [node]
    edges: dict[tuple[int, int], None] = {}
    left_out: set[int] = set()
    head = 0
    while head < len(order):
        here = order[head]
        head += 1
        if level[here] >= depth:
            continue
        for other in neighbours(here):
            if other not in level:
                if len(order) >= max_nodes:
                    left_out.add(other)
                    continue
                level[other] = level[here] + 1
                order.append(other)
            edges[(other, here) if direction == "referrers" else (here, other)] = None

    named = tree_edges(graph, order)
    has_retained = retained and callable(getattr(graph, "retained", None))
    dot = Digraph("neighbourhood")
    for n in order:
        tname, _addr, size, held, _tracked, text = graph.node(n)
        lines = [_type_label(tname, snapshot.fullnames)]
        root = root_label(graph, n)
        if root is not None:
            lines.append(root)
        elif held:
            lines.append("(held from outside)")
        sizes = human_bytes(size)
        if has_retained:
            sizes += f", {human_bytes(graph.retained(n))} retained"
        lines.append(sizes)
        if reprs and text is not None:
            lines.append(text)
        attrs: dict[str, object] = {}
        if n == node:
            attrs["fontcolor"] = "red"
            attrs["penwidth"] = "2"
        dot.node(f"n{n}", lines, **attrs)
    for tail, head_node in edges:
        parent, name = named.get(head_node, (None, ""))
        dot.edge(f"n{tail}", f"n{head_node}", name if parent == tail else None)
    if left_out:
        what = "referrers" if direction == "referrers" else "referents"
        dot.node("more", [f"{len(left_out)} more {what} not shown (max_nodes={max_nodes})"],
                 shape="note", color="red")
    return dot.source()


# ---- files ---------------------------------------------------------------

_TEXT_EXTENSIONS = (".dot", ".gv")
_FORMAT = re.compile(r"[a-z0-9_]+(:[a-z0-9_]+)*\Z")


def image_format(path: str) -> str | None:
    """The output format a file name asks for: "dot" for the graph's text
    (.dot, .gv), a Graphviz format name from the extension (.svg, .png,
    .pdf...), or None when the extension cannot name one."""
    ext = os.path.splitext(path)[1].lower()
    if ext in _TEXT_EXTENSIONS:
        return "dot"
    fmt = ext[1:]
    return fmt if fmt and _FORMAT.match(fmt) else None


def graphviz_program() -> str | None:
    """The path of Graphviz's dot program, or None."""
    return shutil.which("dot")


def render(dot_text: str, filename: str | os.PathLike[str], *, timeout: float | None = None) -> str:
    """Write a DOT graph to filename and return the name.

    ``.dot`` or ``.gv``: the text itself.  Any other extension names an
    output format of Graphviz's ``dot`` program (``.svg``, ``.png``,
    ``.pdf``...), which is run to render the image; GraphvizError if it is
    not installed, or fails.  The file is created with mode 0600.
    """
    if not isinstance(dot_text, str):
        raise TypeError(f"dot_text must be a str, not {type(dot_text).__name__}")
    path = os.fspath(filename)
    if not isinstance(path, str):
        raise TypeError("filename must be a str or a path, not bytes")
    fmt = image_format(path)
    if fmt == "dot":
        write_private(path, dot_text.encode("utf-8"))
        return path
    if fmt is None:
        raise ValueError(
            f"cannot tell the format of {path!r} from its extension: use .dot (or .gv) "
            "for the graph's text, or an image format Graphviz knows (.svg, .png, .pdf...)")
    program = graphviz_program()
    if program is None:
        raise GraphvizError(
            f"rendering {path!r} needs Graphviz's 'dot' program, which is not on PATH: "
            "install Graphviz (e.g. apt-get install graphviz), or write a .dot file")
    try:
        done = subprocess.run([program, f"-T{fmt}"], input=dot_text.encode("utf-8"),
                              capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise GraphvizError(f"dot -T{fmt} did not finish in {timeout} seconds") from None
    if done.returncode != 0 or not done.stdout:
        err = done.stderr.decode("utf-8", "replace").strip()
        raise GraphvizError(f"dot -T{fmt} failed (exit code {done.returncode})"
                            + (f": {err}" if err else ""))
    write_private(path, done.stdout)
    return path
