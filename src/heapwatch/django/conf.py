"""heapwatch's Django settings: one dict, ``settings.HEAPWATCH``, merged over
the defaults of SCHEMA.  Read through get_settings(), which caches the merge
and is cleared on Django's ``setting_changed`` signal so
``override_settings`` works.

SCHEMA is the one description of every key: its default, the types it
accepts and its range.  checks.py reports a bad value as a system check
message; at run time ``setting(cfg, key)`` returns the value when it is
valid and the default when not, so a request never fails over a setting.
"""

from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass
from typing import Any, Callable

from heapwatch._triggers import signal_number

_NONE = type(None)


def _at_least(low: float) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, float) and not math.isfinite(value):
            return f"must be a finite number, got {value!r}"
        return None if value >= low else f"must be >= {low}, got {value!r}"
    return check


def _fraction(value: Any) -> str | None:
    if value is None:
        return None
    if not (isinstance(value, (int, float)) and math.isfinite(value) and 0 <= value <= 1):
        return f"must be between 0 and 1, got {value!r}"
    return None


def _strings(value: Any) -> str | None:
    return None if all(isinstance(v, str) and v for v in value) else "must hold only non-empty strings"


def _log_level(value: Any) -> str | None:
    return None if level_number(value) is not None else f"is not a logging level: {value!r}"


def level_number(value: Any) -> int | None:
    """A logging level name (any case) or number as a number, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        number = logging.getLevelName(value.upper())
        return number if isinstance(number, int) else None
    return None


def _signal(value: Any) -> str | None:
    if value is None or signal_number(value) is not None:
        return None
    return f"is not a signal a handler can be set for: {value!r}"


@dataclass(frozen=True)
class Setting:
    default: Any
    types: tuple[type, ...]
    check: Callable[[Any], str | None] | None = None
    doc: str = ""


#: Every key, described in README.md.
SCHEMA: dict[str, Setting] = {
    # Per-request growth (middleware)
    "ENABLED": Setting(True, (bool,), None, "the middleware measures at all"),
    "SAMPLE_RATE": Setting(None, (int, float, _NONE), _fraction,
                           "fraction of requests measured, 0..1 (random); None: the time budget"),
    "SAMPLE_EVERY": Setting(None, (int, _NONE), _at_least(1), "or every Nth request"),
    "TIME_BUDGET": Setting(0.005, (int, float, _NONE), _fraction,
                           "without a rate: measuring costs at most this fraction of the time "
                           "spent in requests; None measures every request"),
    "PATHS": Setting([], (list, tuple), _strings, "only requests whose path starts with one of these"),
    "VIEWS": Setting([], (list, tuple), _strings, "only these view names"),
    "COLLECT": Setting(False, (bool,), None,
                       "a full gc.collect() before the second census (else the young generations)"),
    "MIN_OBJECTS": Setting(1000, (int,), _at_least(0), "log when objects grew by at least this ..."),
    "MIN_BYTES": Setting(1 << 20, (int,), _at_least(0), "... or shallow bytes by at least this ..."),
    "MIN_RSS": Setting(8 << 20, (int,), _at_least(0), "... or the process RSS by at least this"),
    "TOP_TYPES": Setting(10, (int,), _at_least(0), "grown types listed in the record"),
    "LOG_LEVEL": Setting("WARNING", (str, int), _log_level, "level of records with a leak"),
    "MULTILINE": Setting(False, (bool,), None, "one line per type instead of one line per record"),
    "LEAK_AFTER": Setting(4, (int,), _at_least(1),
                          "requests of a view whose growth stayed before it is called a leak"),
    "PROMETHEUS": Setting(False, (bool,), None,
                          "count measured requests in heapwatch.prometheus's metrics "
                          "(needs prometheus_client)"),
    # What holds the growth (a reference graph of the heap: costly, so off
    # by default and rate limited)
    "RETENTION": Setting(False, (bool,), None, "add the retention groups of the leaking types"),
    "RETENTION_TYPES": Setting(3, (int,), _at_least(0), "... of this many types"),
    "RETENTION_GROUPS": Setting(3, (int,), _at_least(0), "... this many groups per type"),
    "RETENTION_INTERVAL": Setting(300, (int, float), _at_least(0), "... at most once per this many seconds"),
    # Heap snapshots written in the background (heapwatch.capture)
    "SNAPSHOT_SIGNAL": Setting(None, (str, int, _NONE), _signal,
                               "capture on this signal ('SIGUSR2'); None: no handler"),
    "SNAPSHOT_DIR": Setting("/var/tmp/heapwatch", (str,), None,
                            "where captures are written (created 0700)"),
    "SNAPSHOT_ON_RSS": Setting(None, (int, float, _NONE), _at_least(1),
                               "capture once when the RSS passes this many MiB"),
    "SNAPSHOT_INTERVAL": Setting(60, (int, float), _at_least(0),
                                 "at most one capture per this many seconds"),
    # The big-queryset guard
    "QUERYSET_GUARD": Setting(True, (bool,), None, "install the guard at all"),
    "QUERYSET_ROWS_WARN": Setting(10_000, (int,), _at_least(0), "warn when a result cache exceeds this"),
    "QUERYSET_RAISE": Setting(False, (bool,), None, "raise HugeQuerySetError instead of warning"),
    "QUERYSET_WARN_INTERVAL": Setting(300, (int, float), _at_least(0),
                                      "one warning per location per this many seconds"),
    "QUERYSET_SKIP_MODULES": Setting([], (list, tuple), _strings,
                                     "module prefixes never blamed (like library code)"),
}

#: The defaults alone.
DEFAULTS: dict[str, Any] = {key: s.default for key, s in SCHEMA.items()}


def type_problem(key: str, value: Any) -> str | None:
    """Why value has the wrong type for key, or None."""
    s = SCHEMA[key]
    if (isinstance(value, bool) and bool not in s.types) or not isinstance(value, s.types):
        names = " or ".join("None" if t is _NONE else t.__name__ for t in s.types)
        return f"must be {names}, not {type(value).__name__}"
    return None


def problem(key: str, value: Any) -> str | None:
    """What is wrong with value for key (type or range), or None."""
    s = SCHEMA[key]
    return type_problem(key, value) or (s.check(value) if s.check is not None else None)


def setting(cfg: dict[str, Any], key: str) -> Any:
    """cfg[key] if it is valid, else the default (the system checks report
    the bad value; a request never fails over it).  LOG_LEVEL comes back as
    a number."""
    value = cfg.get(key, SCHEMA[key].default)
    if problem(key, value) is not None:
        value = SCHEMA[key].default
    if key == "LOG_LEVEL":
        return level_number(value)
    return value


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
