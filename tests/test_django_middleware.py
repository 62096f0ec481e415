"""HeapWatchMiddleware against real Django requests (test client, sync and
async, and a threaded WSGI server), its verdicts and the settings that
steer it."""

from __future__ import annotations

import gc
import logging
import os
import re
import socketserver
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from django.test import AsyncClient, Client

import heapwatch
from heapwatch.django import middleware
from heapwatch.django.conf import get_settings
from tests.djangoapp import services, views

LOGGER = "heapwatch.request"
EVERY = {"SAMPLE_RATE": 1.0, "MIN_OBJECTS": 1000, "MIN_BYTES": 1 << 40, "MIN_RSS": 1 << 40}


@pytest.fixture(autouse=True)
def _clean(settings: Any) -> Iterator[None]:
    settings.HEAPWATCH = dict(EVERY)
    middleware.reset_state()
    views.LEAKED.clear()
    views.CACHE.clear()
    gc.collect()
    yield
    views.LEAKED.clear()
    views.CACHE.clear()
    views.FRAGMENTS.clear()
    views.RING.clear()


def records(caplog: pytest.LogCaptureFixture, level: int = logging.DEBUG) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.levelno >= level]


def verdicts(rec: logging.LogRecord) -> dict[str, str]:
    return {t["name"]: t["verdict"] for t in rec.heapwatch["types"]}  # type: ignore[attr-defined]


def run(client: Client, url: str, times: int) -> None:
    for _ in range(times):
        assert client.get(url).status_code == 200


# ---- verdicts -----------------------------------------------------------------


def test_a_leak_gets_a_leak_verdict_within_twenty_requests(
        client: Client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        for i in range(20):
            client.get("/leaky/?n=2000&token=secret")
            if records(caplog, logging.WARNING):
                break
    first_warning = i + 1
    assert first_warning <= 8
    every = records(caplog)
    assert len(every) == first_warning, "every request is measured and over the threshold"
    assert verdicts(every[0])["FirstModel"] == "warm-up"
    assert all(r.levelno == logging.DEBUG for r in every[:-1])
    rec = every[-1]
    assert rec.levelno == logging.WARNING
    data = rec.heapwatch  # type: ignore[attr-defined]
    assert data["verdict"] == "leak"
    assert data["view"] == "tests.djangoapp.views.leaky"
    assert (data["method"], data["path"], data["status"]) == ("GET", "/leaky/", 200)
    row = {t["name"]: t for t in data["types"]}["FirstModel"]
    assert (row["delta"], row["verdict"]) == (2000, "leak")
    assert row["count"] >= 2000 * first_warning
    assert row["kept"] >= 2000 * (first_warning - 2)
    assert set(row) >= {"name", "count", "delta", "bytes_delta", "verdict"}
    msg = rec.getMessage()
    assert "\n" not in msg, "one line per record by default"
    assert msg.startswith("GET /leaky/ tests.djangoapp.views.leaky 200 in ")
    assert re.search(r"; leak: [^;]*\bFirstModel \+2000\b", msg)
    assert "secret" not in msg and "token" not in msg, "query strings are never logged"


def test_garbage_is_never_a_leak(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        run(client, "/garbage/", 20)
    assert records(caplog, logging.WARNING) == []


def test_objects_held_by_the_response_are_transient(
        client: Client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        run(client, "/response-held/", 12)
    assert records(caplog, logging.WARNING) == []
    seen = [verdicts(r).get("FirstModel") for r in records(caplog)]
    assert "leak" not in seen
    assert "transient" in seen


def test_a_cache_filled_once_is_warm_up(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        run(client, "/cache-once/", 15)
    assert records(caplog, logging.WARNING) == []
    [rec] = records(caplog)
    assert verdicts(rec)["FirstModel"] == "warm-up"
    assert rec.levelno == logging.DEBUG


def test_a_leak_among_other_views_is_blamed_on_its_view(
        client: Client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        for _ in range(10):
            client.get("/response-held/")
            client.get("/garbage/")
            client.get("/leaky/?n=2000")
            client.get("/cache-once/")
    warnings = records(caplog, logging.WARNING)
    assert warnings
    assert {r.heapwatch["view"] for r in warnings} == {"tests.djangoapp.views.leaky"}  # type: ignore[attr-defined]


def test_growth_that_the_process_does_not_keep_is_not_a_leak(
        client: Client, caplog: pytest.LogCaptureFixture) -> None:
    # Each /ring/ keeps its 1,200 objects past its own settling point, but
    # /ring-trim/ frees them: the process never holds more.  (A cache that
    # evicts, seen from one view.)
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        for _ in range(12):
            client.get("/ring/")
            client.get("/ring-trim/")
    assert records(caplog, logging.WARNING) == []
    views.RING.clear()


def test_a_leak_is_counted_after_its_warm_up(client: Client,
                                             caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        run(client, "/leaky/?n=2000", 8)
    every = records(caplog)
    assert len(every) == 8
    for k, rec in enumerate(every, start=1):
        row = {t["name"]: t for t in rec.heapwatch["types"]}["FirstModel"]  # type: ignore[attr-defined]
        if row["verdict"] == "leak":
            # Settled before request k: requests 1..k-1; the first one's
            # 2,000 are warm-up, the run counts requests 2..k-1.
            assert row["kept"] == 2000 * (k - 2)
    assert any(r.levelno == logging.WARNING for r in every)


def test_an_app_magicmock_is_never_called(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    services.CLIENT.reset_mock()
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        for i in range(8):
            client.get(f"/mocked/?i={i}")
    assert [c.args for c in services.CLIENT.send.call_args_list] == [(str(i),) for i in range(8)]
    assert len(services.CLIENT.mock_calls) == 8
    assert records(caplog, logging.WARNING), "the view's own leak is still found"


# ---- concurrency ----------------------------------------------------------------


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server(settings: Any) -> Iterator[str]:
    from django.core.wsgi import get_wsgi_application

    httpd = make_server("127.0.0.1", 0, get_wsgi_application(),
                        server_class=_ThreadingServer, handler_class=_Quiet)
    # A long poll interval: the server thread wakes only to accept.
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 2},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


# The HTTP client runs in a process of its own: a client thread in this
# process would be another thread running during every measurement.
_CLIENT = """
import sys, threading, time, urllib.request
base, mode = sys.argv[1], sys.argv[2]
def get(path):
    urllib.request.urlopen(base + path, timeout=30).read()
if mode == "overlap":
    for _ in range(8):
        # The leaking request is in flight for the whole of the quiet one.
        leaker = threading.Thread(target=get, args=("/slow/?s=0.3&leak=1",))
        leaker.start()
        time.sleep(0.05)
        get("/slow/?s=0.05")
        leaker.join()
else:
    for _ in range(20):
        get("/slow/?s=0&leak=1")
        time.sleep(0.02)  # the last handler thread ends before the next request
"""


def _client(server: str, mode: str) -> None:
    import subprocess
    import sys

    # No timeout: with one, the wait polls (this thread would run during
    # the measurements); the client's own requests time out after 30 s.
    subprocess.run([sys.executable, "-c", _CLIENT, server, mode], check=True)


def test_another_requests_leak_is_never_blamed_on_the_quiet_view(
        server: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        _client(server, "overlap")
    quiet = [r for r in records(caplog)
             if r.heapwatch["path"] == "/slow/" and r.heapwatch["duration_ms"] < 250]  # type: ignore[attr-defined]
    assert all(r.levelno < logging.WARNING for r in quiet)
    for r in quiet:
        assert set(verdicts(r).values()) <= {"concurrent"}
    # And measured alone, the leaking request is told apart again.
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        _client(server, "alone")
    assert records(caplog, logging.WARNING)


def test_a_background_threads_leak_is_never_blamed_on_the_view(
        client: Client, caplog: pytest.LogCaptureFixture) -> None:
    import time

    stop = threading.Event()
    kept: list[Any] = []

    def leak_in_background() -> None:
        while not stop.is_set():
            kept.extend(views.FirstModel(i) for i in range(500))
            time.sleep(0.005)

    worker = threading.Thread(target=leak_in_background)
    worker.start()
    try:
        with caplog.at_level(logging.DEBUG, logger=LOGGER):
            run(client, "/slow/?s=0.05", 12)
    finally:
        stop.set()
        worker.join()
    assert records(caplog), "the growth was seen"
    assert records(caplog, logging.WARNING) == []
    for r in records(caplog):
        assert set(verdicts(r).values()) == {"concurrent"}
    kept.clear()


def test_a_forked_worker_is_not_its_own_other_thread(settings: Any) -> None:
    # gunicorn forks its workers; on 3.11 the child's main thread keeps the
    # parent's native id.  The worker must still see itself alone.
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit code
        code = 3
        try:
            seen: list[logging.LogRecord] = []
            handler = logging.Handler(logging.DEBUG)
            handler.emit = seen.append  # type: ignore[method-assign]
            log = logging.getLogger(LOGGER)
            log.addHandler(handler)
            log.setLevel(logging.DEBUG)
            client = Client()
            for _ in range(8):
                client.get("/leaky/?n=2000")
            kinds = {v for r in seen for v in verdicts(r).values()}
            code = 0 if "leak" in kinds and "concurrent" not in kinds else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0


# ---- memory split --------------------------------------------------------------


def test_rss_growth_without_object_growth_is_put_on_the_allocator(
        client: Client, settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    settings.HEAPWATCH = {**EVERY, "MIN_OBJECTS": 1 << 40, "MIN_RSS": 32 << 20}
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        client.get("/fragment/?n=1000000")
    [rec] = records(caplog)
    data = rec.heapwatch  # type: ignore[attr-defined]
    assert rec.levelno == logging.INFO
    assert data["verdict"] == "allocator"
    assert data["rss_delta"] >= 32 << 20
    assert data["bytes_delta"] < data["rss_delta"] / 4
    # pymalloc's free blocks, or with PYTHONMALLOC=malloc glibc's free
    # chunks.  Under ASan neither allocator is in use (its own reports
    # nothing through mallinfo2), so the split cannot be checked there.
    if "asan" not in os.environ.get("LD_PRELOAD", ""):
        freed = data["memory_delta"]["pymalloc_free"] + data["memory_delta"]["malloc_free"]
        assert freed > data["rss_delta"] / 2
    assert set(data["memory"]) >= {"rss", "python_objects", "pymalloc_free", "malloc_free", "other"}
    msg = rec.getMessage()
    assert "kept by the allocators" in msg and "MALLOC_ARENA_MAX" in msg


# ---- sampling --------------------------------------------------------------------


def test_default_sampling_keeps_to_the_time_budget(
        client: Client, settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import heapwatch.django.middleware as mw

    settings.HEAPWATCH = {}
    taken = {"n": 0}
    real = heapwatch.census

    def counting(**kwargs: Any) -> Any:
        taken["n"] += 1
        return real(**kwargs)

    monkeypatch.setattr(mw.heapwatch, "census", counting)
    run(client, "/flat/", 150)
    # The first request is measured (nothing spent yet); after that one
    # census costs far more than 0.5% of a request of this view.
    assert 1 <= taken["n"] <= 12
    settings.HEAPWATCH = {"SAMPLE_RATE": 1.0}
    taken["n"] = 0
    run(client, "/flat/", 10)
    assert taken["n"] >= 20


def test_sampling_every_nth(client: Client, settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    settings.HEAPWATCH = {**EVERY, "SAMPLE_RATE": None, "SAMPLE_EVERY": 3}
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        run(client, "/leaky/?n=1500", 9)
    assert len(records(caplog)) == 3


@pytest.mark.parametrize("rate, expect", [(0.0, 0), (1.0, 5)])
def test_sampling_rate(client: Client, settings: Any, caplog: pytest.LogCaptureFixture,
                       rate: float, expect: int) -> None:
    settings.HEAPWATCH = {**EVERY, "SAMPLE_RATE": rate}
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        run(client, "/leaky/?n=1500", 5)
    assert len(records(caplog)) == expect


def test_sampling_rate_is_random_fraction(client: Client, settings: Any,
                                          caplog: pytest.LogCaptureFixture) -> None:
    import random

    random.seed(1234)
    settings.HEAPWATCH = {**EVERY, "SAMPLE_RATE": 0.5}
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        run(client, "/leaky/?n=1100", 40)
    assert 8 <= len(records(caplog)) <= 32


def test_only_listed_paths_and_views(client: Client, settings: Any,
                                     caplog: pytest.LogCaptureFixture) -> None:
    settings.HEAPWATCH = {**EVERY, "PATHS": ["/other/"]}
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        client.get("/leaky/?n=1500")
    assert records(caplog) == []
    settings.HEAPWATCH = {**EVERY, "VIEWS": ["leaky"]}
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        client.get("/leaky/?n=1500")
        client.get("/async-leaky/")
    assert [r.heapwatch["path"] for r in records(caplog)] == ["/leaky/"]  # type: ignore[attr-defined]


def test_disabled(client: Client, settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    settings.HEAPWATCH = {**EVERY, "ENABLED": False, "MIN_OBJECTS": 1}
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        client.get("/leaky/?n=1500")
    assert records(caplog) == []


def test_thresholds(client: Client, settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    settings.HEAPWATCH = {**EVERY, "MIN_OBJECTS": 10_000}
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        client.get("/leaky/?n=1000")      # ~2000 objects: under 10k
        assert records(caplog) == []
        client.get("/leaky/?n=6000")      # ~12000 objects: over
    assert len(records(caplog)) == 1
    settings.HEAPWATCH = {**EVERY, "MIN_OBJECTS": 1 << 40, "MIN_BYTES": 100_000}
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        client.get("/leaky/?n=3000")      # bytes threshold alone
    assert len(records(caplog)) == 1


# ---- format and levels -------------------------------------------------------


def test_multiline_layout(client: Client, settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    settings.HEAPWATCH = {**EVERY, "MULTILINE": True}
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        client.get("/leaky/?n=3000")
    [rec] = records(caplog)
    lines = rec.getMessage().split("\n")
    assert lines[0].startswith("GET /leaky/ tests.djangoapp.views.leaky 200 in ")
    row = {t["name"]: t for t in rec.heapwatch["types"]}["FirstModel"]  # type: ignore[attr-defined]
    assert f"FirstModel {row['count']} +3000 warm-up" in lines


def test_log_level_setting_any_case(client: Client, settings: Any,
                                    caplog: pytest.LogCaptureFixture) -> None:
    settings.HEAPWATCH = {**EVERY, "LOG_LEVEL": "error", "LEAK_AFTER": 1}
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        run(client, "/leaky/?n=2000", 5)
    assert records(caplog, logging.ERROR)


# ---- async, errors, settings ----------------------------------------------------


@pytest.mark.asyncio
async def test_async_view(settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    client = AsyncClient()
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        response = await client.get("/async-leaky/")
    assert response.status_code == 200
    [rec] = records(caplog)
    assert rec.heapwatch["view"] == "tests.djangoapp.views.async_leaky"  # type: ignore[attr-defined]
    assert {t["name"]: t["delta"] for t in rec.heapwatch["types"]}["FirstModel"] == 1500  # type: ignore[attr-defined]


def test_view_that_raises_is_not_measured_and_error_unchanged(
        caplog: pytest.LogCaptureFixture) -> None:
    client = Client(raise_request_exception=False)
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        response = client.get("/boom/")
        assert response.status_code == 500
        # Django turned the exception into a 500 response: measured.
        [rec] = records(caplog)
        assert rec.heapwatch["status"] == 500  # type: ignore[attr-defined]
    strict = Client()
    with pytest.raises(ValueError, match="view failed"):
        strict.get("/boom/")
    # The failed measurement does not block the next one.
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        strict.get("/leaky/?n=1500")
    assert records(caplog)


def test_a_response_never_closed_does_not_stop_measuring(
        db: None, caplog: pytest.LogCaptureFixture) -> None:
    # (db: closing a response outside the test client fires
    # request_finished, whose close_old_connections touches the database.)
    from django.test import RequestFactory

    mw = middleware.HeapWatchMiddleware(views.leaky)
    factory = RequestFactory()
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        mw(factory.get("/leaky/?n=2000"))     # its response is never closed
        for _ in range(3):
            mw(factory.get("/leaky/?n=2000")).close()
    # The first measurement never ended; the three after it did.
    assert len(records(caplog)) == 3


def test_internal_failure_is_logged_once_and_request_goes_on(
        client: Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    import heapwatch.django.middleware as mw

    calls = {"n": 0}

    def broken_census(**kwargs: Any) -> Any:
        calls["n"] += 1
        raise MemoryError("simulated failure inside heapwatch")

    monkeypatch.setattr(mw.heapwatch, "census", broken_census)
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        r1 = client.get("/leaky/?n=1000")
        r2 = client.get("/leaky/?n=1000")
    assert (r1.status_code, r2.status_code) == (200, 200)
    assert r1.content == b"leaked 1000"
    errors = [r for r in records(caplog) if r.levelno == logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is not None
    assert calls["n"] == 2


def test_bad_settings_do_not_break_requests(client: Client, settings: Any) -> None:
    settings.HEAPWATCH = {"SAMPLE_RATE": "often", "MIN_OBJECTS": None, "PATHS": 5,
                          "LOG_LEVEL": object(), "TIME_BUDGET": float("nan"), "LEAK_AFTER": -1}
    assert client.get("/leaky/?n=1000").status_code == 200


def test_settings_cache_follows_override_settings(settings: Any) -> None:
    settings.HEAPWATCH = {"TOP_TYPES": 3}
    assert get_settings()["TOP_TYPES"] == 3
    settings.HEAPWATCH = {"TOP_TYPES": 7}
    assert get_settings()["TOP_TYPES"] == 7
    assert get_settings()["QUERYSET_ROWS_WARN"] == 10_000


# ---- retention ------------------------------------------------------------------


def test_retention_explains_the_new_objects_of_a_leak(client: Client, settings: Any,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    settings.HEAPWATCH = {**EVERY, "RETENTION": True, "RETENTION_TYPES": 2, "RETENTION_GROUPS": 1,
                          "RETENTION_INTERVAL": 3600}
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        run(client, "/leaky/?n=2500", 10)
    warnings = records(caplog, logging.WARNING)
    assert len(warnings) >= 2
    first, second = warnings[0], warnings[1]
    held = {g["type"].rsplit(".", 1)[-1]: g
            for g in first.heapwatch["retention"]}  # type: ignore[attr-defined]
    assert set(held) == {"FirstModel", "ModelState"}
    model = held["FirstModel"]
    # This request's 2,500, not every FirstModel the list holds by now.
    assert model["count"] == 2500
    assert model["via"] == "module tests.djangoapp.views .LEAKED -> list [*]"
    assert held["ModelState"]["via"] == \
        "module tests.djangoapp.views .LEAKED -> list [*] -> FirstModel ._state"
    assert model["retained"] >= model["bytes"] > 0
    assert "held: 2,500 FirstModel (" in first.getMessage()
    assert "heapwatch" not in repr(first.heapwatch["retention"])  # type: ignore[attr-defined]
    # Rate limited: the next leak record within the interval has no groups.
    assert "retention" not in second.heapwatch  # type: ignore[attr-defined]


def test_retention_is_off_by_default(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        run(client, "/leaky/?n=2000", 8)
    assert records(caplog, logging.WARNING)
    assert all("retention" not in r.heapwatch for r in records(caplog))  # type: ignore[attr-defined]
