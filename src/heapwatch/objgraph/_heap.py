"""The reference graph that heapwatch.objgraph's chains and drawings walk:
heapwatch's graph of the heap, built once per call, and the live objects
of its nodes.

The graph is built in C, with automatic collection off, and walked in
Python.  It has node ids and addresses, not objects: the live objects are
looked up by address after the build, in a table of what the collector
tracks, or among the referents of a live neighbour for the objects it does
not track; an object whose type is not the one the graph saw at that
address has died (its address reused) and is left out.
"""

from __future__ import annotations

import gc
import sys
from typing import Any, Literal

from heapwatch import _engine
from heapwatch import dot as _dot
from heapwatch.objgraph._common import unsafe_to_traverse as _unsafe_to_traverse

# The functions that run while the graph is built (Heap() and its callers
# in chains and drawing) make no closures and no comprehensions naming
# their locals: on 3.11 those get cells at function start, which would be
# in the graph, holding what they hold.


class _Missing:
    """No live object for a node."""


MISSING: Any = _Missing()

# The C-level getter, which a metaclass cannot override.
_TYPE_NAME: Any = vars(type)["__name__"]

# How many holders of an untracked node are searched for it, and how far
# up (an untracked dict in an untracked tuple in a tracked list: 2).
_HOLDERS_TRIED = 8
_HOLDER_LEVELS = 4


def _bare_type_name(tp: type) -> str:
    # Read from the type itself: a metaclass cannot change the answer.
    name = _TYPE_NAME.__get__(tp, type)
    return name if isinstance(name, str) else ""


def _is_graph_type(obj: object, graph_name: str) -> bool:
    """Whether obj's type is the one the graph names ("module.qualname")."""
    name = _bare_type_name(type(obj))
    return graph_name == name or graph_name.endswith("." + name)


def _referent_at(holder: object, address: int) -> Any:
    """The object at address among holder's referents, or MISSING."""
    if _unsafe_to_traverse(holder):
        return MISSING
    for r in gc.get_referents(holder):
        if id(r) == address:
            return r
    return MISSING


def _id_table(objects: list[Any]) -> dict[int, Any]:
    return {id(o): o for o in objects}


def module_roots() -> list[tuple[str, object]]:
    return [(f"module {name}", m) for name, m in list(sys.modules.items()) if m is not None]


class Heap:
    """The graph of the heap, and the live objects of its nodes."""

    def __init__(self, roots: list[tuple[str, object]], exclude: tuple[object, ...],
                 targets: list[Any] | None = None,
                 labels: Literal["targets", "all", "none"] = "none") -> None:
        self.graph = _engine.graph(roots, exclude=(*exclude, sys._getframe()),
                                   targets=targets, labels=labels)
        self._tracked: dict[int, Any] = {}
        self._objects: dict[int, Any] = {}
        self._edge_names: dict[int, tuple[int, str] | None] = {}

    def index(self) -> None:
        """Look up the live objects (once the caller has dropped what it
        made for the build: the table keeps alive all it finds)."""
        self._tracked = _id_table(gc.get_objects())

    def close(self) -> None:
        self._tracked.clear()
        self._objects.clear()

    def start(self, obj: object) -> int | None:
        """The node of a live object the caller holds (so it is the same one
        the graph saw at its address), or None."""
        node: int | None = self.graph.find(id(obj))
        if node is not None:
            self._objects[node] = obj
        return node

    def address(self, node: int) -> int:
        address: int = self.graph.node(node)[1]
        return address

    def held_here(self, obj: object) -> int:
        """The references to obj the heap's tables hold."""
        node = self.graph.find(id(obj))
        mine = node is not None and self._objects.get(node, MISSING) is obj
        return mine + (self._tracked.get(id(obj), MISSING) is obj)

    def resolve(self, node: int, via: object = MISSING) -> Any:
        """The live object of a node, or MISSING.  via: a live object that
        refers to it, if the caller knows one."""
        obj = self._objects.get(node, self)  # self: not looked up yet
        if obj is not self:
            return obj
        obj = self._lookup(node, via)
        if obj is MISSING and not self.graph.node(node)[4]:
            obj = self._search_holders(node)
        self._objects[node] = obj
        return obj

    def _lookup(self, node: int, via: object) -> Any:
        """The object of node from the table of tracked objects, or among
        via's referents; MISSING if neither has one of the graph's type."""
        tname, address, _size, _held, tracked, _text = self.graph.node(node)
        obj = self._tracked.get(address, MISSING) if tracked else MISSING
        if obj is MISSING and via is not MISSING:
            obj = _referent_at(via, address)
        if obj is not MISSING and not _is_graph_type(obj, tname):
            return MISSING
        return obj

    def _search_holders(self, node: int) -> Any:
        """An untracked node's object (an untracked tuple or dict, a str...):
        up its referrers, breadth first, to one whose object is known, then
        down again through the referents of each."""
        below = {node: -1}  # holder -> the node it was reached from
        level = [node]
        for _ in range(_HOLDER_LEVELS):
            up = []
            for x in level:
                for holder in self.graph.referrers(x)[:_HOLDERS_TRIED]:
                    if holder in below:
                        continue
                    below[holder] = x
                    live = self._objects.get(holder, MISSING)
                    if live is MISSING:
                        live = self._lookup(holder, MISSING)
                    down = holder
                    while live is not MISSING and down != node:
                        down = below[down]
                        live = self._lookup(down, live)
                        if live is not MISSING and down != node:
                            self._objects[down] = live
                    if live is not MISSING:
                        return live
                    up.append(holder)
            level = up
        return MISSING

    def edge_name(self, tail: int, head: int) -> str | None:
        """The name of the reference tail -> head, when it is the path
        tree's edge into head and the graph named it."""
        if head not in self._edge_names:
            self._edge_names[head] = _dot.tree_edges(self.graph, [head]).get(head)
        named = self._edge_names[head]
        if named is None or named[0] != tail:
            return None
        return named[1] or None
