"""Test heaps: object shapes the census must count and size exactly."""

from __future__ import annotations

import array
import collections
import weakref
from typing import Any


class ModelState:
    def __init__(self) -> None:
        self.db = "default"
        self.adding = False
        self.fields_cache: dict[str, Any] = {}


class FirstModel:
    def __init__(self, pk: int) -> None:
        self.id = pk
        self.name = f"row {pk}"
        self.second_id = pk % 1000
        self._state = ModelState()


class Slotted:
    __slots__ = ("a", "b", "__weakref__")

    def __init__(self, a: Any) -> None:
        self.a = a
        self.b = [a]


class SizedInPython:
    """A __sizeof__ written in Python: the engine must never call it."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.items = [n]

    def __sizeof__(self) -> int:
        return 1000 + self.n


class BrokenSizeof:
    def __init__(self) -> None:
        self.x = [1]

    def __sizeof__(self) -> int:
        raise RuntimeError("no size for you")


class MyDict(dict):  # type: ignore[type-arg]
    pass


class MyList(list):  # type: ignore[type-arg]
    pass


def seed_heap(n: int = 2000) -> list[Any]:
    """Model instances with materialized __dict__ and a state each, as
    Django leaves them in a QuerySet's result cache."""
    rows = [FirstModel(i) for i in range(n)]
    for r in rows[::2]:
        r.__dict__  # noqa: B018  (materializes the dict, as Django does)
    return rows


def varied_heap() -> list[Any]:
    def closure_factory(k: int) -> Any:
        def inner() -> int:
            return k
        return inner

    def gen() -> Any:
        yield 1

    keep: list[Any] = []
    grown = []
    for i in range(50):
        grown.append(i)  # over-allocated list
    keep.append(grown)
    keep.append({i: str(i) for i in range(300)})           # large combined dict
    keep.append({"a": [], "b": ()})                         # small tracked dict
    keep.append(MyDict(a=[1]))
    keep.append(MyList([[1], [2]]))
    keep.append({frozenset([1, 2]), (1, [2].__class__)})
    keep.append(set(range(100)))
    keep.append(collections.deque([[i] for i in range(40)]))
    keep.append(collections.OrderedDict((str(i), [i]) for i in range(20)))
    keep.append(collections.defaultdict(list, {"x": [1]}))
    keep.append(array.array("d", range(100)))
    keep.append(bytearray(b"x" * 500))
    keep.extend(Slotted(i) for i in range(30))
    keep.extend(SizedInPython(i) for i in range(10))
    keep.append(BrokenSizeof())
    keep.extend(closure_factory(i) for i in range(10))
    g = gen()
    next(g)
    keep.append(g)
    keep.append(weakref.ref(keep[-2]))
    keep.append(type("Dynamic", (object,), {"attr": [1]}))
    try:
        raise ValueError("kept")
    except ValueError as e:
        keep.append(e)
    keep.append((1, "two", 3.0, b"four", None, [5]))
    keep.append(("only", "atoms", 1, 2.5))
    return keep
