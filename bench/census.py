#!/usr/bin/env python3
"""Census speed and memory benchmark: heapwatch vs objgraph, Pympler, guppy3.

Builds a heap shaped like a Django process right after a big queryset was
cached (model instances with a materialized ``__dict__`` and a ``_state``
ModelState, held in result-cache lists), then times, in this one process:

  the limit     heapwatch._engine._bare_walk()  (the GC walk, counting only)
  ours          heapwatch.census()
  the anchor    objgraph.show_growth()           (what the seed app called)
  and for context gc.get_objects(), Counter(map(type, gc.get_objects())),
  objgraph.typestats(), gc.collect(), heapwatch.show_growth(),
  heapwatch.census(include_untracked=True), Pympler, guppy3.

Every number printed is measured in this run; the verdicts compare them with
the project's goals.  Timings are best of N with time.perf_counter() and the
automatic garbage collector disabled (a tool that calls gc.collect() itself,
like objgraph.show_growth or muppy.get_objects, is timed as called, with
that collection).  Each timed call includes dropping its result.

Extra memory is the peak RSS increase during one call: VmHWM from
/proc/self/status after resetting it (``echo 5 > /proc/self/clear_refs``),
minus VmRSS just before the call; checked at start-up.  For the census it is
also measured with tracemalloc (which sees PyMem_Raw*, PyMem_* and
PyObject_* allocations).

Usage:
  python bench/census.py                 # 6M tracked objects (a few GB, minutes)
  python bench/census.py --quick         # 300k objects, smoke run
  python bench/census.py --objects 2000000 --tools-objects 500000

Pympler and guppy3 are far slower; they run on a smaller heap (the first
--tools-objects tracked objects' worth of the same heap, the rest freed),
where the bare walk and the census are timed again so the ratios compare
like with like.  The output says which heap each row ran on.  A tool that
is not installed or fails is skipped with the reason printed.
"""

from __future__ import annotations

import argparse
import collections
import gc
import io
import os
import platform
import sys
import time
import traceback

import heapwatch
from heapwatch import _engine

# ---------------------------------------------------------------------------
# The heap: a Django-like cached queryset
# ---------------------------------------------------------------------------


class ModelState:
    """Like django.db.models.base.ModelState: class defaults, instance state
    set after construction (from_db sets db and adding; the fields_cache
    descriptor sets an empty dict on first access)."""

    db = None
    adding = True


class FirstModel:
    """Like a Django model instance: _state first, then one attribute per
    field, set in __init__."""

    def __init__(self, id, name, email, rank, is_active, slug):
        self._state = ModelState()
        self.id = id
        self.name = name
        self.email = email
        self.rank = rank
        self.is_active = is_active
        self.slug = slug


ROWS_PER_LIST = 10_000  # one queryset result cache per list
TRACKED_PER_INSTANCE = 3  # instance, its materialized __dict__, its ModelState


def build_heap(target_tracked: int, shape: str = "django") -> list[list[object]]:
    """Adds about target_tracked GC-tracked objects in total (counting what
    the process already has).  Returns the lists that hold them."""
    gc.collect()
    baseline = len(gc.get_objects())
    was_enabled = gc.isenabled()
    gc.disable()  # building is not what is measured; a full collection follows
    try:
        heap: list[list[object]] = []
        if shape in ("django", "django-nodict"):
            # django-nodict: the same rows without materializing __dict__
            # (two tracked objects per row), to see what the dicts cost.
            per = TRACKED_PER_INSTANCE if shape == "django" else 2
            n = max(1, (target_tracked - baseline) // per)
            rows: list[object] = []
            for i in range(n):
                obj = FirstModel(
                    i + 1000,
                    f"First model {i}",
                    f"user{i}@example.com",
                    (i * 7919) % 100_000 + 1000,
                    i % 3 != 0,
                    f"first-model-{i}",
                )
                st = obj._state
                st.adding = False  # Model.from_db
                st.db = "default"
                st.fields_cache = {}  # ModelStateFieldsCacheDescriptor
                if shape == "django":
                    obj.__dict__  # materialized, as Django's descriptors do
                rows.append(obj)
                if len(rows) == ROWS_PER_LIST:
                    heap.append(rows)
                    rows = []
            if rows:
                heap.append(rows)
        elif shape == "instances":
            # Plain instances, __dict__ not materialized: one tracked object each.
            n = max(1, target_tracked - baseline)
            for start in range(0, n, ROWS_PER_LIST):
                heap.append([ModelState() for _ in range(min(ROWS_PER_LIST, n - start))])
        elif shape == "dicts":
            # Plain dicts, each tracked because it holds an (immortal-free)
            # tracked object: a shared list.
            n = max(1, target_tracked - baseline)
            shared: list[object] = []
            for start in range(0, n, ROWS_PER_LIST):
                heap.append(
                    [
                        {"id": i, "name": "x", "rel": shared}
                        for i in range(start, start + min(ROWS_PER_LIST, n - start))
                    ]
                )
        elif shape == "tuples":
            n = max(1, target_tracked - baseline)
            shared2: list[object] = []
            for start in range(0, n, ROWS_PER_LIST):
                heap.append([(i, shared2) for i in range(start, start + min(ROWS_PER_LIST, n - start))])
        else:
            raise ValueError(shape)
    finally:
        if was_enabled:
            gc.enable()
    gc.collect()
    return heap


def list_locality() -> tuple[float, float]:
    """How the walk order maps to memory: the share of consecutive objects
    in GC list order (gc.get_objects() order) that lie within 4 KiB of the
    previous one, and the share that lie after it."""
    from array import array

    addrs = array("Q", map(id, gc.get_objects()))
    near = fwd = 0
    prev = addrs[0] if addrs else 0
    for a in addrs:
        d = a - prev
        if -4096 < d < 4096:
            near += 1
        if d > 0:
            fwd += 1
        prev = a
    n = max(1, len(addrs) - 1)
    return near / n, fwd / n


# ---------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------


def best_of(fn, repeats: int) -> float:
    """Best wall time of fn() over repeats, automatic GC off while timing."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            dt = time.perf_counter() - t0
            best = min(best, dt)
        return best
    finally:
        if was_enabled:
            gc.enable()


def best_of_interleaved(fns, repeats: int) -> list[float]:
    """Best wall times of several functions timed in alternation, so that a
    burst of load from other processes hits them alike."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        best = [float("inf")] * len(fns)
        for _ in range(repeats):
            for i, fn in enumerate(fns):
                t0 = time.perf_counter()
                fn()
                best[i] = min(best[i], time.perf_counter() - t0)
        return best
    finally:
        if was_enabled:
            gc.enable()


def _status_kb(*keys: str) -> dict[str, int]:
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in keys:
                out[k] = int(v.split()[0])
    return out


def _reset_hwm() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def hwm_reset_works() -> tuple[bool, str]:
    """Checks that writing 5 to clear_refs brings VmHWM back down to VmRSS,
    and that a transient 1 MiB of fresh pages shows in the measurement."""
    import mmap

    def transient(nbytes):
        m = mmap.mmap(-1, nbytes)
        for i in range(0, nbytes, 4096):
            m[i] = 1
        m.close()

    try:
        _reset_hwm()
        s0 = _status_kb("VmRSS", "VmHWM")
        transient(64 * 1024 * 1024)
        s1 = _status_kb("VmRSS", "VmHWM")
        _reset_hwm()
        s2 = _status_kb("VmRSS", "VmHWM")
        one_mib = min(peak_rss_increase(lambda: transient(1 << 20)) for _ in range(3))
    except OSError as e:
        return False, f"cannot reset VmHWM: {e}"
    rose = s1["VmHWM"] - s0["VmHWM"] >= 60 * 1024
    reset = s2["VmHWM"] - s2["VmRSS"] < 1024
    # The kernel stores the peak from its approximate (per-CPU batched) RSS
    # counter, so a transient peak can read a few hundred kB low.
    sensitive = 512 * 1024 <= one_mib <= 1536 * 1024
    detail = (
        f"64 MiB touched then unmapped: VmHWM +{s1['VmHWM'] - s0['VmHWM']} kB, "
        f"after reset VmHWM - VmRSS = {s2['VmHWM'] - s2['VmRSS']} kB; "
        f"resolution: a transient 1 MiB of fresh pages reads as +{one_mib // 1024} kB"
    )
    return rose and reset and sensitive, detail


def peak_rss_increase(fn) -> int:
    """Bytes: peak RSS during fn() (result dropped inside) minus RSS before
    (VmHWM read right after resetting it, then again after the call)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        _reset_hwm()
        before = _status_kb("VmHWM")["VmHWM"]  # = RSS at the reset
        fn()
        after = _status_kb("VmHWM")["VmHWM"]
    finally:
        if was_enabled:
            gc.enable()
    return (after - before) * 1024


def traced_peak_increase(fn) -> int:
    """Bytes: tracemalloc peak during fn() minus traced memory before."""
    import tracemalloc

    was_enabled = gc.isenabled()
    gc.disable()
    tracemalloc.start(1)
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        if was_enabled:
            gc.enable()
    return peak - before


# ---------------------------------------------------------------------------
# The contenders
# ---------------------------------------------------------------------------


def bare_walk():
    _engine._bare_walk()


def census():
    heapwatch.census()


def census_untracked():
    heapwatch.census(include_untracked=True)


def get_objects():
    gc.get_objects()


def counter_of_types():
    collections.Counter(map(type, gc.get_objects()))


def hw_show_growth():
    heapwatch.show_growth(10, file=io.StringIO())


def gc_collect():
    gc.collect()


def noop():
    pass


class Row:
    def __init__(self, label, heap_n, seconds, rss=None, note=""):
        self.label = label
        self.heap_n = heap_n
        self.seconds = seconds
        self.rss = rss
        self.note = note


def fmt_bytes(n):
    if n is None:
        return "-"
    sign = "-" if n < 0 else ""
    n = abs(n)
    if n < 10 * 1024:
        return f"{sign}{n} B"
    if n < 10 * 1024 * 1024:
        return f"{sign}{n / 1024:.0f} KiB"
    return f"{sign}{n / 1024 / 1024:.0f} MiB"


def print_table(rows, bare_by_heap, census_by_heap):
    w = max(len(r.label) for r in rows)
    head = (
        f"{'what':<{w}} {'heap':>9} {'best s':>9} {'ns/obj':>8} "
        f"{'x bare':>8} {'x census':>9} {'peak RSS +':>11}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        if r.seconds is None:
            print(f"{r.label:<{w}} {r.heap_n:>9,} {'skipped':>9}   {r.note}")
            continue
        bare = bare_by_heap[r.heap_n]
        cen = census_by_heap.get(r.heap_n)
        ns = r.seconds / r.heap_n * 1e9
        xc = f"{r.seconds / cen:9.1f}" if cen else f"{'-':>9}"
        print(
            f"{r.label:<{w}} {r.heap_n:>9,} {r.seconds:9.4f} {ns:8.1f} "
            f"{r.seconds / bare:8.2f} {xc} {fmt_bytes(r.rss):>11}"
            + (f"   {r.note}" if r.note else "")
        )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--objects", type=int, default=6_000_000,
                    help="GC-tracked objects in the heap (default 6,000,000)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 300k objects, fewer repeats")
    ap.add_argument("--pympler-objects", type=int, default=1_000_000,
                    help="heap size for Pympler, which is slow (default 1,000,000; "
                         "0 = the full heap)")
    ap.add_argument("--guppy-objects", type=int, default=0,
                    help="heap size for guppy3 (default 0 = the full heap)")
    ap.add_argument("--repeats", type=int, default=5,
                    help="best of N for the fast rows (default 5)")
    ap.add_argument("--core-repeats", type=int, default=11,
                    help="best of N for the bare walk and census, timed in "
                         "alternation (default 11)")
    ap.add_argument("--slow-repeats", type=int, default=3,
                    help="best of N for objgraph, Pympler, guppy3 (default 3)")
    ap.add_argument("--shape", choices=["django", "django-nodict", "instances", "dicts", "tuples"],
                    default="django",
                    help="heap shape (default django); the others are for finding "
                         "where census time goes: only the core rows are run")
    ap.add_argument("--core-only", action="store_true",
                    help="only heapwatch, gc.get_objects and Counter rows (no objgraph, "
                         "Pympler, guppy3); the other shapes imply it")
    args = ap.parse_args(argv)
    if args.quick:
        args.objects = min(args.objects, 300_000)
        args.repeats = min(args.repeats, 3)
    for name in ("pympler_objects", "guppy_objects"):
        if getattr(args, name) <= 0 or getattr(args, name) >= args.objects:
            setattr(args, name, args.objects)

    print(f"heapwatch census benchmark, shape={args.shape}")
    print(f"python   {sys.version.split()[0]} ({platform.python_implementation()}, "
          f"{sys.executable})")
    print(f"heapwatch {heapwatch.__version__} from {os.path.dirname(heapwatch.__file__)}; "
          f"direct walk: {_engine._walk_is_direct()}")
    print(f"machine  {platform.machine()}, {os.cpu_count()} CPUs, "
          f"kernel {platform.release()}")
    hwm_ok, hwm_detail = hwm_reset_works()
    print(f"peak-RSS method: VmHWM reset via /proc/self/clear_refs: "
          f"{'works' if hwm_ok else 'NOT WORKING'} ({hwm_detail})")
    print()

    t0 = time.perf_counter()
    heap = build_heap(args.objects, args.shape)
    build_s = time.perf_counter() - t0
    n_tracked = len(gc.get_objects())
    in_heap_at_start = sum(len(rows_) for rows_ in heap) * TRACKED_PER_INSTANCE + len(heap)
    rss = _status_kb("VmRSS")["VmRSS"] * 1024
    print(f"heap built in {build_s:.1f} s: {n_tracked:,} GC-tracked objects "
          f"(len(gc.get_objects())), target {args.objects:,}; RSS {fmt_bytes(rss)}")
    top = heapwatch.census().most_common(6)
    print("  largest types: " + ", ".join(f"{name} {s.count:,}" for name, s in top))
    print(f"  bare walk visits {_engine._bare_walk():,} objects")
    near, fwd = list_locality()
    print(f"  measured after a full gc.collect(), as in a long-running process (objgraph's "
          f"show_growth collects on every call); GC list order vs memory: {near:.0%} of "
          f"consecutive objects within 4 KiB, {fwd:.0%} at a higher address")
    print()

    rows: list[Row] = []
    tools_n: dict[str, int] = {}
    observer_notes: list[str] = []
    stability: list[str] = []
    bare_by_heap: dict[int, float] = {}
    census_by_heap: dict[int, float] = {}

    def measure(label, fn, heap_n, repeats, rss=True, note="", secs=None, warm=True):
        # Warm-up call (first-call costs such as imports or objgraph's first
        # show_growth printing every type are not what we compare), then best of N.
        if secs is None:
            if warm:
                fn()
            secs = best_of(fn, repeats)
        peak = peak_rss_increase(fn) if (rss and hwm_ok) else None
        r = Row(label, heap_n, secs, peak, note)
        rows.append(r)
        print(f"  measured {label}: {secs:.4f} s", flush=True)
        return r

    def time_core(n, why=""):
        """Bare walk and census on the heap as it is now, timed in alternation."""
        bare_walk(), census()
        tb, tc = best_of_interleaved([bare_walk, census], args.core_repeats)
        rb = measure("limit: heapwatch._engine._bare_walk()" + why, bare_walk, n,
                     args.repeats, secs=tb)
        rc = measure("OURS: heapwatch.census()" + why, census, n, args.repeats, secs=tc)
        bare_by_heap[n] = rb.seconds
        census_by_heap[n] = rc.seconds
        return rb, rc

    def observed(label, fn, heap_n):
        """Runs fn() once (this is also its warm-up call) between two censuses,
        after gc.collect(), and prints what the tool left behind in the heap,
        if anything much.  Returns the heap size the tool's timed calls will
        see; when the tool grew the heap, the bare walk and the census are
        timed again on the grown heap so that the ratios stay like for like."""
        gc.collect()
        c0 = heapwatch.census()
        fn()
        gc.collect()
        c1 = heapwatch.census()
        grew = [g for g in (c1 - c0) if g.delta > 0]
        total = c1.total_count - c0.total_count
        if total > max(1000, c0.total_count // 1000):
            top = ", ".join(f"{g.name} {g.delta:+,}" for g in grew[:4])
            line = (f"  observer effect: one {label} call left {total:+,} tracked objects "
                    f"in the heap ({top})")
            observer_notes.append(line)
            print(line, flush=True)
            n = len(gc.get_objects())
            if n > heap_n * 1.01:
                print(f"  re-timing the bare walk and census on the heap as {label} left it: "
                      f"{n:,} tracked objects", flush=True)
                time_core(n, f" (heap as {label.split(' ')[0]} left it)")
                return n
        return heap_n

    print(f"timing on {n_tracked:,} tracked objects (bare walk and census: best of "
          f"{args.core_repeats}, in alternation; others best of {args.repeats}; slow tools "
          f"best of {args.slow_repeats}) ...")
    # The two that make the main ratio are timed in alternation.
    r_bare, r_census = time_core(n_tracked)
    measure("heapwatch.census(include_untracked=True) [info]", census_untracked,
            n_tracked, args.repeats)
    measure("heapwatch.show_growth(10, file=StringIO) [info]", hw_show_growth,
            n_tracked, args.repeats)
    measure("gc.get_objects()", get_objects, n_tracked, args.repeats)
    measure("Counter(map(type, gc.get_objects()))", counter_of_types, n_tracked, args.repeats)

    # A no-op's "peak RSS increase": the noise floor of the RSS method.
    noop_rss = peak_rss_increase(noop) if hwm_ok else None

    # Census memory, precisely.  Repeat and keep the largest.
    census_rss = [peak_rss_increase(census) for _ in range(3)] if hwm_ok else []
    census_traced = max(traced_peak_increase(census) for _ in range(2))
    untracked_traced = traced_peak_increase(census_untracked)

    r_objgraph = None
    r_typestats = None
    census_alongside_og = None
    if args.shape in ("django", "django-nodict") and not args.core_only:
        try:
            import objgraph

            objgraph_ver = getattr(objgraph, "__version__", "?")

            def og_show_growth():
                objgraph.show_growth(file=io.StringIO())

            def og_typestats():
                objgraph.typestats()

            og_n = observed("objgraph.show_growth()", og_show_growth, n_tracked)
            # Timed in alternation with the census: each gc.collect() it runs
            # may rearrange the GC lists, and both should see the same heap.
            t_cen_og, t_og = best_of_interleaved([census, og_show_growth], args.slow_repeats)
            census_alongside_og = t_cen_og
            r_objgraph = measure(
                f"ANCHOR: objgraph.show_growth(file=StringIO) [{objgraph_ver}]",
                og_show_growth, og_n, args.slow_repeats, secs=t_og,
                note="as called: includes its gc.collect()")
            r_typestats = measure("objgraph.typestats() alone [info]", og_typestats,
                                  og_n, args.slow_repeats, note="no gc.collect()")
            measure("gc.collect() alone [info]", gc_collect, og_n, args.slow_repeats)
        except Exception as e:  # not installed, or failed
            rows.append(Row("ANCHOR: objgraph.show_growth()", n_tracked, None,
                            note=f"{type(e).__name__}: {e}"))

        # Drift check: the main pair again, after everything above.
        gc.collect()
        now_n = len(gc.get_objects())
        tb2, tc2 = best_of_interleaved([bare_walk, census], args.core_repeats)
        stability.append(
            f"bare walk and census re-timed after the rows above, on {now_n:,} tracked "
            f"objects: {tb2 * 1e3:.1f} ms and {tc2 * 1e3:.1f} ms, census/bare "
            f"{tc2 / tb2:.2f}x (first timing: {r_bare.seconds * 1e3:.1f} ms and "
            f"{r_census.seconds * 1e3:.1f} ms, {r_census.seconds / r_bare.seconds:.2f}x)")
        print("  " + stability[-1], flush=True)

        # ---- the slow tools, each on the heap size asked for -------------
        def rebuild_heap(target):
            # A fresh heap of the smaller size (not a cut of the old one: a
            # tool run before may have changed the old one, see "observer
            # effect" lines).
            gc.collect()
            before = len(gc.get_objects())
            heap.clear()
            gc.collect()
            other = len(gc.get_objects())
            print(f"\nfreed the model heap: {before:,} -> {other:,} tracked objects "
                  f"(the process had {n_tracked - in_heap_at_start:,} outside the model "
                  f"heap at the start; the rest is what the tools run so far keep alive)")
            heap.extend(build_heap(target))
            n = len(gc.get_objects())
            print(f"new smaller heap built: {n:,} tracked objects (target {target:,})",
                  flush=True)
            time_core(n)
            return n

        def run_pympler(heap_n):
            try:
                import pympler
                from pympler import muppy, summary

                def pympler_run():
                    summary.summarize(muppy.get_objects())

                n = observed("Pympler muppy.get_objects()+summarize()", pympler_run, heap_n)
                measure(f"Pympler muppy.get_objects()+summarize() [{pympler.__version__}]",
                        pympler_run, n, args.slow_repeats, warm=False,
                        note="get_objects() runs gc.collect()")
            except Exception as e:
                rows.append(Row("Pympler muppy.get_objects()+summarize()", heap_n, None,
                                note=f"{type(e).__name__}: {e}"))
                traceback.print_exc(limit=3)

        def run_guppy(heap_n):
            try:
                import guppy

                def guppy_heap():
                    guppy.hpy().heap()

                def guppy_heap_str():
                    str(guppy.hpy().heap())

                try:
                    from importlib.metadata import version

                    gver = version("guppy3")
                except Exception:
                    gver = "?"
                n = observed("guppy3 hpy().heap()", guppy_heap, heap_n)
                measure(f"guppy3 hpy().heap() [{gver}]", guppy_heap, n, args.slow_repeats,
                        warm=False)
                measure("guppy3 str(hpy().heap()) (by-type table) [info]", guppy_heap_str,
                        n, args.slow_repeats)
            except Exception as e:
                rows.append(Row("guppy3 hpy().heap()", heap_n, None,
                                note=f"{type(e).__name__}: {e}"))
                traceback.print_exc(limit=3)

        # Largest heap first; on a tie Pympler first, as guppy3 grows the heap.
        plan = sorted([(args.pympler_objects, "Pympler", run_pympler),
                       (args.guppy_objects, "guppy3", run_guppy)],
                      key=lambda p: -p[0])
        cur_n = n_tracked
        for size, name, run in plan:
            if size < args.objects and size < cur_n:
                cur_n = rebuild_heap(size)
            tools_n[name] = cur_n
            run(cur_n)

    # ---- report ------------------------------------------------------------
    print()
    print(f"Python {sys.version.split()[0]}: heap of {n_tracked:,} tracked objects")
    for name, n in tools_n.items():
        if n != n_tracked:
            print(f"  {name} ran on a smaller heap, built afresh, of {n:,} tracked objects "
                  f"(too slow for the full heap); its ratios are against the bare walk and "
                  f"census timed on that same heap")
    print("'x bare' = time / bare walk time; 'x census' = time / census time (same heap); "
          "'peak RSS +' = peak RSS during one call minus RSS before")
    print()
    print_table(rows, bare_by_heap, census_by_heap)
    print()
    extrapolated = [r for r in rows
                    if r.heap_n < n_tracked and r.seconds is not None
                    and "heapwatch" not in r.label]
    for r in extrapolated:
        print(f"  {r.label.split(' [')[0]}: {r.seconds:.1f} s on {r.heap_n:,} objects, "
              f"extrapolated to the full heap: {r.seconds / r.heap_n * n_tracked:.0f} s "
              f"(not measured)")
    if extrapolated:
        print()
    for line in stability + observer_notes:
        print(line.strip())
    if observer_notes:
        print()
    print("memory during heapwatch.census():")
    if hwm_ok:
        print(f"  peak RSS increase, 3 calls: {', '.join(f'{b:,} B' for b in census_rss)} "
              f"(no-op control: {noop_rss:,} B)")
    else:
        print(f"  peak RSS increase: unavailable ({hwm_detail})")
    print(f"  tracemalloc peak increase (Python allocators incl. PyMem_Raw*): "
          f"{census_traced:,} B")
    print(f"  [info] census(include_untracked=True) tracemalloc peak increase: "
          f"{untracked_traced:,} B")
    print()

    # ---- verdicts ------------------------------------------------------------
    ratio = r_census.seconds / r_bare.seconds
    limit = 1.3 if sys.version_info >= (3, 12) else 2.0
    verdicts = []
    verdicts.append((
        ratio <= limit,
        f"census <= {limit}x the bare walk on {sys.version_info[0]}.{sys.version_info[1]}",
        f"{ratio:.2f}x ({r_census.seconds * 1e3:.1f} ms vs {r_bare.seconds * 1e3:.1f} ms, "
        f"{r_census.seconds / n_tracked * 1e9:.1f} vs {r_bare.seconds / n_tracked * 1e9:.1f} ns/obj)",
    ))
    if r_objgraph is not None:
        speedup = r_objgraph.seconds / census_alongside_og
        extra = ""
        if r_typestats is not None:
            extra = (f"; [info] vs objgraph.typestats() alone (no gc.collect()): "
                     f"{r_typestats.seconds / census_alongside_og:.1f}x")
        verdicts.append((
            speedup >= 15,
            "census >= 15x faster than objgraph.show_growth",
            f"{speedup:.1f}x ({r_objgraph.seconds:.3f} s vs {census_alongside_og:.4f} s, the "
            f"census timed in alternation with it){extra}",
        ))
    elif args.shape in ("django", "django-nodict") and not args.core_only:
        verdicts.append((None, "census >= 15x faster than objgraph.show_growth",
                         "objgraph not measured"))
    mem_candidates = []
    if hwm_ok:
        mem_candidates.append(max(census_rss))
    mem_candidates.append(census_traced)
    mem = max(mem_candidates)
    verdicts.append((
        mem < 1_000_000,
        "extra memory during a census < 1 MB",
        f"{mem:,} B (max of peak-RSS and tracemalloc measurements)",
    ))
    for ok, goal, measured in verdicts:
        tag = "SKIP" if ok is None else ("PASS" if ok else "MISS")
        print(f"{tag}  {goal}: {measured}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
