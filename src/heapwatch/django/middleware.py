"""HeapWatchMiddleware: which request grew memory, and what grew.

For a sampled request it takes the process RSS and a census before and
after the view (optionally after a collection).  When the growth passes a
threshold it logs one record on the ``heapwatch.request`` logger:

    GET /dump/ leakyshop.views.dump 200 in 812 ms: RSS +41.3 MiB, objects +301204 (+27.5 MiB)
    FirstModel 100000 +100000
    ModelState 100000 +100000
    ...

with the same data in ``extra={"heapwatch": {...}}`` for structured logging.

With RETENTION on, the record also says what holds the objects of the top
grown types, from a reference graph of the heap taken right after the view
(at most once per RETENTION_INTERVAL seconds per process: a graph costs
about as much as a few censuses on the same heap):

    held: 100000 FirstModel (5.3 MiB, 41.0 MiB retained) held via module leakyshop.views .ALL_ROWS -> list [*]

Rules it keeps:
- It never raises into a request.  An internal failure is logged once (with
  its traceback) and the request goes on; later failures are counted only.
- One measurement at a time per process: a census sees the whole heap, so
  two overlapping measured requests would blame each other.  A request that
  arrives while another is measured is simply not sampled.
- Paths are logged without their query string (it may hold secrets); no
  object contents are ever logged.
"""

from __future__ import annotations

import gc
import itertools
import logging
import os
import random
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

import heapwatch
from heapwatch import _explain
from heapwatch.django.conf import DEFAULTS, get_settings

logger = logging.getLogger("heapwatch.request")

_PAGE = 4096
try:
    _PAGE = os.sysconf("SC_PAGE_SIZE")
except (ValueError, OSError, AttributeError):  # pragma: no cover - non-Linux
    pass


def current_rss() -> int | None:
    """Resident set size of this process in bytes, from /proc (Linux)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


def _mib(n: float) -> str:
    return f"{n / (1 << 20):+.1f} MiB"


@dataclass
class Measurement:
    census: heapwatch.Census
    rss: int | None
    started: float


def _setting(cfg: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    """A setting of the expected type, else its default (the system checks
    report the bad value; a request never fails over it)."""
    value = cfg.get(key, DEFAULTS[key])
    if kind is not bool and isinstance(value, bool):
        return DEFAULTS[key]
    return value if isinstance(value, kind) else DEFAULTS[key]


class HeapWatchMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response
        self._is_async = iscoroutinefunction(get_response)
        if self._is_async:
            markcoroutinefunction(self)
        self._counter = itertools.count(1)
        self._busy = threading.Lock()
        self._failed = 0
        self._last_retention = float("-inf")

    # ---- sampling ------------------------------------------------------

    @staticmethod
    def _match(request: Any) -> Any:
        """The request's ResolverMatch: Django's once the view ran, else
        resolved here (sampling by view happens before the view)."""
        match = getattr(request, "resolver_match", None)
        if match is None:
            try:
                from django.urls import resolve

                match = resolve(request.path_info)
            except Exception:
                return None
        return match

    def _view_name(self, request: Any) -> str | None:
        match = self._match(request)
        return getattr(match, "_func_path", None) or getattr(match, "view_name", None)

    def _sampled(self, request: Any, cfg: dict[str, Any]) -> bool:
        if not _setting(cfg, "ENABLED", bool):
            return False
        paths = _setting(cfg, "PATHS", (list, tuple))
        if paths and not any(request.path.startswith(p) for p in paths if isinstance(p, str)):
            return False
        views = _setting(cfg, "VIEWS", (list, tuple))
        if views:
            match = self._match(request)
            if match is None:
                return False
            names = {getattr(match, "_func_path", None), getattr(match, "view_name", None),
                     getattr(match, "url_name", None)}
            if not names & set(views):
                return False
        every = cfg.get("SAMPLE_EVERY")
        if isinstance(every, int) and not isinstance(every, bool) and every >= 1:
            return next(self._counter) % every == 0
        rate = _setting(cfg, "SAMPLE_RATE", (int, float))
        if rate >= 1:
            return True
        return rate > 0 and random.random() < rate

    # ---- measuring -----------------------------------------------------

    def _internal_error(self, where: str) -> None:
        self._failed += 1
        if self._failed == 1:
            logger.exception("heapwatch: internal error while %s; the request was not "
                             "affected, later errors are not logged", where)

    def _begin(self, request: Any) -> Measurement | None:
        try:
            cfg = get_settings()
            if not self._sampled(request, cfg):
                return None
            if not self._busy.acquire(blocking=False):
                return None
            try:
                return Measurement(census=heapwatch.census(), rss=current_rss(),
                                   started=time.perf_counter())
            except BaseException:
                self._busy.release()
                raise
        except Exception:
            self._internal_error("measuring before the view")
            return None

    def _end(self, request: Any, response: Any, m: Measurement) -> None:
        try:
            try:
                cfg = get_settings()
                duration = time.perf_counter() - m.started
                if _setting(cfg, "COLLECT", bool):
                    gc.collect()
                after = heapwatch.census()
                rss = current_rss()
                self._report(request, response, m, after, rss, duration, cfg)
            finally:
                self._busy.release()
        except Exception:
            self._internal_error("measuring after the view")

    def _report(self, request: Any, response: Any, m: Measurement, after: heapwatch.Census,
                rss: int | None, duration: float, cfg: dict[str, Any]) -> None:
        objects = after.total_count - m.census.total_count
        nbytes = after.total_bytes - m.census.total_bytes
        rss_delta = (rss - m.rss) if (rss is not None and m.rss is not None) else None
        if not (
            objects >= _setting(cfg, "MIN_OBJECTS", int)
            or nbytes >= _setting(cfg, "MIN_BYTES", int)
            or (rss_delta is not None and rss_delta >= _setting(cfg, "MIN_RSS", int))
        ):
            return
        top_n = _setting(cfg, "TOP_TYPES", int)
        rows = [r for r in after - m.census if r.delta > 0 or r.bytes_delta > 0][:top_n]
        view = self._view_name(request)
        status = getattr(response, "status_code", None)
        level = cfg.get("LOG_LEVEL", DEFAULTS["LOG_LEVEL"])
        levelno = logging.getLevelName(level) if isinstance(level, str) else level
        if not isinstance(levelno, int):
            levelno = logging.WARNING
        head = (f"{request.method} {request.path} {view or '-'} {status} in "
                f"{duration * 1000:.0f} ms: RSS {_mib(rss_delta) if rss_delta is not None else 'n/a'}, "
                f"objects {objects:+d} ({_mib(nbytes)})")
        lines = [head] + [f"{r.name} {r.count} {r.delta:+d}" for r in rows]
        held = self._retention(rows, cfg)
        lines += [f"held: {g}" for g in held]
        data = {
            "view": view,
            "method": request.method,
            "path": request.path,
            "status": status,
            "duration_ms": round(duration * 1000, 3),
            "rss_before": m.rss,
            "rss_after": rss,
            "rss_delta": rss_delta,
            "objects_delta": objects,
            "bytes_delta": nbytes,
            "top": [{"type": r.name, "count": r.count, "delta": r.delta,
                     "bytes_delta": r.bytes_delta} for r in rows],
        }
        if held:
            data["retention"] = [{"type": g.type, "count": g.count, "bytes": g.bytes,
                                  "retained": g.retained, "via": g.via} for g in held]
        logger.log(levelno, "\n".join(lines), extra={"heapwatch": data})

    def _retention(self, rows: list[heapwatch.GrowthRow],
                   cfg: dict[str, Any]) -> list[heapwatch.Group]:
        """Retention groups of the top grown types, when asked for and not
        done within RETENTION_INTERVAL (called with the measurement lock
        held: the grown objects are still alive, nothing else measures)."""
        if not _setting(cfg, "RETENTION", bool):
            return []
        now = time.monotonic()
        if now - self._last_retention < _setting(cfg, "RETENTION_INTERVAL", (int, float)):
            return []
        names = tuple(r.name for r in rows[: _setting(cfg, "RETENTION_TYPES", int)] if r.delta > 0)
        if not names:
            return []
        self._last_retention = now
        per_type = _setting(cfg, "RETENTION_GROUPS", int)
        snap = heapwatch.Snapshot(_explain._graph(targets=names))
        held: list[heapwatch.Group] = []
        for name in names:
            held += snap.retention(name, per_type)
        return held

    # ---- the middleware protocol --------------------------------------

    def __call__(self, request: Any) -> Any:
        if self._is_async:
            return self.__acall__(request)
        m = self._begin(request)
        if m is None:
            return self.get_response(request)
        try:
            response = self.get_response(request)
        except BaseException:
            self._release_quietly()
            raise
        self._end(request, response, m)
        return response

    async def __acall__(self, request: Any) -> Any:
        m = self._begin(request)
        if m is None:
            return await self.get_response(request)
        try:
            response = await self.get_response(request)
        except BaseException:
            self._release_quietly()
            raise
        self._end(request, response, m)
        return response

    def _release_quietly(self) -> None:
        try:
            self._busy.release()
        except RuntimeError:
            pass
