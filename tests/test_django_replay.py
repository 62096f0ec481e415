"""manage.py heapwatch_replay: the seed's experiment as one command."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from tests.djangoapp import views


def test_replay_prints_growth_per_call(settings: Any) -> None:
    views.LEAKED.clear()
    out = io.StringIO()
    call_command("heapwatch_replay", "/leaky/?n=2500", "--times", "3", stdout=out)
    text = out.getvalue()
    calls = re.findall(r"^call (\d): GET /leaky/\?n=2500 -> 200", text, re.M)
    assert calls == ["1", "2", "3"]
    grew = re.findall(r"^  FirstModel (\d+) \+(\d+)$", text, re.M)
    assert [int(d) for _, d in grew] == [2500, 2500, 2500]
    assert int(grew[2][0]) - int(grew[0][0]) == 5000
    views.LEAKED.clear()


def test_replay_flat_view_shows_no_models() -> None:
    out = io.StringIO()
    call_command("heapwatch_replay", "/flat/", "--times", "2", stdout=out)
    assert "FirstModel" not in out.getvalue().split("call 2")[1]


@pytest.mark.parametrize("args", [["/x/", "--times", "0"], ["nope"], ["/x/", "--limit", "-1"]])
def test_replay_bad_arguments(args: list[str]) -> None:
    with pytest.raises(CommandError):
        call_command("heapwatch_replay", *args)


def test_replay_failing_view_prints_one_line() -> None:
    """A view that raises: one line per call with the error, and the
    measuring goes on (the view leaks 1200 FirstModel before raising)."""
    views.LEAKED.clear()
    out = io.StringIO()
    call_command("heapwatch_replay", "/boom/", "--times", "2", stdout=out)
    text = out.getvalue()
    lines = re.findall(r"^call \d: GET /boom/ -> .*$", text, re.M)
    assert len(lines) == 2
    for line in lines:
        assert re.match(r"call \d: GET /boom/ -> 500 \(ValueError: view failed\), "
                        r"objects [+-]\d+, bytes [+-]\d+$", line), line
    assert "Traceback" not in text
    assert re.findall(r"^  FirstModel \d+ \+1200$", text, re.M)
    views.LEAKED.clear()


# ---------------------------------------------------------------------------
# the app: its commands in `manage.py help`, its names


def test_help_lists_commands_under_heapwatch() -> None:
    from django.core.management import ManagementUtility

    out = io.StringIO()
    utility = ManagementUtility(["manage.py", "help"])
    import contextlib

    with contextlib.redirect_stdout(out):
        utility.execute()
    sections = dict(re.findall(r"^\[(\w+)\]\n((?:    \S+\n)+)", out.getvalue(), re.M))
    assert sections["heapwatch"].split() == ["delete_in_chunks", "heapwatch_replay",
                                             "heapwatch_snapshot"]
    assert "django" not in sections or "heapwatch_replay" not in sections["django"]


def test_app_label_and_settings_entry() -> None:
    from django.apps import apps
    from django.conf import settings

    assert "heapwatch.django" in settings.INSTALLED_APPS
    config = apps.get_app_config("heapwatch")
    assert config.label == "heapwatch" and type(config).__module__ == "heapwatch.django.apps"
    assert apps.get_containing_app_config("heapwatch.django.guard") is config


def test_huge_queryset_error_importable() -> None:
    import heapwatch.django
    from heapwatch.django import HugeQuerySetError, delete_in_chunks, stream
    from heapwatch.django import guard, querysets

    assert HugeQuerySetError is guard.HugeQuerySetError
    assert stream is querysets.stream and delete_in_chunks is querysets.delete_in_chunks
    assert callable(stream)  # the function, not the module heapwatch.django.streaming
    assert set(heapwatch.django.__all__) <= set(dir(heapwatch.django))
    with pytest.raises(AttributeError, match="nope"):
        heapwatch.django.nope  # noqa: B018
