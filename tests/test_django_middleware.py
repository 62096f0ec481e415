"""HeapWatchMiddleware against real Django requests (test client, sync and
async), and the settings that steer it."""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import AsyncClient, Client

from heapwatch.django.conf import get_settings
from tests.djangoapp import views

LOGGER = "heapwatch.request"


@pytest.fixture(autouse=True)
def _clean(settings: Any) -> Iterator[None]:
    settings.HEAPWATCH = {"MIN_OBJECTS": 1000, "MIN_BYTES": 1 << 40, "MIN_RSS": 1 << 40}
    views.LEAKED.clear()
    gc.collect()
    yield
    views.LEAKED.clear()


def records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER]


def test_leaking_view_is_logged_with_types_and_counts(client: Client,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger=LOGGER):
        response = client.get("/leaky/?n=3000&token=secret")
    assert response.status_code == 200
    [rec] = records(caplog)
    data = rec.heapwatch  # type: ignore[attr-defined]
    assert data["view"] == "tests.djangoapp.views.leaky"
    assert (data["method"], data["path"], data["status"]) == ("GET", "/leaky/", 200)
    top = {t["type"]: t for t in data["top"]}
    assert top["FirstModel"]["delta"] == 3000
    assert top["ModelState"]["delta"] == 3000
    assert data["objects_delta"] >= 5000
    assert data["duration_ms"] > 0
    msg = rec.getMessage()
    assert msg.startswith("GET /leaky/ tests.djangoapp.views.leaky 200 in ")
    assert f"\nFirstModel {top['FirstModel']['count']} +3000" in msg
    assert "secret" not in msg and "token" not in msg, "query strings are never logged"
    assert rec.levelno == logging.WARNING


def test_flat_view_is_not_logged(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    client.get("/flat/")  # warm-up: first request imports and caches
    with caplog.at_level(logging.INFO, logger=LOGGER):
        assert client.get("/flat/").status_code == 200
    assert records(caplog) == []


def test_thresholds(client: Client, settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    settings.HEAPWATCH = {"MIN_OBJECTS": 10_000, "MIN_BYTES": 1 << 40, "MIN_RSS": 1 << 40}
    with caplog.at_level(logging.INFO, logger=LOGGER):
        client.get("/leaky/?n=1000")      # ~2000 objects: under 10k
        assert records(caplog) == []
        client.get("/leaky/?n=6000")      # ~12000 objects: over
    assert len(records(caplog)) == 1
    settings.HEAPWATCH = {"MIN_OBJECTS": 1 << 40, "MIN_BYTES": 100_000, "MIN_RSS": 1 << 40}
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=LOGGER):
        client.get("/leaky/?n=3000")      # bytes threshold alone
    assert len(records(caplog)) == 1


def test_sampling_every_nth(client: Client, settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    settings.HEAPWATCH = {"MIN_OBJECTS": 1000, "MIN_BYTES": 1 << 40, "MIN_RSS": 1 << 40,
                          "SAMPLE_EVERY": 3}
    with caplog.at_level(logging.INFO, logger=LOGGER):
        for _ in range(9):
            client.get("/leaky/?n=1500")
    assert len(records(caplog)) == 3


@pytest.mark.parametrize("rate, expect", [(0.0, 0), (1.0, 5)])
def test_sampling_rate(client: Client, settings: Any, caplog: pytest.LogCaptureFixture,
                       rate: float, expect: int) -> None:
    settings.HEAPWATCH = {"MIN_OBJECTS": 1000, "MIN_BYTES": 1 << 40, "MIN_RSS": 1 << 40,
                          "SAMPLE_RATE": rate}
    with caplog.at_level(logging.INFO, logger=LOGGER):
        for _ in range(5):
            client.get("/leaky/?n=1500")
    assert len(records(caplog)) == expect


def test_sampling_rate_is_random_fraction(client: Client, settings: Any,
                                          caplog: pytest.LogCaptureFixture) -> None:
    import random

    random.seed(1234)
    settings.HEAPWATCH = {"MIN_OBJECTS": 1000, "MIN_BYTES": 1 << 40, "MIN_RSS": 1 << 40,
                          "SAMPLE_RATE": 0.5}
    with caplog.at_level(logging.INFO, logger=LOGGER):
        for _ in range(40):
            client.get("/leaky/?n=1100")
    assert 8 <= len(records(caplog)) <= 32


def test_only_listed_paths_and_views(client: Client, settings: Any,
                                     caplog: pytest.LogCaptureFixture) -> None:
    base = {"MIN_OBJECTS": 1000, "MIN_BYTES": 1 << 40, "MIN_RSS": 1 << 40}
    settings.HEAPWATCH = {**base, "PATHS": ["/other/"]}
    with caplog.at_level(logging.INFO, logger=LOGGER):
        client.get("/leaky/?n=1500")
    assert records(caplog) == []
    settings.HEAPWATCH = {**base, "VIEWS": ["leaky"]}
    with caplog.at_level(logging.INFO, logger=LOGGER):
        client.get("/leaky/?n=1500")
        client.get("/async-leaky/")
    assert [r.heapwatch["path"] for r in records(caplog)] == ["/leaky/"]  # type: ignore[attr-defined]


def test_disabled(client: Client, settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    settings.HEAPWATCH = {"ENABLED": False, "MIN_OBJECTS": 1}
    with caplog.at_level(logging.INFO, logger=LOGGER):
        client.get("/leaky/?n=1500")
    assert records(caplog) == []


@pytest.mark.asyncio
async def test_async_view(caplog: pytest.LogCaptureFixture) -> None:
    client = AsyncClient()
    with caplog.at_level(logging.INFO, logger=LOGGER):
        response = await client.get("/async-leaky/")
    assert response.status_code == 200
    [rec] = records(caplog)
    assert rec.heapwatch["view"] == "tests.djangoapp.views.async_leaky"  # type: ignore[attr-defined]
    top = {t["type"]: t["delta"] for t in rec.heapwatch["top"]}  # type: ignore[attr-defined]
    assert top["FirstModel"] == 1500


def test_view_that_raises_is_measured_and_error_unchanged(
        caplog: pytest.LogCaptureFixture) -> None:
    client = Client(raise_request_exception=False)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        response = client.get("/boom/")
    assert response.status_code == 500
    [rec] = records(caplog)
    assert rec.heapwatch["status"] == 500  # type: ignore[attr-defined]
    strict = Client()
    with pytest.raises(ValueError, match="view failed"):
        strict.get("/boom/")


def test_internal_failure_is_logged_once_and_request_goes_on(
        client: Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    import heapwatch.django.middleware as mw

    calls = {"n": 0}

    def broken_census(**kwargs: Any) -> Any:
        calls["n"] += 1
        raise MemoryError("simulated failure inside heapwatch")

    monkeypatch.setattr(mw.heapwatch, "census", broken_census)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        r1 = client.get("/leaky/?n=1000")
        r2 = client.get("/leaky/?n=1000")
    assert (r1.status_code, r2.status_code) == (200, 200)
    assert r1.content == b"leaked 1000"
    errors = [r for r in records(caplog) if r.levelno == logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is not None
    assert calls["n"] == 2


def test_bad_settings_do_not_break_requests(client: Client, settings: Any) -> None:
    settings.HEAPWATCH = {"SAMPLE_RATE": "often", "MIN_OBJECTS": None, "PATHS": 5,
                          "LOG_LEVEL": object()}
    assert client.get("/leaky/?n=1000").status_code == 200


def test_settings_cache_follows_override_settings(settings: Any) -> None:
    settings.HEAPWATCH = {"TOP_TYPES": 3}
    assert get_settings()["TOP_TYPES"] == 3
    settings.HEAPWATCH = {"TOP_TYPES": 7}
    assert get_settings()["TOP_TYPES"] == 7
    assert get_settings()["QUERYSET_ROWS_WARN"] == 10_000


def test_retention_groups_of_the_grown_types(client: Client, settings: Any,
                                             caplog: pytest.LogCaptureFixture) -> None:
    settings.HEAPWATCH = {"MIN_OBJECTS": 1000, "MIN_BYTES": 1 << 40, "MIN_RSS": 1 << 40,
                          "RETENTION": True, "RETENTION_TYPES": 2, "RETENTION_GROUPS": 1,
                          "RETENTION_INTERVAL": 3600}
    with caplog.at_level(logging.INFO, logger=LOGGER):
        assert client.get("/leaky/?n=2500").status_code == 200
        # Rate limited: the next record within the interval has no groups.
        assert client.get("/leaky/?n=2500").status_code == 200
    first, second = records(caplog)
    held = {g["type"].rsplit(".", 1)[-1]: g
            for g in first.heapwatch["retention"]}  # type: ignore[attr-defined]
    assert set(held) == {"FirstModel", "ModelState"}
    assert held["ModelState"]["via"] == \
        "module tests.djangoapp.views .LEAKED -> list [*] -> FirstModel ._state"
    model = held["FirstModel"]
    assert model["count"] == 2500
    assert model["via"] == "module tests.djangoapp.views .LEAKED -> list [*]"
    assert model["retained"] >= model["bytes"] > 0
    assert "\nheld: 2,500 FirstModel (" in first.getMessage()
    assert "retention" not in second.heapwatch  # type: ignore[attr-defined]
    assert "held:" not in second.getMessage()


def test_retention_is_off_by_default(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger=LOGGER):
        client.get("/leaky/?n=2000")
    [rec] = records(caplog)
    assert "retention" not in rec.heapwatch  # type: ignore[attr-defined]
