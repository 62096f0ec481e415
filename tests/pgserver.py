"""A real PostgreSQL server for the tests (placeholder: filled in by the
querysets work)."""

from __future__ import annotations

from typing import Any


def postgres_database() -> dict[str, Any] | None:
    return None
