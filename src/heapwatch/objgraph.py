"""objgraph's API, backed by heapwatch's C census and reference graph.

``import heapwatch.objgraph as objgraph`` is meant as a drop-in replacement
for objgraph 3.7: the functions below take the same arguments, with the
same defaults, and give the same results and the same printed text as
objgraph's.  Counting the whole heap (no ``objects=`` and no ``filter=``)
is done in C by :func:`heapwatch.census`, and :func:`at` is a C walk too;
with ``objects=`` or ``filter=``, and in the functions that return objects
or ids, the work is done in Python with objgraph's semantics.

Covered:

* :func:`count`, :func:`typestats`, :func:`most_common_types`,
  :func:`show_most_common_types`
* :func:`growth`, :func:`show_growth` (objgraph's contract: the increase
  over the *peak* count seen so far, kept in ``peak_stats``; this differs
  from :func:`heapwatch.growth`, which reports true deltas)
* :func:`get_new_ids`, :func:`at`, :func:`at_addrs`, :func:`by_type`,
  :func:`get_leaking_objects`
* :func:`find_backref_chain`, :func:`find_ref_chain`,
  :func:`show_backrefs`, :func:`show_refs`, :func:`show_chain`,
  :func:`is_proper_module` (the predicate objgraph's recipes pass to
  :func:`find_backref_chain`)
* ``IS_INTERACTIVE``: true when imported in a notebook (an IPython shell
  that is not a terminal) with the graphviz package installed; while it is
  true, the show_* functions called without ``filename`` or ``output``
  return a ``graphviz.Source`` of the graph instead of writing files or
  starting a viewer.  Set it to force or stop that, as with objgraph.
* objgraph's metadata names (``__version__``, ``__date__``, ``__author__``,
  ``__copyright__``, ``__license__``), with heapwatch's values.

Like objgraph, :func:`growth`, :func:`show_growth`, :func:`get_new_ids`,
:func:`get_leaking_objects` and the chain and graph functions run a full
``gc.collect()`` first.

The chain and graph functions build heapwatch's reference graph of the
heap once per call (where objgraph scans the heap with
``gc.get_referrers()`` once per object it visits), then walk it breadth
first as objgraph does, calling ``predicate`` / ``filter`` / ``highlight``
on the live objects.  The graph is the heap at the start of the call:
objects that die meanwhile are left out, and a chain is checked link by
link on the live objects before it is returned.  The containers these
functions make for themselves (and ``objs``, ``extra_ignore`` and
show_chain()'s chains) are left out of the graph.  The drawings differ
from objgraph's on purpose: object contents are not shown (a node shows
its type, and the name of a module, class or function; objgraph shows a
repr), unless ``reprs=True`` is passed (a heapwatch keyword); edges carry
heapwatch's names (``.attr``, ``['key']``, ``[3]``...) where the graph's
path tree names them; a referent held twice is drawn once; DOT and image
files are created with mode 0600.

Differences, all on error paths: a ``limit`` that objgraph would fail to
slice with (a string, a float...) raises a TypeError naming ``limit``, and
an unknown ``sortby`` in :func:`get_new_ids` raises KeyError, both before
any state (``peak_stats``, ``_state``) is touched, where objgraph fails
after updating it; the chain and graph functions check their arguments
before looking at the heap (a predicate that is not callable, a
``max_depth`` that is not an int...); with ``IS_INTERACTIVE`` set and no
graphviz package, show_* raise ImportError before looking at the heap,
where objgraph fails with NameError after drawing; :func:`is_proper_module`
is false for a module whose ``__name__`` is unhashable, where objgraph's
raises TypeError.  And objgraph's own temporaries are
not counted: its count() sees the closure cell it makes for itself, which
this one does not make.
"""

from __future__ import annotations

import builtins
import collections
import gc
import importlib
import itertools
import operator
import os
import shutil
import subprocess
import sys
import tempfile
import types
from collections.abc import (
    Callable,
    Collection,
    Iterable,
    Iterator,
    Mapping,
    MutableMapping,
    Sequence,
)
from typing import Any, DefaultDict, Literal, Protocol, SupportsIndex

from heapwatch import __version__ as __version__
from heapwatch import _engine
from heapwatch import dot as _dot
from heapwatch._engine import at as _tracked_at
from heapwatch._engine import census as _census

# objgraph's metadata names, with this module's own values.  __version__
# is heapwatch's; __date__ is the release date of that version, when it has
# one (set it with the version at release time).
__date__ = "unreleased"
__author__ = "the heapwatch contributors"
__copyright__ = ("Copyright (c) the heapwatch contributors; "
                 "heapwatch compatibility layer for objgraph 3.7's API")
__license__ = "MIT"

__all__ = [
    "at",
    "at_addrs",
    "by_type",
    "count",
    "find_backref_chain",
    "find_ref_chain",
    "get_leaking_objects",
    "get_new_ids",
    "growth",
    "is_proper_module",
    "most_common_types",
    "show_backrefs",
    "show_chain",
    "show_growth",
    "show_most_common_types",
    "show_refs",
    "typestats",
]


class _Writer(Protocol):
    def write(self, s: str, /) -> object: ...


_Filter = Callable[[Any], object]
_IdTable = DefaultDict[str, set[int]]


def _in_notebook() -> bool:
    """objgraph's test for IS_INTERACTIVE: an IPython shell that shows
    images inline (not a terminal one), and the graphviz package to make
    them."""
    get_ipython = getattr(builtins, "get_ipython", None)
    if get_ipython is None:
        return False
    # Any failure means "not a notebook": importing this module must not
    # fail because of the shell it runs in.
    try:
        if "TerminalInteractiveShell" in type(get_ipython()).__name__:
            return False
        importlib.import_module("graphviz")
    except Exception:
        return False
    return True


# Decided once, at import, as objgraph does; read by the show_* functions at
# each call, so that setting it takes effect.
IS_INTERACTIVE: bool = _in_notebook()


# ---- naming --------------------------------------------------------------


def _long_name_of_type(tp: type) -> str:
    # "module.Name", or the bare name when __module__ is missing or falsy.
    name: str = tp.__name__
    module = getattr(tp, "__module__", None)
    if module:
        return "%s.%s" % (module, name)
    return name


_type_name = operator.attrgetter("__name__")


def _names(objects: Iterable[Any], shortnames: object) -> Iterator[str]:
    """The type name of each object, in order.

    Short names are looked up per object, as objgraph does, but by C
    iterators.  Long names are built once per type: the cache is keyed by
    id() (no help needed from a metaclass's __hash__) and keeps the type
    alive, so that its id cannot be reused meanwhile.
    """
    if shortnames:
        names: Iterator[str] = map(_type_name, map(type, objects))
        return names
    return _long_names(objects)


def _long_names(objects: Iterable[Any]) -> Iterator[str]:
    cache: dict[int, tuple[type, str]] = {}
    for o in objects:
        tp = type(o)
        hit = cache.get(id(tp))
        if hit is None:
            hit = cache[id(tp)] = (tp, _long_name_of_type(tp))
        yield hit[1]


def _counts(objects: Iterable[Any], shortnames: object) -> dict[str, int]:
    """typestats() of objects: name -> count, in order of first sighting."""
    return dict(collections.Counter(_names(objects, shortnames)))


def _select(objects: list[Any], typename: str, shortnames: object) -> list[Any]:
    """The objects whose type name equals typename, in order."""
    same = map(operator.eq, _names(objects, shortnames), itertools.repeat(typename))
    return list(itertools.compress(objects, same))


def _as_list(objects: Iterable[Any]) -> list[Any]:
    return objects if type(objects) is list else list(objects)


def _kept(objects: Iterable[Any], filter: _Filter | None) -> list[Any]:
    """objects without those the filter returns false for (no filter: all)."""
    if not filter:
        return _as_list(objects)
    return [o for o in objects if filter(o)]


# ---- argument checks -----------------------------------------------------


def _index(limit: object, func: str) -> int:
    """limit as an int, for a limit objgraph would slice a list with."""
    try:
        return operator.index(limit)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            f"{func}(): limit must be an int or None, not {type(limit).__name__}"
        ) from None


# ---- counting ------------------------------------------------------------


def count(typename: str, objects: Iterable[Any] | None = None) -> int:
    """How many objects have the type called ``typename``.

    A name with a dot in it ("pkg.module.Class") is matched against
    module-qualified type names, any other against bare ``__name__``.
    Without ``objects``, counts the objects the garbage collector tracks
    (not ints, strs and other atoms); otherwise counts within ``objects``.
    """
    dotted = "." in typename
    if objects is None:
        if type(typename) is str:
            stats = _census(fullnames=dotted).get(typename)
            return 0 if stats is None else stats.count
        objects = gc.get_objects()
    try:
        return len(_select(_as_list(objects), typename, not dotted))
    finally:
        del objects  # the list of every object must not outlive a traceback


def typestats(
    objects: Iterable[Any] | None = None,
    shortnames: bool = True,
    filter: _Filter | None = None,
) -> dict[str, int]:
    """A dict of type name to number of instances.

    Covers the objects the garbage collector tracks, or ``objects`` if
    given, in the order each name is first met.  With ``shortnames`` (the
    default) types are named by ``__name__`` alone, so same-named classes
    from different modules share an entry; otherwise by "module.name".
    ``filter``, if given, is called with each object and those it returns
    false for are skipped.
    """
    if objects is None and not filter:
        return _census(fullnames=not shortnames).counts()
    if objects is None:
        objects = gc.get_objects()
    try:
        return _counts(_kept(objects, filter), shortnames)
    finally:
        del objects


def most_common_types(
    limit: SupportsIndex | None = 10,
    objects: Iterable[Any] | None = None,
    shortnames: bool = True,
    filter: _Filter | None = None,
) -> list[tuple[str, int]]:
    """(type name, count) pairs, most instances first.

    Ties keep the order in which the names were first met.  At most
    ``limit`` pairs are returned when ``limit`` is true; None (or 0) gives
    all of them.  The other arguments are as for :func:`typestats`.
    """
    n = _index(limit, "most_common_types") if limit else None
    if objects is None and not filter:
        census = _census(fullnames=not shortnames)
        ranked = census.most_common(n if n is not None and n > 0 else None)
        pairs = [(name, stats.count) for name, stats in ranked]
        return pairs if n is None or n > 0 else pairs[:n]
    pairs = sorted(
        typestats(objects, shortnames=shortnames, filter=filter).items(),
        key=operator.itemgetter(1),
        reverse=True,
    )
    return pairs if n is None else pairs[:n]


def show_most_common_types(
    limit: SupportsIndex | None = 10,
    objects: Iterable[Any] | None = None,
    shortnames: bool = True,
    file: _Writer | None = None,
    filter: _Filter | None = None,
) -> None:
    """Print :func:`most_common_types` as a two-column table.

    Writes to ``file``, sys.stdout by default.  As with objgraph, an empty
    table (``objects=[]``, or a filter that rejects everything) raises
    ValueError.
    """
    out = sys.stdout if file is None else file
    pairs = most_common_types(limit, objects, shortnames=shortnames, filter=filter)
    width = max(len(name) for name, _ in pairs)
    for name, n in pairs:
        out.write("%-*s %i\n" % (width, name, n))


# ---- growth --------------------------------------------------------------


def growth(
    limit: SupportsIndex | None = 10,
    # A mutable default on purpose: it is the state kept between calls that
    # do not pass their own, as in objgraph.
    peak_stats: MutableMapping[str, int] = {},  # noqa: B006
    shortnames: bool = True,
    filter: _Filter | None = None,
) -> list[tuple[str, int, int]]:
    """Types whose instance count rose above its peak since the last call.

    Runs ``gc.collect()``, counts as :func:`typestats` does, and returns
    (type name, count, increase over the previous peak) for every type
    above its recorded peak, biggest increase first (ties in the order the
    names were first met), at most ``limit`` of them when ``limit`` is
    true.  The peaks live in ``peak_stats`` (type name to count), which is
    updated; a type whose count drops keeps its old peak.
    """
    n = _index(limit, "growth") if limit else None
    gc.collect()
    stats = typestats(shortnames=shortnames, filter=filter)
    rises: dict[str, int] = {}
    for name, now in stats.items():
        peak = peak_stats.get(name, 0)
        if now > peak:
            rises[name] = now - peak
            peak_stats[name] = now
    ranked = sorted(rises.items(), key=operator.itemgetter(1), reverse=True)
    if n is not None:
        ranked = ranked[:n]
    return [(name, stats[name], rise) for name, rise in ranked]


def show_growth(
    limit: SupportsIndex | None = 10,
    peak_stats: MutableMapping[str, int] | None = None,
    shortnames: bool = True,
    file: _Writer | None = None,
    filter: _Filter | None = None,
) -> None:
    """Print :func:`growth` as a table: name, count, +increase.

    With ``peak_stats=None`` the peaks are the ones :func:`growth` keeps by
    default, shared with calls to it.  Prints nothing when nothing grew.
    Writes to ``file``, sys.stdout by default.
    """
    if peak_stats is None:
        rows = growth(limit, shortnames=shortnames, filter=filter)
    else:
        rows = growth(limit, peak_stats, shortnames, filter)
    if not rows:
        return
    out = sys.stdout if file is None else file
    width = max(len(name) for name, _, _ in rows)
    for name, now, rise in rows:
        out.write("%-*s%9d %+9d\n" % (width, name, now, rise))


_SORT_COLUMNS = {"old": 1, "current": 2, "new": 3, "deltas": 4}


def _rotate_ids(
    objects: list[Any], shortnames: object, old_ids: _IdTable, current_ids: _IdTable,
    new_ids: _IdTable,
) -> None:
    # What was current becomes old, keeping every key either had; current
    # is refilled from the heap; new is emptied, keeping its keys.
    for ids in old_ids.values():
        ids.clear()
    for name, ids in current_ids.items():
        old_ids[name].update(ids)
    for ids in current_ids.values():
        ids.clear()
    for name, oid in zip(_names(objects, shortnames), map(id, objects)):
        current_ids[name].add(oid)
    for ids in new_ids.values():
        ids.clear()


def get_new_ids(
    skip_update: bool = False,
    limit: SupportsIndex | None = 10,
    sortby: str = "deltas",
    shortnames: bool | None = None,
    file: _Writer | None = None,
    _state: dict[str, Any] = {},  # noqa: B006  (state between calls, as in objgraph)
) -> _IdTable:
    """The ids of objects that appeared since the previous call, by type.

    Returns a defaultdict of type name to the set of id()s of tracked
    objects of that type that were not there last time (everything, on the
    first call); the same dict object is returned and refilled by every
    call sharing a ``_state``.  Runs ``gc.collect()`` first.

    ``skip_update`` returns the previous result without looking at the heap.
    ``limit`` bounds the printed table (None prints every row, 0 nothing);
    rows are sorted in descending order of ``sortby``: 'old', 'current',
    'new' or 'deltas' (the change in count), then by name, descending.
    ``shortnames`` None reuses the previous call's choice (True at first).
    ``file`` is where the table goes, sys.stdout by default.  ``_state``
    holds the ids between calls; leave it alone unless you keep your own.
    Feed the ids to :func:`at_addrs` to get the objects.
    """
    if not _state:
        _state["old"] = collections.defaultdict(set)
        _state["current"] = collections.defaultdict(set)
        _state["new"] = collections.defaultdict(set)
        _state["shortnames"] = True
    new_ids: _IdTable = _state["new"]
    if skip_update:
        return new_ids
    if limit is not None:
        _index(limit, "get_new_ids")
    if sortby not in _SORT_COLUMNS:
        raise KeyError(
            f"get_new_ids(): sortby must be one of {', '.join(map(repr, _SORT_COLUMNS))}, "
            f"not {sortby!r}"
        )
    old_ids: _IdTable = _state["old"]
    current_ids: _IdTable = _state["current"]
    if shortnames is None:
        shortnames = _state["shortnames"]
    else:
        _state["shortnames"] = shortnames

    gc.collect()
    objects = gc.get_objects()
    try:
        _rotate_ids(objects, shortnames, old_ids, current_ids, new_ids)
    finally:
        del objects

    rows: list[tuple[str, int, int, int, int]] = []
    gone: list[str] = []
    for name, now_set in current_ids.items():
        then_set = old_ids[name]
        if not then_set and not now_set:
            gone.append(name)  # none then, none now: forget the type
            continue
        fresh = now_set - then_set
        new_ids[name].update(fresh)
        rows.append((name, len(then_set), len(now_set), len(fresh), len(now_set) - len(then_set)))
    for name in gone:
        del old_ids[name]
        del current_ids[name]
        del new_ids[name]

    rows.sort(key=operator.itemgetter(_SORT_COLUMNS[sortby], 0), reverse=True)
    if limit is not None:
        rows = rows[:limit]
    if not rows:
        return new_ids
    out = sys.stdout if file is None else file
    width = max(len(row[0]) for row in rows)
    rule = "=" * (width + 13 * 4)
    print(rule, file=out)
    print(
        "%-*s%13s%13s%13s%13s" % (width, "Type", "Old_ids", "Current_ids", "New_ids", "Count_Deltas"),
        file=out,
    )
    print(rule, file=out)
    for name, n_old, n_now, n_new, delta in rows:
        print("%-*s%13d%13d%+13d%+13d" % (width, name, n_old, n_now, n_new, delta), file=out)
    print(rule, file=out)
    return new_ids


# ---- finding objects -----------------------------------------------------


def by_type(typename: str, objects: Iterable[Any] | None = None) -> list[Any]:
    """The objects whose type is called ``typename``, in heap order.

    Names are matched as in :func:`count`.  Without ``objects``, searches
    the objects the garbage collector tracks.
    """
    dotted = "." in typename
    if objects is None:
        # The census tells in C whether there is anything to find.
        if type(typename) is str and typename not in _census(fullnames=dotted):
            return []
        objects = gc.get_objects()
    try:
        return _select(_as_list(objects), typename, not dotted)
    finally:
        del objects


def at(addr: int) -> Any:
    """The tracked object whose id() is ``addr``, or None.

    Objects the garbage collector does not track (ints, strs...) are not
    found.
    """
    if type(addr) is int:
        return _tracked_at(addr)
    # Not an int: compare as objgraph does (a float can equal an address).
    for o in gc.get_objects():
        if id(o) == addr:
            return o
    return None


def at_addrs(address_set: Collection[int]) -> list[Any]:
    """The tracked objects whose id() is in ``address_set``, in heap order."""
    everything = gc.get_objects()
    try:
        return _with_ids(everything, address_set)
    finally:
        del everything


# The helpers below run after the heap is listed.  On 3.11 a comprehension
# that names a local of its function gets a closure cell, made when the
# function starts: in the caller, before gc.get_objects(), it would show up
# in the results.


def _with_ids(objects: list[Any], addresses: Collection[int]) -> list[Any]:
    return [o for o in objects if id(o) in addresses]


# gc.get_referents() takes this many objects at a time in
# get_leaking_objects: one call per object is slow, one for all a big list.
_REFERENTS_CHUNK = 4096


def get_leaking_objects(objects: Collection[Any] | None = None) -> list[Any]:
    """The objects that no tracked object refers to.

    Looks among all the objects the garbage collector tracks, or only at
    ``objects`` if given (still checking references from the whole heap,
    but not from the ``objects`` container itself).  Such objects may be
    leaked by a reference-counting bug in C code, or be legitimate roots.
    Runs ``gc.collect()`` first.
    """
    gc.collect()
    everything = gc.get_objects()
    if objects is None:
        objects = everything
    try:
        unreferenced = {id(o) for o in objects}
        _discard_referents(unreferenced, everything, objects)
        # On 3.11 this comprehension's cell for `unreferenced` is found
        # leaked, as the one objgraph's own makes is: the results match.
        return [o for o in objects if id(o) in unreferenced]
    finally:
        del objects, everything


# CPython 3.12 before 3.12.6: the _asyncio module's traverse reports freed
# FutureIter objects, and gc.get_referents() on it can corrupt the heap and
# hang the next collection (gh-122695; objgraph itself is exposed).  It is
# left out there: it refers to nothing else the GC does not also reach.
_BROKEN_ASYNCIO_TRAVERSE = (3, 12) <= sys.version_info[:3] < (3, 12, 6)


def _unsafe_to_traverse(o: object) -> bool:
    return (_BROKEN_ASYNCIO_TRAVERSE and type(o) is types.ModuleType
            and getattr(o, "__name__", None) == "_asyncio")


def _discard_referents(ids: set[int], sources: list[Any], container: object) -> None:
    """Remove from ids those of everything the sources but container refer to."""
    chunk: list[Any] = []
    for o in sources:
        if o is not container and not _unsafe_to_traverse(o):
            chunk.append(o)
            if len(chunk) == _REFERENTS_CHUNK:
                ids.difference_update(map(id, gc.get_referents(*chunk)))
                chunk.clear()
    ids.difference_update(map(id, gc.get_referents(*chunk)))


# ---- the reference graph -------------------------------------------------
#
# The chain and graph functions build heapwatch's graph of the heap once
# (in C, with automatic collection off) and walk it in Python.  The graph
# has node ids and addresses, not objects: the live objects are looked up
# by address after the build, in a table of what the collector tracks, or
# among the referents of a live neighbour for the objects it does not
# track; an object whose type is not the one the graph saw at that address
# has died (its address reused) and is left out.
#
# The functions that run while the graph is built make no closures and no
# comprehensions naming their locals: on 3.11 those get cells at function
# start, which would be in the graph, holding what they hold.


class _Missing:
    """No live object for a node."""


_MISSING: Any = _Missing()

# The C-level getters, which a metaclass or a subclass cannot override.
_TYPE_NAME: Any = vars(type)["__name__"]
_TYPE_QUALNAME: Any = vars(type)["__qualname__"]
_TYPE_MRO: Any = vars(type)["__mro__"]
_MODULE_DICT: Any = vars(types.ModuleType)["__dict__"]
_FUNCTION_QUALNAME: Any = vars(types.FunctionType)["__qualname__"]
_BUILTIN_QUALNAME: Any = vars(types.BuiltinFunctionType)["__qualname__"]

# How many holders of an untracked node are searched for it, and how far
# up (an untracked dict in an untracked tuple in a tracked list: 2).
_HOLDERS_TRIED = 8
_HOLDER_LEVELS = 4
# How many times a chain search starts again after finding a chain whose
# links do not hold on the live objects (the heap changed meanwhile).
_CHAIN_ATTEMPTS = 8


def _bare_type_name(tp: type) -> str:
    # Read from the type itself: a metaclass cannot change the answer.
    name = _TYPE_NAME.__get__(tp, type)
    return name if isinstance(name, str) else ""


def _is_graph_type(obj: object, graph_name: str) -> bool:
    """Whether obj's type is the one the graph names ("module.qualname")."""
    name = _bare_type_name(type(obj))
    return graph_name == name or graph_name.endswith("." + name)


def _referent_at(holder: object, address: int) -> Any:
    """The object at address among holder's referents, or _MISSING."""
    if _unsafe_to_traverse(holder):
        return _MISSING
    for r in gc.get_referents(holder):
        if id(r) == address:
            return r
    return _MISSING


def _id_table(objects: list[Any]) -> dict[int, Any]:
    return {id(o): o for o in objects}


def _module_roots() -> list[tuple[str, object]]:
    return [(f"module {name}", m) for name, m in list(sys.modules.items()) if m is not None]


class _Heap:
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
        mine = node is not None and self._objects.get(node, _MISSING) is obj
        return mine + (self._tracked.get(id(obj), _MISSING) is obj)

    def resolve(self, node: int, via: object = _MISSING) -> Any:
        """The live object of a node, or _MISSING.  via: a live object that
        refers to it, if the caller knows one."""
        obj = self._objects.get(node, self)  # self: not looked up yet
        if obj is not self:
            return obj
        obj = self._lookup(node, via)
        if obj is _MISSING and not self.graph.node(node)[4]:
            obj = self._search_holders(node)
        self._objects[node] = obj
        return obj

    def _lookup(self, node: int, via: object) -> Any:
        """The object of node from the table of tracked objects, or among
        via's referents; _MISSING if neither has one of the graph's type."""
        tname, address, _size, _held, tracked, _text = self.graph.node(node)
        obj = self._tracked.get(address, _MISSING) if tracked else _MISSING
        if obj is _MISSING and via is not _MISSING:
            obj = _referent_at(via, address)
        if obj is not _MISSING and not _is_graph_type(obj, tname):
            return _MISSING
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
                    live = self._objects.get(holder, _MISSING)
                    if live is _MISSING:
                        live = self._lookup(holder, _MISSING)
                    down = holder
                    while live is not _MISSING and down != node:
                        down = below[down]
                        live = self._lookup(down, live)
                        if live is not _MISSING and down != node:
                            self._objects[down] = live
                    if live is not _MISSING:
                        return live
                    up.append(holder)
            level = up
        return _MISSING

    def edge_name(self, tail: int, head: int) -> str | None:
        """The name of the reference tail -> head, when it is the path
        tree's edge into head and the graph named it."""
        if head not in self._edge_names:
            self._edge_names[head] = _dot.tree_edges(self.graph, [head]).get(head)
        named = self._edge_names[head]
        if named is None or named[0] != tail:
            return None
        return named[1] or None


# ---- argument checks for the graph functions ------------------------------


def _int_arg(value: object, name: str, func: str) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{func}(): {name} must be an int, not bool")
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{func}(): {name} must be an int, not {type(value).__name__}") from None


def _callable_arg(value: object, name: str, func: str) -> None:
    if value is not None and not callable(value):
        raise TypeError(f"{func}(): {name} must be callable or None, not {type(value).__name__}")


def _ignored_ids(extra_ignore: Iterable[int], func: str) -> set[int]:
    """objgraph's extra_ignore: ids of objects to leave out, and its own."""
    try:
        ids = set(extra_ignore)
    except TypeError:
        raise TypeError(
            f"{func}(): extra_ignore must be an iterable of object ids (id(obj)), "
            f"not {type(extra_ignore).__name__}"
        ) from None
    ids.add(id(extra_ignore))
    return ids


# ---- chains --------------------------------------------------------------


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


# ---- drawing -------------------------------------------------------------


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


# Viewers started by show_*: kept so that they are not reported as
# still running when their Popen object is collected.
_VIEWERS: list[subprocess.Popen[bytes]] = []


def _graphviz_package(func: str) -> Any:
    """The graphviz package, for a show_* call that returns its graph as a
    graphviz.Source because IS_INTERACTIVE is set."""
    try:
        return importlib.import_module("graphviz")
    except ImportError as e:
        raise ImportError(
            f"{func}(): heapwatch.objgraph.IS_INTERACTIVE is set, and the graphviz package "
            f"it needs cannot be imported ({e}); pass filename= or output=, or install graphviz"
        ) from e


def _present(text: str, objects: int, filename: str | None, output: _Writer | None,
             inline: Any) -> Any:
    """objgraph's output rules: to output, to a .dot file, a graphviz.Source
    (inline: the graphviz package), or a temporary .dot file then an image
    (filename), a viewer (xdot) or a .png beside it."""
    if output:
        output.write(text)
        return None
    if filename and os.path.splitext(filename)[1].lower() in (".dot", ".gv"):
        _dot.render(text, filename)
        print(f"Graph written to {filename} ({objects} nodes)")
        return None
    if inline is not None:
        return inline.Source(text)
    fd, dot_file = tempfile.mkstemp(prefix="objgraph-", suffix=".dot")  # mode 0600
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"Graph written to {dot_file} ({objects} nodes)")
    if not filename and shutil.which("xdot"):
        print("Spawning graph viewer (xdot)")
        _VIEWERS[:] = [p for p in _VIEWERS if p.poll() is None]
        _VIEWERS.append(subprocess.Popen(["xdot", dot_file], close_fds=True,
                                         stdin=subprocess.DEVNULL, start_new_session=True))
        return None
    if _dot.graphviz_program() is None:
        if filename:
            print("Image renderer (dot) not found, not doing anything else")
        else:
            print("Graph viewer (xdot) and image renderer (dot) not found,"
                  " not doing anything else")
        return None
    if not filename:
        print("Graph viewer (xdot) not found, generating a png instead")
        filename = dot_file[: -len(".dot")] + ".png"
    try:
        _dot.render(text, filename)
    except _dot.GraphvizError as e:
        print(e)
        return None
    print(f"Image generated as {filename}")
    return None


def _check_filename(filename: object, func: str) -> str | None:
    if not filename:
        return None
    if not isinstance(filename, (str, os.PathLike)):
        raise TypeError(
            f"{func}(): filename must be a str or a path, not {type(filename).__name__}")
    path = os.fspath(filename)
    if not isinstance(path, str):
        raise TypeError(f"{func}(): filename must be a str or a path, not bytes")
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".dot", ".gv") and not _dot._FORMAT.match(ext[1:]):
        raise ValueError(
            f"{func}(): cannot tell the format of {path!r} from its extension: use .dot, "
            "or an image format Graphviz knows (.svg, .png, .pdf...)")
    return path


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
    inline = _graphviz_package(func) if IS_INTERACTIVE and not (path or output) else None
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
