"""A small pure-Python census, the reference the C engine is checked against.

It defines the contract in the plainest terms: the objects gc.get_objects()
returns, named type(o).__name__ (or objgraph's long name), sized with
sys.getsizeof where the type's __sizeof__ is its own C method, else as
sys.getsizeof would without the override (shallow.h); with include_untracked, the closure over gc.get_referents()
of the objects gc.is_tracked() says no to, each once.  Deliberately slow.
"""

from __future__ import annotations

import gc
import sys
import types
from typing import Any

import heapwatch


def type_name(obj: Any, fullnames: bool = False) -> str:
    tp = type(obj)
    name: str = tp.__name__
    if fullnames:
        module = getattr(tp, "__module__", None)
        if module:
            return f"{module}.{name}"
    return name


class RefCensus(dict):  # type: ignore[type-arg]
    """name -> (count, bytes), in order of first sighting."""

    include_untracked: bool = False
    fullnames: bool = False

    @property
    def total_count(self) -> int:
        return sum(c for c, _ in self.values())

    @property
    def total_bytes(self) -> int:
        return sum(b for _, b in self.values())


def _add(out: RefCensus, o: Any) -> None:
    name = type_name(o, out.fullnames)
    count, size = out.get(name, (0, 0))
    out[name] = (count + 1, size + shallow_size(o))


_OBJECT_SIZEOF = object.__dict__["__sizeof__"]


def _first_sizeof(tp: type) -> Any:
    for base in tp.__mro__:
        if "__sizeof__" in base.__dict__:
            return base.__dict__["__sizeof__"]
    return None


def own_c_sizeof(tp: type) -> Any:
    """The __sizeof__ the engine may call for instances of tp: the first
    along the MRO that is a C method defined by a base of tp; None when
    only object.__sizeof__ qualifies."""
    for base in tp.__mro__:
        d = _first_sizeof(base)
        if d is None or d is _OBJECT_SIZEOF:
            return None
        if isinstance(d, types.MethodDescriptorType) and issubclass(tp, d.__objclass__):
            return d
    return None


def shallow_size(o: Any) -> int:
    d = own_c_sizeof(type(o))
    if d is not None and d is _first_sizeof(type(o)):
        try:
            return sys.getsizeof(o)
        except Exception:
            return fallback_size(o)
    if d is None:
        return fallback_size(o)
    try:
        return int(d(o)) + header_size(o)
    except Exception:
        return fallback_size(o)


def _visit(out: RefCensus, seen: set[int], pending: list[Any], refs: list[Any]) -> None:
    for r in refs:
        if gc.is_tracked(r) or id(r) in seen or type(r) is heapwatch.Census:
            continue
        seen.add(id(r))
        _add(out, r)
        pending.append(r)


# CPython 3.12 before 3.12.6 has the _asyncio module's tp_traverse report
# freed FutureIter objects (gh-122695); gc.get_referents() on it INCREFs and
# DECREFs freed memory, which can hang the next collection.  The reference
# does not look inside that module there (the engine skips freed objects
# itself; the module holds no other untracked object).
_BROKEN_TRAVERSE = (3, 12) <= sys.version_info[:3] < (3, 12, 6)


def referents(o: Any) -> list[Any]:
    if _BROKEN_TRAVERSE and type(o).__name__ == "module" and getattr(o, "__name__", "") == "_asyncio":
        return []
    return gc.get_referents(o)


def census(*, include_untracked: bool = False, fullnames: bool = False) -> RefCensus:
    # No closures here: their cells would exist before gc.get_objects() and
    # be counted.
    objects = gc.get_objects()
    out = RefCensus()
    out.include_untracked = include_untracked
    out.fullnames = fullnames
    seen: set[int] = set()
    pending: list[Any] = []
    # Same order as the engine: each tracked object, then (depth first, in
    # traversal order) the untracked objects first reached through it.
    for o in objects:
        _add(out, o)
        if include_untracked:
            _visit(out, seen, pending, referents(o))
            while pending:
                _visit(out, seen, pending, referents(pending.pop()))
    del objects
    return out


_HAVE_GC = 1 << 14
_MANAGED = (1 << 4) | ((1 << 3) if sys.version_info >= (3, 12) else 0)


def fallback_size(obj: Any) -> int:
    """What the engine reports when __sizeof__ fails: object.__sizeof__ plus
    the header CPython keeps before the object, derived from type flags."""
    return int(object.__sizeof__(obj)) + header_size(obj)


def header_size(obj: Any) -> int:
    """The header CPython keeps before the object, from type flags."""
    flags = type(obj).__flags__
    return (16 if flags & _HAVE_GC else 0) + (16 if flags & _MANAGED else 0)
