"""Prometheus metrics: the heap by type, the memory split, request growth.

Needs prometheus_client.  Two ways to export the heap, one per process
model:

- One process (or one exporter per process): HeapCollector, a custom
  collector.  A scrape returns the figures of the last census; a census
  (and memory()) runs at most once per `interval` seconds, on the
  scraping thread, so scrapes in between cost microseconds.
- prometheus_client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR, gunicorn
  with several workers): custom collectors are not aggregated across
  processes, so HeapPublisher writes the same figures into multiprocess
  gauges ("liveall": one series per live worker, labelled pid) from a
  daemon thread of each worker, once per `interval`.  child_exit() drops
  a dead worker's series.

install() picks the right one.  The middleware feeds the request metrics
through observe_record() when the Django setting PROMETHEUS is on.

Rules it keeps: collecting never runs code of the application's objects
(the census does not) and never raises into the exporter (a failure is
logged once; the last figures are served).
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

import heapwatch
from heapwatch import _args

__all__ = ["HeapCollector", "HeapPublisher", "child_exit", "install", "observe_record",
           "LEAK_VERDICTS", "REQUEST_BYTES", "REQUEST_OBJECTS"]

logger = logging.getLogger("heapwatch.prometheus")

#: The kinds of heapwatch_memory_bytes, in Memory's order; with `other`
#: clamped at 0 they sum to `rss`.
MEMORY_KINDS = ("rss", "python_objects", "pymalloc_free", "malloc_free", "other")

#: The label value of the row that sums every type not listed.  A type of
#: that name is folded into it, so that no two series share a label set.
OTHER = "other"

_KIB, _MIB = 1 << 10, 1 << 20

# Growth of one request: 0 holds the requests that grew nothing (or shrank).
OBJECT_BUCKETS = (0, 10, 100, 1_000, 10_000, 100_000, 1_000_000, math.inf)
BYTE_BUCKETS = (0, 4 * _KIB, 16 * _KIB, 64 * _KIB, 256 * _KIB, _MIB, 4 * _MIB, 16 * _MIB,
                64 * _MIB, 256 * _MIB, math.inf)

# The middleware's metrics, in prometheus_client's default registry (and in
# the registry given to install()).  In multiprocess mode prometheus_client
# keeps them in per-process files, summed over the workers.
REQUEST_OBJECTS = Histogram(
    "heapwatch_request_objects_delta",
    "GC-tracked objects a measured request added (0 when it added none or freed more)",
    ["view"], buckets=OBJECT_BUCKETS)
REQUEST_BYTES = Histogram(
    "heapwatch_request_bytes_delta",
    "Shallow bytes of GC-tracked objects a measured request added (0 when none)",
    ["view"], buckets=BYTE_BUCKETS)
LEAK_VERDICTS = Counter(
    "heapwatch_leak_verdicts",
    "Measured requests in which a type got the verdict leak, by view and type",
    ["view", "type"])

_DOCS = {
    "heapwatch_objects": "GC-tracked objects by type (heapwatch.census()): the top types, "
                         "the rest summed as type=\"other\"",
    "heapwatch_object_bytes": "Shallow bytes of GC-tracked objects by type: the top types, "
                              "the rest summed as type=\"other\"",
    "heapwatch_memory_bytes": "The process's RSS and its split (heapwatch.memory()): "
                              "rss = python_objects + pymalloc_free + malloc_free + other",
    "heapwatch_census_duration_seconds": "Seconds the last census (and memory()) took",
    "heapwatch_census_timestamp_seconds": "Unix time of the last census: the figures are "
                                          "at most one interval old",
}


def _multiproc_dir() -> str | None:
    """prometheus_client's multiprocess directory, as it reads it."""
    return (os.environ.get("PROMETHEUS_MULTIPROC_DIR")
            or os.environ.get("prometheus_multiproc_dir") or None)


# ---- arguments ----------------------------------------------------------------


def _check_by(value: object) -> Literal["bytes", "count"]:
    if not isinstance(value, str):
        raise TypeError(f"by must be 'bytes' or 'count', not {type(value).__name__}")
    if value == "bytes":
        return "bytes"
    if value == "count":
        return "count"
    raise ValueError(f"by must be 'bytes' or 'count', got {value!r}")


class _Once:
    """Logs the first failure, counts the rest."""

    def __init__(self) -> None:
        self.failed = 0

    def __call__(self, what: str) -> None:
        self.failed += 1
        if self.failed == 1:
            logger.exception("heapwatch: %s failed; the metrics keep their last values, "
                             "later failures are not logged", what)


# ---- readings -----------------------------------------------------------------


@dataclass(frozen=True)
class _Reading:
    census: heapwatch.Census
    ranked: list[str]              # type names, largest first by the collector's key
    memory: heapwatch.Memory | None
    seconds: float                 # what taking it cost
    taken: float                   # time.time() at its start


def _read(by: Literal["bytes", "count"], memory: bool, fullnames: bool,
          failed: _Once) -> _Reading:
    """One census, and memory() if asked: the only place either is taken.
    A failing memory() leaves the types' figures (memory None)."""
    taken, t0 = time.time(), time.perf_counter()
    census = heapwatch.census(fullnames=fullnames)
    mem = None
    if memory:
        try:
            mem = heapwatch.memory()
        except Exception:
            failed("memory() for Prometheus")
    ranked = [name for name, _ in census.most_common(by=by) if name != OTHER]
    return _Reading(census, ranked, mem, time.perf_counter() - t0, taken)


def _rows(reading: _Reading, names: Iterable[str]) -> list[tuple[str, int, int]]:
    """(type, count, bytes) for each of names, then the `other` row: the
    rest of the census, so that the rows sum to its totals."""
    rows = []
    count = nbytes = 0
    for name in names:
        stats = reading.census.get(name)
        c, b = (stats.count, stats.bytes) if stats is not None else (0, 0)
        rows.append((name, c, b))
        count += c
        nbytes += b
    rows.append((OTHER, reading.census.total_count - count, reading.census.total_bytes - nbytes))
    return rows


def _memory_rows(mem: heapwatch.Memory) -> list[tuple[str, int]]:
    return [(kind, getattr(mem, kind)) for kind in MEMORY_KINDS]


# A fork while another thread holds a collector's lock (a scrape taking a
# census) would leave the child's copy held forever, and every scrape of the
# child waiting on it: each child starts with fresh locks.
_LOCKED: weakref.WeakSet[Any] = weakref.WeakSet()


def _fresh_locks_after_fork() -> None:
    for holder in list(_LOCKED):
        holder._lock = threading.RLock()


os.register_at_fork(after_in_child=_fresh_locks_after_fork)


# ---- one process: a custom collector -------------------------------------------


class HeapCollector:
    """A prometheus_client collector of the heap by type and the memory split.

    ``REGISTRY.register(HeapCollector())``, or install().  A scrape serves the
    figures of the last census; a census runs at most once per `interval`
    seconds (0: at every scrape), on the thread of the scrape that finds the
    figures out of date, while other scrapes wait for it.  The top `top`
    types by `by` ("bytes": shallow bytes, or "count") get a series each,
    type="other" sums the rest.  `memory=False` leaves out
    heapwatch_memory_bytes and its untracked census (the costlier part:
    0.2-0.3 s per million objects).  `fullnames=True` names types
    ``module.Name``.
    """

    def __init__(self, top: int = 20, interval: float = 60, *, by: str = "bytes",
                 memory: bool = True, fullnames: bool = False) -> None:
        self.top = _args.integer(top, "top", 0)
        self.interval = _args.seconds(interval, "interval")
        self.by = _check_by(by)
        self.memory = _args.flag(memory, "memory")
        self.fullnames = _args.flag(fullnames, "fullnames")
        # Held while a census runs.  Reentrant: a scrape from inside the
        # census (an audit hook, on the same thread) sees _taking and is
        # served the last figures instead of waiting for itself.
        self._lock = threading.RLock()
        _LOCKED.add(self)
        self._taking = False
        self._reading: _Reading | None = None
        self._families: list[Metric] = []  # built from _reading, served until the next
        self._due = -math.inf              # time.monotonic() of the next census
        self._failed = _Once()

    def describe(self) -> list[Metric]:
        # Names only: registering must not take a census.
        return self._build(None)

    def collect(self) -> list[Metric]:
        try:
            with self._lock:
                now = time.monotonic()
                if now >= self._due and not self._taking:
                    # A failed census waits the interval too: a scrape must
                    # not pay for a census that keeps failing.
                    self._due = now + self.interval
                    self._taking = True
                    try:
                        self._reading = _read(self.by, self.memory, self.fullnames,
                                              self._failed)
                    except Exception:
                        self._failed("the census for Prometheus")
                    else:
                        self._families = self._build(self._reading)
                    finally:
                        self._taking = False
                return list(self._families)
        except Exception:
            self._failed("collecting heapwatch metrics")
            return []

    def _build(self, reading: _Reading | None) -> list[Metric]:
        objects = GaugeMetricFamily("heapwatch_objects", _DOCS["heapwatch_objects"],
                                    labels=["type"])
        nbytes = GaugeMetricFamily("heapwatch_object_bytes", _DOCS["heapwatch_object_bytes"],
                                   labels=["type"])
        families: list[Metric] = [objects, nbytes]
        mem = None
        if self.memory:
            mem = GaugeMetricFamily("heapwatch_memory_bytes", _DOCS["heapwatch_memory_bytes"],
                                    labels=["kind"])
            families.append(mem)
        seconds = GaugeMetricFamily("heapwatch_census_duration_seconds",
                                    _DOCS["heapwatch_census_duration_seconds"])
        stamp = GaugeMetricFamily("heapwatch_census_timestamp_seconds",
                                  _DOCS["heapwatch_census_timestamp_seconds"])
        families += [seconds, stamp]
        if reading is None:
            return families
        for name, count, size in _rows(reading, reading.ranked[: self.top]):
            objects.add_metric([name], count)
            nbytes.add_metric([name], size)
        if mem is not None and reading.memory is not None:
            for kind, value in _memory_rows(reading.memory):
                mem.add_metric([kind], value)
        seconds.add_metric([], reading.seconds)
        stamp.add_metric([], reading.taken)
        return families


# ---- several processes: multiprocess gauges ---------------------------------------


class HeapPublisher:
    """The figures of HeapCollector, for prometheus_client's multiprocess mode.

    A daemon thread of this process takes a census every `interval` seconds
    (> 0) and writes the figures into multiprocess gauges with
    ``multiprocess_mode="liveall"``: the exporter serves one series per live
    process, labelled ``pid`` (sum over it for the fleet, max for the worst
    worker).  The thread calls nothing but census(), memory() and the
    gauges; it sleeps in between.

    A series cannot be removed from prometheus_client's multiprocess files,
    so a type keeps its series once it was among the top `top`, with its
    current figures (the other row is the rest): at most 4 x `top` types per
    process, after which types new to the top are counted in the other
    row.  A process's series go when it is marked dead (child_exit()).
    """

    def __init__(self, top: int = 20, interval: float = 60, *, by: str = "bytes",
                 memory: bool = True, fullnames: bool = False) -> None:
        self.top = _args.integer(top, "top", 0)
        self.interval = _args.seconds(interval, "interval", positive=True)
        self.by = _check_by(by)
        self.memory = _args.flag(memory, "memory")
        self.fullnames = _args.flag(fullnames, "fullnames")
        self.max_types = 4 * self.top
        self._shown: dict[str, None] = {}   # types with a series, in order of entry
        self._lock = threading.RLock()      # one refresh at a time (see HeapCollector)
        _LOCKED.add(self)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failed = _Once()
        mode: Literal["liveall"] = "liveall"
        # registry=None: the exporter reads these from the files
        # (MultiProcessCollector), not from a registry.
        self._objects = Gauge("heapwatch_objects", _DOCS["heapwatch_objects"], ["type"],
                              registry=None, multiprocess_mode=mode)
        self._bytes = Gauge("heapwatch_object_bytes", _DOCS["heapwatch_object_bytes"], ["type"],
                            registry=None, multiprocess_mode=mode)
        self._memory = Gauge("heapwatch_memory_bytes", _DOCS["heapwatch_memory_bytes"], ["kind"],
                             registry=None, multiprocess_mode=mode)
        self._seconds = Gauge("heapwatch_census_duration_seconds",
                              _DOCS["heapwatch_census_duration_seconds"],
                              registry=None, multiprocess_mode=mode)
        self._stamp = Gauge("heapwatch_census_timestamp_seconds",
                            _DOCS["heapwatch_census_timestamp_seconds"],
                            registry=None, multiprocess_mode=mode)

    def refresh(self) -> None:
        """Take a census now and write the gauges (the thread does this
        every interval).  Never raises: a failure is logged once."""
        try:
            with self._lock:
                reading = _read(self.by, self.memory, self.fullnames, self._failed)
                for name in reading.ranked[: self.top]:
                    if len(self._shown) >= self.max_types:
                        break
                    self._shown.setdefault(name)
                for name, count, size in _rows(reading, self._shown):
                    self._objects.labels(name).set(count)
                    self._bytes.labels(name).set(size)
                if reading.memory is not None:
                    for kind, value in _memory_rows(reading.memory):
                        self._memory.labels(kind).set(value)
                self._seconds.set(reading.seconds)
                self._stamp.set(reading.taken)
        except Exception:
            self._failed("the census for Prometheus")

    def start(self) -> HeapPublisher:
        """Start the thread (in this process: threads do not survive a fork,
        so start it in each worker, after the fork)."""
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("this HeapPublisher is already running")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="heapwatch-prometheus",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Stop the thread (after its census, if one is running)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def collect(self) -> list[Metric]:
        """The gauges' current samples in this process (what it writes to
        the files), without a census."""
        gauges = [self._objects, self._bytes] + ([self._memory] if self.memory else [])
        return [metric for g in gauges + [self._seconds, self._stamp] for metric in g.collect()]

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.refresh()
            self._stop.wait(self.interval)


# ---- installing ---------------------------------------------------------------------

_installed: dict[int, HeapPublisher] = {}   # pid -> the publisher install() started there


def install(registry: CollectorRegistry | None = None, top: int = 20, interval: float = 60, *,
            by: str = "bytes", memory: bool = True,
            fullnames: bool = False) -> HeapCollector | HeapPublisher:
    """Export the heap of this process.

    Without PROMETHEUS_MULTIPROC_DIR: registers a HeapCollector in `registry`
    (prometheus_client's default REGISTRY if None), with the request
    metrics, and returns it.  In multiprocess mode: starts a HeapPublisher
    in this process and returns it (`registry` is not used: the exporter
    reads the files); call it in each worker, e.g. from gunicorn's
    post_worker_init.  A second call in one process raises ValueError.
    """
    if registry is not None and not isinstance(registry, CollectorRegistry):
        raise TypeError(f"registry must be a CollectorRegistry or None, "
                        f"not {type(registry).__name__}")
    if _multiproc_dir() is not None:
        running = _installed.get(os.getpid())
        if running is not None and running.running:
            raise ValueError("heapwatch.prometheus.install() already ran in this process")
        publisher = HeapPublisher(top, interval, by=by, memory=memory, fullnames=fullnames)
        _installed[os.getpid()] = publisher.start()
        return publisher
    collector = HeapCollector(top, interval, by=by, memory=memory, fullnames=fullnames)
    target = REGISTRY if registry is None else registry
    # DuplicateTimeseries (a ValueError) when installed there already.
    target.register(collector)
    if target is not REGISTRY:
        for metric in (REQUEST_OBJECTS, REQUEST_BYTES, LEAK_VERDICTS):
            try:
                target.register(metric)
            except ValueError:
                pass    # registered there by an earlier install()
    return collector


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn's child_exit hook: drops the heap series of the worker that
    exited (``from heapwatch.prometheus import child_exit`` in
    gunicorn.conf.py).  Outside multiprocess mode it does nothing."""
    path = _multiproc_dir()
    if path is None:
        return
    # Through a typed name: mark_process_dead has no annotations (yet).
    mark_dead: Callable[[int, str], None] = multiprocess.mark_process_dead
    try:
        mark_dead(worker.pid, path)
    except Exception:
        logger.exception("heapwatch: could not mark worker %s dead in %s",
                         getattr(worker, "pid", "?"), path)


# ---- the middleware's observer ------------------------------------------------------

_observe_failed = _Once()


def observe_record(data: Mapping[str, Any]) -> None:
    """Count one measured request: its growth in the histograms (not when
    the measurement overlapped other work: ``verdict == "concurrent"``),
    each of its ``types`` whose verdict is ``leak`` in the counter.  `data`
    has the keys of the middleware's ``record.heapwatch``: view,
    objects_delta, bytes_delta, verdict, types.  Never raises."""
    try:
        view = str(data.get("view") or "-")
        if data.get("verdict") != "concurrent":
            REQUEST_OBJECTS.labels(view).observe(max(int(data.get("objects_delta") or 0), 0))
            REQUEST_BYTES.labels(view).observe(max(int(data.get("bytes_delta") or 0), 0))
        types: Sequence[Mapping[str, Any]] = data.get("types") or ()
        for row in types:
            if row.get("verdict") == "leak":
                LEAK_VERDICTS.labels(view, str(row.get("name"))).inc()
    except Exception:
        _observe_failed("recording a request in the Prometheus metrics")
