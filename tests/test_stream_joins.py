"""stream() of reversed querysets and of querysets whose joins repeat rows
(issue 13, points A and B): it yields exactly what list(queryset) yields, on
SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connections
from django.db.models import Count, F, Prefetch, Q
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import strategies as st

from heapwatch.django import stream
from tests.qsapp.models import Book, Item, Ordered, Review, Tag

from tests.dbtests import ALIASES, HYP, alias  # noqa: F401  (alias is a fixture)

pytestmark = pytest.mark.django_db(databases=ALIASES)


def _tiebroken(qs: Any, *more: str) -> Any:
    """qs ordered by its ordering, then the pk, then `more`: what stream()
    yields (list(qs) itself is defined only up to ties).  A reversed qs
    stays reversed, tiebreakers included."""
    order = list(qs.query.order_by) or list(qs.model._meta.ordering)
    return qs.order_by(*order, "pk", *more)


def _books(alias: str, n: int) -> None:
    tags = Tag.objects.using(alias).bulk_create([Tag(name=f"t{i}") for i in range(3)])
    books = Book.objects.using(alias).bulk_create(
        [Book(title=f"b{i % 37}", price=None if i % 11 == 0 else i % 50) for i in range(n)])
    Review.objects.using(alias).bulk_create(
        [Review(book=b, stars=(i * 7 + j) % 5) for i, b in enumerate(books) for j in range(i % 4)])
    through = Book.tags.through
    through.objects.using(alias).bulk_create(
        [through(book=b, tag=t) for i, b in enumerate(books) for t in tags[: i % 3]])


# ---------------------------------------------------------------------------
# A: reverse()


@pytest.mark.parametrize("chunk", [1, 7, 100, 1000])
@pytest.mark.parametrize("make", [
    lambda qs: qs.order_by("price").reverse(),
    lambda qs: qs.all().reverse(),
    lambda qs: qs.order_by("-title", "price").reverse(),
    lambda qs: qs.order_by(F("price").asc(nulls_last=True), "title").reverse(),
    lambda qs: qs.order_by("price").reverse().reverse(),
    lambda qs: qs.values_list("title", flat=True).order_by("title").reverse(),
])
def test_reverse_yields_list(make: Any, chunk: int, alias: str) -> None:
    """The issue's case: order_by('price').reverse() on 1,500 rows gave 1 /
    13 / 199 / 1,999 rows for chunks of 1 / 7 / 100 / 1000."""
    _books(alias, 300)
    qs = make(Book.objects.using(alias))
    expected = list(_tiebroken(qs))
    assert len(expected) == 300
    assert list(stream(qs, chunk)) == expected


def test_reverse_is_stream_backwards(alias: str) -> None:
    _books(alias, 60)
    for qs in (Book.objects.using(alias).order_by("price", "-title"),
               Book.objects.using(alias).order_by(F("price").desc(nulls_first=True))):
        forward = [b.pk for b in stream(qs, 7)]
        assert [b.pk for b in stream(qs.reverse(), 7)] == forward[::-1]


def test_reverse_meta_ordering(alias: str) -> None:
    for i in range(23):
        Ordered.objects.using(alias).create(num=i % 4, word=f"w{i % 3}")
    qs = Ordered.objects.using(alias).reverse()
    assert [o.pk for o in stream(qs, 3)] == [o.pk for o in _tiebroken(qs)]


# ---------------------------------------------------------------------------
# B: joins that repeat rows


@pytest.mark.parametrize("chunk", [1, 7, 100, 1000])
def test_repeating_join_yields_list(chunk: int, alias: str) -> None:
    """The issue's case: filter(review__stars__gt=2) gave a number of rows
    that depended on chunk_size."""
    _books(alias, 300)
    qs = Book.objects.using(alias).filter(review__stars__gt=2)
    expected = [b.pk for b in qs.order_by("pk")]
    assert len(expected) > len(set(expected))  # books with two such reviews come twice
    assert [b.pk for b in stream(qs, chunk)] == expected
    assert [b.pk for b in stream(qs.reverse(), chunk)] == expected[::-1]


@pytest.mark.parametrize("make, more", [
    (lambda qs: qs.filter(review__stars__gt=1).order_by("-price"), ()),
    (lambda qs: qs.filter(review__stars__gt=0).filter(review__stars__lt=4), ()),
    (lambda qs: qs.filter(tags__name__in=["t0", "t1"]).order_by("title"), ()),
    (lambda qs: qs.filter(Q(review__stars=3) | Q(price__lt=5)).order_by("price"), ()),
    # Two outer joins: a row's key can be (..., pk, NULL, tag pk), which a
    # row-value comparison would get wrong.
    (lambda qs: qs.filter(Q(review__stars=3) | Q(tags__name__in=["t0", "t1"])).order_by("title"),
     ()),
    (lambda qs: qs.filter(review__stars__gt=1).prefetch_related("tags"), ()),
    (lambda qs: qs.values_list("title", "review__stars").order_by("title"), ("review__pk",)),
    (lambda qs: qs.values("pk", "review__stars").order_by("-price").reverse(), ("review__pk",)),
])
@pytest.mark.parametrize("chunk", [1, 3, 50])
def test_repeating_joins_equal_list(make: Any, more: tuple[str, ...], chunk: int,
                                    alias: str) -> None:
    _books(alias, 60)
    qs = make(Book.objects.using(alias))
    expected = list(_tiebroken(qs, *more))
    got = list(stream(qs, chunk))
    if qs._fields is None:
        got, expected = [b.pk for b in got], [b.pk for b in expected]
        assert len(expected) > len(set(expected))
    assert got == expected


@pytest.mark.parametrize("make", [
    lambda qs: qs.filter(review__stars__gt=1).distinct(),
    lambda qs: qs.filter(review__stars__gt=1).distinct().order_by("-title"),
    lambda qs: qs.filter(review__stars__gt=1).annotate(n=Count("review")).order_by("n"),
])
def test_distinct_or_grouped_rows_stay_unique(make: Any, alias: str) -> None:
    _books(alias, 60)
    qs = make(Book.objects.using(alias))
    expected = [b.pk for b in _tiebroken(qs)]
    assert len(expected) == len(set(expected))
    assert [b.pk for b in stream(qs, 4)] == expected


def test_key_reads_the_filters_own_join(alias: str) -> None:
    """The joined table's pk comes from the join the filter made, not a new
    one: the page query joins as often as list(qs) does."""
    _books(alias, 40)
    qs = Book.objects.using(alias).filter(review__stars__gt=0).filter(review__stars__lt=4)
    joins = str(qs.query).count(" JOIN ")
    assert joins == 2
    with CaptureQueriesContext(connections[alias]) as ctx:
        list(stream(qs, 5))
    assert all(q["sql"].count(" JOIN ") == joins for q in ctx.captured_queries)


def test_prefetch_with_repeats(alias: str) -> None:
    _books(alias, 40)
    qs = Book.objects.using(alias).filter(review__stars__gt=1).prefetch_related(
        Prefetch("tags", to_attr="tag_list")).order_by("title")
    expected = [(b.pk, [t.pk for t in b.tag_list]) for b in _tiebroken(qs)]
    assert [(b.pk, [t.pk for t in b.tag_list]) for b in stream(qs, 4)] == expected


# ---------------------------------------------------------------------------
# property: orderings x reverse x joins x chunk sizes


_COLUMNS = ["title", "-title", "price", "-price", "pk", "-pk",
            F("price").asc(nulls_first=True), F("price").desc(nulls_last=True)]
_JOINS: dict[str, Any] = {
    "none": lambda qs, k: qs,
    "reverse fk": lambda qs, k: qs.filter(review__stars__gte=k),
    "two joins": lambda qs, k: qs.filter(review__stars__gte=k).filter(review__stars__lte=k + 2),
    "m2m": lambda qs, k: qs.filter(tags__name__in=[f"t{k % 3}", "t2"]),
    "outer": lambda qs, k: qs.filter(Q(review__stars=k) | Q(title="b1")),
    "distinct": lambda qs, k: qs.filter(review__stars__gte=k).distinct(),
}

_book_rows = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c"]), st.one_of(st.none(), st.integers(0, 3)),
              st.lists(st.integers(0, 4), max_size=3), st.sets(st.integers(0, 2))),
    max_size=12)


@HYP
@given(rows=_book_rows,
       ordering=st.lists(st.sampled_from(range(len(_COLUMNS))), max_size=3, unique=True),
       reverse=st.booleans(), join=st.sampled_from(sorted(_JOINS)), k=st.integers(0, 3),
       values=st.booleans(), chunk=st.integers(1, 7))
def test_property_stream_equals_list(alias: str, rows: Any, ordering: list[int],
                                     reverse: bool, join: str, k: int, values: bool,
                                     chunk: int) -> None:
    Review.objects.using(alias).all().delete()
    Book.objects.using(alias).all().delete()
    tags = list(Tag.objects.using(alias).order_by("name"))
    if len(tags) < 3:
        tags = Tag.objects.using(alias).bulk_create([Tag(name=f"t{i}") for i in range(3)])
    for title, price, stars, tagged in rows:
        book = Book.objects.using(alias).create(title=title, price=price)
        Review.objects.using(alias).bulk_create([Review(book=book, stars=s) for s in stars])
        book.tags.set([tags[i] for i in tagged])
    qs = _JOINS[join](Book.objects.using(alias), k)
    qs = qs.order_by(*(_COLUMNS[i] for i in ordering))
    if reverse:
        qs = qs.reverse()
    if values and join in ("reverse fk", "outer"):
        # A value of the joined row: the repeats differ, ordered by its pk.
        qs = qs.values_list("title", "review__stars")
        assert list(stream(qs, chunk)) == list(_tiebroken(qs, "review__pk"))
    elif values and join != "distinct":
        qs = qs.values_list("pk", "price")
        assert list(stream(qs, chunk)) == list(_tiebroken(qs))
    else:
        assert [b.pk for b in stream(qs, chunk)] == [b.pk for b in _tiebroken(qs)]


def test_m2m_of_another_model(alias: str) -> None:
    """Item.tags and Tag.items, the existing fixtures' many-to-many, both ways."""
    tags = [Tag.objects.using(alias).create(name=f"t{i}") for i in range(3)]
    for i in range(12):
        Item.objects.using(alias).create(num=i % 3, word="w").tags.set(tags[: i % 4])
    for qs in (Item.objects.using(alias).filter(tags__name__in=["t0", "t2"]).order_by("-num"),
               Tag.objects.using(alias).filter(items__num__gte=1).order_by("name")):
        assert [o.pk for o in stream(qs, 2)] == [o.pk for o in _tiebroken(qs)]
