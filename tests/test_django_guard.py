"""The big-queryset guard: fires at N+1 rows and not at N, names the line
that materialized the queryset (application code, not the library or Django
code it went through), the request, what materialized it with the advice
that fits, warns once per location per interval with a count of the rest,
can raise, never changes results, and can be switched off completely."""

from __future__ import annotations

import logging
import pickle
import re
import sys
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db.models.query import QuerySet
from django.db.models.signals import pre_delete

from heapwatch._format import human_bytes
from heapwatch.django import guard
from tests import guard_app
from tests.djangoapp.models import Author, Book

N = 50


@pytest.fixture(autouse=True)
def _fresh_table() -> Iterator[None]:
    guard.reset()
    yield
    guard.reset()


@pytest.fixture
def books(db: Any, settings: Any) -> None:
    settings.HEAPWATCH = {"QUERYSET_ROWS_WARN": N}
    a = Author.objects.create(name="a")
    Book.objects.bulk_create(Book(title=f"t{i}", author=a) for i in range(N))


@pytest.fixture
def many(books: None) -> None:
    """N + 1 books: one more than the guard allows."""
    Book.objects.create(title="one more", author=Author.objects.get())


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "heapwatch.queryset"]


def info_of(rec: logging.LogRecord) -> dict[str, Any]:
    return rec.heapwatch_queryset  # type: ignore[attr-defined,no-any-return]


def lineno() -> int:
    """The caller's line."""
    return sys._getframe(1).f_lineno


def line_of(text: str, marker: str) -> int:
    return next(i for i, s in enumerate(text.splitlines(), 1) if marker in s)


def the_warning(caplog: pytest.LogCaptureFixture) -> tuple[dict[str, Any], str]:
    [rec] = warnings_of(caplog)
    return info_of(rec), rec.getMessage()


# ---- a fake third-party library, in a directory named site-packages ------

FAKELIB = {
    "__init__.py": "",
    "pages.py": """\
        def load(qs):
            return list(qs)  # load
        """,
    "pagination.py": """\
        def paginate(qs, size):
            total = len(qs)  # counts by loading every row
            return total, list(qs[:size])
        """,
    "views.py": """\
        from django.http import HttpResponse

        from heapwatch_fakelib import pages


        def rows(request):
            from tests.djangoapp.models import Book
            return HttpResponse(str(len(pages.load(Book.objects.order_by("pk")))))  # rows


        def rows2(request):
            from tests.djangoapp.models import Book
            return HttpResponse(str(len(pages.load(Book.objects.order_by("pk")))))
        """,
    "urls.py": """\
        from django.urls import path
        from django.views.generic import ListView

        from heapwatch_fakelib import views
        from tests.djangoapp.models import Book

        urlpatterns = [
            path("lib/", views.rows),
            path("lib2/", views.rows2),
            path("generic/", ListView.as_view(model=Book, template_name="books.html")),
        ]
        """,
}


@pytest.fixture(scope="module")
def fakelib(tmp_path_factory: pytest.TempPathFactory) -> Iterator[types.SimpleNamespace]:
    root = tmp_path_factory.mktemp("env") / "lib" / "python3" / "site-packages"
    pkg = root / "heapwatch_fakelib"
    pkg.mkdir(parents=True)
    for name, text in FAKELIB.items():
        (pkg / name).write_text(textwrap.dedent(text))
    sys.path.insert(0, str(root))
    try:
        from heapwatch_fakelib import pages, pagination  # type: ignore[import-not-found]

        yield types.SimpleNamespace(pages=pages, pagination=pagination,
                                    text={k: textwrap.dedent(v) for k, v in FAKELIB.items()})
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m.split(".")[0] == "heapwatch_fakelib"]:
            del sys.modules[name]


@pytest.fixture
def libsite(fakelib: types.SimpleNamespace, settings: Any) -> types.SimpleNamespace:
    """The fake library's URLs, with a middleware that names the request."""
    settings.ROOT_URLCONF = "heapwatch_fakelib.urls"
    settings.MIDDLEWARE = ["tests.guard_app.RequestContextMiddleware"]
    settings.TEMPLATES = [{
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "OPTIONS": {"loaders": [("django.template.loaders.locmem.Loader", {
            "books.html": "{% for b in object_list %}{{ b.pk }} {% endfor %}"})]},
    }]
    return fakelib


# ---- threshold, line, results, switches -----------------------------------

def test_no_warning_at_n_rows(books: None, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="heapwatch.queryset"):
        rows = list(Book.objects.all())
    assert len(rows) == N
    assert warnings_of(caplog) == []


def test_warning_at_n_plus_one_names_the_line(many: None, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="heapwatch.queryset"):
        rows = [b.title for b in Book.objects.all()]; line = lineno()  # noqa: E702
    assert len(rows) == N + 1
    info, msg = the_warning(caplog)
    assert info["model"] == "djangoapp.Book"
    assert info["rows"] == N + 1
    assert info["location"] == f"{__file__}:{line}"
    assert info["function"] == "test_warning_at_n_plus_one_names_the_line"
    assert info["code"] == "app" and info["via"] is None
    assert info["kind"] == "iterate"
    assert info["request"] is None and info["repeats"] == 0
    assert info["bytes_estimate"] > (N + 1) * 100
    assert "djangoapp.Book" in msg and f"{N + 1} rows" in msg
    assert f"by iteration at {__file__}:{line} (test_warning_at_n_plus_one_names_the_line)." in msg
    assert "heapwatch.django.stream(qs)" in msg and ".iterator()" in msg
    assert "during" not in msg and "seen" not in msg


def test_view_line_through_the_test_client(many: None, client: Any, settings: Any,
                                           caplog: pytest.LogCaptureFixture) -> None:
    import inspect

    from tests.djangoapp import views

    # HeapWatchMiddleware (the test settings' only middleware) names the request.
    with caplog.at_level(logging.WARNING, logger="heapwatch.queryset"):
        assert client.get("/books/?secret=x").content == str(N + 1).encode()
    info, msg = the_warning(caplog)
    assert info["request"] == {"method": "GET", "path": "/books/",
                               "view": "tests.djangoapp.views.books"}
    assert "secret" not in msg
    src, start = inspect.getsourcelines(views.books)
    line = start + next(i for i, s in enumerate(src) if "Book.objects.all()" in s)
    assert info["location"] == f"{views.__file__}:{line}"
    assert info["function"] == "books"


def test_values_and_iterator(many: None, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="heapwatch.queryset"):
        streamed = [b.pk for b in Book.objects.order_by("pk").iterator()]
        assert warnings_of(caplog) == []
        values = list(Book.objects.order_by("pk").values_list("pk", flat=True))
    assert values == streamed
    assert len(warnings_of(caplog)) == 1


def test_raising_mode(books: None, settings: Any) -> None:
    settings.HEAPWATCH = {"QUERYSET_ROWS_WARN": N - 1, "QUERYSET_RAISE": True}
    for _ in range(2):  # every time: no de-duplication when raising
        with pytest.raises(guard.HugeQuerySetError) as e:
            line = lineno() + 1
            list(Book.objects.all())
        msg = str(e.value)
        assert "djangoapp.Book cached 50 rows (> 49)" in msg
        assert f"by iteration at {__file__}:{line} (test_raising_mode)" in msg
        assert "heapwatch.django.stream(qs)" in msg and "seen" not in msg
    settings.HEAPWATCH = {"QUERYSET_ROWS_WARN": N, "QUERYSET_RAISE": True}
    assert len(list(Book.objects.all())) == N


def test_results_unchanged(books: None, settings: Any) -> None:
    settings.HEAPWATCH = {"QUERYSET_ROWS_WARN": 1, "QUERYSET_WARN_INTERVAL": 0}
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


# ---- sizes -----------------------------------------------------------------

def test_human_bytes() -> None:
    assert human_bytes(0) == "0 B"
    assert human_bytes(1023) == "1023 B"
    assert human_bytes(1024) == "1.0 KiB"
    assert human_bytes(1536) == "1.5 KiB"
    assert human_bytes((1 << 20) - 1) == "1.0 MiB"  # not "1024.0 KiB"
    assert human_bytes(41 * (1 << 20) + (1 << 19)) == "41.5 MiB"
    assert human_bytes(3 << 30) == "3.0 GiB"
    assert human_bytes(5 << 40) == "5.0 TiB"
    assert human_bytes(1536, signed=True) == "+1.5 KiB"
    assert human_bytes(-512) == "-512 B"
    assert human_bytes(0, signed=True) == "+0 B"


def test_small_caches_are_not_zero_mib(many: None, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="heapwatch.queryset"):
        list(Book.objects.all())
    info, msg = the_warning(caplog)
    assert f"about {human_bytes(info['bytes_estimate'])}," in msg
    assert re.search(r"about \d+\.\d KiB,", msg), msg
    assert "MiB" not in msg


# ---- what materialized it, and the advice ----------------------------------

@pytest.mark.parametrize("how", ["list", "reversed"])
def test_iteration_is_not_len(how: str, many: None, caplog: pytest.LogCaptureFixture) -> None:
    # reversed() reaches QuerySet.__len__ first (the sequence protocol); that
    # is not len(qs), and neither is list().
    with caplog.at_level(logging.WARNING, logger="heapwatch.queryset"):
        if how == "list":
            list(Book.objects.all())
        else:
            [b.pk for b in reversed(Book.objects.all())]
    info, msg = the_warning(caplog)
    assert info["kind"] == "iterate" and "by iteration at" in msg
    assert "qs.count()" not in msg and "heapwatch.django.stream(qs)" in msg


def test_len(many: None, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="heapwatch.queryset"):
        n = len(Book.objects.all()); line = lineno()  # noqa: E702
    assert n == N + 1
    info, msg = the_warning(caplog)
    assert info["kind"] == "len" and info["location"] == f"{__file__}:{line}"
    assert "by len() at" in msg and "use qs.count()" in msg


def test_bool(many: None, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="heapwatch.queryset"):
        line = lineno() + 1
        if Book.objects.all():
            pass
    info, msg = the_warning(caplog)
    assert info["kind"] == "bool" and info["location"] == f"{__file__}:{line}"
    assert "use qs.exists()" in msg


def test_pickle(many: None, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="heapwatch.queryset"):
        pickle.dumps(Book.objects.all()); line = lineno()  # noqa: E702
    info, msg = the_warning(caplog)
    assert info["kind"] == "pickle" and info["location"] == f"{__file__}:{line}"
    assert "pickle qs.query" in msg


@pytest.fixture
def book_receiver() -> Iterator[None]:
    """A pre_delete receiver: Django's Collector must now load Book rows."""
    def receiver(**kwargs: Any) -> None:
        pass

    pre_delete.connect(receiver, sender=Book, dispatch_uid="heapwatch-guard-test")
    yield
    pre_delete.disconnect(sender=Book, dispatch_uid="heapwatch-guard-test")


def test_queryset_delete(many: None, book_receiver: None,
                         caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="heapwatch.queryset"):
        Book.objects.all().delete(); line = lineno()  # noqa: E702
    assert Book.objects.count() == 0
    info, msg = the_warning(caplog)
    assert info["kind"] == "delete" and info["location"] == f"{__file__}:{line}"
    assert "by QuerySet.delete() at" in msg
    assert "heapwatch.django.delete_in_chunks(qs)" in msg
    assert "heapwatch.django.stream" not in msg


def test_cascade_of_one_object(many: None, book_receiver: None,
                               caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="heapwatch.queryset"):
        Author.objects.get().delete(); line = lineno()  # noqa: E702
    info, msg = the_warning(caplog)
    assert info["kind"] == "delete" and info["model"] == "djangoapp.Book"
    assert info["location"] == f"{__file__}:{line}"
    assert "by delete() of one djangoapp.Author at" in msg
    assert "the djangoapp.Book rows it cascades to" in msg and "delete_in_chunks()" in msg


def test_prefetch(many: None, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="heapwatch.queryset"):
        authors = list(Author.objects.prefetch_related("book_set")); line = lineno()  # noqa: E702
    assert len(authors[0].book_set.all()) == N + 1
    info, msg = the_warning(caplog)
    assert info["kind"] == "prefetch" and info["model"] == "djangoapp.Book"
    assert info["location"] == f"{__file__}:{line}"
    assert "qs.iterator(chunk_size=1000)" in msg and "Prefetch(" in msg


def test_template(many: None, caplog: pytest.LogCaptureFixture) -> None:
    from django.template import Context, Engine

    template = Engine().from_string("{% for b in books %}{{ b.pk }}{% endfor %}")
    with caplog.at_level(logging.WARNING, logger="heapwatch.queryset"):
        template.render(Context({"books": Book.objects.all()})); line = lineno()  # noqa: E702
    info, msg = the_warning(caplog)
    assert info["kind"] == "template" and info["location"] == f"{__file__}:{line}"
    assert "paginate it in the view" in msg


def test_django_paginator_page_too_big(many: None, caplog: pytest.LogCaptureFixture) -> None:
    from django.core.paginator import Paginator

    page = Paginator(Book.objects.order_by("pk"), per_page=N + 1).page(1)
    assert warnings_of(caplog) == []  # Paginator counts with COUNT(*) and slices
    with caplog.at_level(logging.WARNING, logger="heapwatch.queryset"):
        list(page); line = lineno()  # noqa: E702
    info, msg = the_warning(caplog)
    assert info["kind"] == "paginate" and info["location"] == f"{__file__}:{line}"
    assert "one page" in msg and "page size is too big" in msg


def test_library_paginator_loading_everything(many: None, fakelib: types.SimpleNamespace,
                                              caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="heapwatch.queryset"):
        fakelib.pagination.paginate(Book.objects.order_by("pk"), 10); line = lineno()  # noqa: E702
    info, msg = the_warning(caplog)
    assert info["kind"] == "paginate" and info["location"] == f"{__file__}:{line}"
    lib_line = line_of(fakelib.text["pagination.py"], "total = len(qs)")
    assert info["via"] == f"heapwatch_fakelib/pagination.py:{lib_line}"
    assert "evaluated the whole QuerySet, not a page" in msg and "qs.count()" in msg


def test_async_for(many: None, caplog: pytest.LogCaptureFixture) -> None:
    from asgiref.sync import async_to_sync

    async def titles() -> list[str]:
        with guard.request_context(method="GET", path="/async/", view="shop.views.feed"):
            return [b.title async for b in Book.objects.all()]

    with caplog.at_level(logging.WARNING, logger="heapwatch.queryset"):
        assert len(async_to_sync(titles)()) == N + 1
    info, msg = the_warning(caplog)
    assert info["kind"] == "aiter" and info["code"] == "coroutine"
    assert info["location"] == "<sync_to_async>"
    assert info["request"] == {"method": "GET", "path": "/async/", "view": "shop.views.feed"}
    assert __file__ not in msg  # not the line that called async_to_sync
    assert "qs.aiterator()" in msg


# ---- whose code ---------------------------------------------------------------

def test_application_line_through_a_library(many: None, fakelib: types.SimpleNamespace,
                                            caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="heapwatch.queryset"):
        fakelib.pages.load(Book.objects.all()); line = lineno()  # noqa: E702
    info, msg = the_warning(caplog)
    lib = f"heapwatch_fakelib/pages.py:{line_of(fakelib.text['pages.py'], '# load')}"
    assert info["code"] == "app" and info["location"] == f"{__file__}:{line}"
    assert info["via"] == lib
    assert f"via library code {lib}" in msg


def test_library_code_when_no_application_frame(many: None, libsite: types.SimpleNamespace,
                                                client: Any,
                                                caplog: pytest.LogCaptureFixture) -> None:
    # The view is library code; the test calling the client and the middleware
    # are beyond Django's request handler and never blamed.
    with caplog.at_level(logging.WARNING, logger="heapwatch.queryset"):
        assert client.get("/lib/?token=s3cret").content == str(N + 1).encode()
    info, msg = the_warning(caplog)
    lib = f"heapwatch_fakelib/pages.py:{line_of(libsite.text['pages.py'], '# load')}"
    caller = f"heapwatch_fakelib/views.py:{line_of(libsite.text['views.py'], '# rows')}"
    assert info["code"] == "library" and info["location"] == lib
    assert info["function"] == "load" and info["called_from"] == caller
    assert f"in library code {lib} (load), called from {caller} (rows)" in msg
    assert "during GET /lib/ (heapwatch_fakelib.views.rows)" in msg
    assert info["request"] == {"method": "GET", "path": "/lib/",
                               "view": "heapwatch_fakelib.views.rows"}
    assert __file__ not in msg and "guard_app" not in msg and "s3cret" not in msg


def test_django_code_when_no_other_frame(many: None, libsite: types.SimpleNamespace,
                                         client: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="heapwatch.queryset"):
        assert client.get("/generic/").status_code == 200
    info, msg = the_warning(caplog)
    assert info["code"] == "django" and info["kind"] == "template"
    assert info["location"].startswith("django/template/defaulttags.py:")
    assert info["function"] == "ForNode.render"
    assert "in Django code django/template/defaulttags.py:" in msg
    assert "during GET /generic/ (django.views.generic.list.ListView)" in msg


def test_skip_modules(many: None, settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    helper = f"{guard_app.__file__}:{line_of(Path(guard_app.__file__).read_text(), 'the helper')}"
    with caplog.at_level(logging.WARNING, logger="heapwatch.queryset"):
        guard_app.load_all(Book.objects.all())
        info, _ = the_warning(caplog)
        assert info["location"] == helper and info["code"] == "app"
        caplog.clear()
        for skip in (["tests.guard_app"], ["tests"]):
            guard.reset()
            settings.HEAPWATCH = {"QUERYSET_ROWS_WARN": N, "QUERYSET_SKIP_MODULES": skip}
            guard_app.load_all(Book.objects.all()); line = lineno()  # noqa: E702
            info, msg = the_warning(caplog)
            caplog.clear()
            if skip == ["tests"]:  # everything here is skipped: the helper is blamed as library
                assert info["code"] == "library" and info["location"] == helper
            else:
                assert info["location"] == f"{__file__}:{line}" and info["via"] == helper
                assert f"via library code {helper}" in msg
        # A prefix is a whole module name: "tests.guard" does not skip tests.guard_app.
        guard.reset()
        settings.HEAPWATCH = {"QUERYSET_ROWS_WARN": N, "QUERYSET_SKIP_MODULES": ["tests.guard"]}
        guard_app.load_all(Book.objects.all())
        info, _ = the_warning(caplog)
        assert info["location"] == helper


# ---- the request --------------------------------------------------------------

def test_request_named_through_a_middleware(many: None, settings: Any, client: Any,
                                            caplog: pytest.LogCaptureFixture) -> None:
    settings.MIDDLEWARE = ["tests.guard_app.RequestContextMiddleware"]
    with caplog.at_level(logging.WARNING, logger="heapwatch.queryset"):
        client.get("/books/?secret=hunter2")
    info, msg = the_warning(caplog)
    assert info["request"] == {"method": "GET", "path": "/books/",
                               "view": "tests.djangoapp.views.books"}
    assert msg.split(". ")[0].endswith("during GET /books/ (tests.djangoapp.views.books)")
    assert "hunter2" not in msg
    assert guard.current_request() is None  # left with the request


def test_request_context_api(many: None, settings: Any, rf: Any,
                             caplog: pytest.LogCaptureFixture) -> None:
    from tests.djangoapp import views

    settings.HEAPWATCH = {"QUERYSET_ROWS_WARN": N, "QUERYSET_WARN_INTERVAL": 0}
    assert guard.current_request() is None
    with caplog.at_level(logging.WARNING, logger="heapwatch.queryset"):
        with guard.request_context(method="POST", path="/x/?q=1", view="app.views.x"):
            assert guard.current_request() == {"method": "POST", "path": "/x/",
                                               "view": "app.views.x"}
            list(Book.objects.all())
        # A request Django has not resolved yet: the view comes from its path.
        request = rf.get("/books/", {"q": "1"})
        assert getattr(request, "resolver_match", None) is None
        with guard.request_context(request):
            views.books(request)
        list(Book.objects.all())
    first, second, third = (info_of(r) for r in warnings_of(caplog))
    assert first["request"] == {"method": "POST", "path": "/x/", "view": "app.views.x"}
    assert second["request"] == {"method": "GET", "path": "/books/",
                                 "view": "tests.djangoapp.views.books"}
    assert third["request"] is None
    assert "during" not in warnings_of(caplog)[2].getMessage()


# ---- de-duplication -------------------------------------------------------------

def test_one_warning_per_location_per_interval(many: None, monkeypatch: pytest.MonkeyPatch,
                                               caplog: pytest.LogCaptureFixture) -> None:
    import time

    now = [1000.0]
    monkeypatch.setattr(guard, "_clock", lambda: now[0])

    def fetch() -> None:
        list(Book.objects.all())  # one location

    with caplog.at_level(logging.WARNING, logger="heapwatch.queryset"):
        for _ in range(3):
            fetch()
        list(Book.objects.values("pk"))  # another location: its own warning
        assert len(warnings_of(caplog)) == 2
        now[0] += 299
        fetch()
        assert len(warnings_of(caplog)) == 2
    first = warnings_of(caplog)[0]
    assert info_of(first)["function"].endswith("fetch") and info_of(first)["repeats"] == 0
    caplog.clear()
    now[0] += 2  # 301 s since the first warning
    with caplog.at_level(logging.WARNING, logger="heapwatch.queryset"):
        fetch()
        fetch()
    info, msg = the_warning(caplog)
    assert info["repeats"] == 3
    assert info["repeats_since"] == pytest.approx(first.created, abs=2)
    since = time.strftime("%H:%M:%S", time.localtime(info["repeats_since"]))
    assert msg.endswith(f". (seen 3 more times since {since})"), msg


def test_interval_zero_warns_every_time(many: None, settings: Any,
                                        caplog: pytest.LogCaptureFixture) -> None:
    settings.HEAPWATCH = {"QUERYSET_ROWS_WARN": N, "QUERYSET_WARN_INTERVAL": 0}
    with caplog.at_level(logging.WARNING, logger="heapwatch.queryset"):
        for _ in range(3):
            list(Book.objects.all())
    assert [info_of(r)["repeats"] for r in warnings_of(caplog)] == [0, 0, 0]


def test_library_location_is_told_apart_by_view(many: None, libsite: types.SimpleNamespace,
                                                client: Any,
                                                caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="heapwatch.queryset"):
        client.get("/lib/")
        client.get("/lib2/")
        client.get("/lib/")
    infos = [info_of(r) for r in warnings_of(caplog)]
    assert [i["request"]["view"] for i in infos] == ["heapwatch_fakelib.views.rows",
                                                     "heapwatch_fakelib.views.rows2"]
    assert infos[0]["location"] == infos[1]["location"]


def test_table_is_bounded(many: None, monkeypatch: pytest.MonkeyPatch,
                          caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(guard, "MAX_LOCATIONS", 2)

    def a() -> None:
        list(Book.objects.all())

    def b() -> None:
        list(Book.objects.all())

    def c() -> None:
        list(Book.objects.all())

    with caplog.at_level(logging.WARNING, logger="heapwatch.queryset"):
        a(); b(); c()  # noqa: E702  three warnings; a is forgotten
        assert len(warnings_of(caplog)) == 3
        a()  # forgotten: warns again (and b is forgotten)
        assert len(warnings_of(caplog)) == 4
        c()  # remembered: held back
        assert len(warnings_of(caplog)) == 4
    assert len(guard._seen) == 2


# ---- settings checks ---------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    ({"QUERYSET_WARN_INTERVAL": 60, "QUERYSET_SKIP_MODULES": ["shop.utils"]}, []),
    ({"QUERYSET_WARN_INTERVAL": 0.5, "QUERYSET_SKIP_MODULES": ("a", "b.c")}, []),
    ({"QUERYSET_WARN_INTERVAL": "60"}, ["heapwatch.E002"]),
    ({"QUERYSET_WARN_INTERVAL": True}, ["heapwatch.E002"]),
    ({"QUERYSET_WARN_INTERVAL": -1}, ["heapwatch.E003"]),
    ({"QUERYSET_SKIP_MODULES": "shop.utils"}, ["heapwatch.E002"]),
    ({"QUERYSET_SKIP_MODULES": ["shop", 3]}, ["heapwatch.E003"]),
    ({"QUERYSET_SKIP_MODULES": [""]}, ["heapwatch.E003"]),
])
def test_settings_checks(settings: Any, value: dict[str, Any], expected: list[str]) -> None:
    from heapwatch.django.checks import check_settings

    settings.HEAPWATCH = value
    assert [m.id for m in check_settings()] == expected


def test_bad_settings_fall_back(many: None, settings: Any,
                                caplog: pytest.LogCaptureFixture) -> None:
    settings.HEAPWATCH = {"QUERYSET_ROWS_WARN": N, "QUERYSET_WARN_INTERVAL": "soon",
                          "QUERYSET_SKIP_MODULES": "tests"}
    with caplog.at_level(logging.WARNING, logger="heapwatch.queryset"):
        for _ in range(2):
            list(Book.objects.all()); line = lineno()  # noqa: E702
    info, _ = the_warning(caplog)  # the default interval: once
    assert info["location"] == f"{__file__}:{line}"  # "tests" as a string skips nothing


# ---- the estimate --------------------------------------------------------------------

def _measured(obj: Any) -> int:
    d = obj.__dict__
    state = d["_state"]
    return (sys.getsizeof(obj) + sys.getsizeof(d) + sys.getsizeof(state)
            + sys.getsizeof(state.__dict__) + sys.getsizeof(state.fields_cache))


def test_estimate_close_to_measured() -> None:
    from tests.heaps import FirstModel

    rows = [FirstModel(i) for i in range(10_000)]
    for r in rows:
        r.__dict__  # noqa: B018
    exact = sum(_measured(r) for r in rows) + sys.getsizeof(rows)
    est = guard.estimate_bytes(rows)
    assert 0.8 * exact <= est <= 1.25 * exact
    assert guard.estimate_bytes([]) == 0
