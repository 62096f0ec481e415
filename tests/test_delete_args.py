"""delete_in_chunks()'s arguments (issue 13, point E): a QuerySet, a
chunk_size the database can take, and progress: None, a bool or a callable
(done, total); checked before any query."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from heapwatch.django import delete_in_chunks
from heapwatch.django._query import max_query_params
from tests.qsapp.models import Child, Match, Parent, Team

from tests.dbtests import ALIASES, alias  # noqa: F401  (alias is a fixture)

pytestmark = pytest.mark.django_db(databases=ALIASES)


@pytest.mark.parametrize("make", [
    lambda: Parent.objects,
    lambda: list(Parent.objects.all()),
    lambda: Parent.objects.raw("SELECT * FROM qsapp_parent"),
    lambda: None,
])
def test_not_a_queryset(make: Any) -> None:
    arg = make()
    with CaptureQueriesContext(connections["default"]) as ctx, \
            pytest.raises(TypeError, match="delete_in_chunks\\(\\) needs a QuerySet"):
        delete_in_chunks(arg, 10)
    assert ctx.captured_queries == []


@pytest.mark.parametrize("bad", [1, 0, "yes", 0.5, [], object()])
def test_bad_progress(bad: Any, alias: str) -> None:
    with CaptureQueriesContext(connections[alias]) as ctx, \
            pytest.raises(TypeError, match="progress must be"):
        delete_in_chunks(Parent.objects.using(alias).all(), 10, progress=bad)
    assert ctx.captured_queries == []


def test_progress_callable(alias: str) -> None:
    parents = Parent.objects.using(alias).bulk_create([Parent(name=f"p{i}") for i in range(25)])
    Child.objects.using(alias).bulk_create([Child(parent=p) for p in parents])
    calls: list[tuple[int, int]] = []
    total, counts = delete_in_chunks(Parent.objects.using(alias).all(), 10,
                                     progress=lambda done, total: calls.append((done, total)))
    assert calls == [(10, 25), (20, 25), (25, 25)]  # the queryset's rows, not the cascade's
    assert total == 50 and counts == {"qsapp.Parent": 25, "qsapp.Child": 25}


@pytest.mark.parametrize("progress", [False, None])
def test_progress_off(progress: Any, alias: str, capsys: pytest.CaptureFixture[str]) -> None:
    """None: a bar only on a terminal (pytest's stderr is not one)."""
    Parent.objects.using(alias).bulk_create([Parent(name=f"p{i}") for i in range(5)])
    with CaptureQueriesContext(connections[alias]) as ctx:
        delete_in_chunks(Parent.objects.using(alias).all(), 2, progress=progress)
    assert capsys.readouterr().err == ""
    assert not any("COUNT(" in q["sql"] for q in ctx.captured_queries)


def test_chunk_size_beyond_the_database(alias: str) -> None:
    """A chunk's primary keys go into IN lists: chunk_size x parameters per
    key may not exceed what one query takes (SQLite: the library's limit,
    not the 999 Django before 6.0 reports; PostgreSQL with client-side
    binding: no limit).  Team's chunks also delete Match rows by
    `home IN (...) OR away IN (...)`: two parameters per key."""
    limit = max_query_params(connections[alias])
    teams = Team.objects.using(alias).bulk_create([Team(name=f"t{i}") for i in range(2100)])
    Match.objects.using(alias).bulk_create(
        [Match(home=teams[i], away=teams[-1 - i]) for i in range(0, 2100, 3)])
    qs = Team.objects.using(alias).all()
    with pytest.raises(ValueError, match="fetchmany"):
        delete_in_chunks(qs, 2**31)
    if limit is not None:
        for model_qs, per_key in ((Parent.objects.using(alias).all(), 1), (qs, 2)):
            with CaptureQueriesContext(connections[alias]) as ctx, \
                    pytest.raises(ValueError, match=f"at most {limit} parameters") as info:
                delete_in_chunks(model_qs, limit // per_key + 1)
            assert ctx.captured_queries == []
            assert f"chunk_size <= {limit // per_key}" in str(info.value)
        assert limit // 2 >= 2100  # beyond Django 5.2's 999, the library's own limit
    assert delete_in_chunks(qs, 2100, progress=False) == (
        2100 + 700, {"qsapp.Team": 2100, "qsapp.Match": 700})


def _lower_sqlite_limit(n: int) -> int:
    connection = connections["default"]
    connection.ensure_connection()
    return int(connection.connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, n))


def test_chunk_size_follows_a_lowered_limit() -> None:
    """SQLite's limit lowered with Connection.setlimit(): the check follows."""
    teams = Team.objects.bulk_create([Team(name=f"t{i}") for i in range(120)])
    Match.objects.bulk_create([Match(home=teams[i], away=teams[i + 1]) for i in range(119)])
    was = _lower_sqlite_limit(100)
    try:
        with pytest.raises(ValueError, match="chunk_size <= 50"):
            delete_in_chunks(Team.objects.all(), 51)
        assert delete_in_chunks(Team.objects.all(), 50, progress=False) == (
            239, {"qsapp.Team": 120, "qsapp.Match": 119})
    finally:
        _lower_sqlite_limit(was)
