from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import heapwatch
from tests import reference


@pytest.fixture(params=["c", "reference"])
def census_impl(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """Runs a test against the C engine and against the pure-Python
    reference, as markupsafe does with its two implementations."""
    return heapwatch.census if request.param == "c" else reference.census


@pytest.fixture
def quiet_gc() -> Iterator[None]:
    """No automatic collection while a test compares two censuses."""
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@pytest.fixture(autouse=True)
def _reset_growth_baseline() -> Iterator[None]:
    heapwatch._engine.swap_baseline(None)
    yield
    heapwatch._engine.swap_baseline(None)
