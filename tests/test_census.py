"""The census: equal to the pure-Python reference on every test heap, and
the Census mapping's behaviour."""

from __future__ import annotations

import gc
import pickle
import sys
from collections.abc import Callable
from typing import Any

import pytest

import heapwatch
from heapwatch import _engine
from tests import heaps, reference

HEAPS = {"seed": heaps.seed_heap, "varied": heaps.varied_heap, "empty": list}


def assert_same(c: heapwatch.Census, r: reference.RefCensus) -> None:
    got = {name: tuple(stats) for name, stats in c.items()}
    diff = {
        name: (got.get(name), r.get(name))
        for name in set(got) | set(r)
        if got.get(name) != r.get(name)
    }
    assert diff == {}
    assert list(c) == list(r), "first-sighting order differs"
    assert c.total_count == r.total_count
    assert c.total_bytes == r.total_bytes


@pytest.mark.parametrize("heap", sorted(HEAPS))
@pytest.mark.parametrize("include_untracked", [False, True])
@pytest.mark.parametrize("fullnames", [False, True])
def test_matches_reference(heap: str, include_untracked: bool, fullnames: bool,
                           quiet_gc: None) -> None:
    keep = HEAPS[heap]()
    c = heapwatch.census(include_untracked=include_untracked, fullnames=fullnames)
    r = reference.census(include_untracked=include_untracked, fullnames=fullnames)
    assert_same(c, r)
    assert c.include_untracked is include_untracked
    assert c.fullnames is fullnames
    del keep


@pytest.mark.valgrind
@pytest.mark.parametrize("include_untracked", [False, True])
def test_matches_reference_small(include_untracked: bool, quiet_gc: None) -> None:
    keep = heaps.varied_heap() + heaps.seed_heap(50)
    c = heapwatch.census(include_untracked=include_untracked)
    r = reference.census(include_untracked=include_untracked)
    assert_same(c, r)
    del keep


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="3.11 walks pinned internal lists")
@pytest.mark.parametrize("include_untracked", [False, True])
def test_direct_walk_matches_fallback_on_311(include_untracked: bool, quiet_gc: None) -> None:
    assert _engine._walk_is_direct(), "the 3.11 layout check failed on a supported build"
    keep = heaps.varied_heap() + heaps.seed_heap(500)
    _engine._set_walk_direct(False)
    heapwatch.census()  # warm-up: the first gc.get_objects() call caches a tuple
    _engine._set_walk_direct(True)
    direct = heapwatch.census(include_untracked=include_untracked)
    _engine._set_walk_direct(False)
    try:
        fallback = heapwatch.census(include_untracked=include_untracked)
        was_direct = _engine._walk_is_direct()
    finally:
        _engine._set_walk_direct(True)
    assert not was_direct
    assert direct.items() == fallback.items()
    assert list(direct) == list(fallback)
    del keep


def test_known_growth_both_engines(census_impl: Callable[..., Any], quiet_gc: None) -> None:
    before = census_impl()
    rows = heaps.seed_heap(1234)
    after = census_impl()
    assert after["FirstModel"][0] - before.get("FirstModel", (0, 0))[0] == 1234
    assert after["ModelState"][0] - before.get("ModelState", (0, 0))[0] == 1234
    expected_bytes = sum(sys.getsizeof(r) for r in rows)
    assert after["FirstModel"][1] - before.get("FirstModel", (0, 0))[1] == expected_bytes
    del rows


def test_untracked_strings_counted_once(census_impl: Callable[..., Any], quiet_gc: None) -> None:
    before = census_impl(include_untracked=True)
    s = [f"unique-{i}-" * 3 for i in range(1000)]
    holders = [s, list(s), tuple(s)]  # three holders, still counted once each
    after = census_impl(include_untracked=True)
    grew = after["str"][0] - before["str"][0]
    assert grew == 1000
    assert after["str"][1] - before["str"][1] == sum(sys.getsizeof(x) for x in s)
    del holders, s


# ---- heapwatch's own objects are never counted ----------------------------


def test_census_objects_are_invisible() -> None:
    kept = [heapwatch.census() for _ in range(50)]
    assert not gc.is_tracked(kept[0])
    c = heapwatch.census(include_untracked=True)
    assert "Census" not in c
    assert heapwatch.census(fullnames=True).get("heapwatch.Census") is None
    del kept


# ---- the mapping --------------------------------------------------------


def test_mapping_api() -> None:
    keep = heaps.seed_heap(10)
    c = heapwatch.census()
    assert isinstance(c, heapwatch.Census)
    assert len(c) == len(c.keys()) > 10
    st = c["FirstModel"]
    assert isinstance(st, heapwatch.TypeStats)
    assert st.count == st[0] == 10
    assert st.bytes == st[1] > 0
    assert "FirstModel" in c and "NoSuchType" not in c and 42 not in c
    with pytest.raises(KeyError):
        c["NoSuchType"]
    with pytest.raises(KeyError):
        c[42]  # type: ignore[index]
    assert c.get("NoSuchType") is None
    assert c.get("NoSuchType", "dflt") == "dflt"
    assert c.get("FirstModel") == st
    assert [k for k, _ in c.items()] == c.keys() == list(c)
    assert [v for _, v in c.items()] == c.values()
    assert c.counts() == {k: v.count for k, v in c.items()}
    assert c.total_count == sum(v.count for v in c.values())
    assert c.total_bytes == sum(v.bytes for v in c.values())
    assert "objects" in repr(c)
    from collections.abc import Mapping
    assert isinstance(c, Mapping)
    assert dict(c) == dict(c.items())
    del keep


def test_most_common() -> None:
    c = heapwatch.census()
    items = c.items()
    by_count = sorted(items, key=lambda kv: kv[1].count, reverse=True)  # stable
    assert c.most_common() == by_count
    assert c.most_common(3) == by_count[:3]
    assert c.most_common(0) == []
    by_bytes = sorted(items, key=lambda kv: kv[1].bytes, reverse=True)
    assert c.most_common(5, by="bytes") == by_bytes[:5]
    assert c.most_common(10**30) == by_count


@pytest.mark.parametrize(
    "call, exc",
    [
        (lambda c: c.most_common(-1), ValueError),
        (lambda c: c.most_common("3"), TypeError),
        (lambda c: c.most_common(True), TypeError),
        (lambda c: c.most_common(-(10**30)), ValueError),
        (lambda c: c.most_common(3, by="size"), ValueError),
        (lambda c: c.most_common(3, by=1), TypeError),
        (lambda c: c - 1, TypeError),
        (lambda c: c - heapwatch.census(fullnames=True), ValueError),
        (lambda c: c.get(), TypeError),
        (lambda c: pickle.dumps(c), TypeError),
        (lambda c: type(c)(), TypeError),
        (lambda c: heapwatch.census(include_untracked="yes"), TypeError),
        (lambda c: heapwatch.census(fullnames=None), TypeError),
        (lambda c: heapwatch.census(True), TypeError),
        (lambda c: heapwatch.census(bogus=1), TypeError),
        (lambda c: heapwatch.at("0x1"), TypeError),
    ],
)
def test_bad_input(call: Callable[[heapwatch.Census], object], exc: type[Exception]) -> None:
    c = heapwatch.census()
    with pytest.raises(exc):
        call(c)


def test_subtraction(quiet_gc: None) -> None:
    gone = [heaps.Slotted(i) for i in range(40)]
    earlier = heapwatch.census()
    rows = heaps.seed_heap(300)
    del gone
    later = heapwatch.census()
    table = later - earlier
    assert all(isinstance(r, heapwatch.GrowthRow) for r in table)
    by_name = {r.name: r for r in table}
    fm = by_name["FirstModel"]
    assert (fm.count, fm.delta) == (300, 300)
    assert fm.bytes_delta == sum(sys.getsizeof(r) for r in rows)
    sl = by_name["Slotted"]
    assert (sl.count, sl.delta) == (0, -40)
    assert sl.bytes_delta < 0
    deltas = [(r.delta, r.bytes_delta) for r in table]
    assert deltas == sorted(deltas, reverse=True)
    assert all(r.delta or r.bytes_delta for r in table)
    assert earlier - earlier == []
    del rows


def test_python_sizeof_is_never_called(quiet_gc: None) -> None:
    before = heapwatch.census()
    objs = [heaps.SizedInPython(i) for i in range(10)] + [heaps.BrokenSizeof()]
    after = heapwatch.census()
    grew = after["SizedInPython"].bytes - before.get("SizedInPython", heapwatch.TypeStats((0, 0))).bytes
    # What sys.getsizeof would give without the override, not its 1000 + n.
    assert grew == sum(reference.fallback_size(o) for o in objs[:10])
    assert grew < sum(sys.getsizeof(o) for o in objs[:10])
    broken = after["BrokenSizeof"]
    assert broken.count == 1
    assert broken.bytes == reference.fallback_size(objs[-1]) > 0
    del objs


def test_at() -> None:
    x = [object()]
    assert heapwatch.at(id(x)) is x
    assert heapwatch.at(id("not tracked")) is None
    assert heapwatch.at(0) is None
    assert heapwatch.at(-5) is None
    assert heapwatch.at(2**80) is None


def test_audit_event() -> None:
    events: list[tuple[str, tuple[Any, ...]]] = []
    state = {"on": False, "veto": False}

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if state["on"] and event == "heapwatch.census":
            events.append((event, args))
            if state["veto"]:
                raise PermissionError("census not allowed here")

    sys.addaudithook(hook)
    state["on"] = True
    try:
        heapwatch.census()
        heapwatch.census(include_untracked=True)
        assert events == [("heapwatch.census", (False,)), ("heapwatch.census", (True,))]
        state["veto"] = True
        with pytest.raises(PermissionError):
            heapwatch.census()
    finally:
        state["on"] = False
