"""The big-queryset guard.

When a QuerySet fills its result cache with more than QUERYSET_ROWS_WARN
rows, say so on the ``heapwatch.queryset`` logger, naming the model, the
rows, an estimate of the memory they hold, and the line of application code
that made it happen (the first frame outside Django and heapwatch), with the
fix.  With QUERYSET_RAISE it raises HugeQuerySetError instead, so a test
suite can forbid the mistake.

It wraps QuerySet._fetch_all, the one place every materialization goes
through (iteration, len(), bool(), list(), pickling); .iterator() and
heapwatch.django.stream() do not fill the cache and are never flagged.  The
wrapper only reads the cache after Django filled it: results are unchanged.
With QUERYSET_GUARD off it is not installed at all.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from types import FrameType
from typing import Any, Callable

import django

import heapwatch
from heapwatch.django.conf import DEFAULTS, get_settings

logger = logging.getLogger("heapwatch.queryset")

_DJANGO_DIR = os.path.dirname(django.__file__) + os.sep
_HEAPWATCH_DIR = os.path.dirname(heapwatch.__file__) + os.sep
_SAMPLE = 50

_lock = threading.Lock()
_original: Callable[[Any], None] | None = None


class HugeQuerySetError(RuntimeError):
    """A QuerySet materialized more rows than HEAPWATCH["QUERYSET_ROWS_WARN"]."""


def _caller() -> str:
    """file:line of the first frame outside Django and heapwatch."""
    frame: FrameType | None = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not (filename.startswith(_DJANGO_DIR) or filename.startswith(_HEAPWATCH_DIR)
                or filename.startswith("<frozen ")):
            return f"{filename}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown>"


def estimate_bytes(rows: list[Any]) -> int:
    """Shallow bytes of the rows, their instance dicts and model states,
    measured on a sample and scaled.  An estimate, never an object's
    contents."""
    if not rows:
        return 0
    step = max(1, len(rows) // _SAMPLE)
    sample = rows[::step]
    total = 0
    for obj in sample:
        total += sys.getsizeof(obj)
        d = getattr(obj, "__dict__", None)
        if isinstance(d, dict):
            total += sys.getsizeof(d)
            state = d.get("_state")
            if state is not None:
                total += sys.getsizeof(state) + sys.getsizeof(getattr(state, "__dict__", {}))
                cache = getattr(state, "fields_cache", None)
                if isinstance(cache, dict):
                    total += sys.getsizeof(cache)
    return total * len(rows) // len(sample) + sys.getsizeof(rows)


def _threshold() -> tuple[int, bool] | None:
    cfg = get_settings()
    if not cfg.get("QUERYSET_GUARD", True):
        return None
    limit = cfg.get("QUERYSET_ROWS_WARN", DEFAULTS["QUERYSET_ROWS_WARN"])
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
        limit = DEFAULTS["QUERYSET_ROWS_WARN"]
    return limit, bool(cfg.get("QUERYSET_RAISE", False))


def _check(qs: Any) -> None:
    try:
        conf = _threshold()
        cache = qs._result_cache
        if conf is None or cache is None or len(cache) <= conf[0]:
            return
        limit, raising = conf
        model = qs.model
        label = f"{model._meta.app_label}.{model.__name__}" if model is not None else "?"
        where = _caller()
        nbytes = estimate_bytes(cache)
        msg = (f"QuerySet of {label} cached {len(cache)} rows (> {limit}), about "
               f"{nbytes / (1 << 20):.1f} MiB, at {where}. Iterate it without caching: "
               f"heapwatch.django.stream(qs) or qs.iterator()")
    except Exception:  # never break the query over a report
        logger.debug("heapwatch: queryset guard failed", exc_info=True)
        return
    if raising:
        raise HugeQuerySetError(msg)
    logger.warning(msg, extra={"heapwatch_queryset": {
        "model": label, "rows": len(cache), "bytes_estimate": nbytes,
        "limit": limit, "location": where}})


def install() -> None:
    """Wrap QuerySet._fetch_all (idempotent; not done when the guard is off)."""
    global _original
    from django.db.models.query import QuerySet

    with _lock:
        if _original is not None or not get_settings().get("QUERYSET_GUARD", True):
            return
        original = QuerySet._fetch_all

        def _fetch_all(self: Any) -> None:
            fresh = self._result_cache is None
            original(self)
            if fresh:
                _check(self)

        _fetch_all.__wrapped__ = original  # type: ignore[attr-defined,unused-ignore]
        QuerySet._fetch_all = _fetch_all
        _original = original


def uninstall() -> None:
    global _original
    from django.db.models.query import QuerySet

    with _lock:
        if _original is not None:
            QuerySet._fetch_all = _original
            _original = None


def installed() -> bool:
    return _original is not None
