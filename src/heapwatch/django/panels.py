"""HeapWatchPanel: a django-debug-toolbar panel for the memory growth of the
current request.

    DEBUG_TOOLBAR_PANELS = [..., "heapwatch.django.panels.HeapWatchPanel"]
    INSTALLED_APPS += ["heapwatch.django"]      # the panel's template

It shows what the request grew, by type (objects and shallow bytes), what
heapwatch knows of each grown type, the queryset guard's warnings raised
while the view ran (with the blamed file:line), and the process's memory
split (heapwatch.memory_split()).

The toolbar renders before the response is closed, so the panel cannot wait
for the middleware's settling census: it takes its own census (the
middleware's census, without heapwatch's bookkeeping types) around the rest
of the toolbar's chain, in process_request, which wraps the view the same
way in django-debug-toolbar 5, 6 and 8.  One request cannot tell a leak from
warm-up (a cache filling), garbage not collected yet or objects the response
still holds, so the panel never calls growth a leak on its own.  A type is a
"leak" only when HeapWatchMiddleware, over earlier requests of the same view,
confirmed it (its records, heapwatch.django.middleware.recent_records());
growth made while another request was in flight is "concurrent"; anything
else is "not confirmed".

Before the first census the young generations are collected (the garbage of
earlier requests would otherwise show as a drop); after the view nothing is
collected: a collection there would move what the response holds to the
oldest generation, where the middleware's settling census would see it as
kept.  No object's contents are shown: type names, counts and sizes only.
"""

from __future__ import annotations

import contextvars
import gc
import json
import logging
import sys
import threading
import time
from typing import Any

from debug_toolbar.panels import Panel
from django.core.signals import request_finished, request_started

import heapwatch
from heapwatch._format import human_bytes
from heapwatch._memory import current_rss, memory_split
from heapwatch._verdicts import CONCURRENT, LEAK, TRANSIENT, WARMUP
from heapwatch.django import guard
from heapwatch.django.conf import get_settings, setting
# OWN_TYPES: the middleware's bookkeeping, which may run inside the panel's
# window; a census leaves it out.
from heapwatch.django.middleware import OWN_TYPES, recent_records

logger = logging.getLogger("heapwatch.panel")

#: Grown types listed in the panel (the rest are summed up in one line).
MAX_TYPES = 40

NOT_CONFIRMED = "not confirmed"

#: Seconds the panel waits, before the view, for other requests in flight to
#: end (the previous response's close, on a threaded server).
SETTLE_WAIT = 0.2
MIDDLEWARE_PATH = "heapwatch.django.middleware.HeapWatchMiddleware"

# ---- requests in flight (any request of the process, toolbar or not) -------

_flight_lock = threading.Lock()
_flight = [0, 0]     # [requests started so far, requests in flight]


def _started(**kwargs: Any) -> None:
    with _flight_lock:
        _flight[0] += 1
        _flight[1] += 1


def _finished(**kwargs: Any) -> None:
    with _flight_lock:
        _flight[1] = max(0, _flight[1] - 1)


request_started.connect(_started, dispatch_uid="heapwatch-panel-started")
request_finished.connect(_finished, dispatch_uid="heapwatch-panel-finished")

# ---- the guard's warnings of the request -----------------------------------

# The list the warnings of the code running now go to (set by the panel
# around the view; a ContextVar follows asgiref's threads and asyncio tasks).
_capture: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "heapwatch_panel_capture", default=None)

_WARNING_FIELDS = ("model", "rows", "bytes_estimate", "limit", "location", "function", "code",
                   "via", "called_from", "kind", "repeats")


class _GuardCapture(logging.Filter):
    """A filter on the guard's logger (a filter, not a handler: adding a
    handler would silence Python's last-resort output where no logging is
    configured).  Lets every record through; keeps the warnings of the
    request being captured, as JSON text (a str is not counted by a census,
    so capturing does not grow the request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        box = _capture.get()
        if box is not None:
            try:
                data = getattr(record, "heapwatch_queryset", None)
                facts = {k: data.get(k) for k in _WARNING_FIELDS} if isinstance(data, dict) else {}
                facts["message"] = record.getMessage()
                box.append(json.dumps(facts, default=str))
            except Exception:
                pass
        return True


_filter = _GuardCapture()


def _install_capture() -> None:
    guard_logger = logging.getLogger(guard.logger.name)
    if _filter not in guard_logger.filters:
        guard_logger.addFilter(_filter)


_install_capture()


# ---- helpers ----------------------------------------------------------------

def _census() -> heapwatch.Census:
    return heapwatch.census(_skip=OWN_TYPES)


def _view_name(request: Any) -> str | None:
    """The name HeapWatchMiddleware records a view under."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return None
    name = getattr(match, "_func_path", None) or getattr(match, "view_name", None)
    return name if isinstance(name, str) else None


def _middleware_installed() -> bool:
    from django.conf import settings

    return MIDDLEWARE_PATH in (getattr(settings, "MIDDLEWARE", None) or ())


def _middleware_history(view: str | None) -> tuple[dict[str, dict[str, Any]], int]:
    """What HeapWatchMiddleware said of this view's types on earlier
    requests: {type: its row of the last record of this view that listed
    it}, and the number of those records.  Concurrent records are left out:
    they say nothing of the view."""
    latest: dict[str, dict[str, Any]] = {}
    measured = 0
    if view is None:
        return latest, measured
    for rec in recent_records():   # oldest first
        if rec.get("view") != view or rec.get("verdict") == CONCURRENT:
            continue
        measured += 1
        for row in rec.get("types") or ():
            if isinstance(row, dict) and isinstance(row.get("name"), str):
                latest[row["name"]] = row
    return latest, measured


def _count(n: int, signed: bool = True) -> str:
    return f"{n:+,}" if signed else f"{n:,}"


# ---- the panel ---------------------------------------------------------------

class HeapWatchPanel(Panel):  # type: ignore[misc,unused-ignore]
    """The memory growth of this request, by type, with what heapwatch
    knows of each type; the queryset guard's warnings; the memory split."""

    title = "Memory growth (heapwatch)"
    nav_title = "heapwatch"
    template = "heapwatch/panel.html"
    is_async = False

    _hw_error: str | None = None
    _hw_box: list[str]
    _hw_box_size = 0
    _hw_box_growth = 0
    _hw_token: contextvars.Token[list[str] | None] | None = None
    _hw_before: heapwatch.Census | None = None
    _hw_after: heapwatch.Census | None = None
    _hw_rss_before: int | None = None
    _hw_rss_after: int | None = None
    _hw_seconds = 0.0
    _hw_started = 0.0
    _hw_concurrent = False
    _hw_seq = 0

    # ---- measuring (around the view) ------------------------------------

    def process_request(self, request: Any) -> Any:
        try:
            self._begin()
        except Exception:
            self._hw_error = "the census before the view failed"
            logger.exception("heapwatch: panel: census before the view failed")
        try:
            return self.get_response(request)
        finally:
            try:
                self._end()
            except Exception:
                self._hw_error = "the census after the view failed"
                logger.exception("heapwatch: panel: census after the view failed")

    def _begin(self) -> None:
        # Every attribute is set before the census: setting them later could
        # grow this panel's instance dict inside the measured window.
        self._hw_error = None
        self._hw_box = []
        self._hw_box_size = sys.getsizeof(self._hw_box)
        self._hw_box_growth = 0
        self._hw_token = None
        self._hw_before = None
        self._hw_after = None
        self._hw_rss_before = None
        self._hw_rss_after = None
        self._hw_seconds = 0.0
        self._hw_started = 0.0
        self._hw_concurrent = False
        # In flight: this request, and possibly one not counted (the panel's
        # module imported while it ran).  More: another request runs.  Often
        # that is the previous request's close (a threaded server closes the
        # response after the client has it and may send the next request):
        # wait a little for it to end.
        deadline = time.monotonic() + SETTLE_WAIT
        while True:
            with _flight_lock:
                self._hw_seq, inflight = _flight[0], _flight[1]
            if inflight <= 1 or time.monotonic() >= deadline:
                break
            time.sleep(0.002)
        self._hw_concurrent = inflight > 1
        self._hw_token = _capture.set(self._hw_box)
        if gc.isenabled():
            gc.collect(1)
        self._hw_rss_before = current_rss()
        self._hw_before = _census()
        self._hw_started = time.perf_counter()

    def _end(self) -> None:
        if self._hw_before is None:
            if self._hw_token is not None:
                _capture.reset(self._hw_token)
                self._hw_token = None
            return
        started = self._hw_started
        self._hw_after = _census()
        self._hw_seconds = time.perf_counter() - started
        self._hw_rss_after = current_rss()
        # The list the warnings went to is the panel's: its growth is not
        # the request's.
        self._hw_box_growth = sys.getsizeof(self._hw_box) - self._hw_box_size
        with _flight_lock:
            self._hw_concurrent = self._hw_concurrent or _flight[0] != self._hw_seq
        if self._hw_token is not None:
            _capture.reset(self._hw_token)
            self._hw_token = None

    # ---- the stats ------------------------------------------------------

    def generate_stats(self, request: Any, response: Any) -> None:
        try:
            stats = self._stats(request)
        except Exception:
            logger.exception("heapwatch: panel: building the stats failed")
            stats = {"error": "building the stats failed (see the heapwatch.panel logger)"}
        self.record_stats(stats)  # type: ignore[no-untyped-call,unused-ignore]

    def _stats(self, request: Any) -> dict[str, Any]:
        before, after, error = self._hw_before, self._hw_after, self._hw_error
        if before is None or after is None:
            return {"error": error or "the view was not measured"}
        cfg = get_settings()
        view = _view_name(request)
        concurrent = bool(self._hw_concurrent)
        box_growth = int(self._hw_box_growth)
        objects = after.total_count - before.total_count
        nbytes = after.total_bytes - before.total_bytes - box_growth
        history, measured = _middleware_history(view)
        middleware = _middleware_installed()

        grown = []
        shrunk_types = 0
        for row in after - before:
            bytes_delta = row.bytes_delta - (box_growth if row.name == "list" else 0)
            if row.delta <= 0 and bytes_delta <= 0:
                if row.delta < 0 or bytes_delta < 0:
                    shrunk_types += 1
                continue
            grown.append((row, bytes_delta))
        grown.sort(key=lambda rb: (rb[0].delta, rb[1]), reverse=True)

        types = []
        for row, bytes_delta in grown[:MAX_TYPES]:
            earlier = history.get(row.name)
            verdict, note = self._verdict(earlier, concurrent)
            types.append({
                "name": row.name, "count": row.count, "delta": row.delta,
                "bytes_delta": bytes_delta, "verdict": verdict, "note": note,
                "count_text": _count(row.count, signed=False),
                "delta_text": _count(row.delta),
                "bytes_text": human_bytes(bytes_delta, signed=True),
            })
        rest = grown[MAX_TYPES:]
        known = [{"name": name, "kept": row.get("kept"),
                  "kept_text": _count(int(row.get("kept") or 0))}
                 for name, row in history.items() if row.get("verdict") == LEAK]

        rss_b, rss_a = self._hw_rss_before, self._hw_rss_after
        rss_delta = rss_a - rss_b if rss_a is not None and rss_b is not None else None
        mem = memory_split(after.total_bytes, rss_a)
        split = [
            ("RSS", mem.rss, "resident memory of the process"),
            ("GC-tracked objects", mem.python_objects,
             "shallow bytes of the objects the collector tracks (str, int, bytes and other "
             "untracked objects are in \u201cother\u201d)"),
            ("pymalloc free", mem.pymalloc_free, "freed small-object memory pymalloc keeps"),
            ("malloc free", mem.malloc_free, "freed memory glibc malloc keeps"),
            ("other", mem.other, "the rest: untracked objects, C extensions, the interpreter"),
        ]
        warnings = []
        for text in self._hw_box:
            try:
                w = json.loads(text)
            except ValueError:
                continue
            if isinstance(w, dict):
                est = w.get("bytes_estimate")
                w["bytes_text"] = human_bytes(est) if isinstance(est, int) else "?"
                warnings.append(w)
        return {
            "view": view,
            "method": getattr(request, "method", None),
            "path": getattr(request, "path", None),     # never the query string
            "seconds": round(float(self._hw_seconds), 6),
            "objects_delta": objects,
            "bytes_delta": nbytes,
            "objects_text": _count(objects),
            "bytes_text": human_bytes(nbytes, signed=True),
            "total_count_text": _count(after.total_count, signed=False),
            "total_bytes_text": human_bytes(after.total_bytes),
            "concurrent": concurrent,
            "types": types,
            "more_types": len(rest),
            "more_objects_text": _count(sum(r.delta for r, _b in rest)),
            "more_bytes_text": human_bytes(sum(b for _r, b in rest), signed=True),
            "shrunk_types": shrunk_types,
            "known_leaks": known,
            "middleware": middleware,
            "middleware_measured": measured,
            "memory": mem.as_dict(),
            "memory_rows": [{"name": n, "bytes": b, "text": human_bytes(b), "what": w}
                            for n, b, w in split],
            "rss_delta": rss_delta,
            "rss_delta_text": human_bytes(rss_delta, signed=True) if rss_delta is not None else "n/a",
            "guard": guard.installed(),
            "guard_rows": setting(cfg, "QUERYSET_ROWS_WARN"),
            "guard_interval": setting(cfg, "QUERYSET_WARN_INTERVAL"),
            "guard_raises": setting(cfg, "QUERYSET_RAISE"),
            "queryset_warnings": warnings,
        }

    @staticmethod
    def _verdict(earlier: dict[str, Any] | None, concurrent: bool) -> tuple[str, str]:
        """What is known of one grown type: a leak only when the middleware
        confirmed it on earlier requests of the view."""
        if concurrent:
            return CONCURRENT, "another request ran meanwhile: not this view's alone"
        said = earlier.get("verdict") if earlier is not None else None
        if said == LEAK:
            kept = int(earlier.get("kept") or 0) if earlier is not None else 0
            return LEAK, (f"confirmed by HeapWatchMiddleware on earlier requests of this view "
                          f"({kept:+,} kept so far)")
        if said == TRANSIENT:
            return NOT_CONFIRMED, "HeapWatchMiddleware: went away after an earlier request (transient)"
        if said == WARMUP:
            return NOT_CONFIRMED, "HeapWatchMiddleware: warm-up on earlier requests, not a leak so far"
        return NOT_CONFIRMED, "one request only"

    # ---- what the toolbar shows -------------------------------------------

    @property
    def nav_subtitle(self) -> str:
        stats = self.get_stats()  # type: ignore[no-untyped-call,unused-ignore]
        if not stats:
            return ""
        if "error" in stats:
            return "not measured"
        text = f"{stats['objects_text']} objects, {stats['bytes_text']}"
        leaks = sum(1 for t in stats.get("types", ()) if t.get("verdict") == LEAK)
        if leaks:
            text += f", {leaks} leaking type{'s' if leaks != 1 else ''}"
        elif stats.get("concurrent"):
            text += " (concurrent)"
        return text

    @classmethod
    def run_checks(cls) -> list[Any]:
        from django.apps import apps
        from django.core.checks import Error

        if apps.is_installed("heapwatch"):
            return []
        return [Error("HeapWatchPanel needs heapwatch's Django app for its template",
                      hint='Add "heapwatch.django" to INSTALLED_APPS.',
                      id="heapwatch.E101")]
