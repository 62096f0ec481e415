"""heapwatch's Django settings: one dict, ``settings.HEAPWATCH``, merged over
DEFAULTS.  Read through get_settings(), which caches the merge and is
cleared on Django's ``setting_changed`` signal so ``override_settings``
works.  Validation lives in checks.py (system checks); at run time a bad
value never raises into a request: the code using it falls back to the
default and the check reports the mistake.
"""

from __future__ import annotations

import functools
from typing import Any

#: Documented defaults.  Every key is described in README.md.
DEFAULTS: dict[str, Any] = {
    # Per-request growth (middleware)
    "ENABLED": True,            # master switch for the middleware
    "SAMPLE_RATE": 1.0,         # fraction of requests measured, 0..1 (random)
    "SAMPLE_EVERY": None,       # or measure every Nth request (int >= 1)
    "PATHS": [],                # only requests whose path starts with one of these
    "VIEWS": [],                # only these view names ("app:name" or dotted path)
    "COLLECT": False,           # gc.collect() before the "after" census
    "MIN_OBJECTS": 1000,        # log when objects grew by at least this ...
    "MIN_BYTES": 1 << 20,       # ... or shallow bytes by at least this ...
    "MIN_RSS": 8 << 20,         # ... or the process RSS by at least this
    "TOP_TYPES": 10,            # growing types listed in the record
    "LOG_LEVEL": "WARNING",     # level of heapwatch.request records
    # What holds the growth (a reference graph of the heap: costly, so off
    # by default and rate limited)
    "RETENTION": False,         # add the retention groups of the grown types
    "RETENTION_TYPES": 3,       # ... of this many of the top grown types
    "RETENTION_GROUPS": 3,      # ... this many groups per type
    "RETENTION_INTERVAL": 300,  # ... at most once per this many seconds
    # The big-queryset guard
    "QUERYSET_GUARD": True,     # install the guard at all
    "QUERYSET_ROWS_WARN": 10_000,   # warn when a result cache exceeds this
    "QUERYSET_RAISE": False,    # raise HugeQuerySetError instead of warning
}


@functools.lru_cache(maxsize=1)
def get_settings() -> dict[str, Any]:
    from django.conf import settings

    user = getattr(settings, "HEAPWATCH", None)
    merged = dict(DEFAULTS)
    if isinstance(user, dict):
        merged.update(user)
    return merged


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "HEAPWATCH":
        get_settings.cache_clear()


def connect_signals() -> None:
    from django.core.signals import setting_changed

    setting_changed.connect(_on_setting_changed, dispatch_uid="heapwatch-settings")
