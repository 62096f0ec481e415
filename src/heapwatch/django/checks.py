"""System checks for settings.HEAPWATCH, with stable ids:

  heapwatch.E001  HEAPWATCH is not a dict
  heapwatch.E002  a value has the wrong type
  heapwatch.E003  a value is out of range (SAMPLE_RATE outside 0..1, ...)
  heapwatch.E004  LOG_LEVEL is not a logging level
  heapwatch.W001  unknown key (a typo would silently do nothing)
  heapwatch.W002  the queryset guard is off while DEBUG is on
  heapwatch.W003  COLLECT on every request outside DEBUG (a full collection per request)
  heapwatch.W004  the middleware is not in MIDDLEWARE
"""

from __future__ import annotations

import difflib
import logging
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from heapwatch.django.conf import DEFAULTS

_TYPES: dict[str, tuple[type, ...]] = {
    "ENABLED": (bool,),
    "SAMPLE_RATE": (int, float),
    "SAMPLE_EVERY": (int, type(None)),
    "PATHS": (list, tuple),
    "VIEWS": (list, tuple),
    "COLLECT": (bool,),
    "MIN_OBJECTS": (int,),
    "MIN_BYTES": (int,),
    "MIN_RSS": (int,),
    "TOP_TYPES": (int,),
    "LOG_LEVEL": (str, int),
    "RETENTION": (bool,),
    "RETENTION_TYPES": (int,),
    "RETENTION_GROUPS": (int,),
    "RETENTION_INTERVAL": (int, float),
    "QUERYSET_GUARD": (bool,),
    "QUERYSET_ROWS_WARN": (int,),
    "QUERYSET_RAISE": (bool,),
}
assert set(_TYPES) == set(DEFAULTS)

MIDDLEWARE_PATH = "heapwatch.django.middleware.HeapWatchMiddleware"


def _typename(types: tuple[type, ...]) -> str:
    return " or ".join("None" if t is type(None) else t.__name__ for t in types)


@register(Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    user = getattr(settings, "HEAPWATCH", {})
    msgs: list[CheckMessage] = []
    if not isinstance(user, dict):
        return [Error("HEAPWATCH must be a dict.",
                      hint=f"Got {type(user).__name__}; write HEAPWATCH = {{'SAMPLE_RATE': 0.01}}.",
                      id="heapwatch.E001")]
    for key, value in user.items():
        if key not in DEFAULTS:
            close = difflib.get_close_matches(str(key), list(DEFAULTS), n=1)
            hint = f"Did you mean {close[0]!r}?" if close else f"Known keys: {', '.join(sorted(DEFAULTS))}."
            msgs.append(Warning(f"HEAPWATCH has an unknown key {key!r}; it is ignored.",
                                hint=hint, id="heapwatch.W001"))
            continue
        types = _TYPES[key]
        if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
            msgs.append(Error(f"HEAPWATCH[{key!r}] must be {_typename(types)}, not {type(value).__name__}.",
                              hint=f"The default is {DEFAULTS[key]!r}; heapwatch uses it meanwhile.",
                              id="heapwatch.E002"))
            continue
        problem = _range_problem(key, value)
        if problem:
            msgs.append(Error(f"HEAPWATCH[{key!r}] {problem}.",
                              hint=f"The default is {DEFAULTS[key]!r}.", id="heapwatch.E003"))
    level = user.get("LOG_LEVEL")
    if isinstance(level, str) and not isinstance(logging.getLevelName(level.upper()), int):
        msgs.append(Error(f"HEAPWATCH['LOG_LEVEL'] is not a logging level: {level!r}.",
                          hint="Use 'DEBUG', 'INFO', 'WARNING', 'ERROR' or a number.",
                          id="heapwatch.E004"))
    merged = {**DEFAULTS, **user}
    if settings.DEBUG and merged.get("QUERYSET_GUARD") is False:
        msgs.append(Warning("The heapwatch queryset guard is off while DEBUG is on.",
                            hint="Development is where it pays: leave QUERYSET_GUARD on and raise "
                                 "QUERYSET_ROWS_WARN instead if it is noisy.",
                            id="heapwatch.W002"))
    if (not settings.DEBUG and merged.get("COLLECT") is True
            and merged.get("SAMPLE_EVERY") is None and merged.get("SAMPLE_RATE") == 1):
        msgs.append(Warning("HEAPWATCH runs a full garbage collection on every request.",
                            hint="In production sample: SAMPLE_RATE 0.01 or SAMPLE_EVERY 100.",
                            id="heapwatch.W003"))
    if MIDDLEWARE_PATH not in getattr(settings, "MIDDLEWARE", []):
        msgs.append(Warning("heapwatch.django is installed but its middleware is not in MIDDLEWARE.",
                            hint=f"Add {MIDDLEWARE_PATH!r} to MIDDLEWARE to log per-request growth "
                                 "(the queryset guard works without it).",
                            id="heapwatch.W004"))
    return msgs


def _range_problem(key: str, value: Any) -> str | None:
    if key == "SAMPLE_RATE" and not 0 <= value <= 1:
        return f"must be between 0 and 1, got {value!r}"
    if key == "SAMPLE_EVERY" and value is not None and value < 1:
        return f"must be >= 1, got {value!r}"
    if key in ("MIN_OBJECTS", "MIN_BYTES", "MIN_RSS", "QUERYSET_ROWS_WARN") and value < 0:
        return f"must be >= 0, got {value!r}"
    if key in ("TOP_TYPES", "RETENTION_TYPES", "RETENTION_GROUPS", "RETENTION_INTERVAL") \
            and value < 0:
        return f"must be >= 0, got {value!r}"
    if key in ("PATHS", "VIEWS") and not all(isinstance(v, str) for v in value):
        return "must hold only strings"
    return None
