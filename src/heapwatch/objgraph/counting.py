"""Counting objects by type, objgraph's growth and new-ids bookkeeping,
and finding objects by type, by address, or by having no referrer.

Whole-heap counts come from heapwatch's C census and at() is a C lookup;
with objects= or filter=, and in the functions that return objects or
ids, the work is done here in Python, with objgraph's semantics.
"""

from __future__ import annotations

import collections
import gc
import itertools
import operator
import sys
from collections.abc import Collection, Iterable, Iterator, MutableMapping
from typing import Any, DefaultDict, SupportsIndex

from heapwatch._engine import at as _tracked_at
from heapwatch._engine import census as _census
from heapwatch.objgraph._common import Filter as _Filter
from heapwatch.objgraph._common import Writer as _Writer
from heapwatch.objgraph._common import long_name_of_type as _long_name_of_type
from heapwatch.objgraph._common import type_name as _type_name
from heapwatch.objgraph._common import unsafe_to_traverse as _unsafe_to_traverse

_IdTable = DefaultDict[str, set[int]]


# ---- naming --------------------------------------------------------------


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
