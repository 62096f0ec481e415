"""stream() on shapes of querysets met in Wagtail's models (issue 13's
real-world run): keys read past descriptors, orderings by a foreign key's
column or its model's Meta.ordering, Meta.ordering by an expression, joins
that do not name the table they read (django-taggit), and iterable classes
of other packages (Wagtail's .specific())."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connections
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.db.models.query import ModelIterable
from django.db.models.sql.datastructures import Join
from django.test.utils import CaptureQueriesContext

from heapwatch.django import stream
from tests.qsapp.models import Article, Book, Host, Review, Section, Tag

from tests.dbtests import ALIASES, alias  # noqa: F401  (alias is a fixture)

pytestmark = pytest.mark.django_db(databases=ALIASES)


def _state(obj: Any) -> dict[str, Any]:
    return {k: v for k, v in obj.__dict__.items() if k != "_state"}


def _articles(alias: str) -> None:
    sections = Section.objects.using(alias).bulk_create(
        [Section(name=f"s{i % 3}", rank=None if i % 4 == 0 else i % 2) for i in range(6)])
    hosts = Host.objects.using(alias).bulk_create(
        [Host(hostname=f"H{i % 4}.example", site_name="" if i % 2 else f"site {i % 3}")
         for i in range(6)])
    Article.objects.using(alias).bulk_create(
        [Article(section=None if i % 5 == 0 else sections[i % 6],
                 host=None if i % 7 == 0 else hosts[i % 6],
                 title=f"t{i % 9}", attachment=f"a/{i % 4}.txt" if i % 3 else "")
         for i in range(60)])


def _same(qs: Any, chunk: int) -> None:
    """stream(qs) gives list(qs) with the primary key appended to its
    ordering (list(qs) is defined only up to ties; stream() breaks them by
    pk; order_by() keeps a reverse()), instance for instance, __dict__
    included."""
    ordering = [*qs.query.order_by] or [*qs.model._meta.ordering]
    expected = list(qs.order_by(*ordering, "pk"))
    got = list(stream(qs, chunk))
    assert [o.pk for o in got] == [o.pk for o in expected]
    assert [_state(o) for o in got] == [_state(o) for o in expected]


@pytest.mark.parametrize("chunk", [1, 4, 100])
def test_key_read_past_a_file_descriptor(chunk: int, alias: str) -> None:
    """Keys are read from __dict__: reading `attachment` through its
    FileDescriptor left a FieldFile in the instance where list(qs) has the
    loaded string (Wagtail's Document.file, UserProfile.avatar)."""
    _articles(alias)
    for qs in [Article.objects.using(alias).order_by("attachment"),
               Article.objects.using(alias).order_by("-attachment", "title").reverse()]:
        _same(qs, chunk)
        assert all(type(o.__dict__["attachment"]) is str for o in stream(qs, chunk))


@pytest.mark.parametrize("chunk", [1, 4, 100])
@pytest.mark.parametrize("make", [
    # The column: an attname or F() never sorts by Section.Meta.ordering.
    lambda qs: qs.order_by("section_id"),
    lambda qs: qs.order_by("-section_id", "title"),
    lambda qs: qs.order_by(F("section").asc(nulls_first=True)),
    # The relation itself sorts by Section.Meta.ordering ("-rank",
    # Lower("name")), "-section" flipping both.
    lambda qs: qs.order_by("section"),
    lambda qs: qs.order_by("-section", "title"),
    lambda qs: qs.order_by("section").reverse(),
    lambda qs: qs.select_related("section").order_by("-section"),
])
def test_relation_orderings(make: Any, chunk: int, alias: str) -> None:
    """order_by("section_id") was refused as if it sorted by Section's
    Meta.ordering (Wagtail's order_by("locale_id")); order_by("section"),
    which does, was refused too."""
    _articles(alias)
    _same(make(Article.objects.using(alias).all()), chunk)


@pytest.mark.parametrize("chunk", [1, 2, 100])
@pytest.mark.parametrize("make", [
    lambda qs: qs,
    lambda qs: qs.reverse(),
    lambda qs: qs.order_by(Lower("hostname").desc(), "site_name"),
    lambda qs: qs.filter(article__title__in=["t1", "t2"]),
    lambda qs: qs.values_list("hostname", flat=True),
])
def test_expression_orderings(make: Any, chunk: int, alias: str) -> None:
    """Host.objects.all() orders by an expression, as Wagtail's Site.objects
    does: it was refused ("annotate it and order by the name")."""
    _articles(alias)
    qs = make(Host.objects.using(alias).all())
    got = list(stream(qs, chunk))
    ordering = [*qs.query.order_by] or [*Host._meta.ordering]
    more = ["article__pk"] if "article" in str(qs.query) else []
    assert got == list(qs.order_by(*ordering, "pk", *more))


class _Opaque:
    """A join field that names neither the table it joins nor its model:
    django-taggit joins its through table with the tag manager's own
    relation, whose model and related_model are the tag and tagged models."""

    def __init__(self, field: Any) -> None:
        self._field = field
        self.model = self.related_model = Tag

    def __getattr__(self, name: str) -> Any:
        return getattr(self._field, name)


def test_join_that_does_not_name_its_model(alias: str) -> None:
    """Image.objects.filter(tags__name="red") (django-taggit) was refused:
    "cannot tell apart the rows the join of 'taggit_taggeditem' repeats".
    The model registry tells which model owns the joined table."""
    books = Book.objects.using(alias).bulk_create([Book(title=f"b{i}") for i in range(8)])
    Review.objects.using(alias).bulk_create(
        [Review(book=b, stars=j) for i, b in enumerate(books) for j in range(i % 4)])
    qs = Book.objects.using(alias).filter(review__stars__gte=1).order_by("title")
    expected = list(qs.order_by("title", "pk", "review__pk"))
    assert len(expected) > len({b.pk for b in expected})
    for join in qs.query.alias_map.values():
        if isinstance(join, Join) and join.table_name == Review._meta.db_table:
            join.join_field = _Opaque(join.join_field)
    for chunk in (1, 3, 100):
        assert list(stream(qs, chunk)) == expected


class _Requery(ModelIterable):
    """Runs its own queries from the queryset it is given, as Wagtail's
    SpecificIterable does: the primary keys in order, then the rows by pk."""

    def __iter__(self) -> Any:
        qs = self.queryset
        pks = list(qs.values_list("pk", flat=True))
        found = qs.model._base_manager.using(qs.db).in_bulk(pks)
        for pk in pks:
            obj = found[pk]
            obj.via = "requery"
            yield obj


@pytest.mark.parametrize("chunk", [1, 3, 100])
@pytest.mark.parametrize("make", [
    lambda qs: qs.order_by("title"),
    lambda qs: qs.order_by("-price", "title").reverse(),
    lambda qs: qs.filter(review__stars__gte=1).order_by("-title"),
    lambda qs: qs.filter(Q(price__isnull=True) | Q(price__gt=3)),
])
def test_iterable_class_of_another_package(make: Any, chunk: int, alias: str) -> None:
    """stream(Page.objects.specific()) raised "does not know the iterable
    SpecificIterable" -- and only on the first next(), not when called.
    Such a class gets, for each chunk, the queryset of the rows from after
    the previous key through the chunk's last key."""
    books = Book.objects.using(alias).bulk_create(
        [Book(title=f"b{i % 5}", price=None if i % 4 == 0 else i % 6) for i in range(23)])
    Review.objects.using(alias).bulk_create(
        [Review(book=b, stars=j) for i, b in enumerate(books) for j in range(i % 3)])
    qs = make(Book.objects.using(alias).all())
    qs._iterable_class = _Requery
    more = ["review__pk"] if "review" in str(qs.query) else []
    expected = list(qs.order_by(*qs.query.order_by, "pk", *more))
    got = list(stream(qs, chunk))
    assert [(o.pk, o.via) for o in got] == [(o.pk, o.via) for o in expected]
    with CaptureQueriesContext(connections[alias]) as ctx:
        n = sum(1 for _ in stream(qs, chunk))
    # Per chunk: the keys, then the range's pks and rows (_Requery's own).
    chunks = n // chunk + 1
    assert len(ctx.captured_queries) <= 3 * chunks


def test_iterable_class_of_another_package_distinct(alias: str) -> None:
    """A ModelIterable subclass yields instances: distinct() is paged as for
    instances, not refused as for values() rows."""
    books = Book.objects.using(alias).bulk_create([Book(title=f"b{i % 3}") for i in range(9)])
    Review.objects.using(alias).bulk_create(
        [Review(book=b, stars=j) for i, b in enumerate(books) for j in range(i % 3)])
    qs = Book.objects.using(alias).filter(review__stars__gte=0).distinct().order_by("-title")
    qs._iterable_class = _Requery
    expected = [o.pk for o in qs.order_by("-title", "pk")]
    assert len(expected) == 6
    for chunk in (1, 2, 100):
        assert [o.pk for o in stream(qs, chunk)] == expected
