"""System checks fire on bad or risky settings, with stable ids."""

from __future__ import annotations

from typing import Any

import pytest

from heapwatch.django.checks import check_settings


def ids(settings: Any, value: Any, **extra: Any) -> list[str]:
    settings.HEAPWATCH = value
    for k, v in extra.items():
        setattr(settings, k, v)
    return [m.id for m in check_settings()]


def test_good_settings_are_quiet(settings: Any) -> None:
    assert ids(settings, {"SAMPLE_RATE": 0.01, "PATHS": ["/api/"], "LOG_LEVEL": "info"}) == []


@pytest.mark.parametrize("value, expected", [
    ([("SAMPLE_RATE", 1)], ["heapwatch.E001"]),
    ({"SAMPLE_RATE": 1.5}, ["heapwatch.E003"]),
    ({"RETENTION_INTERVAL": float("nan")}, ["heapwatch.E003"]),
    ({"TIME_BUDGET": 2}, ["heapwatch.E003"]),
    ({"TIME_BUDGET": "0.1"}, ["heapwatch.E002"]),
    ({"LEAK_AFTER": 0}, ["heapwatch.E003"]),
    ({"SAMPLE_RATE": -0.1}, ["heapwatch.E003"]),
    ({"SAMPLE_RATE": "0.5"}, ["heapwatch.E002"]),
    ({"SAMPLE_EVERY": 0}, ["heapwatch.E003"]),
    ({"MIN_OBJECTS": True}, ["heapwatch.E002"]),
    ({"MIN_BYTES": -1}, ["heapwatch.E003"]),
    ({"PATHS": ["/a/", 3]}, ["heapwatch.E003"]),
    ({"QUERYSET_ROWS_WARN": "10000"}, ["heapwatch.E002"]),
    ({"LOG_LEVEL": "LOUD"}, ["heapwatch.E004"]),
    ({"SAMPLE_RATTE": 0.1}, ["heapwatch.W001"]),
])
def test_bad_settings(settings: Any, value: Any, expected: list[str]) -> None:
    assert ids(settings, value) == expected


def test_typo_hint(settings: Any) -> None:
    settings.HEAPWATCH = {"SAMPLE_RATTE": 0.1}
    [msg] = check_settings()
    assert msg.hint == "Did you mean 'SAMPLE_RATE'?"


def test_guard_off_in_debug(settings: Any) -> None:
    assert ids(settings, {"QUERYSET_GUARD": False}, DEBUG=True) == ["heapwatch.W002"]
    assert ids(settings, {"QUERYSET_GUARD": False}, DEBUG=False) == []


def test_collect_every_request_in_production(settings: Any) -> None:
    assert ids(settings, {"COLLECT": True, "SAMPLE_RATE": 1.0}, DEBUG=False) == ["heapwatch.W003"]
    assert ids(settings, {"COLLECT": True, "TIME_BUDGET": None}, DEBUG=False) == ["heapwatch.W003"]
    assert ids(settings, {"COLLECT": True, "SAMPLE_RATE": 0.01}, DEBUG=False) == []
    # The default time budget does not measure every request.
    assert ids(settings, {"COLLECT": True}, DEBUG=False) == []


def test_middleware_missing(settings: Any) -> None:
    assert ids(settings, {}, MIDDLEWARE=[]) == ["heapwatch.W004"]


def test_checks_run_through_django(settings: Any) -> None:
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    settings.HEAPWATCH = {"SAMPLE_RATE": 3}
    with pytest.raises(SystemCheckError, match="heapwatch.E003"):
        call_command("check")


def test_prometheus_without_its_client(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    assert ids(settings, {"PROMETHEUS": True}) == []  # installed in the test environments
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "prometheus_client" else real(name, *a))
    assert ids(settings, {"PROMETHEUS": True}) == ["heapwatch.W005"]
    assert ids(settings, {"PROMETHEUS": False}) == []
