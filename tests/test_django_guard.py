"""The big-queryset guard: fires at N+1 rows and not at N, names the line
that materialized the queryset, can raise, never changes results, and can
be switched off completely."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.db.models.query import QuerySet

from heapwatch.django import guard
from tests.djangoapp.models import Author, Book

N = 50


@pytest.fixture
def books(db: Any, settings: Any) -> None:
    settings.HEAPWATCH = {"QUERYSET_ROWS_WARN": N}
    a = Author.objects.create(name="a")
    Book.objects.bulk_create(Book(title=f"t{i}", author=a) for i in range(N))


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "heapwatch.queryset"]


def test_no_warning_at_n_rows(books: None, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="heapwatch.queryset"):
        rows = list(Book.objects.all())
    assert len(rows) == N
    assert warnings_of(caplog) == []


def test_warning_at_n_plus_one_names_the_line(books: None, caplog: pytest.LogCaptureFixture) -> None:
    Book.objects.create(title="one more", author=Author.objects.get())
    with caplog.at_level(logging.WARNING, logger="heapwatch.queryset"):
        rows = [b.title for b in Book.objects.all()]; line = __import__("sys")._getframe().f_lineno  # noqa: E702
    assert len(rows) == N + 1
    [rec] = warnings_of(caplog)
    info = rec.heapwatch_queryset  # type: ignore[attr-defined]
    assert info["model"] == "djangoapp.Book"
    assert info["rows"] == N + 1
    assert info["location"] == f"{__file__}:{line}"
    assert info["bytes_estimate"] > (N + 1) * 100
    msg = rec.getMessage()
    assert "djangoapp.Book" in msg and f"{N + 1} rows" in msg
    assert "heapwatch.django.stream(qs)" in msg and ".iterator()" in msg


def test_view_line_through_the_test_client(books: None, client: Any,
                                           caplog: pytest.LogCaptureFixture) -> None:
    import inspect

    from tests.djangoapp import views

    Book.objects.create(title="one more", author=Author.objects.get())
    with caplog.at_level(logging.WARNING, logger="heapwatch.queryset"):
        assert client.get("/books/").content == str(N + 1).encode()
    [rec] = warnings_of(caplog)
    src, start = inspect.getsourcelines(views.books)
    line = start + next(i for i, s in enumerate(src) if "Book.objects.all()" in s)
    assert rec.heapwatch_queryset["location"] == f"{views.__file__}:{line}"  # type: ignore[attr-defined]


def test_values_and_iterator(books: None, caplog: pytest.LogCaptureFixture) -> None:
    Book.objects.create(title="one more", author=Author.objects.get())
    with caplog.at_level(logging.WARNING, logger="heapwatch.queryset"):
        streamed = [b.pk for b in Book.objects.order_by("pk").iterator()]
        assert warnings_of(caplog) == []
        values = list(Book.objects.order_by("pk").values_list("pk", flat=True))
    assert values == streamed
    assert len(warnings_of(caplog)) == 1


def test_raising_mode(books: None, settings: Any) -> None:
    settings.HEAPWATCH = {"QUERYSET_ROWS_WARN": N - 1, "QUERYSET_RAISE": True}
    with pytest.raises(guard.HugeQuerySetError, match="djangoapp.Book cached 50 rows"):
        list(Book.objects.all())
    settings.HEAPWATCH = {"QUERYSET_ROWS_WARN": N, "QUERYSET_RAISE": True}
    assert len(list(Book.objects.all())) == N


def test_results_unchanged(books: None, settings: Any) -> None:
    settings.HEAPWATCH = {"QUERYSET_ROWS_WARN": 1}
    guarded = [(b.pk, b.title, b.author_id) for b in Book.objects.order_by("-title")]
    guard.uninstall()
    try:
        plain = [(b.pk, b.title, b.author_id) for b in Book.objects.order_by("-title")]
    finally:
        guard.install()
    assert guarded == plain and len(plain) == N


def test_switched_off_completely(books: None, settings: Any,
                                 caplog: pytest.LogCaptureFixture) -> None:
    assert guard.installed()
    assert QuerySet._fetch_all.__wrapped__ is not None  # type: ignore[attr-defined]
    guard.uninstall()
    try:
        assert not guard.installed()
        assert not hasattr(QuerySet._fetch_all, "__wrapped__")
        settings.HEAPWATCH = {"QUERYSET_ROWS_WARN": 1, "QUERYSET_GUARD": False}
        guard.install()  # refuses: the setting says off
        assert not guard.installed()
        with caplog.at_level(logging.WARNING, logger="heapwatch.queryset"):
            list(Book.objects.all())
        assert warnings_of(caplog) == []
    finally:
        settings.HEAPWATCH = {}
        guard.install()
    assert guard.installed()


def test_runtime_switch_off(books: None, settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    settings.HEAPWATCH = {"QUERYSET_ROWS_WARN": 1, "QUERYSET_GUARD": False}
    with caplog.at_level(logging.WARNING, logger="heapwatch.queryset"):
        list(Book.objects.all())
    assert warnings_of(caplog) == []


def _measured(obj: Any) -> int:
    import sys

    d = obj.__dict__
    state = d["_state"]
    return (sys.getsizeof(obj) + sys.getsizeof(d) + sys.getsizeof(state)
            + sys.getsizeof(state.__dict__) + sys.getsizeof(state.fields_cache))


def test_estimate_close_to_measured() -> None:
    import sys

    from tests.heaps import FirstModel

    rows = [FirstModel(i) for i in range(10_000)]
    for r in rows:
        r.__dict__  # noqa: B018
    exact = sum(_measured(r) for r in rows) + sys.getsizeof(rows)
    est = guard.estimate_bytes(rows)
    assert 0.8 * exact <= est <= 1.25 * exact
    assert guard.estimate_bytes([]) == 0
