"""Does running this code again leave objects behind?  The check behind
heapwatch.no_leaks(), the pytest plugin and the Django test runner.

The code runs `warmup` times unmeasured (caches that fill once fill then),
then `runs` times, each between two censuses taken at a quiet point: a full
collection (cyclic garbage is not growth), and the interpreter's caches that
fill with whatever they are shown emptied (re's compiled patterns, typing's
caches, and Django's URL resolvers when Django is loaded), so that what one
run adds to them is not taken for the code's own growth.  A type leaks when
it grew on every measured run; the check fails when the leaking types grew
by more than max_objects in all (0: any such growth fails).

For each leaking type, the failure says what holds the objects the last run
added: the objects made during that run that are still alive
(_engine.since_new), one reference graph with them as targets, and their
largest retention group with an example path -- the same answer why() and
retention() give.  The graph is built only when some type grew on every run.

Growth held only by weakref.finalize's registry is not the code's: each
entry is the bookkeeping of a finalizer on an object that is still alive,
and goes when that object goes.  Django's test client connects its signal
receivers on every request, and each connection of a bound method adds one
(weakref.finalize, the bound method, its weak reference, the entry) for as
long as the client lives -- the test's client, a fixture.  Likewise growth
held only by a cache the program did not ask for in this code: a
functools.lru_cache (the path passes through its wrapper), and the database
driver's connection (sqlite3 keeps up to 128 prepared statements per
connection and a weak reference per cursor, pruned every 200 cursors; the
path passes through Django's DatabaseWrapper.connection).  Found by running
Django REST framework's own test suite with the check, where these made 121
of 494 tests fail.  Such types are kept in report.not_counted with the
reason, said in the message, and not counted.  (A real leak that grows
only such a cache -- an unbounded lru_cache fed new keys on every call -- is
missed; growth anywhere else is still reported.)
"""

from __future__ import annotations

import gc
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from heapwatch import _args, _engine
from heapwatch._explain import Group, graph_of
from heapwatch._format import human_bytes

__all__ = ["LeakError", "LeakReport", "check", "no_leaks", "settle"]

T = TypeVar("T")


class LeakError(AssertionError):
    """Code left objects behind on every run; .report says which and what
    holds them."""

    def __init__(self, report: LeakReport) -> None:
        super().__init__(report.message())
        self.report = report


@dataclass
class Leak:
    """One type that grew on every measured run."""

    type: str
    per_run: list[int]
    bytes_per_run: list[int]
    held: Group | None = None
    booked: int = 0             # new objects found in weakref.finalize's registry

    @property
    def total(self) -> int:
        return sum(self.per_run)


@dataclass
class LeakReport:
    """What a check measured: each run's growth per type, and the leaks."""

    name: str
    warmup: int
    runs: int
    max_objects: int
    growth: list[dict[str, tuple[int, int]]] = field(default_factory=list)
    leaks: list[Leak] = field(default_factory=list)
    not_counted: list[tuple[Leak, str]] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return sum(leak.total for leak in self.leaks) > self.max_objects

    def message(self) -> str:
        total = sum(leak.total for leak in self.leaks)
        lines = [f"{self.name} leaked: {total:,} objects of {len(self.leaks)} type(s) grew "
                 f"on each of {self.runs} runs (after {self.warmup} warm-up run(s)"
                 + (f"; {self.max_objects:,} allowed" if self.max_objects else "") + "):"]
        for leak in self.leaks:
            runs = ", ".join(f"+{n:,}" for n in leak.per_run)
            per_run = leak.total / len(leak.per_run)
            size = sum(leak.bytes_per_run) / len(leak.bytes_per_run)
            lines.append(f"  {leak.type}: +{per_run:,.0f} per run ({runs}), "
                         f"{human_bytes(size)} per run")
            if leak.held is not None:
                ret = "" if leak.held.retained is None else \
                    f", {human_bytes(leak.held.retained)} retained"
                lines.append(f"    {leak.held.count:,} of the last run's held via "
                             f"{leak.held.via}{ret}")
                if leak.held.example is not None:
                    lines.append(f"    e.g. {leak.held.example}")
        reasons: dict[str, list[str]] = {}
        for leak, reason in self.not_counted:
            reasons.setdefault(reason, []).append(f"{leak.type} +{leak.per_run[-1]:,}")
        for reason, types in reasons.items():
            lines.append(f"  not counted, held by {reason}: {', '.join(types)}")
        return "\n".join(lines)


# ---- a quiet point ---------------------------------------------------------------


def settle() -> None:
    """Empties the caches that fill with what they are shown, then collects
    all generations: what is left is what the code keeps."""
    re.purge()
    typing = sys.modules.get("typing")
    for clear in getattr(typing, "_cleanups", ()):
        try:
            clear()
        except Exception:  # pragma: no cover - typing's own cache_clear
            pass
    urls = sys.modules.get("django.urls")
    if urls is not None:
        try:
            urls.clear_url_caches()
        except Exception:  # pragma: no cover - Django's own
            pass
    gc.collect()


def _census() -> dict[str, tuple[int, int]]:
    # Qualified names: a project's own Statement is not sqlite3's.
    return {name: (s.count, s.bytes) for name, s in _engine.census(fullnames=True).items()}


def _growth(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]
            ) -> dict[str, tuple[int, int]]:
    out = {}
    for name, (count, size) in after.items():
        c0, b0 = before.get(name, (0, 0))
        if count > c0:
            out[name] = (count - c0, size - b0)
    return out


def _check_names(value: object, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{what} must be a list of type names, not a single {type(value).__name__}")
    names = []
    for v in value:  # type: ignore[attr-defined]
        if isinstance(v, type):
            v = _census_name(v)
        if not isinstance(v, str) or not v:
            raise TypeError(f"{what} must hold type names or types, not {type(v).__name__}")
        names.append(v)
    return tuple(names)


def _census_name(t: type) -> str:
    """A type's name as census(fullnames=True) gives it: module.name."""
    return f"{t.__module__}.{t.__name__}"


def _matches(full: str, names: set[str]) -> bool:
    """A qualified type name against names given as "Row" or "app.models.Row"."""
    return full in names or full.rsplit(".", 1)[-1] in names


def check(run: Callable[[], object], *, name: str = "code", warmup: int = 1, runs: int = 3,
          types: Iterable[str | type] | None = None, ignore: Iterable[str | type] = (),
          max_objects: int = 0, explain: bool = True) -> LeakReport:
    """Runs run() warmup + runs times and measures (see the module's
    docstring).  Returns the report; does not raise for a leak (no_leaks()
    and the plugin do)."""
    if not callable(run):
        raise TypeError(f"expected a callable, not {type(run).__name__}")
    warmup = _args.integer(warmup, "warmup", 0)
    runs = _args.integer(runs, "runs", 1)
    max_objects = _args.integer(max_objects, "max_objects", 0)
    only = set(_check_names(types, "types")) if types is not None else None
    skip = set(_check_names(ignore, "ignore"))
    report = LeakReport(name, warmup, runs, max_objects)
    for _ in range(warmup):
        run()
    settle()
    # What exists now is the baseline, frozen (gc.freeze) for the measured
    # runs: the collections of settle() then examine only what the runs
    # made, and cost that much rather than the whole heap.  The walks of
    # census() and since_mark() do not see frozen objects, so both compare
    # what the runs made and kept; `baseline` is the frozen objects'
    # addresses, for telling the last run's objects from them.  A program
    # that froze its heap itself is left alone (and measured unfrozen).
    baseline = _engine.since_mark() if explain else b""
    freeze = gc.get_freeze_count() == 0
    if freeze:
        gc.freeze()
    try:
        before = _census()
        mark = None
        for i in range(runs):
            if i == runs - 1 and explain:
                mark = _engine.since_mark()
            run()
            settle()
            after = _census()
            report.growth.append(_growth(before, after))
            before = after
    finally:
        if freeze:
            gc.unfreeze()
    common = set.intersection(*(set(g) for g in report.growth)) if report.growth else set()
    for t in sorted(common, key=lambda t: -sum(g[t][0] for g in report.growth)):
        if _matches(t, skip) or (only is not None and not _matches(t, only)):
            continue
        report.leaks.append(Leak(t, [g[t][0] for g in report.growth],
                                 [g[t][1] for g in report.growth]))
    if report.failed and mark is not None:
        _explain_leaks(report, mark, baseline)
    return report


def _finalizer_objects() -> set[int]:
    """The ids of weakref.finalize's bookkeeping: each registered finalize
    object, its entry, and the entry's weak reference, function, args and
    kwargs."""
    import weakref

    registry = getattr(weakref.finalize, "_registry", None)
    found: set[int] = set()
    if not isinstance(registry, dict):
        return found
    for fin, info in list(registry.items()):
        found.add(id(fin))
        found.add(id(info))
        for attr in ("weakref", "func", "args", "kwargs"):
            value = getattr(info, attr, None)
            if value is not None:
                found.add(id(value))
    return found


def _explain_leaks(report: LeakReport, mark: bytes, baseline: bytes) -> None:
    """Sets aside the finalizer bookkeeping (the module's docstring), then
    finds what holds the last run's new objects of each leaking type."""
    names = tuple({leak.type.rsplit(".", 1)[-1] for leak in report.leaks[:10]})
    old = set(memoryview(baseline).cast("B").cast("P")) if baseline else set()
    new = [o for o in _engine.since_new(mark, names) if id(o) not in old]
    del old
    by_name: dict[str, list[object]] = {}
    for o in new:
        by_name.setdefault(_census_name(type(o)), []).append(o)
    book = _finalizer_objects()
    kept = []
    for leak in report.leaks:
        if leak.type in DRIVER_TYPES:
            report.not_counted.append((leak, DRIVER_TYPES[leak.type]))
            continue
        objs = by_name.get(leak.type)
        # The run's growth is all bookkeeping when all its new objects of
        # the type found are, or at least as many as it grew by (it may also
        # have replaced older objects of the type by new ones elsewhere,
        # which do not grow it; and a new object at a freed one's address
        # is not found).
        booked = sum(id(o) in book for o in objs) if objs else 0
        if objs and (booked == len(objs) or booked >= leak.per_run[-1]):
            report.not_counted.append((leak, FINALIZERS))
        else:
            leak.booked = booked
            kept.append(leak)
    report.leaks = kept
    new = [o for leak in kept[:10] for o in by_name.get(leak.type, ())]
    if not new or not report.failed:
        return
    snap = graph_of(new, exclude=(report, mark, baseline, by_name))
    del new
    kept = []
    for leak in report.leaks:
        nodes = [n for n in (snap.node_at(id(o)) for o in by_name.get(leak.type, ()))
                 if n is not None]
        groups = snap.retention(nodes, None) if nodes else []
        if groups:
            leak.held = groups[0]
        reason = _cache_holding(leak, groups)
        if reason is None:
            kept.append(leak)
        else:
            report.not_counted.append((leak, reason))
    report.leaks = kept


FINALIZERS = "weakref.finalize's registry for objects still alive"

# (what holds it, a test on a retention group's path): caches that are not
# the code's own growth (the module's docstring).
CACHES: list[tuple[str, Callable[[str], bool]]] = [
    ("a functools.lru_cache", lambda via: "-> _lru_cache_wrapper" in via),
    ("the database driver's connection (statement cache, cursor references)",
     lambda via: "DatabaseWrapper .connection ->" in via),
    (FINALIZERS, lambda via: via.startswith("module weakref .finalize")),
]

# Types only a database driver or weakref.finalize makes and holds: their
# growth is a cache or registry filling, even where the new objects cannot
# be found (made at the address of one freed during the run).
DRIVER_TYPES = {"sqlite3.Statement": "sqlite3's statement cache (128 per connection)",
                # and those only weakref.finalize makes, for its registry
                "weakref.finalize": FINALIZERS, "weakref._Info": FINALIZERS}


def _cache_holding(leak: Leak, groups: list[Group]) -> str | None:
    """The cache(s) that hold the last run's growth of this type: all of the
    run's new objects found, or at least as many as the type grew by.  (The
    new objects found can be fewer than the growth: an object made at the
    address of one freed during the run counts as old.)"""
    found = sum(g.count for g in groups)
    holders = [what for what, test in CACHES
               if any(test(g.via) for g in groups)]
    covered = sum(g.count for g in groups if any(test(g.via) for _, test in CACHES))
    # Finalizer entries found by identity but named through another path.
    covered = max(covered, min(found, covered + leak.booked))
    if leak.booked and FINALIZERS not in holders:
        holders.append(FINALIZERS)
    if found and (covered == found or covered >= leak.per_run[-1]):
        return " and ".join(holders)
    return None


def no_leaks(func: Callable[[], Any] | None = None, *, runs: int = 3, warmup: int = 1,
             types: Iterable[str | type] | None = None, ignore: Iterable[str | type] = (),
             max_objects: int = 0) -> Any:
    """Checks that func() leaves nothing behind: runs it warmup times, then
    runs times between censuses, and raises LeakError (an AssertionError)
    naming each type that grew on every run, with what holds its new
    objects.  Returns the LeakReport when it passes.

        heapwatch.no_leaks(lambda: client.get("/orders/"))

    Without func, a decorator: @heapwatch.no_leaks(runs=5) on a function
    (its arguments are passed through; the check runs at each call)."""
    def checked(f: Callable[[], Any], name: str) -> LeakReport:
        report = check(f, name=name, warmup=warmup, runs=runs, types=types, ignore=ignore,
                       max_objects=max_objects)
        if report.failed:
            raise LeakError(report)
        return report

    if func is None:
        def decorate(f: Callable[..., Any]) -> Callable[..., LeakReport]:
            import functools

            @functools.wraps(f)
            def wrapper(*args: Any, **kwargs: Any) -> LeakReport:
                return checked(lambda: f(*args, **kwargs), getattr(f, "__qualname__", "code"))
            return wrapper
        return decorate
    if not callable(func):
        raise TypeError(f"no_leaks() takes a callable, not {type(func).__name__}")
    return checked(func, getattr(func, "__qualname__", "code"))
