"""stream(): keyset-paged iteration equals list(queryset), on SQLite and on a
real PostgreSQL server (tests/pgserver.py) when one is installed."""

from __future__ import annotations

import gc
import uuid
from typing import Any

import pytest
from django.db.models import Count, F, Prefetch
from django.db.models import Window
from django.db.models.functions import Lower, RowNumber
from django.test.utils import CaptureQueriesContext
from django.db import connections
from hypothesis import given
from hypothesis import strategies as st

import heapwatch
from heapwatch.django import stream
from tests.qsapp.models import Item, Ordered, Pair, StrItem, Tag, UuidItem

from tests.dbtests import ALIASES, HYP, alias  # noqa: F401  (alias is a fixture)

pytestmark = pytest.mark.django_db(databases=ALIASES)


def _tiebroken(qs: Any) -> Any:
    """qs with the pk appended to its ordering: list(qs) itself is defined
    only up to ties, and stream() breaks them by pk."""
    order = list(qs.query.order_by) or list(qs.model._meta.ordering)
    return qs.order_by(*order, "pk")


def _fill_items(alias: str, n: int = 23) -> list[Item]:
    tags = [Tag.objects.using(alias).create(name=f"t{i % 3}") for i in range(3)]
    items = []
    for i in range(n):
        items.append(Item.objects.using(alias).create(
            num=i % 4, word=f"w{(i * 7) % 5}", maybe=None if i % 3 == 0 else i % 5,
            tag=None if i % 4 == 0 else tags[i % 3]))
    for it in items[::2]:
        it.tags.set(tags[: 1 + it.pk % 3])
    return items


# ---------------------------------------------------------------------------
# errors before any query


@pytest.mark.parametrize("bad", [0, -1, True, False, 1.5, "10", None])
def test_bad_chunk_size(bad: Any, alias: str) -> None:
    qs = Item.objects.using(alias).all()
    exc = ValueError if isinstance(bad, int) and not isinstance(bad, bool) else TypeError
    with CaptureQueriesContext(connections[alias]) as ctx, pytest.raises(exc):
        stream(qs, bad)
    assert len(ctx.captured_queries) == 0


@pytest.mark.parametrize("make, exc", [
    (lambda qs: qs[:5], TypeError),
    (lambda qs: qs[2:], TypeError),
    (lambda qs: qs.values("num").distinct(), ValueError),
    (lambda qs: qs.order_by("?"), ValueError),
    (lambda qs: qs.order_by("tags__name"), ValueError),
    (lambda qs: qs.order_by(Window(RowNumber(), order_by="word").desc()), ValueError),
    (lambda qs: qs.union(qs), ValueError),
    (lambda qs: qs.values("num").annotate(n=Count("pk")), ValueError),
])
def test_unpageable_querysets_raise_before_querying(make: Any, exc: type, alias: str) -> None:
    qs = make(Item.objects.using(alias).all())
    with CaptureQueriesContext(connections[alias]) as ctx, pytest.raises(exc):
        stream(qs, 3)
    assert len(ctx.captured_queries) == 0


def test_distinct_fields_rejected_on_pg_shape(alias: str) -> None:
    with pytest.raises(ValueError, match="distinct"):
        stream(Item.objects.using(alias).order_by("num").distinct("num"), 3)


# ---------------------------------------------------------------------------
# equals list(queryset)


@pytest.mark.parametrize("chunk", [1, 2, 5, 1000])
@pytest.mark.parametrize("make", [
    lambda qs: qs,
    lambda qs: qs.filter(num__gte=1),
    lambda qs: qs.order_by("num"),
    lambda qs: qs.order_by("-num", "word"),
    lambda qs: qs.order_by("maybe"),
    lambda qs: qs.order_by("-maybe", "-pk"),
    lambda qs: qs.order_by(F("maybe").asc(nulls_last=True), "word"),
    lambda qs: qs.order_by(F("maybe").desc(nulls_first=True)),
    lambda qs: qs.order_by("tag__name", "-word"),
    lambda qs: qs.order_by("tag"),
    lambda qs: qs.select_related("tag").order_by("-tag__name"),
    lambda qs: qs.only("word").order_by("num"),
    lambda qs: qs.defer("num", "maybe").order_by("-num"),
    lambda qs: qs.annotate(lw=Lower("word")).order_by("lw"),
    lambda qs: qs.order_by(Lower("word").desc(), "-num"),
    lambda qs: qs.order_by(Lower("word")).reverse(),
    lambda qs: qs.annotate(n=Count("tags")).order_by("-n", "word"),
    lambda qs: qs.distinct().order_by("word"),
])
def test_instances_equal_list(make: Any, chunk: int, alias: str) -> None:
    _fill_items(alias)
    qs = make(Item.objects.using(alias).all())
    expected = list(_tiebroken(qs))
    got = list(stream(qs, chunk))
    assert [o.pk for o in got] == [o.pk for o in expected]
    assert [o.__dict__.keys() for o in got] == [o.__dict__.keys() for o in expected]
    for a, b in zip(got, expected):
        assert {k: v for k, v in a.__dict__.items() if k != "_state"} == \
            {k: v for k, v in b.__dict__.items() if k != "_state"}


@pytest.mark.parametrize("make", [
    lambda qs: qs.values("word"),
    lambda qs: qs.values("word", "maybe").order_by("maybe"),
    lambda qs: qs.values().order_by("-num"),
    lambda qs: qs.values_list("word", "tag__name").order_by("tag__name"),
    lambda qs: qs.values_list("num", flat=True).order_by("-word"),
    lambda qs: qs.values_list("num", "word", named=True).order_by("word"),
    lambda qs: qs.annotate(lw=Lower("word")).values_list("lw", "num").order_by("lw"),
    lambda qs: qs.values_list("pk", flat=True),
])
@pytest.mark.parametrize("chunk", [1, 3, 100])
def test_values_rows_equal_list(make: Any, chunk: int, alias: str) -> None:
    _fill_items(alias)
    qs = make(Item.objects.using(alias).all())
    expected = list(_tiebroken(qs))
    got = list(stream(qs, chunk))
    assert got == expected
    assert [type(r) for r in got] == [type(r) for r in expected]
    if expected and hasattr(expected[0], "_fields"):
        assert got[0]._fields == expected[0]._fields


def test_empty_queryset(alias: str) -> None:
    assert list(stream(Item.objects.using(alias).all(), 3)) == []
    assert list(stream(Item.objects.using(alias).values_list("pk", flat=True), 3)) == []


def test_meta_ordering_gets_pk_tiebreaker(alias: str) -> None:
    for i in range(17):
        Ordered.objects.using(alias).create(num=i % 3, word=f"w{i % 2}")
    qs = Ordered.objects.using(alias).all()
    assert [o.pk for o in stream(qs, 2)] == [o.pk for o in _tiebroken(qs)]
    qs = Ordered.objects.using(alias).order_by()  # unordered: by pk
    assert [o.pk for o in stream(qs, 4)] == sorted(o.pk for o in qs)


def test_prefetch_related_per_chunk(alias: str) -> None:
    _fill_items(alias)
    qs = Item.objects.using(alias).prefetch_related(
        "tags", Prefetch("tag__items", to_attr="siblings")).order_by("word", "pk")
    expected = [(o.pk, [t.pk for t in o.tags.all()]) for o in qs]
    with CaptureQueriesContext(connections[alias]) as ctx:
        got = []
        for o in stream(qs, 5):
            got.append((o.pk, [t.pk for t in o.tags.all()]))
            if o.tag is not None:
                assert isinstance(o.tag.siblings, list)
    assert got == expected
    # per chunk: the rows, the tags, the FK targets, their items; 5 chunks of 5
    assert len(ctx.captured_queries) <= 5 * 4 + 1


def test_str_and_uuid_pks(alias: str) -> None:
    for i in range(11):
        StrItem.objects.using(alias).create(code=f"c{(i * 7) % 11:02d}", num=i % 2, word="x")
        UuidItem.objects.using(alias).create(num=i % 3, word=f"w{i % 2}")
    for qs in (StrItem.objects.using(alias).all(), StrItem.objects.using(alias).order_by("-num"),
               UuidItem.objects.using(alias).order_by("num", "-word")):
        assert [o.pk for o in stream(qs, 3)] == [o.pk for o in _tiebroken(qs)]
    assert isinstance(next(stream(UuidItem.objects.using(alias).all(), 2)).pk, uuid.UUID)


@pytest.mark.skipif(Pair is None, reason="composite primary keys need Django 5.2")
def test_composite_pk(alias: str) -> None:
    for i in range(13):
        Pair.objects.using(alias).create(left=i % 4, right=f"r{i}", num=i % 3)
    for qs in (Pair.objects.using(alias).all(), Pair.objects.using(alias).order_by("-num"),
               Pair.objects.using(alias).order_by("-pk"),
               Pair.objects.using(alias).values_list("num", flat=True).order_by("num")):
        assert list(stream(qs, 2)) == list(_tiebroken(qs))


# ---------------------------------------------------------------------------
# property tests


_ORDER_FIELDS = ["num", "word", "maybe", "pk"]


@st.composite
def _orderings(draw: Any) -> list[str]:
    cols = draw(st.lists(st.sampled_from(_ORDER_FIELDS), min_size=0, max_size=3, unique=True))
    return [("-" if draw(st.booleans()) else "") + c for c in cols]


_rows = st.lists(st.tuples(st.integers(0, 3), st.sampled_from(["a", "b", "B", "c"]),
                           st.one_of(st.none(), st.integers(-2, 2))), max_size=25)
_MODELS = {"int": Item, "uuid": UuidItem, "str": StrItem}


def _create(model: Any, alias: str, rows: list[tuple[int, str, int | None]], start: int = 0) -> list[Any]:
    made = []
    for i, (num, word, maybe) in enumerate(rows, start):
        kw: dict[str, Any] = {"num": num, "word": word, "maybe": maybe}
        if model is StrItem:
            kw["code"] = f"k{(i * 37) % 1000:04d}-{i}"
        elif model is UuidItem:  # scattered but the same on every replay
            kw["id"] = uuid.UUID(int=(i * 0x9E3779B97F4A7C15 + 12345) % (1 << 128))
        made.append(model.objects.using(alias).create(**kw))
    return made


@HYP
@given(rows=_rows, ordering=_orderings(), kind=st.sampled_from(sorted(_MODELS)),
       chunk=st.integers(1, 7), values=st.booleans())
def test_property_stream_equals_list(alias: str, rows: Any, ordering: list[str], kind: str,
                                     chunk: int, values: bool) -> None:
    model = _MODELS[kind]
    model.objects.using(alias).all().delete()
    _create(model, alias, rows)
    qs = model.objects.using(alias).order_by(*ordering)
    if values:
        qs = qs.values_list("word", "maybe")
        assert list(stream(qs, chunk)) == list(_tiebroken(qs))
    else:
        assert [o.pk for o in stream(qs, chunk)] == [o.pk for o in _tiebroken(qs)]


@HYP
@given(rows=_rows, ordering=_orderings(), kind=st.sampled_from(sorted(_MODELS)),
       chunk=st.integers(1, 7), data=st.data())
def test_property_exactly_once_under_writes(alias: str, rows: Any, ordering: list[str],
                                            kind: str, chunk: int, data: Any) -> None:
    model = _MODELS[kind]
    model.objects.using(alias).all().delete()
    _create(model, alias, rows)
    qs = model.objects.using(alias).order_by(*ordering)
    before = {o.pk for o in qs}
    deleted: set[Any] = set()
    seen: list[Any] = []
    serial = 1000
    for i, obj in enumerate(stream(qs, chunk)):
        seen.append(obj.pk)
        if (i + 1) % chunk == 0:  # between chunks: insert some, delete some
            new = data.draw(_rows.map(lambda r: r[:3]), label="insert")
            _create(model, alias, new, serial)
            serial += len(new)
            live = sorted(model.objects.using(alias).values_list("pk", flat=True))
            # Draw positions, not pks: autoincrement pks differ from one run
            # of an example to the next (sequences are not reset), but their
            # order does not, and hypothesis replays examples.
            picks = data.draw(st.lists(st.integers(0, 1 << 16), max_size=2), label="delete")
            if live:
                victims = [live[p % len(live)] for p in picks]
                model.objects.using(alias).filter(pk__in=victims).delete()
                deleted.update(victims)
    assert len(seen) == len(set(seen)), "a row was yielded twice"
    assert (before - deleted) <= set(seen), "a row present throughout was missed"


# ---------------------------------------------------------------------------
# memory


def test_stream_holds_one_chunk(alias: str) -> None:
    tag = Tag.objects.using(alias).create(name="t")
    Item.objects.using(alias).bulk_create(
        [Item(num=i % 7, word="w", tag=tag) for i in range(5000)], batch_size=500)
    gc.collect()
    base = heapwatch.census()["Item"].count if "Item" in heapwatch.census() else 0
    peak = 0
    n = 0
    for obj in stream(Item.objects.using(alias).select_related("tag").order_by("num"), 200):
        n += 1
        if n % 50 == 0:
            c = heapwatch.census()
            peak = max(peak, (c["Item"].count if "Item" in c else 0) - base)
        del obj
    assert n == 5000
    assert 0 < peak <= 200 + 5


def test_stream_builds_rows_one_at_a_time(alias: str) -> None:
    """Without prefetch_related, instances are built as they are consumed:
    only a few are alive at a time, not the whole chunk."""
    Item.objects.using(alias).bulk_create([Item(num=i, word="w") for i in range(500)])
    gc.collect()
    peak = 0
    n = 0
    for obj in stream(Item.objects.using(alias).order_by("pk"), 250):
        n += 1
        if n % 25 == 0:
            c = heapwatch.census()
            peak = max(peak, c["Item"].count if "Item" in c else 0)
        del obj
    assert n == 500
    assert 0 < peak <= 5


# ---------------------------------------------------------------------------
# the page query


def test_row_value_comparison_when_equivalent(alias: str) -> None:
    """NOT NULL keys in one direction: `(a, b, pk) > (x, y, z)` on backends
    with row values (PostgreSQL, Django >= 5.2); the expanded OR form
    otherwise (SQLite, nullable or mixed-direction keys)."""
    _fill_items(alias, 9)
    import importlib.util

    row_values = (importlib.util.find_spec("django.db.models.fields.tuple_lookups") is not None
                  and bool(getattr(connections[alias].features, "supports_tuple_lookups", False)))
    items = Item.objects.using(alias)
    for qs, same_direction in [
        (items.order_by("num", "word"), True),           # pk appended ascending
        (items.order_by("-num", "-word", "-pk"), True),
        (items.order_by("-num", "-word"), False),        # pk appended ascending
        (items.order_by("num", "-word"), False),
        (items.order_by("maybe", "num"), False),         # nullable
    ]:
        with CaptureQueriesContext(connections[alias]) as ctx:
            got = list(stream(qs, 2))
        assert got == list(_tiebroken(qs))
        pages = [q["sql"] for q in ctx.captured_queries[1:]]
        assert pages
        used = [") > (" in s or ") < (" in s for s in pages]
        assert used == [same_direction and row_values] * len(pages), pages[0]


def test_boolean_key_values_change_the_sql(alias: str) -> None:
    """Django compiles `flag = True` as `flag` and `flag = False` as `NOT
    flag`: a page query compiled for one must not be reused for the other."""
    from django.db.models import BooleanField, ExpressionWrapper, Q

    _fill_items(alias, 12)
    big = ExpressionWrapper(Q(num__gte=2), output_field=BooleanField())
    for order in (["big", "pk"], ["-big", "word"], ["big", "-num"]):
        qs = Item.objects.using(alias).annotate(big=big).order_by(*order)
        for chunk in (1, 2, 5):
            assert [(i.pk, i.big) for i in stream(qs, chunk)] == [
                (i.pk, i.big) for i in _tiebroken(qs)], (order, chunk)
