"""Chains of references: find_backref_chain and find_ref_chain, searched
breadth first over heapwatch's reference graph, and is_proper_module, the
predicate objgraph's recipes pass to find_backref_chain.
"""

from __future__ import annotations

import gc
import sys
import types
from collections.abc import Callable, Iterable
from typing import Any

from heapwatch.objgraph._common import ignored_ids as _ignored_ids
from heapwatch.objgraph._common import int_arg as _int_arg
from heapwatch.objgraph._heap import MISSING as _MISSING
from heapwatch.objgraph._heap import Heap as _Heap

# How many times a chain search starts again after finding a chain whose
# links do not hold on the live objects (the heap changed meanwhile).
_CHAIN_ATTEMPTS = 8


def is_proper_module(obj: object) -> bool:
    """Whether ``obj`` is a module that sys.modules holds under its name.

    Such modules are what objgraph's recipes treat as the roots of the
    heap: the usual ``predicate`` of :func:`find_backref_chain`, and where
    :func:`show_backrefs` stops.  A module made with ``types.ModuleType()``
    and not imported, or one that sys.modules has since replaced, is not
    one.  ``isinstance`` is used, so an object whose ``__class__`` claims
    to be a module counts too, as in objgraph.
    """
    if not isinstance(obj, types.ModuleType):
        return False
    name: Any = getattr(obj, "__name__", None)
    try:
        return sys.modules.get(name) is obj
    except TypeError:  # an unhashable __name__ names no module
        return False


def _broken_link(chain: list[Any]) -> int | None:
    """The index of the first holder in chain that does not refer to the
    next object (now), or None when every link holds."""
    for i in range(len(chain) - 1):
        held = chain[i + 1]
        if not any(r is held for r in gc.get_referents(chain[i])):
            return i
    return None


def _search(heap: _Heap, start: int, predicate: Callable[[Any], object], max_depth: int,
            ignore: set[int], stale: set[tuple[int, int]], backwards: bool) -> list[int] | None:
    """Breadth first from start over referrers (backwards) or referents,
    calling predicate on each live object as it is dequeued; the nodes of
    the chain to the first it accepts, holder first, or None.  stale:
    (holder, held) edges not to follow."""
    graph = heap.graph
    step = graph.referrers if backwards else graph.referents
    parent = {start: -1}
    depth = {start: 0}
    queue = [start]
    for node in queue:  # the queue grows while it is read
        obj = heap.resolve(node)
        if predicate(obj):
            nodes = [node]
            while parent[node] >= 0:
                node = parent[node]
                nodes.append(node)
            return nodes if backwards else nodes[::-1]
        if depth[node] >= max_depth:
            continue
        for other in step(node):
            if other in depth or heap.address(other) in ignore:
                continue
            if ((other, node) if backwards else (node, other)) in stale:
                continue
            if heap.resolve(other, _MISSING if backwards else obj) is _MISSING:
                continue
            depth[other] = depth[node] + 1
            parent[other] = node
            queue.append(other)
    return None


def _find_chain(obj: Any, predicate: Callable[[Any], object], max_depth: int,
                extra_ignore: Iterable[int], backwards: bool, func: str,
                frames: tuple[object, ...]) -> list[Any]:
    if not callable(predicate):
        raise TypeError(f"{func}(): predicate must be callable, not {type(predicate).__name__}")
    depth = _int_arg(max_depth, "max_depth", func)
    ignore = _ignored_ids(extra_ignore, func)
    gc.collect()
    heap = _Heap([("object", obj)], (extra_ignore, *frames, sys._getframe()))
    heap.index()
    try:
        start = heap.start(obj)
        if start is None:  # obj is extra_ignore, or one of our frames
            return [obj]
        stale: set[tuple[int, int]] = set()
        for _ in range(_CHAIN_ATTEMPTS):
            nodes = _search(heap, start, predicate, depth, ignore, stale, backwards)
            if nodes is None:
                return [obj]
            chain = list(map(heap.resolve, nodes))
            broken = _broken_link(chain)
            if broken is None:
                return chain
            # The heap changed since the graph was built: search again
            # without the reference that is gone.
            stale.add((nodes[broken], nodes[broken + 1]))
        return [obj]
    finally:
        heap.close()


def find_backref_chain(
    obj: Any,
    predicate: Callable[[Any], object],
    max_depth: int = 20,
    extra_ignore: Iterable[int] = (),
) -> list[Any]:
    """A shortest chain of references to ``obj`` from an object ``predicate``
    accepts: ``[accepted, ..., obj]``, each item referring to the next.

    The search goes breadth first over referrers, at most ``max_depth``
    references away from ``obj``, calling ``predicate`` on each object it
    reaches (``obj`` first); ``extra_ignore`` holds the id()s of objects to
    go around.  Returns ``[obj]`` when no accepted object is reached.  A
    typical predicate is :func:`is_proper_module` (a module in
    sys.modules).  Runs ``gc.collect()`` first.
    """
    return _find_chain(obj, predicate, max_depth, extra_ignore, True,
                       "find_backref_chain", (sys._getframe(),))


def find_ref_chain(
    obj: Any,
    predicate: Callable[[Any], object],
    max_depth: int = 20,
    extra_ignore: Iterable[int] = (),
) -> list[Any]:
    """A shortest chain of references from ``obj`` to an object ``predicate``
    accepts: ``[obj, ..., accepted]``, each item referring to the next.

    As :func:`find_backref_chain`, following referents instead of
    referrers.  Returns ``[obj]`` when no accepted object is reached.
    """
    return _find_chain(obj, predicate, max_depth, extra_ignore, False,
                       "find_ref_chain", (sys._getframe(),))
