"""System checks for settings.HEAPWATCH, with stable ids:

  heapwatch.E001  HEAPWATCH is not a dict
  heapwatch.E002  a value has the wrong type
  heapwatch.E003  a value is out of range (SAMPLE_RATE outside 0..1, ...)
  heapwatch.E004  LOG_LEVEL is not a logging level
  heapwatch.W001  unknown key (a typo would silently do nothing)
  heapwatch.W002  the queryset guard is off while DEBUG is on
  heapwatch.W003  COLLECT on every request outside DEBUG (a full collection per request)
  heapwatch.W004  the middleware is not in MIDDLEWARE
  heapwatch.W005  PROMETHEUS is on but prometheus-client is not installed
  heapwatch.W006  SNAPSHOT_SIGNAL is a signal servers use to control workers
"""

from __future__ import annotations

import difflib
import importlib.util
import signal
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from heapwatch._triggers import signal_number
from heapwatch.django.conf import DEFAULTS, SCHEMA, setting, type_problem
from heapwatch.django.snapshots import SERVER_SIGNALS

MIDDLEWARE_PATH = "heapwatch.django.middleware.HeapWatchMiddleware"


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
        wrong_type = type_problem(key, value)
        if wrong_type:
            msgs.append(Error(f"HEAPWATCH[{key!r}] {wrong_type}.",
                              hint=f"The default is {DEFAULTS[key]!r}; heapwatch uses it meanwhile.",
                              id="heapwatch.E002"))
            continue
        check = SCHEMA[key].check
        bad = check(value) if check is not None else None
        if bad and key == "LOG_LEVEL":
            msgs.append(Error(f"HEAPWATCH['LOG_LEVEL'] {bad}.",
                              hint="Use 'DEBUG', 'INFO', 'WARNING', 'ERROR' (any case) or a number.",
                              id="heapwatch.E004"))
        elif bad:
            msgs.append(Error(f"HEAPWATCH[{key!r}] {bad}.",
                              hint=f"The default is {DEFAULTS[key]!r}; heapwatch uses it meanwhile.",
                              id="heapwatch.E003"))
    # What heapwatch will run with: each valid value, else its default.
    merged = {**DEFAULTS, **user}
    if settings.DEBUG and not setting(merged, "QUERYSET_GUARD"):
        msgs.append(Warning("The heapwatch queryset guard is off while DEBUG is on.",
                            hint="Development is where it pays: leave QUERYSET_GUARD on and raise "
                                 "QUERYSET_ROWS_WARN instead if it is noisy.",
                            id="heapwatch.W002"))
    every, rate = setting(merged, "SAMPLE_EVERY"), setting(merged, "SAMPLE_RATE")
    every_request = (every == 1 or rate == 1
                     or (every is None and rate is None and setting(merged, "TIME_BUDGET") is None))
    if not settings.DEBUG and setting(merged, "COLLECT") and every_request:
        msgs.append(Warning("HEAPWATCH runs a full garbage collection on every request.",
                            hint="In production leave the sampling to TIME_BUDGET (the default), "
                                 "or set SAMPLE_RATE 0.01 or SAMPLE_EVERY 100.",
                            id="heapwatch.W003"))
    if setting(merged, "PROMETHEUS") and importlib.util.find_spec("prometheus_client") is None:
        msgs.append(Warning("HEAPWATCH['PROMETHEUS'] is on but prometheus-client is not installed.",
                            hint="pip install 'heapwatch[prometheus]'; meanwhile the request "
                                 "metrics are not kept.",
                            id="heapwatch.W005"))
    number = signal_number(setting(merged, "SNAPSHOT_SIGNAL"))
    if number is not None and number in SERVER_SIGNALS:
        name = signal.Signals(number).name
        msgs.append(Warning(f"HEAPWATCH['SNAPSHOT_SIGNAL'] is {name}, which servers use to "
                            f"control their workers.",
                            hint="Use SIGUSR2 (free in gunicorn and uWSGI workers): a capture "
                                 f"handler on {name} replaces the server's.",
                            id="heapwatch.W006"))
    if MIDDLEWARE_PATH not in getattr(settings, "MIDDLEWARE", []):
        msgs.append(Warning("heapwatch.django is installed but its middleware is not in MIDDLEWARE.",
                            hint=f"Add {MIDDLEWARE_PATH!r} to MIDDLEWARE to log per-request growth "
                                 "(the queryset guard works without it).",
                            id="heapwatch.W004"))
    return msgs
