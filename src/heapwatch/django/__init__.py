"""heapwatch for Django: per-request growth in the app's logs, the big-queryset
guard, and bounded-memory streaming and deletion of querysets.

    INSTALLED_APPS += ["heapwatch.django"]
    MIDDLEWARE += ["heapwatch.django.middleware.HeapWatchMiddleware"]
"""

from __future__ import annotations

from typing import Any

__all__ = ["delete_in_chunks", "stream"]


def __getattr__(name: str) -> Any:
    # Lazy, so importing heapwatch.django does not import Django models
    # before the app registry is ready.
    if name in ("stream", "delete_in_chunks"):
        from heapwatch.django import querysets

        return getattr(querysets, name)
    raise AttributeError(f"module 'heapwatch.django' has no attribute {name!r}")
