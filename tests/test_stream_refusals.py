"""Querysets whose rows stream() cannot page by a key are refused before
any query, with an error that says why; their safe neighbours still stream
exactly list(qs).  (Found by a review: each of these gave wrong rows, or
never ended, before it was refused.)"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connections
from django.db.models import Count, F, Window
from django.db.models.expressions import RawSQL
from django.db.models.functions import Now, Random, RowNumber
from django.test.utils import CaptureQueriesContext

from heapwatch.django import stream
from tests.qsapp.models import Book, Review

from tests.dbtests import ALIASES, alias  # noqa: F401  (alias is a fixture)

pytestmark = pytest.mark.django_db(databases=ALIASES)


def _books(alias: str) -> None:
    books = Book.objects.using(alias).bulk_create(
        [Book(title=f"t{i % 7}", price=i % 4 or None) for i in range(40)])
    Review.objects.using(alias).bulk_create(
        [Review(book=b, stars=1 + (i + j) % 5) for i, b in enumerate(books) for j in range(i % 4)])


UNSAFE = {
    "order by Now()": (lambda qs: qs.annotate(t=Now()).order_by("t"), "current time"),
    "order by Now() expression": (lambda qs: qs.order_by(Now().desc()), "current time"),
    "order by Random()": (lambda qs: qs.annotate(r=Random()).order_by("r"), "random"),
    "order by RawSQL": (lambda qs: qs.annotate(r=RawSQL("1", ())).order_by("r", "pk"), "raw SQL"),
    "distinct, joined value": (
        lambda qs: qs.annotate(s=F("review__stars")).distinct().order_by("pk"), "'s'"),
    "aggregate, joined value": (
        lambda qs: qs.annotate(s=F("review__stars"), n=Count("id")).order_by("pk"), "'s'"),
    "window": (lambda qs: qs.annotate(rn=Window(RowNumber(), order_by="id")).order_by("pk"),
               "window"),
}


@pytest.mark.parametrize("name", list(UNSAFE))
def test_unsafe_shapes_are_refused_before_any_query(alias: str, name: str) -> None:
    _books(alias)
    make, says = UNSAFE[name]
    qs = make(Book.objects.using(alias).all())
    with CaptureQueriesContext(connections[alias]) as ctx, pytest.raises(ValueError) as info:
        stream(qs, 3)
    assert says in str(info.value)
    assert ctx.captured_queries == []


def test_extra_tables_are_refused(alias: str) -> None:
    _books(alias)
    table, book = Review._meta.db_table, Book._meta.db_table
    qs = Book.objects.using(alias).extra(
        tables=[table], where=[f"{table}.book_id = {book}.id"]).order_by("pk")
    with pytest.raises(ValueError, match="extra\\(tables"):
        stream(qs, 3)


SAFE = {
    "an aggregate alone": lambda qs: qs.annotate(n=Count("review")).order_by("pk"),
    "distinct join, no annotation":
        lambda qs: qs.filter(review__stars__gt=2).distinct().order_by("-price", "pk"),
    "Now() not ordered by": lambda qs: qs.annotate(t=Now()).order_by("price", "pk"),
}


@pytest.mark.parametrize("name", list(SAFE))
@pytest.mark.parametrize("chunk", [1, 3, 7, 100])
def test_safe_neighbours_still_stream(alias: str, name: str, chunk: int) -> None:
    _books(alias)
    qs = SAFE[name](Book.objects.using(alias).all())
    expected: list[Any] = [b.pk for b in qs]
    assert [b.pk for b in stream(qs, chunk)] == expected
