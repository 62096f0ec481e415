"""A Snapshot answers with the same types and takes the same arguments as
the live functions; objects are objects (an int is never an address)."""

from __future__ import annotations

import gc
import sys
import types
from collections.abc import Iterator
from typing import Any

import pytest

import heapwatch
from heapwatch import _engine


class Row:
    pass


class Holder:
    pass


@pytest.fixture
def module() -> Iterator[types.ModuleType]:
    mod = types.ModuleType("hw_api_testmod")
    sys.modules[mod.__name__] = mod
    gc.collect()
    try:
        yield mod
    finally:
        del sys.modules[mod.__name__]
        mod.__dict__.clear()
        gc.collect()


# ---- an int is an int --------------------------------------------------------


def test_why_of_a_big_int_is_its_path(module: types.ModuleType) -> None:
    big = int("1" + "0" * 100)  # made at run time: not a constant of this code
    module.BIG = big  # type: ignore[attr-defined]
    assert str(heapwatch.why(big)) == "module hw_api_testmod .BIG -> int"


def test_an_int_equal_to_an_id_is_not_that_object(module: types.ModuleType) -> None:
    module.ROW = Row()  # type: ignore[attr-defined]
    module.N = id(module.ROW)  # type: ignore[attr-defined]
    assert str(heapwatch.why(module.N)) == "module hw_api_testmod .N -> int"  # type: ignore[attr-defined]
    snap = heapwatch.snapshot()
    assert str(snap.why(module.N)) == "module hw_api_testmod .N -> int"  # type: ignore[attr-defined]
    # The address of the row, given as an address, is the row.
    node = snap.node_at(module.N)  # type: ignore[attr-defined]
    assert node is not None
    assert str(snap.path(node)) == "module hw_api_testmod .ROW -> Row"
    with pytest.raises(TypeError):
        snap.node_at("0x10")  # type: ignore[arg-type]
    assert snap.node_at(-1) is None


# ---- Snapshot speaks the live API --------------------------------------------


def test_snapshot_census_is_a_census(module: types.ModuleType) -> None:
    module.ROWS = [Row() for _ in range(300)]  # type: ignore[attr-defined]
    snap = heapwatch.snapshot()
    c = snap.census()
    assert isinstance(c, heapwatch.Census)
    assert c["Row"].count == 300
    assert c["Row"].bytes == 300 * heapwatch.census()["Row"].bytes // 300
    assert c.include_untracked and not c.fullnames
    assert c.total_count == len(snap)
    full = heapwatch.snapshot(fullnames=True).census()
    assert full.fullnames and full[f"{__name__}.Row"].count == 300
    assert "Row" not in full
    assert c == c and not (c != c)
    with pytest.raises(TypeError):
        hash(c)


def test_snapshot_diff_gives_growth_rows(module: types.ModuleType) -> None:
    before = heapwatch.snapshot()
    module.ROWS = [Row() for _ in range(250)]  # type: ignore[attr-defined]
    after = heapwatch.snapshot()
    rows, groups = after.diff(before, limit=3)
    assert all(isinstance(r, heapwatch.GrowthRow) for r in rows)
    assert len(rows) <= 3
    row = next(r for r in rows if r.name == "Row")
    assert (row.count, row.delta) == (250, 250)
    assert all(r.delta > 0 for r in rows)
    assert any(g.type.endswith(".Row") and g.count == 250 for g in groups)
    # The same as subtracting the two censuses, grown types only.
    grown = [r for r in after.census() - before.census() if r.delta > 0]
    assert rows == grown[:3]
    with pytest.raises(TypeError):
        after.diff("before")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        after.diff(before, limit=-1)


def test_retention_takes_a_type_or_a_name(module: types.ModuleType) -> None:
    h = Holder()
    h.rows = [Row() for _ in range(40)]  # type: ignore[attr-defined]
    module.H = h  # type: ignore[attr-defined]
    del h
    live_type = heapwatch.retention(Row)
    live_name = heapwatch.retention("Row")
    live_full = heapwatch.retention(f"{__name__}.Row")
    snap = heapwatch.snapshot()
    by_type = snap.retention(Row)
    by_name = snap.retention("Row")
    expected = "module hw_api_testmod .H -> Holder .rows -> list [*]"
    for groups in (live_type, live_name, live_full, by_type, by_name):
        assert [(g.count, g.via) for g in groups] == [(40, expected)], groups
    assert heapwatch.retention("NoSuchTypeAnywhere") == []
    # A string is a name, never an iterable of one-character objects.
    with pytest.raises(TypeError):
        heapwatch.retention(b"Row")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        snap.retention([1, "2"])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        heapwatch.retention("")


def test_type_is_matched_by_qualified_name(module: types.ModuleType) -> None:
    # Two classes named Row in different modules: a type selects its own.
    other = types.new_class("Row")
    other.__module__ = "hw_api_testmod"
    module.OTHERS = [other() for _ in range(7)]  # type: ignore[attr-defined]
    module.MINE = [Row() for _ in range(5)]  # type: ignore[attr-defined]
    snap = heapwatch.snapshot()
    assert len(snap.nodes_of(Row)) == 5
    assert len(snap.nodes_of(other)) == 7
    assert len(snap.nodes_of("Row")) == 12
    assert [g.count for g in snap.retention(other)] == [7]
    # Reading the name runs no code of a metaclass.
    calls: list[str] = []

    class Meta(type):
        def __getattribute__(cls, name: str) -> object:
            calls.append(name)
            return super().__getattribute__(name)

    weird = Meta("Weird", (), {})
    module.W = weird()  # type: ignore[attr-defined]
    calls.clear()
    assert len(snap.nodes_of(weird)) == 0  # made after the snapshot
    assert calls == []


def test_path_is_documented_and_iterable(module: types.ModuleType) -> None:
    module.ROWS = [Row()]  # type: ignore[attr-defined]
    path = heapwatch.why(module.ROWS[0])  # type: ignore[attr-defined]
    assert path is not None
    assert path.root == "module hw_api_testmod"
    assert path.held is False
    steps = list(path)
    assert steps == path.steps and len(path) == len(steps)
    assert all(isinstance(s, heapwatch.Step) for s in steps)
    assert steps[-1].type.endswith(".Row") and steps[-1].kind == "index" and steps[-1].label == 0
    assert path.repr is None
    assert heapwatch.Path.__doc__ is not None and "steps" in heapwatch.Path.__doc__


def test_reprs_only_when_asked(module: types.ModuleType) -> None:
    secret = "token-" + "x" * 10
    module.SECRET = secret  # type: ignore[attr-defined]
    plain = heapwatch.why(secret)
    assert plain is not None and plain.repr is None
    shown = heapwatch.why(secret, reprs=True)
    assert shown is not None and shown.repr is not None and "token-" in shown.repr
    snap = heapwatch.snapshot(reprs=True)
    assert "token-" in (snap.why(secret) or plain).repr  # type: ignore[operator]
    assert all(r.repr is None for r in heapwatch.top_retainers(3))
    for bad in ("yes", 1, None):
        with pytest.raises(TypeError, match="reprs must be True or False"):
            heapwatch.snapshot(reprs=bad)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="reprs must be True or False"):
            heapwatch.why(secret, reprs=bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="fullnames"):
        heapwatch.retention(Row, fullnames="no")  # type: ignore[arg-type]


def test_census_of_rows_rejects_bad_rows() -> None:
    c = _engine.census_of([("a.X", 2, 10), ("a.X", 1, 5), ("list", 3, 100)], True, True)
    assert c["a.X"] == (3, 15) and c.total_count == 6 and list(c) == ["a.X", "list"]
    for bad in ([("a", -1, 0)], [("a", 1)], [(1, 1, 1)], [("a", 1.0, 1)], "abc", 5):
        with pytest.raises((TypeError, ValueError)):
            _engine.census_of(bad, True, True)  # type: ignore[arg-type]


def test_top_level_namespace_is_the_public_api() -> None:
    # (Subpackages imported elsewhere, heapwatch.django and the like, are
    # attributes too, as for every package.)
    public = {n for n in dir(heapwatch)
              if not n.startswith("_") and not isinstance(getattr(heapwatch, n), types.ModuleType)}
    assert public == set(heapwatch.__all__)
    for name in heapwatch.__all__:
        assert getattr(heapwatch, name).__module__.startswith("heapwatch")


def test_django_namespace_is_its_public_api() -> None:
    import heapwatch.django as hd

    public = {n for n in dir(hd)
              if not n.startswith("_") and not isinstance(getattr(hd, n), types.ModuleType)}
    assert public == set(hd.__all__)


def test_snapshot_why_is_about_that_object_not_its_address(
        module: types.ModuleType, tmp_path: Any) -> None:
    module.HOLDER = [Row()]  # type: ignore[attr-defined]
    snap = heapwatch.snapshot()
    addr = id(module.HOLDER[0])  # type: ignore[attr-defined]
    assert str(snap.why(module.HOLDER[0])) == "module hw_api_testmod .HOLDER -> list [0] -> Row"  # type: ignore[attr-defined]
    # The row is freed and, with luck, a Holder takes its address: the
    # snapshot must not answer for the Holder with the row's path.
    module.HOLDER.clear()  # type: ignore[attr-defined]
    others = [Holder() for _ in range(2000)]
    same = [h for h in others if id(h) == addr]
    for h in same:
        assert snap.why(h) is None
    assert snap.why(object()) is None
    path = tmp_path / "s.hwsnap"
    snap.save(path)
    back = heapwatch.load(path)
    with pytest.raises(TypeError, match="node_at"):
        back.why(others[0])
    assert back.path(back.node_at(addr)) is not None  # type: ignore[arg-type]


def test_snapshot_arguments_are_checked(module: types.ModuleType) -> None:
    module.ROWS = [Row()]  # type: ignore[attr-defined]
    snap = heapwatch.snapshot()
    with pytest.raises(TypeError, match="retained"):
        snap.retention("Row", retained="no")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        snap.retention("Row", limit=True)
    with pytest.raises(ValueError):
        snap.top_retainers(-1, by="type")
    with pytest.raises(TypeError):
        snap.top_retainers(True)
    with pytest.raises(TypeError):
        snap.path(True)
