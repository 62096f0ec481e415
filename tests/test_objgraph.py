"""heapwatch.objgraph against the real objgraph 3.7.0, on controlled heaps.

Both libraries look at the same heap: tests run with automatic collection
off (the quiet_gc fixture), keep results as strings or untracked dicts while
the other side runs, and where the whole heap is compared, call each side
twice and compare the second calls (a first call may leave something
behind, such as a lazily created dict).  Where that is not enough, only the
entries for this module's own types are compared.
"""

from __future__ import annotations

import gc
import inspect
import io
import re
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import objgraph as real
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import heapwatch
import heapwatch.objgraph as mine

T = TypeVar("T")
HERE = __name__  # "tests.test_objgraph"


# ---- the test's own types -------------------------------------------------


class OgWidget:
    """Instances have a __dict__ (and a tracked list)."""

    def __init__(self) -> None:
        self.payload: list[int] = []


class OgSlim:
    """Slots holding references: instances are tracked."""

    __slots__ = ("a", "b")

    def __init__(self, a: object) -> None:
        self.a = a
        self.b = None


class OgBare:
    """No __dict__, no slots (still tracked: instances of heap types are)."""

    __slots__ = ()


class OgTie:
    pass


# Same __name__, another module: shortnames=True lumps them together.
aux = types.ModuleType("hw_og_aux")
exec(
    "class OgWidget:\n    def __init__(self):\n        self.payload = []\n",
    aux.__dict__,
)
AuxWidget: type[Any] = aux.OgWidget

# A falsy __module__: the long name is the bare name.
OgAnon: type[Any] = type("OgAnon", (), {"__module__": ""})

N_WIDGET, N_AUX, N_SLIM, N_BARE, N_ANON, N_TIE, N_COMPLEX = 37, 23, 11, 5, 7, 7, 4

OWN_SHORT = ["OgWidget", "OgSlim", "OgBare", "OgAnon", "OgTie"]
OWN_LONG = [
    f"{HERE}.OgWidget",
    "hw_og_aux.OgWidget",
    f"{HERE}.OgSlim",
    f"{HERE}.OgBare",
    "OgAnon",
    f"{HERE}.OgTie",
]


def build_heap() -> list[Any]:
    keep: list[Any] = []
    keep.extend(OgWidget() for _ in range(N_WIDGET))
    keep.extend(OgSlim(i) for i in range(N_SLIM))
    keep.extend(AuxWidget() for _ in range(N_AUX))
    keep.extend(OgBare() for _ in range(N_BARE))
    keep.extend(OgAnon() for _ in range(N_ANON))
    keep.extend(OgTie() for _ in range(N_TIE))
    keep.extend(complex(i, 1) for i in range(N_COMPLEX))  # never tracked
    keep[0].__dict__  # materialise one instance dict  # noqa: B018
    return keep


@pytest.fixture
def heap() -> Iterator[list[Any]]:
    keep = build_heap()
    yield keep
    del keep[:]


def second_calls(real_call: Callable[[], T], mine_call: Callable[[], T]) -> tuple[T, T]:
    """Alternate the two sides twice; return the second results."""
    real_call()
    mine_call()
    return real_call(), mine_call()


def ids_text(objs: list[Any]) -> str:
    """Identities of a result, as a string: holds no reference to them."""
    return " ".join(str(id(o)) for o in objs)


def _own_working_cell(o: object) -> bool:
    # On 3.11 get_leaking_objects() (objgraph's and ours) finds the cell its
    # own comprehension closes over, holding its id set: only its running
    # frame refers to it.  It is new on each call, and its address is reused
    # only by chance (pymalloc reuses it; PYTHONMALLOC=malloc under ASan
    # does not), so it is left out of a comparison of two calls.
    if type(o) is not types.CellType:
        return False
    try:
        return type(o.cell_contents) is set
    except ValueError:
        return False


def leak_ids_text(objs: list[Any]) -> str:
    return ids_text([o for o in objs if not _own_working_cell(o)])


def own(stats: dict[str, int], names: list[str]) -> dict[str, int]:
    return {n: stats[n] for n in names if n in stats}


# ---- the module's surface -------------------------------------------------

COVERED = [
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


def test_all_lists_the_covered_functions() -> None:
    assert sorted(mine.__all__) == COVERED
    namespace: dict[str, Any] = {}
    exec("from heapwatch.objgraph import *", namespace)
    assert sorted(k for k in namespace if not k.startswith("__")) == COVERED


@pytest.mark.parametrize("name", COVERED)
def test_signatures_match_objgraph(name: str) -> None:
    ours = inspect.signature(getattr(mine, name)).parameters
    theirs = inspect.signature(getattr(real, name)).parameters
    # heapwatch's own additions come after, keyword-only, with defaults
    # (show_refs / show_backrefs: reprs=False, contents redacted).
    extra = list(ours)[len(theirs):]
    assert list(ours)[:len(theirs)] == list(theirs)
    assert all(ours[x].kind is inspect.Parameter.KEYWORD_ONLY
               and ours[x].default is not inspect.Parameter.empty for x in extra)
    assert extra in ([], ["reprs"])
    for p, q in zip(ours.values(), theirs.values()):
        assert p.kind == q.kind, p.name
        if isinstance(q.default, dict):
            # Mutable default state: a dict of our own, not objgraph's.
            assert type(p.default) is dict and p.default is not q.default, p.name
        else:
            assert p.default == q.default and type(p.default) is type(q.default), p.name


def test_every_public_name_of_objgraph_is_here() -> None:
    # objgraph has no __all__: its public names are what it defines, less
    # the modules it imports and io.StringIO, imported for its own use.
    public = {n for n, v in vars(real).items()
              if not n.startswith("_") and not isinstance(v, types.ModuleType)} - {"StringIO"}
    assert public == set(COVERED) | {"IS_INTERACTIVE"}
    assert not set(public) - set(vars(mine))
    assert type(mine.IS_INTERACTIVE) is bool


METADATA = ["__version__", "__date__", "__author__", "__copyright__", "__license__"]


def test_metadata_names_are_objgraphs_with_heapwatchs_values() -> None:
    # The string dunders objgraph sets itself (not those every module has).
    theirs = {n for n, v in vars(real).items() if n.startswith("__") and type(v) is str}
    theirs -= {"__name__", "__doc__", "__file__", "__cached__", "__package__"}
    assert theirs == set(METADATA)
    for name in METADATA:
        assert type(getattr(mine, name)) is str and getattr(mine, name), name
    assert mine.__version__ == heapwatch.__version__
    assert mine.__license__ == "MIT"  # heapwatch's licence (pyproject.toml), as objgraph's
    for name in ("__date__", "__author__", "__copyright__"):
        assert getattr(mine, name) != getattr(real, name), name
    assert "heapwatch" in mine.__author__ and "heapwatch" in mine.__copyright__


def test_unknown_attribute_is_a_plain_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'no_such_function'"):
        mine.no_such_function  # type: ignore[attr-defined]  # noqa: B018


def test_own_types_are_what_the_tests_assume() -> None:
    assert gc.is_tracked(OgWidget()) and gc.is_tracked(OgSlim(1)) and gc.is_tracked(AuxWidget())
    assert gc.is_tracked(OgBare()) and not gc.is_tracked(complex(1, 1))
    assert AuxWidget.__name__ == "OgWidget" and AuxWidget.__module__ == "hw_og_aux"
    assert OgAnon.__module__ == ""


# ---- typestats, count, most_common_types ----------------------------------


@pytest.mark.parametrize("shortnames", [True, False])
def test_typestats_whole_heap(shortnames: bool, heap: list[Any], quiet_gc: None) -> None:
    theirs, ours = second_calls(lambda: real.typestats(shortnames=shortnames),
                                lambda: mine.typestats(shortnames=shortnames))
    assert ours == theirs
    assert list(ours) == list(theirs), "first-seen order differs"
    if shortnames:
        assert own(ours, OWN_SHORT) == {
            "OgWidget": N_WIDGET + N_AUX, "OgSlim": N_SLIM, "OgBare": N_BARE, "OgAnon": N_ANON,
            "OgTie": N_TIE,
        }
    else:
        assert own(ours, OWN_LONG) == {
            f"{HERE}.OgWidget": N_WIDGET, "hw_og_aux.OgWidget": N_AUX,
            f"{HERE}.OgSlim": N_SLIM, f"{HERE}.OgBare": N_BARE, "OgAnon": N_ANON,
            f"{HERE}.OgTie": N_TIE,
        }
    assert "complex" not in ours and "builtins.complex" not in ours


@pytest.mark.parametrize("shortnames", [True, False])
def test_typestats_objects(shortnames: bool, heap: list[Any]) -> None:
    ours = mine.typestats(heap, shortnames=shortnames)
    theirs = real.typestats(heap, shortnames=shortnames)
    assert ours == theirs and list(ours) == list(theirs)
    # Given objects, untracked ones count too.
    assert ours["complex" if shortnames else "builtins.complex"] == N_COMPLEX
    assert sum(ours.values()) == len(heap)


def _own_filter(o: object) -> bool:
    return type(o).__name__.startswith("Og")


@pytest.mark.parametrize("shortnames", [True, False])
def test_typestats_filter(shortnames: bool, heap: list[Any], quiet_gc: None) -> None:
    theirs, ours = second_calls(
        lambda: real.typestats(shortnames=shortnames, filter=_own_filter),
        lambda: mine.typestats(shortnames=shortnames, filter=_own_filter),
    )
    assert ours == theirs and list(ours) == list(theirs)
    assert sum(ours.values()) == N_WIDGET + N_AUX + N_SLIM + N_BARE + N_ANON + N_TIE
    # Filter and objects together.
    ours = mine.typestats(heap, shortnames, lambda o: isinstance(o, OgWidget))
    assert ours == real.typestats(heap, shortnames, lambda o: isinstance(o, OgWidget))
    assert list(ours.values()) == [N_WIDGET]


def test_falsy_filter_means_no_filter(heap: list[Any], quiet_gc: None) -> None:
    theirs, ours = second_calls(lambda: real.typestats(filter=0),
                                lambda: mine.typestats(filter=0))  # type: ignore[arg-type]
    assert ours == theirs
    assert ours["OgWidget"] == N_WIDGET + N_AUX


COUNT_NAMES = OWN_SHORT + OWN_LONG + [
    f"{HERE}.OgAnon", "dict", "list", "function", "type", "builtins.dict", "builtins.type",
    "complex", "builtins.complex",
    "NoSuchType", "no.such.Type", "",
]


@pytest.mark.parametrize("name", COUNT_NAMES)
def test_count_whole_heap(name: str, heap: list[Any], quiet_gc: None) -> None:
    # Not "cell": objgraph's count() makes a closure cell of its own before
    # listing the heap, and counts it.
    theirs, ours = second_calls(lambda: real.count(name), lambda: mine.count(name))
    assert ours == theirs
    expected = {"OgWidget": N_WIDGET + N_AUX, f"{HERE}.OgWidget": N_WIDGET,
                "hw_og_aux.OgWidget": N_AUX, "OgBare": N_BARE, f"{HERE}.OgBare": N_BARE,
                "OgAnon": N_ANON, f"{HERE}.OgAnon": 0, "NoSuchType": 0, "complex": 0}
    if name in expected:
        assert ours == expected[name]


@pytest.mark.parametrize("name", COUNT_NAMES)
def test_count_objects(name: str, heap: list[Any]) -> None:
    assert mine.count(name, heap) == real.count(name, heap)
    assert mine.count(name, iter(heap)) == real.count(name, iter(heap))
    if name == "complex":
        assert mine.count(name, heap) == N_COMPLEX


def test_count_rejects_what_objgraph_rejects() -> None:
    for bad in (None, 3):
        with pytest.raises(TypeError):
            real.count(bad)
        with pytest.raises(TypeError):
            mine.count(bad)  # type: ignore[arg-type]


LIMITS: list[Any] = [10, None, 0, 3, 1, -2, True, ""]


@pytest.mark.parametrize("limit", LIMITS)
@pytest.mark.parametrize("shortnames", [True, False])
def test_most_common_types_whole_heap(limit: Any, shortnames: bool, heap: list[Any],
                                      quiet_gc: None) -> None:
    theirs, ours = second_calls(
        lambda: repr(real.most_common_types(limit, shortnames=shortnames)),
        lambda: repr(mine.most_common_types(limit, shortnames=shortnames)),
    )
    assert ours == theirs


@pytest.mark.parametrize("limit", LIMITS + [-1, 100])
@pytest.mark.parametrize("shortnames", [True, False])
def test_most_common_types_objects_and_filter(limit: Any, shortnames: bool,
                                              heap: list[Any], quiet_gc: None) -> None:
    ours = mine.most_common_types(limit, heap, shortnames)
    assert ours == real.most_common_types(limit, heap, shortnames)
    if limit is None:
        # Ties (OgAnon and OgTie, 7 each) keep first-seen order.
        names = [n for n, _ in ours]
        anon = "OgAnon"
        tie = "OgTie" if shortnames else f"{HERE}.OgTie"
        assert names.index(anon) + 1 == names.index(tie)
    theirs, ours = second_calls(
        lambda: real.most_common_types(limit, shortnames=shortnames, filter=_own_filter),
        lambda: mine.most_common_types(limit, shortnames=shortnames, filter=_own_filter),
    )
    assert ours == theirs


@pytest.mark.parametrize("shortnames", [True, False])
def test_show_most_common_types(shortnames: bool, heap: list[Any], quiet_gc: None) -> None:
    bufs = [io.StringIO() for _ in range(4)]
    real.show_most_common_types(None, shortnames=shortnames, file=bufs[0])
    mine.show_most_common_types(None, shortnames=shortnames, file=bufs[1])
    real.show_most_common_types(None, shortnames=shortnames, file=bufs[2])
    mine.show_most_common_types(None, shortnames=shortnames, file=bufs[3])
    assert bufs[3].getvalue() == bufs[2].getvalue()
    assert len(bufs[3].getvalue().splitlines()) > 100

    for limit in (10, 2):
        a, b = io.StringIO(), io.StringIO()
        real.show_most_common_types(limit, heap, shortnames, a)
        mine.show_most_common_types(limit, heap, shortnames, b)
        assert b.getvalue() == a.getvalue()
        a, b = io.StringIO(), io.StringIO()
        real.show_most_common_types(limit, None, shortnames, a, _own_filter)
        mine.show_most_common_types(limit, None, shortnames, b, _own_filter)
        assert b.getvalue() == a.getvalue()
    assert b.getvalue().splitlines()[0] == (
        ("OgWidget %d" % (N_WIDGET + N_AUX)) if shortnames
        else "%-*s %d" % (len(f"{HERE}.OgWidget"), f"{HERE}.OgWidget", N_WIDGET)
    )


def test_show_most_common_types_default_file(heap: list[Any],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    real.show_most_common_types(objects=heap)
    theirs = capsys.readouterr().out
    mine.show_most_common_types(objects=heap)
    ours = capsys.readouterr().out
    assert ours == theirs and ours.startswith("OgWidget")


def test_show_most_common_types_nothing_to_show() -> None:
    with pytest.raises(ValueError):
        real.show_most_common_types(objects=[], file=io.StringIO())
    with pytest.raises(ValueError):
        mine.show_most_common_types(objects=[], file=io.StringIO())


# ---- growth and show_growth -------------------------------------------------


def _warm_up() -> None:
    """First calls may leave objects behind; make them before comparing."""
    real.growth(None, {})
    mine.growth(None, {})
    real.show_growth(None, {}, file=io.StringIO())
    mine.show_growth(None, {}, file=io.StringIO())


@pytest.mark.parametrize("shortnames", [True, False])
def test_growth_is_peak_based(shortnames: bool, heap: list[Any], quiet_gc: None) -> None:
    _warm_up()
    theirs_peaks: dict[str, int] = {}
    our_peaks: dict[str, int] = {}
    name = "OgWidget" if shortnames else f"{HERE}.OgWidget"
    widgets = N_WIDGET + (N_AUX if shortnames else 0)

    def step(limit: Any = None) -> list[tuple[str, int, int]]:
        theirs = repr(real.growth(limit, theirs_peaks, shortnames))
        ours = mine.growth(limit, our_peaks, shortnames)
        assert repr(ours) == theirs
        assert our_peaks == theirs_peaks
        return ours

    first = step()
    assert (name, widgets, widgets) in first
    assert len(first) == len(our_peaks) > 50
    heap.extend(OgWidget() for _ in range(10))
    assert (name, widgets + 10, 10) in step()
    del heap[:15]  # 15 of our widgets gone: below the peak, not reported
    assert name not in {n for n, _, _ in step()}
    heap.extend(OgWidget() for _ in range(12))  # still 3 below the peak
    assert name not in {n for n, _, _ in step()}
    heap.extend(OgWidget() for _ in range(5))  # 2 above it
    assert (name, widgets + 12, 2) in step()
    assert our_peaks[name] == widgets + 12
    heap.extend(OgWidget() for _ in range(100))  # and 100 payload lists
    assert (name, widgets + 112, 100) in step(3)
    heap.extend(OgWidget() for _ in range(100))
    assert len(step(1)) == 1


def test_growth_filter(heap: list[Any], quiet_gc: None) -> None:
    _warm_up()
    theirs_peaks: dict[str, int] = {}
    our_peaks: dict[str, int] = {}
    assert mine.growth(None, our_peaks, False, _own_filter) == real.growth(
        None, theirs_peaks, False, _own_filter)
    heap.extend(OgSlim(i) for i in range(4))
    heap.extend(OgTie() for i in range(4))
    ours = mine.growth(None, our_peaks, False, _own_filter)
    assert ours == real.growth(None, theirs_peaks, False, _own_filter)
    # Equal deltas: in first-seen order, which objgraph's equality checks.
    assert sorted(ours) == [(f"{HERE}.OgSlim", N_SLIM + 4, 4), (f"{HERE}.OgTie", N_TIE + 4, 4)]
    assert our_peaks == theirs_peaks


@pytest.mark.parametrize("limit", [10, None, 3])
def test_show_growth_text_is_identical(limit: Any, heap: list[Any], quiet_gc: None) -> None:
    _warm_up()
    theirs_peaks: dict[str, int] = {}
    our_peaks: dict[str, int] = {}
    for round_ in range(4):
        theirs, ours = io.StringIO(), io.StringIO()
        real.show_growth(limit, theirs_peaks, True, theirs)
        mine.show_growth(limit, our_peaks, True, ours)
        assert ours.getvalue() == theirs.getvalue(), round_
        if round_ == 0:
            assert ours.getvalue()
        if round_ == 2:
            line = re.search(r"^OgWidget +\d+ +\+\d+$", ours.getvalue(), re.M)
            assert line is not None
            assert line.group(0).split()[2] == "+50"
        heap.extend(OgWidget() for _ in range(50 if round_ == 1 else 0))
    assert our_peaks == theirs_peaks


def test_show_growth_prints_nothing_without_growth(quiet_gc: None) -> None:
    out, theirs = io.StringIO(), io.StringIO()
    ours_peaks, theirs_peaks = dict(mine.typestats()), dict(mine.typestats())
    for peaks in (ours_peaks, theirs_peaks):
        for k in peaks:
            peaks[k] += 1000
    mine.show_growth(None, ours_peaks, file=out)
    real.show_growth(None, theirs_peaks, file=theirs)
    assert out.getvalue() == theirs.getvalue() == ""


def test_growth_default_peak_stats(heap: list[Any], quiet_gc: None,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Without peak_stats, growth() and show_growth() share growth's
    mutable default, as objgraph's do."""
    _warm_up()
    ours_default: dict[str, int] = {}
    theirs_default: dict[str, int] = {}
    monkeypatch.setattr(mine.growth, "__defaults__", (10, ours_default, True, None))
    monkeypatch.setattr(real.growth, "__defaults__", (10, theirs_default, True, None))
    theirs, ours = io.StringIO(), io.StringIO()
    real.show_growth(file=theirs)
    mine.show_growth(file=ours)
    assert ours.getvalue() == theirs.getvalue() != ""
    assert ours_default == theirs_default and len(ours_default) > 50
    heap.extend(OgWidget() for _ in range(9))
    # Not inside the assert: pytest's rewriting would keep the first list alive.
    theirs_rows = repr(real.growth())
    our_rows = repr(mine.growth())
    assert our_rows == theirs_rows
    assert ours_default["OgWidget"] == N_WIDGET + N_AUX + 9
    assert ("OgWidget", N_WIDGET + N_AUX + 9, 9) not in mine.growth()


# ---- get_new_ids --------------------------------------------------------------


def _row(text: str, name: str) -> list[str]:
    """The numbers in the get_new_ids table row for a type."""
    rows = [ln.split()[1:] for ln in text.splitlines() if ln.split()[:1] == [name]]
    assert len(rows) == 1, (name, text)
    return rows[0]


class _Pool:
    """A heap the test controls, served as gc.get_objects()."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.objects: list[Any] = []
        monkeypatch.setattr(gc, "get_objects", lambda *a, **k: list(self.objects))


def _both_new_ids(theirs_state: dict[str, Any], our_state: dict[str, Any],
                  **kw: Any) -> tuple[str, dict[str, set[int]]]:
    theirs, ours = io.StringIO(), io.StringIO()
    r = real.get_new_ids(file=theirs, _state=theirs_state, **kw)
    m = mine.get_new_ids(file=ours, _state=our_state, **kw)
    assert ours.getvalue() == theirs.getvalue()
    assert type(m) is type(r)
    assert m == r
    assert our_state == theirs_state
    assert m is our_state["new"]
    return ours.getvalue(), dict(m)


def test_get_new_ids_controlled_heap(monkeypatch: pytest.MonkeyPatch) -> None:
    pool = _Pool(monkeypatch)
    widgets = [OgWidget() for _ in range(3)]
    others = [AuxWidget(), AuxWidget(), OgSlim(1), [], {}, OgTie()]
    pool.objects = widgets + others
    theirs_state: dict[str, Any] = {}
    our_state: dict[str, Any] = {}

    text, new = _both_new_ids(theirs_state, our_state, limit=None)
    assert new["OgWidget"] == {id(o) for o in widgets + others[:2]}
    assert text.splitlines()[1] == "%-*s%13s%13s%13s%13s" % (
        8, "Type", "Old_ids", "Current_ids", "New_ids", "Count_Deltas")
    assert "OgWidget" + "%13d%13d%+13d%+13d" % (0, 5, 5, 5) in text

    more = [OgWidget(), OgWidget()]
    pool.objects = widgets[1:] + more + others  # one widget gone, two new
    text, new = _both_new_ids(theirs_state, our_state)
    assert new["OgWidget"] == {id(o) for o in more}
    assert "OgWidget" + "%13d%13d%+13d%+13d" % (5, 6, 2, 1) in text
    assert _row(text, "OgWidget") == ["5", "6", "+2", "+1"]
    assert new["OgSlim"] == set()

    # skip_update: the same dict, untouched, nothing printed.
    out = io.StringIO()
    assert mine.get_new_ids(skip_update=True, file=out, _state=our_state) is our_state["new"]
    assert out.getvalue() == ""

    for sortby in ("old", "current", "new", "deltas"):
        for limit in (None, 0, 2, -1, 10):
            _both_new_ids(theirs_state, our_state, sortby=sortby, limit=limit)
    text, _ = _both_new_ids(theirs_state, our_state, limit=0)
    assert text == ""

    # Long names; then shortnames=None keeps using them.
    text, new = _both_new_ids(theirs_state, our_state, shortnames=False, limit=None)
    assert "hw_og_aux.OgWidget" in text and f"{HERE}.OgWidget" in text
    assert our_state["shortnames"] is False
    text, new = _both_new_ids(theirs_state, our_state, limit=None)
    assert f"{HERE}.OgWidget" in new

    # A type that goes away: first reported with a negative delta, then
    # forgotten.
    pool.objects = [o for o in pool.objects if not isinstance(o, OgTie)]
    text, _ = _both_new_ids(theirs_state, our_state, limit=None)
    assert _row(text, f"{HERE}.OgTie") == ["1", "0", "+0", "-1"]
    _both_new_ids(theirs_state, our_state, limit=None)
    assert f"{HERE}.OgTie" not in our_state["current"]
    assert f"{HERE}.OgTie" not in our_state["new"]

    pool.objects = []
    _both_new_ids(theirs_state, our_state, limit=None)
    text, new = _both_new_ids(theirs_state, our_state, limit=None)
    assert text == "" and new == {}


def test_get_new_ids_real_heap(quiet_gc: None) -> None:
    theirs_state: dict[str, Any] = {}
    our_state: dict[str, Any] = {}
    for shortnames in (True, False):
        name = "OgWidget" if shortnames else f"{HERE}.OgWidget"
        real.get_new_ids(limit=0, shortnames=shortnames, _state=theirs_state)
        mine.get_new_ids(limit=0, shortnames=shortnames, _state=our_state)
        fresh = [OgWidget() for _ in range(9)]
        theirs, ours = io.StringIO(), io.StringIO()
        r = real.get_new_ids(limit=None, file=theirs, _state=theirs_state)
        m = mine.get_new_ids(limit=None, file=ours, _state=our_state)
        assert m[name] == r[name] == {id(o) for o in fresh}
        row = _row(ours.getvalue(), name)
        assert row == _row(theirs.getvalue(), name)
        n_old, n_now, n_new, delta = row
        assert (int(n_now) - int(n_old), n_new, delta) == (9, "+9", "+9")
        del fresh


def test_get_new_ids_default_state(monkeypatch: pytest.MonkeyPatch) -> None:
    pool = _Pool(monkeypatch)
    pool.objects = [OgWidget(), OgTie()]
    state: dict[str, Any] = {}
    monkeypatch.setattr(mine.get_new_ids, "__defaults__",
                        (False, 10, "deltas", None, None, state))
    out = io.StringIO()
    first = mine.get_new_ids(file=out)
    assert set(state) == {"old", "current", "new", "shortnames"}
    assert first is state["new"] and first["OgWidget"] == {id(pool.objects[0])}
    assert mine.get_new_ids(skip_update=True) is first
    mine.get_new_ids(limit=0)
    assert first["OgWidget"] == set()


def test_get_new_ids_bad_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    pool = _Pool(monkeypatch)
    pool.objects = [OgWidget()]
    bad_limits: list[Any] = ["2", 2.5, [1]]
    for bad_limit in bad_limits:
        with pytest.raises(TypeError):
            real.get_new_ids(limit=bad_limit, file=io.StringIO(), _state={})
        state: dict[str, Any] = {}
        with pytest.raises(TypeError, match="limit"):
            mine.get_new_ids(limit=bad_limit, file=io.StringIO(), _state=state)
        assert not state["current"], "state touched before the check"
    with pytest.raises(KeyError):
        real.get_new_ids(sortby="size", _state={})
    with pytest.raises(KeyError, match="sortby"):
        mine.get_new_ids(sortby="size", _state={})
    # Neither looks at sortby or limit when only returning the last result.
    assert mine.get_new_ids(True, "x", "size", _state={}) == {}  # type: ignore[arg-type]
    assert real.get_new_ids(True, "x", "size", _state={}) == {}


# ---- by_type, at, at_addrs, get_leaking_objects ---------------------------------

BY_TYPE_NAMES = OWN_SHORT + OWN_LONG + [f"{HERE}.OgAnon", "NoSuchType", "no.such.Type",
                                        "complex", "builtins.complex"]


@pytest.mark.parametrize("name", BY_TYPE_NAMES)
def test_by_type(name: str, heap: list[Any], quiet_gc: None) -> None:
    theirs, ours = second_calls(lambda: ids_text(real.by_type(name)),
                                lambda: ids_text(mine.by_type(name)))
    assert ours == theirs
    expected = {
        "OgWidget": (OgWidget, AuxWidget), f"{HERE}.OgWidget": (OgWidget,),
        "hw_og_aux.OgWidget": (AuxWidget,), "OgAnon": (OgAnon,), f"{HERE}.OgAnon": (),
        "OgBare": (OgBare,), "NoSuchType": (), "complex": (),
    }
    if name in expected:
        assert set(ours.split()) == {str(id(o)) for o in heap if type(o) in expected[name]}
    assert mine.by_type(name, heap) == real.by_type(name, heap)
    if name == "complex":
        assert len(mine.by_type(name, heap)) == N_COMPLEX  # untracked, but listed


def test_by_type_builtin(quiet_gc: None) -> None:
    theirs, ours = second_calls(lambda: ids_text(real.by_type("builtins.function")),
                                lambda: ids_text(mine.by_type("builtins.function")))
    assert ours == theirs and len(ours.split()) > 1000


def test_by_type_skips_the_scan_when_the_census_finds_nothing(
        heap: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*a: Any, **k: Any) -> list[Any]:
        raise AssertionError("gc.get_objects() called")

    monkeypatch.setattr(gc, "get_objects", forbidden)
    assert mine.by_type("NoSuchType") == []
    assert mine.by_type("no.such.Type") == []
    assert mine.by_type("complex") == []  # untracked
    with pytest.raises(AssertionError):
        mine.by_type("OgWidget")


def test_at(heap: list[Any]) -> None:
    w = heap[0]
    c = heap[-1]
    atoms = {"a": 1, "b": "two"}
    s = "untracked " * 5
    assert type(c) is complex and not gc.is_tracked(atoms)
    assert mine.at(id(w)) is w and real.at(id(w)) is w
    for addr in (id(c), id(atoms), id(s), id(5000), 0, 1, -1, id(w) + 8, id(w) - 8, id(w) + 2**64,
                 2**200, -2**200):
        assert mine.at(addr) is None, addr
        assert real.at(addr) is None, addr
    # objgraph compares with ==: a float equal to the address finds it.
    assert float(id(w)) == id(w)
    assert real.at(float(id(w))) is w
    assert mine.at(float(id(w))) is w  # type: ignore[arg-type]
    for odd in ("abc", None, True, float(id(w)) + 0.5):
        assert mine.at(odd) is None and real.at(odd) is None  # type: ignore[arg-type]


def test_at_uses_the_c_walk(heap: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    w = heap[1]
    monkeypatch.setattr(gc, "get_objects", lambda *a, **k: [])
    assert mine.at(id(w)) is w
    assert real.at(id(w)) is None  # proves the patch is live


def test_at_addrs(heap: list[Any], quiet_gc: None) -> None:
    picks = [heap[3], heap[0], heap[N_WIDGET], heap[N_WIDGET + N_SLIM + 4], heap[-1 - N_COMPLEX]]
    assert type(picks[-1]) is OgTie and type(heap[-1]) is complex
    addrs = {id(o) for o in picks} | {id(heap[-1]), 1, 0, id(heap[5]) + 8}
    ours = mine.at_addrs(addrs)
    assert ids_text(ours) == ids_text(real.at_addrs(addrs))
    assert set(map(id, ours)) == {id(o) for o in picks}
    assert ids_text(mine.at_addrs(list(addrs))) == ids_text(ours)
    assert ids_text(mine.at_addrs(frozenset(addrs))) == ids_text(ours)
    assert mine.at_addrs(set()) == [] == real.at_addrs(set())


# objgraph's own get_leaking_objects() calls gc.get_referents() on the
# _asyncio module, which on CPython 3.12 before 3.12.6 double-frees a free
# list and hangs the next collection (gh-122695): it cannot be compared there.
_OBJGRAPH_TRIPS_GH122695 = pytest.mark.skipif(
    (3, 12) <= sys.version_info[:3] < (3, 12, 6),
    reason="objgraph.get_leaking_objects trips CPython gh-122695 on this version")


@_OBJGRAPH_TRIPS_GH122695
def test_get_leaking_objects_subset() -> None:
    held = OgWidget()
    holder = {"held": held}  # a tracked dict refers to `held`
    subset = [held, OgWidget(), OgSlim(2), AuxWidget()]  # the others: only here
    # objgraph's result as a string: a list of them would refer to them.
    theirs = ids_text(real.get_leaking_objects(subset))
    ours = mine.get_leaking_objects(subset)
    assert ids_text(ours) == theirs
    assert ours == subset[1:]
    gen = (o for o in subset)
    assert mine.get_leaking_objects(gen) == []  # type: ignore[arg-type]
    gen = (o for o in subset)
    assert real.get_leaking_objects(gen) == []
    assert mine.get_leaking_objects([]) == [] == real.get_leaking_objects([])
    del holder


@_OBJGRAPH_TRIPS_GH122695
def test_get_leaking_objects_whole_heap(quiet_gc: None) -> None:
    orphans = [[OgSlim(i)] for i in range(3)]
    theirs, ours = second_calls(lambda: leak_ids_text(real.get_leaking_objects()),
                                lambda: leak_ids_text(mine.get_leaking_objects()))
    assert ours == theirs
    assert len(ours.split()) > 10
    assert all(str(id(o)) not in ours.split() for o in orphans)  # held by `orphans`...
    # ...which only a running frame holds, and those do not count as referrers.
    assert str(id(orphans)) in ours.split()
    del orphans


# ---- the fast paths do not list the heap in Python ---------------------------


def test_fast_paths_do_not_call_gc_get_objects(heap: list[Any],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def forbidden(*a: Any, **k: Any) -> list[Any]:
        calls.append(1)
        raise AssertionError("gc.get_objects() called")

    monkeypatch.setattr(gc, "get_objects", forbidden)
    assert mine.typestats()["OgWidget"] == N_WIDGET + N_AUX
    assert mine.typestats(shortnames=False)["hw_og_aux.OgWidget"] == N_AUX
    assert mine.count("OgWidget") == N_WIDGET + N_AUX
    assert mine.count(f"{HERE}.OgSlim") == N_SLIM
    top = mine.most_common_types(None)
    assert ("OgWidget", N_WIDGET + N_AUX) in top
    assert len(mine.most_common_types(3)) == 3
    assert len(mine.most_common_types(-2)) == len(mine.most_common_types(None)) - 2
    assert ("hw_og_aux.OgWidget", N_AUX) in mine.most_common_types(None, shortnames=False)
    mine.show_most_common_types(file=io.StringIO())
    peaks: dict[str, int] = {}
    assert ("OgSlim", N_SLIM, N_SLIM) in mine.growth(None, peaks)
    mine.show_growth(peak_stats=peaks, file=io.StringIO())
    assert mine.at(id(heap[2])) is heap[2]
    assert calls == []
    with pytest.raises(AssertionError):
        mine.typestats(filter=_own_filter)
    assert calls == [1]


# ---- argument checking -----------------------------------------------------------


@pytest.mark.parametrize("bad", ["3", 2.5, [1], object()])
def test_bad_limit_is_a_clear_type_error(bad: Any, heap: list[Any]) -> None:
    with pytest.raises(TypeError):
        real.most_common_types(bad, heap)
    with pytest.raises(TypeError, match="most_common_types.*limit"):
        mine.most_common_types(bad)
    with pytest.raises(TypeError, match="most_common_types.*limit"):
        mine.most_common_types(bad, heap)
    with pytest.raises(TypeError, match="limit"):
        mine.show_most_common_types(bad, heap, file=io.StringIO())
    with pytest.raises(TypeError):
        real.growth(bad, {})
    peaks: dict[str, int] = {}
    with pytest.raises(TypeError, match="growth.*limit"):
        mine.growth(bad, peaks)
    assert peaks == {}, "peak_stats updated before the check"
    with pytest.raises(TypeError, match="limit"):
        mine.show_growth(bad, {}, file=io.StringIO())


def test_falsy_limits_mean_no_limit_as_in_objgraph(heap: list[Any]) -> None:
    falsy_limits: list[Any] = ["", 0, 0.0, [], False, None]
    for falsy in falsy_limits:
        assert mine.most_common_types(falsy, heap) == real.most_common_types(falsy, heap)
        assert len(mine.most_common_types(falsy, heap)) == 6


class _Index:
    def __index__(self) -> int:
        return 2


def test_index_limits(heap: list[Any]) -> None:
    assert mine.most_common_types(_Index(), heap) == real.most_common_types(_Index(), heap)
    assert len(mine.most_common_types(_Index())) == 2


# ---- the objects= path against objgraph, on generated inputs --------------------

MAKERS: list[Callable[[], object]] = [
    OgWidget, AuxWidget, OgBare, OgAnon, OgTie, lambda: OgSlim(1), list, dict,
    lambda: (1, [2]), lambda: "text", lambda: 7, set, lambda: None,
]


@settings(max_examples=60, deadline=None)
@given(picks=st.lists(st.integers(0, len(MAKERS) - 1), max_size=40),
       limit=st.one_of(st.none(), st.integers(-5, 12)),
       shortnames=st.booleans(),
       name=st.sampled_from(COUNT_NAMES + ["str", "int", "NoneType", "builtins.list"]))
def test_objects_path_matches_objgraph(picks: list[int], limit: int | None, shortnames: bool,
                                       name: str) -> None:
    objects = [MAKERS[i]() for i in picks]
    assert mine.typestats(objects, shortnames) == real.typestats(objects, shortnames)
    assert list(mine.typestats(objects, shortnames)) == list(real.typestats(objects, shortnames))
    assert (mine.most_common_types(limit, objects, shortnames)
            == real.most_common_types(limit, objects, shortnames))
    assert mine.count(name, objects) == real.count(name, objects)
    assert ids_text(mine.by_type(name, objects)) == ids_text(real.by_type(name, objects))
    kept = mine.typestats(objects, shortnames, filter=lambda o: not isinstance(o, list))
    assert kept == real.typestats(objects, shortnames, filter=lambda o: not isinstance(o, list))
    a, b = io.StringIO(), io.StringIO()
    theirs = outcome(lambda: real.show_most_common_types(limit, objects, shortnames, a))
    ours = outcome(lambda: mine.show_most_common_types(limit, objects, shortnames, b))
    assert ours == theirs  # ValueError on both when nothing is left to show
    assert b.getvalue() == a.getvalue()


def outcome(call: Callable[[], object]) -> object:
    try:
        return call()
    except Exception as e:
        return type(e)

