"""What several modules of heapwatch.objgraph share: type names, the
argument checks of the chain and graph functions, the guard on
gc.get_referents(), and the types of filters and of files written to.

For the package's own modules; not part of objgraph's API.
"""

from __future__ import annotations

import operator
import sys
import types
from collections.abc import Callable, Iterable
from typing import Any, Protocol


class Writer(Protocol):
    def write(self, s: str, /) -> object: ...


Filter = Callable[[Any], object]


def long_name_of_type(tp: type) -> str:
    # "module.Name", or the bare name when __module__ is missing or falsy.
    name: str = tp.__name__
    module = getattr(tp, "__module__", None)
    if module:
        return "%s.%s" % (module, name)
    return name


type_name = operator.attrgetter("__name__")


def int_arg(value: object, name: str, func: str) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{func}(): {name} must be an int, not bool")
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{func}(): {name} must be an int, not {type(value).__name__}") from None


def callable_arg(value: object, name: str, func: str) -> None:
    if value is not None and not callable(value):
        raise TypeError(f"{func}(): {name} must be callable or None, not {type(value).__name__}")


def ignored_ids(extra_ignore: Iterable[int], func: str) -> set[int]:
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


# CPython 3.12 before 3.12.6: the _asyncio module's traverse reports freed
# FutureIter objects, and gc.get_referents() on it can corrupt the heap and
# hang the next collection (gh-122695; objgraph itself is exposed).  It is
# left out there: it refers to nothing else the GC does not also reach.
_BROKEN_ASYNCIO_TRAVERSE = (3, 12) <= sys.version_info[:3] < (3, 12, 6)


def unsafe_to_traverse(o: object) -> bool:
    return (_BROKEN_ASYNCIO_TRAVERSE and type(o) is types.ModuleType
            and getattr(o, "__name__", None) == "_asyncio")
