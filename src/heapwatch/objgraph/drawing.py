"""The drawings of show_backrefs, show_refs and show_chain: DOT text drawn
breadth first over heapwatch's reference graph, as objgraph draws, with
heapwatch's node labels and edge names.  Where the text goes is viewer's
business.
"""

from __future__ import annotations

import collections
import gc
import itertools
import os
import sys
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from heapwatch import dot as _dot
from heapwatch import objgraph as _objgraph
from heapwatch.objgraph._common import Filter as _Filter
from heapwatch.objgraph._common import Writer as _Writer
from heapwatch.objgraph._common import callable_arg as _callable_arg
from heapwatch.objgraph._common import ignored_ids as _ignored_ids
from heapwatch.objgraph._common import int_arg as _int_arg
from heapwatch.objgraph._common import long_name_of_type as _long_name_of_type
from heapwatch.objgraph._common import type_name as _type_name
from heapwatch.objgraph._heap import MISSING as _MISSING
from heapwatch.objgraph._heap import Heap as _Heap
from heapwatch.objgraph._heap import module_roots as _module_roots
from heapwatch.objgraph.chains import is_proper_module
from heapwatch.objgraph.viewer import check_filename as _check_filename
from heapwatch.objgraph.viewer import graphviz_package as _graphviz_package
from heapwatch.objgraph.viewer import present as _present

# The C-level getters, which a metaclass or a subclass cannot override.
_TYPE_QUALNAME: Any = vars(type)["__qualname__"]
_TYPE_MRO: Any = vars(type)["__mro__"]
_MODULE_DICT: Any = vars(types.ModuleType)["__dict__"]
_FUNCTION_QUALNAME: Any = vars(types.FunctionType)["__qualname__"]
_BUILTIN_QUALNAME: Any = vars(types.BuiltinFunctionType)["__qualname__"]


def _identifier(obj: object) -> str | None:
    """The name of a module, class or function: code, not data."""
    tp = type(obj)
    name: object = None
    try:
        if issubclass(tp, types.ModuleType):
            name = _MODULE_DICT.__get__(obj).get("__name__")
        elif issubclass(tp, type):
            name = _TYPE_QUALNAME.__get__(obj, type)
        elif tp is types.FunctionType:
            name = _FUNCTION_QUALNAME.__get__(obj)
        elif tp is types.BuiltinFunctionType:
            name = _BUILTIN_QUALNAME.__get__(obj)
    except Exception:  # an object in the middle of being torn down
        return None
    return name if isinstance(name, str) else None


_REPR_WIDTH = 40


def _describe(obj: object) -> str:
    """Some text about obj for reprs=True: its name, its size for builtin
    containers, or the start of its repr."""
    name = _identifier(obj)
    if name is not None:
        return name
    if type(obj) in (list, tuple, dict, set, frozenset):
        return f"{len(obj)} items"  # type: ignore[arg-type]
    try:
        text = repr(obj)
    except Exception:
        return "(repr failed)"
    return text if len(text) <= _REPR_WIDTH else text[: _REPR_WIDTH - 3] + "..."


def _has_finalizer(obj: object) -> bool:
    return any("__del__" in vars(k) for k in _TYPE_MRO.__get__(type(obj), type))


class _Style:
    def __init__(self, backrefs: bool, max_depth: int, too_many: int,
                 filter: _Filter | None, highlight: _Filter | None,
                 extra_info: Callable[[Any], object] | None, refcounts: bool,
                 shortnames: bool, extra_node_attrs: Callable[[Any], Mapping[str, object]] | None,
                 reprs: bool) -> None:
        self.backrefs = backrefs
        self.max_depth = max_depth
        self.too_many = too_many
        self.filter = filter
        self.highlight = highlight
        self.extra_info = extra_info
        self.refcounts = refcounts
        self.shortnames = shortnames
        self.extra_node_attrs = extra_node_attrs
        self.reprs = reprs

    def fill(self, depth: int, obj: object) -> str:
        # Lighter near the objects asked about, darker further away.
        v = 1.0 - 0.4 * (depth / self.max_depth if self.max_depth > 0 else 0.0)
        if self.highlight and self.highlight(obj):
            return f"0.58 0.45 {v:.3f}"
        if isinstance(obj, types.ModuleType):
            return f"0.30 0.45 {v:.3f}"
        return f"0 0 {v:.3f}"


class _Drawing:
    """The DOT text of a show_refs / show_backrefs graph, drawn breadth
    first from the start objects, as objgraph does."""

    def __init__(self, heap: _Heap, style: _Style, ignore: set[int]) -> None:
        self.heap = heap
        self.style = style
        self.ignore = ignore
        self.dot = _dot.Digraph("ObjectGraph")
        self.objects = 0
        # References to the start objects that the call itself holds (its
        # lists and arguments), by id: not counted in refcounts.
        self.owned: collections.Counter[int] = collections.Counter()

    def label(self, type_name: str, obj: object, refs: int) -> list[str]:
        style = self.style
        first = type_name
        if style.refcounts:
            first += f" [{refs}]"
        lines = [first]
        text = _describe(obj) if style.reprs else _identifier(obj)
        if text:
            lines.append(text)
        if style.extra_info:
            lines.append(str(style.extra_info(obj)))
        if _has_finalizer(obj):
            lines.append("(has __del__)")
        return lines

    def refs(self, obj: object) -> int:
        # Outside references: the count less getrefcount's argument, the
        # variables of this function, add() and draw(), the heap's tables,
        # the start lists and the callers' arguments.
        return sys.getrefcount(obj) - 4 - self.heap.held_here(obj) - self.owned[id(obj)]

    def add(self, node_id: str, type_name: str, obj: object, depth: int, start: bool) -> None:
        attrs: dict[str, object] = {"fillcolor": self.style.fill(depth, obj)}
        if start:
            attrs["fontcolor"] = "red"
            attrs["penwidth"] = "2"
        if self.style.extra_node_attrs is not None:
            extra = self.style.extra_node_attrs(obj)
            attrs.update({k: str(v) for k, v in extra.items() if v is not None})
        refs = self.refs(obj) if self.style.refcounts else 0
        self.dot.node(node_id, self.label(type_name, obj, refs), **attrs)
        self.objects += 1

    def type_name(self, node: int) -> str:
        name: str = self.heap.graph.node(node)[0]
        return name.rsplit(".", 1)[-1] if self.style.shortnames else name

    def draw(self, starts: list[Any]) -> None:
        heap, style = self.heap, self.style
        graph = heap.graph
        queue: list[int] = []
        depth: dict[int, int] = {}
        for obj in starts:
            node = heap.start(obj)
            if node is None:  # not in the graph: an object nothing tracked holds
                tp = type(obj)
                name = _type_name(tp) if style.shortnames else _long_name_of_type(tp)
                self.add(f"x{len(queue)}_{self.objects}", name, obj, 0, True)
            elif node not in depth:
                depth[node] = 0
                queue.append(node)
        obj = None
        starting = len(queue)
        neighbours = graph.referrers if style.backrefs else graph.referents
        for i, node in enumerate(queue):  # the queue grows while it is read
            obj = heap.resolve(node)
            level = depth[node]
            self.add(f"n{node}", self.type_name(node), obj, level, i < starting)
            if level >= style.max_depth:
                continue
            if style.backrefs and is_proper_module(obj):
                continue  # past a module lies everything it imports
            shown = skipped = 0
            seen: set[int] = set()
            for other in neighbours(node):
                if other in seen or heap.address(other) in self.ignore:
                    continue
                seen.add(other)
                live = heap.resolve(other, _MISSING if style.backrefs else obj)
                if live is _MISSING or (style.filter and not style.filter(live)):
                    continue
                live = None
                if shown >= style.too_many:
                    skipped += 1
                    continue
                tail, head = (other, node) if style.backrefs else (node, other)
                self.dot.edge(f"n{tail}", f"n{head}", heap.edge_name(tail, head))
                if other not in depth:
                    depth[other] = level + 1
                    queue.append(other)
                shown += 1
            if skipped:
                more = f"more{node}"
                what = "backreferences" if style.backrefs else "references"
                self.dot.node(more, [f"{skipped} more {what}"], color="red", fontsize="8")
                if style.backrefs:
                    self.dot.edge(more, f"n{node}", None, color="red", style="dotted")
                else:
                    self.dot.edge(f"n{node}", more, None, color="red", style="dotted")
            obj = None


def _show_graph(objs: Any, backrefs: bool, max_depth: object, extra_ignore: Iterable[int],
                filter: _Filter | None, too_many: object, highlight: _Filter | None,
                filename: str | os.PathLike[str] | None, extra_info: Callable[[Any], object] | None,
                refcounts: bool, shortnames: bool, output: _Writer | None,
                extra_node_attrs: Callable[[Any], Mapping[str, object]] | None, reprs: bool,
                func: str, keep_out: tuple[object, ...], frames: tuple[object, ...]) -> Any:
    if filename and output:
        raise ValueError("Cannot specify both output and filename.")
    depth = _int_arg(max_depth, "max_depth", func)
    limit = _int_arg(too_many, "too_many", func)
    _callable_arg(filter, "filter", func)
    _callable_arg(highlight, "highlight", func)
    _callable_arg(extra_info, "extra_info", func)
    _callable_arg(extra_node_attrs, "extra_node_attrs", func)
    if output and not callable(getattr(output, "write", None)):
        raise TypeError(f"{func}(): output must have a write() method")
    path = _check_filename(filename, func)
    ignore = _ignored_ids(extra_ignore, func)
    # IS_INTERACTIVE is read from the package at each call, so that
    # setting it there takes effect.
    inline = None
    if _objgraph.IS_INTERACTIVE and not (path or output):
        inline = _graphviz_package(func)
    # objgraph's test: exactly list or tuple (subclasses too), whatever
    # __class__ claims.
    many = issubclass(type(objs), (list, tuple))
    starts = list(objs) if many else [objs]
    style = _Style(backrefs, depth, limit, filter, highlight, extra_info, bool(refcounts),
                   bool(shortnames), extra_node_attrs, bool(reprs))
    # Left out of the graph: the containers of the call (objs when it is
    # one), extra_ignore as objgraph does, and the frames of the call.
    exclude = (starts, extra_ignore, *keep_out, *frames, sys._getframe())
    if many:
        exclude += (objs,)
    gc.collect()
    if backrefs:
        # Paths (and the edge names) start from the modules; the start
        # objects are reached through what holds them.
        roots = _module_roots()
        heap = _Heap(roots, exclude, targets=starts, labels="all")
    else:
        roots = [("object", o) for o in starts]
        heap = _Heap(roots, exclude, labels="all")
    del roots, exclude
    heap.index()
    try:
        drawing = _Drawing(heap, style, ignore)
        # References the callers hold: starts, and objs in two frames when
        # it was one object, or the list show_chain() made.
        drawing.owned.update(map(id, starts))
        if not many:
            drawing.owned[id(objs)] += len(frames) + 1
        elif keep_out:
            drawing.owned.update(map(id, objs))
        drawing.draw(starts)
        text, count = drawing.dot.source(), drawing.objects
    finally:
        heap.close()
    return _present(text, count, path, output, inline)


def show_backrefs(
    objs: Any,
    max_depth: int = 3,
    extra_ignore: Iterable[int] = (),
    filter: _Filter | None = None,
    too_many: int = 10,
    highlight: _Filter | None = None,
    filename: str | os.PathLike[str] | None = None,
    extra_info: Callable[[Any], object] | None = None,
    refcounts: bool = False,
    shortnames: bool = True,
    output: _Writer | None = None,
    extra_node_attrs: Callable[[Any], Mapping[str, object]] | None = None,
    *,
    reprs: bool = False,
) -> Any:
    """Draw what refers to ``objs`` (one object, or a list or tuple of
    them), directly and through other objects, as a Graphviz graph.

    Breadth first over referrers, at most ``max_depth`` references away and
    ``too_many`` referrers per object (the others are counted in a "more"
    node); not beyond a module that is in sys.modules
    (:func:`is_proper_module`).  ``filter`` (a
    predicate) and ``extra_ignore`` (id()s) leave objects out;
    ``highlight`` (a predicate) colours objects; ``extra_info`` (obj -> str)
    adds a line to a node; ``extra_node_attrs`` (obj -> dict) adds Graphviz
    attributes; ``refcounts`` shows reference counts; ``shortnames=False``
    shows module-qualified type names.

    Output, as objgraph: ``output`` (a file object) gets the DOT text;
    ``filename`` ending in ``.dot`` gets the text, with another extension
    (``.png``, ``.svg``...) the image Graphviz's ``dot`` renders; neither:
    a ``graphviz.Source`` of the graph is returned while ``IS_INTERACTIVE``
    is true (in a notebook), else a temporary .dot file is written, shown
    with ``xdot`` if it is installed, else rendered to a .png beside it.
    Files are created with mode 0600.

    Nodes show type names (and the names of modules, classes and
    functions), edges the names of references where heapwatch's graph has
    them; ``reprs=True`` (not in objgraph) adds the start of each object's
    repr, which shows its contents.
    """
    return _show_graph(objs, True, max_depth, extra_ignore, filter, too_many, highlight,
                       filename, extra_info, refcounts, shortnames, output, extra_node_attrs,
                       reprs, "show_backrefs", (), (sys._getframe(),))


def show_refs(
    objs: Any,
    max_depth: int = 3,
    extra_ignore: Iterable[int] = (),
    filter: _Filter | None = None,
    too_many: int = 10,
    highlight: _Filter | None = None,
    filename: str | os.PathLike[str] | None = None,
    extra_info: Callable[[Any], object] | None = None,
    refcounts: bool = False,
    shortnames: bool = True,
    output: _Writer | None = None,
    extra_node_attrs: Callable[[Any], Mapping[str, object]] | None = None,
    *,
    reprs: bool = False,
) -> Any:
    """Draw what ``objs`` refer to, directly and through other objects, as
    a Graphviz graph: :func:`show_backrefs` in the other direction (and
    through modules too)."""
    return _show_graph(objs, False, max_depth, extra_ignore, filter, too_many, highlight,
                       filename, extra_info, refcounts, shortnames, output, extra_node_attrs,
                       reprs, "show_refs", (), (sys._getframe(),))


class _InChains:
    """show_chain()'s filter: the objects of the chains (by id)."""

    def __init__(self, ids: set[int]) -> None:
        self.ids = frozenset(ids)

    def __call__(self, obj: object) -> bool:
        return id(obj) in self.ids


_SHOW_CHAIN_OPTIONS = frozenset({
    "extra_ignore", "too_many", "highlight", "filename", "extra_info", "refcounts",
    "shortnames", "output", "extra_node_attrs", "reprs",
})


def show_chain(*chains: Sequence[Any], **kw: Any) -> Any:
    """Draw chains of references, as :func:`find_backref_chain` or
    :func:`find_ref_chain` return them.

    ``backrefs=True`` (the default) draws them from their last objects over
    referrers, ``backrefs=False`` from their first objects over referents;
    only the objects of the chains are drawn.  The other keywords are
    those of :func:`show_backrefs` but ``max_depth`` and ``filter``.
    """
    backrefs = kw.pop("backrefs", True)
    unknown = sorted(set(kw) - _SHOW_CHAIN_OPTIONS)
    if unknown:
        raise TypeError(f"show_chain() got an unexpected keyword argument {unknown[0]!r}")
    for chain in chains:
        if not isinstance(chain, Sequence) or isinstance(chain, (str, bytes)):
            raise TypeError(
                f"show_chain() takes chains (lists of objects), not {type(chain).__name__}")
    kept = [chain for chain in chains if chain]
    if not kept:
        raise ValueError("show_chain() needs at least one non-empty chain")
    members = _InChains(set(map(id, itertools.chain.from_iterable(kept))))
    ends = []
    for chain in kept:
        ends.append(chain[-1] if backrefs else chain[0])
    options: dict[str, Any] = {
        "extra_ignore": (), "too_many": 10, "highlight": None, "filename": None,
        "extra_info": None, "refcounts": False, "shortnames": True, "output": None,
        "extra_node_attrs": None, "reprs": False,
    }
    options.update(kw)
    return _show_graph(
        ends, bool(backrefs), max(map(len, kept)) - 1, options["extra_ignore"], members,
        options["too_many"], options["highlight"], options["filename"], options["extra_info"],
        options["refcounts"], options["shortnames"], options["output"],
        options["extra_node_attrs"], options["reprs"], "show_chain",
        (chains, kept, *kept, options, kw), (sys._getframe(),))
