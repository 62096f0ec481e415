"""HeapWatchMiddleware: which request grew memory, and whether it is a leak.

For a sampled request it takes a census (and the RSS) when the request
starts and again when its response is closed, and a third at the start of
the next request (after a collection of the young generations), when the
response and the request's garbage are gone.  Every grown type gets a
verdict (heapwatch._verdicts):

    leak        growth of this view that stayed, request after request, and
                survived a full collection
    warm-up     growth seen for the first times (caches filling)
    transient   growth that did not stay (garbage, held by the response)
    concurrent  the measurement overlapped other requests of the process:
                never blamed on this view

and the record, one line on the ``heapwatch.request`` logger, is logged at
LOG_LEVEL (WARNING) only when some type is a leak, at DEBUG otherwise:

    GET /leak/ shop.views.leak 200 in 12 ms: objects +2004 (+150.3 KiB), RSS +8.0 KiB; leak: Row +2000 (+10000 kept); warm-up: dict +4

When the RSS grew and the live objects did not, the record says the memory
is kept by the allocators (heapwatch.memory()) instead of blaming types.
The same data is in ``record.heapwatch``.

Sampling: by default a time budget (TIME_BUDGET, a fraction of the time the
worker spends serving requests) bounds what measuring costs; SAMPLE_RATE or
SAMPLE_EVERY measure a fixed share instead.

Rules it keeps:
- It never raises into a request.  An internal failure is logged once (with
  its traceback) and the request goes on; later failures are counted only.
- One measurement at a time per process, and only when no other request is
  in flight: a census sees the whole heap.
- Paths are logged without their query string (it may hold secrets); no
  object contents are ever logged.
"""

from __future__ import annotations

import collections
import gc
import itertools
import json
import logging
import random
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

import heapwatch
from heapwatch import _engine
from heapwatch._explain import graph_of
from heapwatch._format import human_bytes
from heapwatch._memory import Memory, current_rss, memory_split
from heapwatch._verdicts import CONCURRENT, LEAK, VERDICTS, Judge, TypeVerdict
from heapwatch.django import guard, snapshots
from heapwatch.django.conf import get_settings, setting

logger = logging.getLogger("heapwatch.request")

REMEDIES = ("freed memory kept by the allocators for reuse (fragmentation), not live objects; "
            "if it recurs: MALLOC_ARENA_MAX=2 for threaded workers, jemalloc, or recycle "
            "workers (gunicorn --max-requests); see heapwatch.memory()")


# Measured requests the process remembers (recent_records()).
RECENT = 500


def recent_records() -> list[dict[str, Any]]:
    """The middleware's records of this process's last measured requests,
    oldest first, each a dict as ``record.heapwatch`` has it plus "time"
    (seconds since the epoch): every measured request, logged or not."""
    with _PROCESS.lock:
        texts = list(_PROCESS.recent)
    return [json.loads(t) for t in texts]


@dataclass
class Measurement:
    view: str | None
    census: heapwatch.Census | None    # set right after the slot is taken
    rss: int | None
    memory: Memory | None
    started: float
    seq: int                       # requests started in the process so far
    threads: dict[int, tuple[bytes | None, int, int]]  # the other threads at the start
    tid: int                       # ident of the thread the request started on
    mark: bytes | None = None      # addresses before the view, for RETENTION
    cost: float = 0.0              # seconds spent measuring this request
    exited: bool = False           # its request left the middleware


# The types a census of the middleware (and of the toolbar panel) leaves
# out: its own bookkeeping.
OWN_TYPES: tuple[type, ...] = (Measurement, Memory) + Judge.own_types

_observer: list[Callable[[dict[str, Any]], None] | None] = []   # the one below, once looked up


def _prometheus_observer() -> Callable[[dict[str, Any]], None] | None:
    """heapwatch.prometheus.observe_record, imported when PROMETHEUS is
    first found on (prometheus_client is never imported otherwise); None,
    said once, when it cannot be imported."""
    if not _observer:
        try:
            from heapwatch.prometheus import observe_record
        except ImportError as exc:
            logger.warning("heapwatch: PROMETHEUS is on but heapwatch.prometheus cannot be "
                           "imported (%s); install prometheus-client", exc)
            _observer.append(None)
        else:
            _observer.append(observe_record)
    return _observer[0]


def _threads() -> dict[int, tuple[bytes | None, int, int]]:
    """What every other Python thread has done so far: {thread ident:
    (times the kernel scheduled it, id of its top frame, its instruction
    offset)}.  The count (/proc/self/task/TID/schedstat) changes whenever
    the thread ran at all, even a loop that came back to the same line; the
    frame and offset stand in where the kernel keeps no count.  Threads are
    told apart by ident: after fork() CPython 3.11 keeps the parent's
    native id on the main thread (a gunicorn worker's), which then names no
    task of this process."""
    me = threading.get_ident()
    frames = sys._current_frames()
    out: dict[int, tuple[bytes | None, int, int]] = {}
    for t in threading.enumerate():
        if t.ident is None or t.ident == me:
            continue
        slices: bytes | None = None
        if t.native_id is not None:
            try:
                with open(f"/proc/self/task/{t.native_id}/schedstat", "rb") as f:
                    slices = f.read().split()[2]
            except (OSError, IndexError):
                pass
        frame = frames.get(t.ident)
        out[t.ident] = (slices, id(frame), frame.f_lasti if frame is not None else -1)
    return out


def _others_ran(before: dict[int, tuple[bytes | None, int, int]], *skip: int) -> bool:
    """Did a Python thread other than this one and those in skip (idents)
    run, start or end since `before` was taken?"""
    skip_all = {threading.get_ident(), *skip}
    return ({t: v for t, v in _threads().items() if t not in skip_all}
            != {t: v for t, v in before.items() if t not in skip_all})


class _Process:
    """What the middleware knows of this process: one instance, shared by
    every HeapWatchMiddleware (a census sees the whole process, so the
    measurements, the time budget and the verdicts are the process's)."""

    def __init__(self) -> None:
        self.counter = itertools.count(1)      # for SAMPLE_EVERY
        self.lock = threading.Lock()           # protects the fields below
        self.inflight = 0
        self.seq = 0                           # requests started so far
        self.current: Measurement | None = None
        self.settle_seq: int | None = None     # seq after which settle() may run
        self.served = 0.0                      # seconds spent in requests
        self.spent = 0.0                       # seconds spent measuring
        self.failed = 0
        self.last_retention = float("-inf")
        self.judge = Judge()
        # The last RECENT measured requests, logged or not (the staff page's
        # table and RSS chart), each kept as JSON text: a str is not tracked
        # by the collector, so the census the next measurement takes does
        # not count the records as the view's growth (dicts would be).
        self.recent: collections.deque[str] = collections.deque(maxlen=RECENT)


_PROCESS = _Process()


def reset_state() -> None:
    """Forget everything measured so far in this process (for tests)."""
    _PROCESS.__init__()  # type: ignore[misc]


class HeapWatchMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response
        self._is_async = iscoroutinefunction(get_response)
        if self._is_async:
            markcoroutinefunction(self)
        # One state per process, whatever the number of handlers (Django's
        # test client makes a handler, so a middleware, per client).
        self._p = _PROCESS

    def _census(self) -> heapwatch.Census:
        """A census without heapwatch's own bookkeeping objects."""
        return heapwatch.census(_skip=OWN_TYPES)

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
        return self._chosen(request, cfg) and not self._exempt(request)

    def _exempt(self, request: Any) -> bool:
        """Views marked ``heapwatch_exempt = True`` (heapwatch's staff page:
        its censuses, graphs and captures are not the application's growth)
        are never measured.  Resolved only for a request sampling chose."""
        match = self._match(request)
        return getattr(getattr(match, "func", None), "heapwatch_exempt", False) is True

    def _chosen(self, request: Any, cfg: dict[str, Any]) -> bool:
        if not setting(cfg, "ENABLED"):
            return False
        paths = setting(cfg, "PATHS")
        if paths and not any(request.path.startswith(p) for p in paths if isinstance(p, str)):
            return False
        views = setting(cfg, "VIEWS")
        if views:
            match = self._match(request)
            if match is None:
                return False
            names = {getattr(match, "_func_path", None), getattr(match, "view_name", None),
                     getattr(match, "url_name", None)}
            if not names & set(views):
                return False
        every = setting(cfg, "SAMPLE_EVERY")
        rate = setting(cfg, "SAMPLE_RATE")
        if every is not None:
            return next(self._p.counter) % every == 0
        if rate is not None:
            return rate >= 1 or (rate > 0 and random.random() < rate)
        budget = setting(cfg, "TIME_BUDGET")
        # Measuring (and settling) has cost at most `budget` of the time
        # spent serving requests so far.
        return budget is None or self._p.spent <= budget * self._p.served

    # ---- measuring -----------------------------------------------------

    def _internal_error(self, where: str) -> None:
        self._p.failed += 1
        if self._p.failed == 1:
            logger.exception("heapwatch: internal error while %s; the request was not "
                             "affected, later errors are not logged", where)

    def _configure_judge(self, cfg: dict[str, Any]) -> None:
        j = self._p.judge
        wanted = (setting(cfg, "LEAK_AFTER"), setting(cfg, "MIN_OBJECTS"), setting(cfg, "MIN_BYTES"))
        if wanted != (j.leak_after, j.min_objects, j.min_bytes):
            self._p.judge = Judge(leak_after=wanted[0], min_objects=wanted[1], min_bytes=wanted[2])

    def _enter(self, request: Any) -> Measurement | None:
        """Count the request in, settle the previous measurement if nothing
        ran since it, and start a measurement if this request is sampled."""
        t0 = time.perf_counter()
        with self._p.lock:
            self._p.inflight += 1
            self._p.seq += 1
            seq, alone = self._p.seq, self._p.inflight == 1
            settle = self._p.settle_seq is not None and alone and seq == self._p.settle_seq + 1
            if self._p.settle_seq is not None and not settle:
                self._p.judge.forget_pending()
            self._p.settle_seq = None
            current = self._p.current
            # A measurement still current is finished by its response's
            # close.  Once its request has left the middleware, a new request
            # makes it concurrent anyway (it will say so if it ever closes):
            # it stops holding the slot, so that a response never closed (a
            # client that does not close them) cannot stop measuring.  (While
            # its request is inside, this one is not alone.)
            free = current is None or current.exited
        try:
            cfg = get_settings()
            self._configure_judge(cfg)
            now = None
            if settle:
                # What the last measured request left, once the young
                # generations' garbage (its response's cycles) is gone.
                if gc.isenabled():
                    gc.collect(1)
                now = self._census()
                self._p.judge.settle(now)
            m = None
            if free and alone and self._sampled(request, cfg):
                with self._p.lock:
                    if self._p.current is current:
                        m = self._p.current = Measurement(
                            view=self._view_name(request) or "-", census=None, rss=None,
                            memory=None, started=0.0, seq=seq, threads={},
                            tid=threading.get_ident())
                if m is not None:
                    try:
                        if self._p.judge.wants_clean_start(m.view or "-"):
                            gc.collect()
                            now = None
                        m.threads = _threads()
                        m.census = now if now is not None else self._census()
                        m.rss = current_rss()
                        m.memory = memory_split(m.census.total_bytes, m.rss)
                        if self._retention_due(cfg, m.view):
                            m.mark = _engine.since_mark()
                    except BaseException:
                        with self._p.lock:
                            self._p.current = None
                        raise
            spent = time.perf_counter() - t0
            if m is not None:
                m.cost = spent
                m.started = time.perf_counter()
            else:
                self._p.spent += spent
            return m
        except Exception:
            self._p.spent += time.perf_counter() - t0
            self._internal_error("measuring before the view")
            return None

    def _exit(self, started: float) -> None:
        with self._p.lock:
            self._p.inflight -= 1
            self._p.served += time.perf_counter() - started

    def _finish(self, request: Any, response: Any, m: Measurement) -> None:
        """The second half of a measurement: when the response is closed
        (or right away if it cannot tell us)."""
        t0 = time.perf_counter()
        concurrent = True
        try:
            try:
                with self._p.lock:
                    concurrent = self._p.seq != m.seq or self._p.inflight != 0
                # Another thread that ran meanwhile (a background thread,
                # not a request) may have made what grew.  (Between two
                # requests other threads are expected to run: a threaded
                # server's accept loop.  The settling census is not held
                # to this; the confirming collection compares counts over
                # one request and its settling point only.)
                concurrent = concurrent or _others_ran(m.threads, m.tid)
                cfg = get_settings()
                duration = t0 - m.started
                # No young collection here: the response is still alive, and
                # a collection now would move its cycles to the oldest
                # generation, where they would outlive it.  Its garbage is
                # collected at the settling point instead.
                if setting(cfg, "COLLECT"):
                    gc.collect()
                after = self._census()
                rss = current_rss()
                mem = memory_split(after.total_bytes, rss)
                assert m.census is not None
                verdicts = self._p.judge.judge(m.view or "-", m.census, after, concurrent=concurrent)
                self._report(request, response, m, after, rss, mem, duration, verdicts,
                             concurrent, cfg)
            finally:
                with self._p.lock:
                    if self._p.current is m:
                        self._p.current = None
                    self._p.settle_seq = None if concurrent else self._p.seq
                    self._p.spent += m.cost + time.perf_counter() - t0
        except Exception:
            self._internal_error("measuring after the view")

    # ---- reporting -----------------------------------------------------

    def _report(self, request: Any, response: Any, m: Measurement, after: heapwatch.Census,
                rss: int | None, mem: Memory | None, duration: float,
                verdicts: list[TypeVerdict], concurrent: bool, cfg: dict[str, Any]) -> None:
        assert m.census is not None
        objects = after.total_count - m.census.total_count
        nbytes = after.total_bytes - m.census.total_bytes
        rss_delta = (rss - m.rss) if (rss is not None and m.rss is not None) else None
        leaks = [v for v in verdicts if v.verdict == LEAK]
        if setting(cfg, "PROMETHEUS"):
            # Every measured request, before the thresholds below decide
            # whether it is logged: a histogram needs the small ones too.
            observe = _prometheus_observer()
            if observe is not None:
                observe({"view": m.view or "-", "objects_delta": objects, "bytes_delta": nbytes,
                         "verdict": CONCURRENT if concurrent else LEAK if leaks else "no leak",
                         "types": [v.as_dict() for v in leaks]})
        min_objects = setting(cfg, "MIN_OBJECTS")
        kept = {v.name: self._p.judge.accumulated(m.view or "-", v.name) for v in leaks}
        top_n = setting(cfg, "TOP_TYPES")
        # Leaks first, then the rest by growth, TOP_TYPES in all.
        shown = (leaks + [v for v in verdicts if v.verdict != LEAK])[:top_n]
        status = getattr(response, "status_code", None)
        # Allocator retention: the RSS grew by more than the MIN_RSS
        # threshold and the live objects explain under a quarter of it.
        allocator = (rss_delta is not None and rss_delta >= setting(cfg, "MIN_RSS")
                     and max(nbytes, 0) < rss_delta / 4)
        data: dict[str, Any] = {
            "view": m.view,
            "method": request.method,
            "path": request.path,
            "status": status,
            "duration_ms": round(duration * 1000, 3),
            "rss_before": m.rss,
            "rss_after": rss,
            "rss_delta": rss_delta,
            "objects_delta": objects,
            "bytes_delta": nbytes,
            "verdict": LEAK if leaks else (CONCURRENT if concurrent
                                           else "allocator" if allocator else "no leak"),
            "types": [dict(v.as_dict(), **({"kept": kept[v.name]} if v.name in kept else {}))
                      for v in shown],
        }
        if mem is not None:
            data["memory"] = mem.as_dict()
            if m.memory is not None:
                data["memory_delta"] = mem.delta(m.memory)
        with self._p.lock:
            self._p.recent.append(json.dumps(dict(data, time=time.time())))
        kept_enough = any(k >= min_objects for k in kept.values())
        if not (
            objects >= min_objects
            or nbytes >= setting(cfg, "MIN_BYTES")
            or (rss_delta is not None and rss_delta >= setting(cfg, "MIN_RSS"))
            or kept_enough
        ):
            return
        # WARNING (LOG_LEVEL) only for a leak that matters by itself: its
        # own growth, or what it kept so far, passes the thresholds.
        significant = (sum(v.delta for v in leaks) >= min_objects
                       or sum(v.bytes_delta for v in leaks) >= setting(cfg, "MIN_BYTES")
                       or kept_enough)
        level = (setting(cfg, "LOG_LEVEL") if leaks and significant
                 else logging.INFO if allocator else logging.DEBUG)
        if not logger.isEnabledFor(level):
            return
        view = m.view
        head = (f"{request.method} {request.path} {view or '-'} {status} in "
                f"{duration * 1000:.0f} ms: objects {objects:+d} ({human_bytes(nbytes, signed=True)}), "
                f"RSS {human_bytes(rss_delta, signed=True) if rss_delta is not None else 'n/a'}")
        held = self._retention(m, [v for v in shown if v.verdict == LEAK], cfg)
        if held:
            data["retention"] = [{"type": g.type, "count": g.count, "bytes": g.bytes,
                                  "retained": g.retained, "via": g.via} for g in held]
        notes = []
        if allocator and rss_delta is not None:
            split = ""
            if mem is not None and m.memory is not None:
                d = mem.delta(m.memory)
                split = (f" (pymalloc free {human_bytes(d['pymalloc_free'], signed=True)}, "
                         f"malloc free {human_bytes(d['malloc_free'], signed=True)})")
            notes.append(f"RSS {human_bytes(rss_delta, signed=True)} but live objects "
                         f"{human_bytes(nbytes, signed=True)}: {REMEDIES}{split}")
        if setting(cfg, "MULTILINE"):
            lines = [head] + notes
            lines += [f"{v.name} {v.count} {v.delta:+d} {v.verdict}"
                      + (f" (+{kept[v.name]} kept)" if v.name in kept else "") for v in shown]
            lines += [f"held: {g}" for g in held]
            message = "\n".join(lines)
        else:
            parts = [head] + notes
            for verdict in VERDICTS:
                group = [v for v in shown if v.verdict == verdict]
                if group:
                    parts.append(f"{verdict}: " + ", ".join(
                        f"{v.name} {v.delta:+d}"
                        + (f" (+{kept[v.name]} kept)" if v.name in kept else "") for v in group))
            parts += [f"held: {g}" for g in held]
            message = "; ".join(parts)
        logger.log(level, message, extra={"heapwatch": data})

    def _retention_due(self, cfg: dict[str, Any], view: str | None) -> bool:
        if not setting(cfg, "RETENTION"):
            return False
        if time.monotonic() - self._p.last_retention < setting(cfg, "RETENTION_INTERVAL"):
            return False
        return any(u == view for u, _t, _n in self._p.judge.leaks())

    def _retention(self, m: Measurement, leaks: list[TypeVerdict],
                   cfg: dict[str, Any]) -> list[heapwatch.Group]:
        """Retention groups of the objects the request made, of the leaking
        types (only when a mark was taken at the start: RETENTION on, not
        done within RETENTION_INTERVAL, the view already a confirmed leak).
        Called with the measurement held: nothing else measures."""
        names = tuple(v.name for v in leaks[: setting(cfg, "RETENTION_TYPES")])
        if m.mark is None or not names:
            return []
        self._p.last_retention = time.monotonic()
        new = _engine.since_new(m.mark, names)
        m.mark = None
        if not new:
            return []
        snap = graph_of(new, exclude=(self, self._p.judge, m))
        per_type = setting(cfg, "RETENTION_GROUPS")
        by_type: dict[str, list[int]] = {}
        for node in snap.graph.targets():
            # Graph type names are qualified; census names are not.
            by_type.setdefault(snap.graph.node(node)[0].rsplit(".", 1)[-1], []).append(node)
        del new
        held: list[heapwatch.Group] = []
        for name in names:
            nodes = by_type.get(name)
            if nodes:
                held += snap.retention(nodes, per_type)
        return held

    # ---- the middleware protocol --------------------------------------

    def _respond(self, request: Any, response: Any, m: Measurement | None, started: float) -> Any:
        self._exit(started)
        try:
            snapshots.after_request()
        except Exception:  # a capture trigger never fails a request
            logger.exception("heapwatch: SNAPSHOT_ON_RSS")
        if m is None:
            return response
        m.exited = True
        closers = getattr(response, "_resource_closers", None)
        if isinstance(closers, list):
            # Measured again when the server closes the response: after
            # the body was sent (streaming included).
            closers.append(lambda: self._finish(request, response, m))
        else:
            self._finish(request, response, m)
        return response

    def _abandon(self, m: Measurement | None, started: float) -> None:
        self._exit(started)
        if m is not None:
            with self._p.lock:
                if self._p.current is m:
                    self._p.current = None

    def __call__(self, request: Any) -> Any:
        if self._is_async:
            return self.__acall__(request)
        started = time.perf_counter()
        m = self._enter(request)
        try:
            with guard.request_context(request):
                response = self.get_response(request)
        except BaseException:
            self._abandon(m, started)
            raise
        return self._respond(request, response, m, started)

    async def __acall__(self, request: Any) -> Any:
        started = time.perf_counter()
        m = self._enter(request)
        try:
            with guard.request_context(request):
                response = await self.get_response(request)
        except BaseException:
            self._abandon(m, started)
            raise
        return self._respond(request, response, m, started)
