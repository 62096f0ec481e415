"""Shared by the tests that run on every configured database: SQLite
("default") and the real PostgreSQL server ("pg") when it is there."""

from __future__ import annotations

import pytest
from django.conf import settings
from hypothesis import HealthCheck
from hypothesis import settings as hsettings

ALIASES = [a for a in ("default", "pg") if a in settings.DATABASES]

HYP = hsettings(max_examples=30, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(params=ALIASES)
def alias(request: pytest.FixtureRequest) -> str:
    return str(request.param)
