"""The engine's state lives in its module object (src/heapwatch/_engine/module.h).

heapwatch._engine uses multi-phase init, so the same extension can make more
than one module object: importlib.util.module_from_spec() + exec_module() on
its spec, or a fresh import after the module was removed from sys.modules.
Each must have its own types (Census, TypeStats, GrowthRow, Graph) and make
instances of them only, keep working when another one is gone, and be freed
with its types once nothing refers to it (m_traverse, m_clear, m_free).
"""

from __future__ import annotations

import gc
import importlib
import importlib.util
import sys
import weakref
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import heapwatch
from heapwatch import _engine

TYPES = ("Census", "TypeStats", "GrowthRow", "Graph")


def fresh_engine() -> ModuleType:
    """A second module object of the same extension, not in sys.modules."""
    spec = importlib.util.find_spec("heapwatch._engine")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def engine2() -> Iterator[ModuleType]:
    mod = fresh_engine()
    yield mod
    del mod
    gc.collect()


class Held:
    """Something for the graphs to find."""


def exercise(mod: Any, tmp_path: Path) -> None:
    """Every entry point of mod that makes an object makes one of mod's types."""
    c = mod.census()
    assert type(c) is mod.Census
    assert c.total_count > 0
    stats = c.values()
    assert stats and all(type(s) is mod.TypeStats for s in stats)
    assert type(c[c.keys()[0]]) is mod.TypeStats
    assert all(type(ts) is mod.TypeStats for _, ts in c.most_common(3))
    earlier = mod.census_of([("heapwatch-test-gone", 1, 16)], False, False)
    assert type(earlier) is mod.Census
    rows = c - earlier
    assert rows and all(type(r) is mod.GrowthRow for r in rows)

    held = [Held(), Held()]
    g = mod.graph([("held", held)], targets=Held)
    assert type(g) is mod.Graph
    assert len(g.targets()) == 2
    assert g.path(g.targets()[0]) is not None
    path = tmp_path / ("%x.hwsnap" % id(mod))
    g.save(path)
    loaded = mod.load(path)
    assert type(loaded) is mod.Graph
    assert len(loaded) == len(g)
    assert loaded.new_since(g, ("Held",)) == []

    # growth()'s baseline is per module object: swapping one leaves the
    # others alone.
    previous = mod.swap_baseline(c)
    try:
        assert mod.swap_baseline(c) is c
    finally:
        mod.swap_baseline(previous)


def test_a_second_module_object_has_types_of_its_own(engine2: ModuleType) -> None:
    assert engine2 is not _engine
    for name in TYPES:
        mine, theirs = getattr(engine2, name), getattr(_engine, name)
        assert mine is not theirs, name
        assert mine.__name__ == theirs.__name__
        assert mine.__module__ == theirs.__module__


def test_each_module_object_makes_its_own_types(engine2: ModuleType, tmp_path: Path) -> None:
    exercise(engine2, tmp_path)
    exercise(_engine, tmp_path)


def test_objects_of_two_module_objects_do_not_mix(engine2: ModuleType) -> None:
    a, b = _engine.census(), engine2.census()
    assert a != b       # different types: not comparable, so not equal
    with pytest.raises(TypeError):
        a - b
    with pytest.raises(TypeError):
        _engine.swap_baseline(b)
    held = [Held()]
    ga = _engine.graph([("held", held)], labels="none")
    gb = engine2.graph([("held", held)], labels="none")
    with pytest.raises(TypeError):
        ga.new_since(gb, ("Held",))


def test_a_walk_of_one_module_object_does_not_nest_in_another(engine2: ModuleType) -> None:
    state: dict[str, Any] = {"on": False, "inner": None}

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if state["on"] and event == "heapwatch.census":
            state["on"] = False
            try:
                _engine.census()
            except RuntimeError as e:
                state["inner"] = str(e)

    sys.addaudithook(hook)
    try:
        state["on"] = True
        engine2.census()
        assert state["inner"] is not None and "do not nest" in state["inner"]
        assert _engine.census().total_count > 0
    finally:
        state["on"] = False


@pytest.mark.parametrize("first_gone", ["a", "b"])
def test_each_keeps_working_when_the_other_is_gone(first_gone: str, tmp_path: Path) -> None:
    engines = {"a": fresh_engine(), "b": fresh_engine()}
    left = "b" if first_gone == "a" else "a"
    # Objects made by the module object that goes: they keep its types,
    # the types keep the module's state.
    orphans = (engines[first_gone].census(),
               engines[first_gone].graph([("held", [Held()])], labels="none"))
    gone = weakref.ref(engines.pop(first_gone))
    gc.collect()
    assert gone() is not None, "its objects keep the module object alive"
    census, graph = orphans
    assert census.most_common(1)[0][1].count > 0
    assert census - census == []
    assert len(graph) > 0 and graph.census()

    exercise(engines[left], tmp_path)
    exercise(_engine, tmp_path)

    del orphans, census, graph
    gc.collect()
    assert gone() is None
    exercise(engines[left], tmp_path)
    engines.clear()
    gc.collect()
    exercise(_engine, tmp_path)


def test_a_fresh_import_after_removal_from_sys_modules(tmp_path: Path) -> None:
    name = "heapwatch._engine"
    original = sys.modules[name]
    assert original is _engine
    try:
        del sys.modules[name]
        again = importlib.import_module(name)
        assert again is not original
        for t in TYPES:
            assert getattr(again, t) is not getattr(original, t)
        exercise(again, tmp_path)
    finally:
        sys.modules[name] = original
        heapwatch._engine = original    # the import rebinds the package attribute
    del again
    gc.collect()
    exercise(_engine, tmp_path)
    assert heapwatch.census().__class__ is _engine.Census


def refcounts() -> list[int]:
    return [sys.getrefcount(getattr(_engine, t)) for t in TYPES] + [sys.getrefcount(_engine)]


@pytest.mark.parametrize("baseline", [False, True], ids=["plain", "with-baseline"])
def test_a_module_object_no_longer_used_is_freed_with_its_types(baseline: bool,
                                                                tmp_path: Path) -> None:
    gc.collect()
    before = refcounts()
    mod = fresh_engine()
    exercise(mod, tmp_path)
    if baseline:
        # The state is the census' only owner (see hw_traverse).
        mod.swap_baseline(mod.census())
    refs = [weakref.ref(mod)] + [weakref.ref(getattr(mod, t)) for t in TYPES]
    del mod
    gc.collect()
    assert [r() for r in refs] == [None] * len(refs)
    assert refcounts() == before


def test_a_baseline_held_elsewhere_keeps_its_module_object() -> None:
    mod = fresh_engine()
    kept = mod.census()
    mod.swap_baseline(kept)
    ref = weakref.ref(mod)
    del mod
    gc.collect()
    assert ref() is not None
    assert type(kept) is ref().Census        # type: ignore[union-attr]
    assert kept.total_count > 0
    del kept
    gc.collect()
    assert ref() is None


def test_repeated_module_objects_do_not_accumulate() -> None:
    def live_types() -> int:
        # issubclass(type(o), ...), not isinstance(o, ...), which reads
        # o.__class__ and so sets up a lazy object (Django's settings).
        return sum(1 for o in gc.get_objects()
                   if issubclass(type(o), type) and o.__name__ in TYPES
                   and o.__module__ in ("heapwatch", "heapwatch._engine"))

    gc.collect()
    start = live_types()
    for _ in range(5):
        mod = fresh_engine()
        mod.census()
        del mod
        gc.collect()
    assert live_types() == start


def test_the_fallback_walk_uses_gc_s_own_function(monkeypatch: pytest.MonkeyPatch) -> None:
    """walk.c keeps no gc.get_objects in a C global: it finds the gc module's
    C function when the fallback runs, so a replaced gc.get_objects (tests
    and tools patch it) is not what the walk sees."""
    def replaced(*args: Any, **kwargs: Any) -> list[object]:
        raise AssertionError("the walk called the replaced gc.get_objects")

    monkeypatch.setattr(gc, "get_objects", replaced)
    _engine._set_walk_direct(False)
    try:
        assert _engine._bare_walk() > 1000
        assert _engine.census().total_count > 1000
    finally:
        _engine._set_walk_direct(True)
