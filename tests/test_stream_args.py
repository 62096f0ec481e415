"""stream()'s arguments (issue 13, point E): a QuerySet, and a chunk_size the
database can take, checked before any query."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from heapwatch.django import stream
from heapwatch.django._query import max_query_params
from tests.qsapp.models import Item, Tag

from tests.dbtests import ALIASES, alias  # noqa: F401  (alias is a fixture)

pytestmark = pytest.mark.django_db(databases=ALIASES)


@pytest.mark.parametrize("make", [
    lambda: Item.objects,
    lambda: list(Item.objects.all()),
    lambda: Item.objects.raw("SELECT * FROM qsapp_item"),
    lambda: None,
    lambda: "Item",
])
def test_not_a_queryset(make: Any) -> None:
    arg = make()
    with CaptureQueriesContext(connections["default"]) as ctx, \
            pytest.raises(TypeError, match="stream\\(\\) needs a QuerySet") as info:
        stream(arg, 10)
    assert ctx.captured_queries == []
    if arg is Item.objects:
        assert "Model.objects.all()" in str(info.value)


def test_chunk_size_beyond_fetchmany(alias: str) -> None:
    with pytest.raises(ValueError, match="fetchmany"):
        stream(Item.objects.using(alias).all(), 2**31)
    assert list(stream(Item.objects.using(alias).all(), 2**31 - 1)) == []


def _items(alias: str, n: int) -> None:
    tags = Tag.objects.using(alias).bulk_create([Tag(name=f"t{i}") for i in range(2)])
    items = Item.objects.using(alias).bulk_create(
        [Item(num=i, word="w", tag=tags[i % 2]) for i in range(n)])
    Item.tags.through.objects.using(alias).bulk_create(
        [Item.tags.through(item=it, tag=tags[0]) for it in items])


def test_big_chunks_without_prefetch_need_no_parameters(alias: str) -> None:
    """The chunk size is the LIMIT, written into the SQL: no parameter limit."""
    _items(alias, 30)
    qs = Item.objects.using(alias).order_by("-num")
    assert [i.pk for i in stream(qs, 2**31 - 1)] == [i.pk for i in qs.order_by("-num", "pk")]


def test_prefetch_chunk_within_the_real_limit(alias: str) -> None:
    """prefetch_related lists a chunk's keys in one query: chunk_size may not
    exceed the parameters one query takes (SQLite: the library's limit, not
    the 999 Django before 6.0 reports; PostgreSQL with client-side binding:
    none)."""
    limit = max_query_params(connections[alias])
    qs = Item.objects.using(alias).prefetch_related("tags")
    if limit is None:
        assert connections[alias].vendor == "postgresql"
        _items(alias, 30)
        assert len(list(stream(qs, 10**7))) == 30
        return
    assert limit > 999
    with CaptureQueriesContext(connections[alias]) as ctx, \
            pytest.raises(ValueError, match=f"at most {limit} parameters") as info:
        stream(qs, limit + 1)
    assert ctx.captured_queries == []
    assert f"chunk_size <= {limit}" in str(info.value)
    _items(alias, 1200)
    got = [(i.pk, [t.pk for t in i.tags.all()]) for i in stream(qs, 1100)]
    assert got == [(i.pk, [t.pk for t in i.tags.all()]) for i in qs.order_by("pk")]


def _lower_sqlite_limit(n: int) -> int:
    """Lower SQLite's variable limit for the test connection, as
    Connection.setlimit() allows; returns the old one."""
    connection = connections["default"]
    connection.ensure_connection()
    return int(connection.connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, n))


def test_prefetch_chunk_follows_a_lowered_limit() -> None:
    _items("default", 60)
    qs = Item.objects.prefetch_related("tags").order_by("num")
    expected = [i.pk for i in qs]
    was = _lower_sqlite_limit(50)
    try:
        with pytest.raises(ValueError, match="at most 50 parameters"):
            stream(qs, 51)
        assert [i.pk for i in stream(qs, 50)] == expected
    finally:
        _lower_sqlite_limit(was)
