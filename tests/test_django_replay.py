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
