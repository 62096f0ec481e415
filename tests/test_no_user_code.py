"""The engine runs no Python code of the application while it measures.

A census, a graph build and a snapshot read every object's size and
references from C.  A __sizeof__ written in Python is never called (a
MagicMock would record the call, and keep it); a C __sizeof__ borrowed by a
class whose layout is not the one the function reads is never called
either (it would read the wrong memory).  Heap walks do not nest.
"""

from __future__ import annotations

import sys
from typing import Any
from unittest.mock import MagicMock

import pytest

import heapwatch
from tests import reference

MOCK = MagicMock()


def test_magicmock_records_no_call() -> None:
    MOCK.send("hi")
    calls = list(MOCK.mock_calls)
    heapwatch.census()
    heapwatch.census(include_untracked=True, fullnames=True)
    heapwatch.growth()
    snap = heapwatch.snapshot()
    heapwatch.why(MOCK)
    heapwatch.retention(MagicMock, limit=3)
    heapwatch.top_retainers(3)
    snap.top_retainers(3, by="type")
    assert MOCK.mock_calls == calls
    assert [str(c) for c in MOCK.mock_calls] == ["call.send('hi')"]


class CountingSizeof:
    calls = 0

    def __init__(self) -> None:
        self.payload = [1, 2, 3]

    def __sizeof__(self) -> int:
        CountingSizeof.calls += 1
        return 10_000


def test_python_sizeof_is_not_called_and_size_is_the_plain_one() -> None:
    objs = [CountingSizeof() for _ in range(5)]
    CountingSizeof.calls = 0
    c = heapwatch.census()
    snap = heapwatch.snapshot()
    assert CountingSizeof.calls == 0
    assert c["CountingSizeof"].bytes == 5 * reference.fallback_size(objs[0])
    n = snap.node_of(objs[0])
    assert n is not None and snap.graph.node(n)[2] == reference.fallback_size(objs[0])


# Classes that borrow a C __sizeof__ written for another layout.  Calling
# the borrowed function on them reads memory the object does not have.
class LiarDict:
    __sizeof__ = dict.__sizeof__


class LiarList:
    __sizeof__ = list.__sizeof__


class LiarSet:
    __sizeof__ = set.__sizeof__


class LiarBytearray:
    __sizeof__ = bytearray.__sizeof__


class ListButDictSizeof(list):  # type: ignore[type-arg]
    __sizeof__ = dict.__sizeof__


class IntWithPythonSizeof(int):
    def __sizeof__(self) -> int:
        return 1


class DictWithOwnSizeof(dict):  # type: ignore[type-arg]
    __sizeof__ = dict.__sizeof__


@pytest.mark.parametrize("cls", [LiarDict, LiarList, LiarSet, LiarBytearray])
def test_borrowed_c_sizeof_gives_the_plain_size(cls: type) -> None:
    objs = [cls() for _ in range(3)]
    for o in objs:
        o.attr = [1]  # type: ignore[attr-defined]
    c = heapwatch.census()
    assert c[cls.__name__].bytes == 3 * reference.fallback_size(objs[0])
    snap = heapwatch.snapshot()
    assert snap.why(objs[0]) is not None
    heapwatch.growth()


def test_borrowed_sizeof_on_a_builtin_subclass_uses_the_base() -> None:
    lst = ListButDictSizeof(range(100))
    big = IntWithPythonSizeof(10**50)  # tracked through the list below
    keep = [lst, big]
    c = heapwatch.census(include_untracked=True)
    # list's own __sizeof__ (its layout), not dict's, not the Python one.
    assert c["ListButDictSizeof"].bytes == list.__sizeof__(lst) + reference.header_size(lst)
    assert c["IntWithPythonSizeof"].bytes == int.__sizeof__(big) + reference.header_size(big)
    assert reference.shallow_size(lst) == c["ListButDictSizeof"].bytes
    d = DictWithOwnSizeof(a=1)
    assert heapwatch.census()["DictWithOwnSizeof"].bytes == sys.getsizeof(d)
    del keep


def test_nested_census_from_an_audit_hook_is_refused() -> None:
    state: dict[str, Any] = {"on": False, "inner": None}

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if state["on"] and event in ("heapwatch.census", "heapwatch.graph"):
            state["on"] = False
            try:
                heapwatch.snapshot() if event == "heapwatch.census" else heapwatch.census()
            except RuntimeError as e:
                state["inner"] = str(e)

    sys.addaudithook(hook)
    try:
        state["on"] = True
        heapwatch.census()
        assert state["inner"] is not None and "do not nest" in state["inner"]
        state.update(on=True, inner=None)
        heapwatch.snapshot()
        assert state["inner"] is not None and "do not nest" in state["inner"]
        # The guard is released: both work again.
        assert heapwatch.census().total_count > 0
        assert heapwatch.snapshot().info["nodes"] > 0
    finally:
        state["on"] = False
