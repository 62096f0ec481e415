#!/usr/bin/env python3
"""Reference-graph benchmark: why(), retention(), dominators, graph memory.

Builds the heap of bench/census.py (Django-like model instances with a
materialized ``__dict__`` and a ``ModelState``, in result-cache lists of
10,000), holds it the way the seed app did -- a module-level cache of
querysets, ``benchshop.views.CACHE`` -- and then grows it the way the seed
grew: the related object of --grown rows is loaded and cached on the row
(``row._state.fields_cache["second"] = SecondModel(...)``).  After a full
``gc.collect()``, in this one process, it times:

  1. the graph build (heapwatch._explain._graph(targets=<the grown objects>,
     labels="targets")) and the retention groups of all grown objects
     (Graph.retention(retained=False)); heapwatch.retention(SecondModel) end
     to end (roots collected, graph built, groups, retained sizes).
  2. dominators + retained sizes (the first Graph.retained() call on a fresh
     graph computes them), then Graph.top_retainers(10); the anchor is
     guppy3's retained-size computation (hpy().heap(), then .domisize of the
     set of grown objects), each run in a forked child with a time limit.
  3. graph memory: Graph.info["graph_bytes"] per node and per edge against
     40 B per node + 8 B per edge, and the peak RSS growth during the build
     (VmHWM after resetting it through /proc/self/clear_refs).
  4. per object: objgraph.find_backref_chain(obj, inspect.ismodule) on a
     sample of grown objects (extrapolated to all of them) vs Snapshot.why()
     on the built graph and live heapwatch.why(obj), which builds a graph
     each call.

Every figure is measured in this run.  Times are the best of --repeats
(time.perf_counter(), automatic GC off), except where a row says "mean".

Usage:
  python bench/graph.py                     # 6M tracked objects (~3 GB, minutes)
  python bench/graph.py --objects 300000    # quick check
  python bench/graph.py --help

guppy3 runs in forked children (the parent's heap stays as it was: guppy3
materializes the __dict__ of every ModelState it sees).  When it is not
installed in this environment, the script looks for a venv named
.venv-bench-graph[-X.Y] of the same Python version next to the project (see
bench/README.md); --guppy-site none turns that off.
"""

from __future__ import annotations

import argparse
import gc
import glob
import inspect
import json
import os
import platform
import signal
import sys
import time
import types

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import census as cb  # noqa: E402  (bench/census.py: the heap and the RSS helpers)

import heapwatch  # noqa: E402
from heapwatch import _explain  # noqa: E402

# ---------------------------------------------------------------------------
# The heap: the census heap, held by a module-level cache, then grown
# ---------------------------------------------------------------------------

VIEWS = "benchshop.views"


class QuerySet:
    """A queryset whose result cache was filled: what the seed's module-level
    ALL_ROWS became after its first iteration."""

    def __init__(self, rows):
        self._result_cache = rows


class SecondModel:
    """The related model the seed loaded lazily and cached on each row."""

    def __init__(self, id, name, email):
        self._state = cb.ModelState()
        self.id = id
        self.name = name
        self.email = email


GROWN_TRACKED = 4  # SecondModel, its __dict__, its ModelState, the row's fields_cache dict


def views_module() -> types.ModuleType:
    mod = sys.modules.get(VIEWS)
    if mod is None:
        pkg = types.ModuleType("benchshop")
        mod = types.ModuleType(VIEWS)
        mod.CACHE = {}
        pkg.views = mod
        sys.modules["benchshop"] = pkg
        sys.modules[VIEWS] = mod
    return mod


def build_seed_heap(objects: int, grown: int) -> tuple[int, int]:
    """Fills benchshop.views.CACHE with the census heap (about objects minus
    the growth), then grows it by `grown` cached related objects.  Returns
    the number of tracked objects before and after the growth."""
    mod = views_module()
    mod.CACHE.clear()
    gc.collect()
    lists = cb.build_heap(max(objects - grown * GROWN_TRACKED, 1000))
    for i, rows in enumerate(lists):
        mod.CACHE[f"page-{i}"] = QuerySet(rows)
    del lists, rows
    gc.collect()
    baseline = len(gc.get_objects())
    # The growth: each call of the seed's view loads the related object of
    # the next rows and Django caches it on the row.
    was = gc.isenabled()
    gc.disable()
    try:
        n = 0
        for qs in mod.CACHE.values():
            for row in qs._result_cache:
                if n == grown:
                    break
                obj = SecondModel(n + 1, f"Second model {n}", f"second{n}@example.com")
                st = obj._state
                st.adding = False
                st.db = "default"
                st.fields_cache = {}
                obj.__dict__  # materialized, as Django's descriptors do
                row._state.fields_cache["second"] = obj
                n += 1
            if n == grown:
                break
    finally:
        if was:
            gc.enable()
    gc.collect()
    return baseline, len(gc.get_objects())


def grown_objects() -> list[object]:
    """The grown objects, in cache order (the list is a new object)."""
    out = []
    for qs in views_module().CACHE.values():
        for row in qs._result_cache:
            obj = row._state.fields_cache.get("second")
            if obj is None:
                return out
            out.append(obj)
    return out


def grown_positions() -> list[tuple[str, int]]:
    """Where the grown objects are: (cache key, row index)."""
    out = []
    for key, qs in views_module().CACHE.items():
        for i, row in enumerate(qs._result_cache):
            if "second" not in row._state.fields_cache:
                return out
            out.append((key, i))
    return out


def fetch_grown(pos: tuple[str, int]) -> object:
    key, i = pos
    return views_module().CACHE[key]._result_cache[i]._state.fields_cache["second"]


def free_seed_heap() -> None:
    views_module().CACHE.clear()
    gc.collect()


# ---------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------


def now_rss() -> int:
    return cb._status_kb("VmRSS")["VmRSS"] * 1024


class Peak:
    """Peak RSS growth over a block: VmHWM reset on entry, read on exit,
    minus the RSS on entry."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.peak = None
        self.kept = None

    def __enter__(self):
        if self.enabled:
            cb._reset_hwm()
            self.before = cb._status_kb("VmHWM")["VmHWM"] * 1024
        return self

    def __exit__(self, *exc):
        if self.enabled:
            s = cb._status_kb("VmHWM", "VmRSS")
            self.peak = s["VmHWM"] * 1024 - self.before
            self.kept = s["VmRSS"] * 1024 - self.before
        return False


def timed(fn, *args, **kw):
    t0 = time.perf_counter()
    r = fn(*args, **kw)
    return time.perf_counter() - t0, r


def build_graph(objs):
    """The graph with objs as targets, built as heapwatch.retention(objs)
    builds it (objs and the list holding them are left out)."""
    return _explain._graph(targets=objs, labels="targets", skip=objs, exclude=(objs,))


def engine_version() -> str:
    """The commit of the tree heapwatch was imported from (and whether its
    sources differ from it), and when the loaded engine was built."""
    from heapwatch import _engine

    so = getattr(_engine, "__file__", "") or ""
    built = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(os.path.getmtime(so))) if so else "?"
    src = os.path.dirname(os.path.dirname(os.path.abspath(heapwatch.__file__)))
    try:
        import subprocess

        head = subprocess.run(["git", "-C", src, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", src, "status", "--porcelain", "--", "."],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        rev = f"commit {head}{' + uncommitted changes under src/' if dirty else ''}" if head else ""
    except (OSError, subprocess.SubprocessError):
        rev = ""
    rev = os.environ.get("HEAPWATCH_BENCH_REV", rev)  # e.g. for a copy made by git archive
    return f"{rev + ', ' if rev else ''}engine {os.path.basename(so)} built {built} UTC"


def loadavg() -> str:
    try:
        return "%.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        return "?"


def ms(s):
    return f"{s * 1e3:,.1f} ms" if s < 10 else f"{s:,.1f} s"


def fmt_b(n):
    return cb.fmt_bytes(n)


# ---- guppy3 -------------------------------------------------------------------


def find_guppy(site: str) -> tuple[bool, str]:
    """Makes guppy importable if it can: already installed, or from a
    bench venv of the same Python version.  Returns (ok, where or why not)."""
    try:
        import guppy  # noqa: F401

        return True, os.path.dirname(guppy.__file__)
    except ImportError:
        pass
    if site == "none":
        return False, "guppy3 is not installed in this environment"
    ver = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    if site == "auto":
        root = os.path.dirname(_HERE)
        cands = sorted(glob.glob(os.path.join(root, ".venv-bench-graph*", "lib", ver,
                                              "site-packages")))
    else:
        cands = [site]
    for c in cands:
        if os.path.isdir(os.path.join(c, "guppy")):
            sys.path.append(c)
            try:
                import guppy  # noqa: F401,F811

                return True, os.path.dirname(guppy.__file__) + " (added to sys.path)"
            except ImportError as e:
                sys.path.remove(c)
                return False, f"guppy3 in {c} does not import: {e}"
    return False, (f"guppy3 is not installed here, nor in a .venv-bench-graph*/lib/{ver} "
                   f"(pip install guppy3 in a bench venv, see bench/README.md)")


def _pretouch_heap():
    """In a forked child: write to every object's page once (reference
    counts), so that copy-on-write faults are not charged to the tool."""
    gc.collect()
    for o in gc.get_objects():
        gc.get_referents(o)


def _guppy_child():
    import guppy

    gc.disable()
    hp = guppy.hpy()
    objs = grown_objects()
    t0 = time.perf_counter()
    h = hp.heap()
    t1 = time.perf_counter()
    s = hp.idset(objs)
    del objs
    dom = s.domisize
    t2 = time.perf_counter()
    return {"heap_s": t1 - t0, "domisize_s": t2 - t1, "heap_count": h.count,
            "heap_size": h.size, "grown_count": s.count, "grown_size": s.size,
            "domisize": dom}


def in_child(fn, timeout: float):
    """Runs fn() in a forked child (after touching the heap's pages); returns
    (result dict or None, wall seconds, note)."""
    r, w = os.pipe()
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # child
        os.close(r)
        code = 0
        try:
            _pretouch_heap()
            out = json.dumps({"ok": fn()})
        except BaseException as e:  # noqa: BLE001
            out = json.dumps({"error": f"{type(e).__name__}: {e}"})
            code = 1
        with os.fdopen(w, "w") as f:
            f.write(out)
        os._exit(code)
    os.close(w)
    deadline = time.monotonic() + timeout
    data = b""
    os.set_blocking(r, False)
    import select

    killed = False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            os.kill(pid, signal.SIGKILL)
            killed = True
            break
        ready, _, _ = select.select([r], [], [], min(left, 5.0))
        if ready:
            chunk = os.read(r, 1 << 16)
            if not chunk:
                break
            data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    wall = time.perf_counter() - t0
    if killed:
        return None, wall, f"stopped after {timeout:.0f} s (time limit)"
    try:
        msg = json.loads(data.decode())
    except ValueError:
        return None, wall, "child died without an answer"
    if "error" in msg:
        return None, wall, msg["error"]
    return msg["ok"], wall, ""


def run_guppy(repeats: int, timeout: float):
    """guppy3 hpy().heap() + domisize of the grown set, best of repeats
    (each in a fresh child).  Returns (best result or None, note)."""
    best = None
    note = ""
    spent = 0.0
    for i in range(repeats):
        res, wall, note = in_child(_guppy_child, timeout - spent if i else timeout)
        spent += wall
        if res is None:
            break
        res["total_s"] = res["heap_s"] + res["domisize_s"]
        print(f"    guppy3 run {i + 1}: heap() {res['heap_s']:.1f} s, domisize "
              f"{res['domisize_s']:.1f} s (child wall {wall:.0f} s)", flush=True)
        if best is None or res["total_s"] < best["total_s"]:
            dmin = min(res["domisize_s"], best["domisize_min_s"]) if best else res["domisize_s"]
            hmin = min(res["heap_s"], best["heap_min_s"]) if best else res["heap_s"]
            best = res
        else:
            dmin = min(res["domisize_s"], best["domisize_min_s"])
            hmin = min(res["heap_s"], best["heap_min_s"])
        best["domisize_min_s"], best["heap_min_s"] = dmin, hmin
        if spent + wall > timeout:
            break
    if best is not None:
        note = ""
    return best, note


# ---- heapwatch: one build + analysis round --------------------------------------


def graph_round(hwm_ok: bool, cache_node_addr: int):
    """One fresh graph: build, retention groups, dominators (first call),
    top_retainers.  Returns a dict of times and facts."""
    objs = grown_objects()
    out = {}
    with Peak(hwm_ok) as pk:
        c0 = time.process_time()
        out["build"], g = timed(build_graph, objs)
        out["build_cpu"] = time.process_time() - c0
    out["build_peak"], out["build_kept"] = pk.peak, pk.kept
    del objs
    out["groups_s"], groups = timed(g.retention, None, None, retained=False)
    out["groups"] = groups
    node = g.find(cache_node_addr)
    with Peak(hwm_ok) as pk:
        c0 = time.process_time()
        out["dom"], out["cache_retained"] = timed(g.retained, node)
        out["dom_cpu"] = time.process_time() - c0
    out["dom_peak"], out["dom_kept"] = pk.peak, pk.kept
    out["top_s"], out["top"] = timed(g.top_retainers, 10)
    out["groups_ret_s"], out["groups_ret"] = timed(g.retention, None, None, retained=True)
    out["info"] = g.info
    out["graph"] = g
    return out


def ours_dominators_only(repeats: int, cache_addr: int):
    """Build + dominators on the heap as it is, best of repeats (for the
    smaller heaps of the guppy3 comparison)."""
    best_b = best_d = float("inf")
    for _ in range(repeats):
        objs = grown_objects()
        tb, g = timed(build_graph, objs)
        del objs
        td, _ = timed(g.retained, g.find(cache_addr))
        best_b, best_d = min(best_b, tb), min(best_d, td)
        del g
    return best_b, best_d


# ---------------------------------------------------------------------------


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--objects", type=int, default=6_000_000,
                    help="GC-tracked objects in the heap (default 6,000,000)")
    ap.add_argument("--grown", type=int, default=100_000,
                    help="grown objects (SecondModel instances cached on rows; default 100,000)")
    ap.add_argument("--repeats", type=int, default=3, help="best of N (default 3)")
    ap.add_argument("--sample", type=int, default=20,
                    help="grown objects for the per-object rows (objgraph, Snapshot.why; "
                         "default 20)")
    ap.add_argument("--live-why-sample", type=int, default=5,
                    help="grown objects for live heapwatch.why(), each builds a graph "
                         "(default 5)")
    ap.add_argument("--guppy-site", default="auto",
                    help="where guppy3 is when not installed here: auto (a .venv-bench-graph* "
                         "of this Python version), none, or a site-packages path")
    ap.add_argument("--guppy-timeout", type=float, default=600,
                    help="seconds for all guppy3 runs on one heap (default 600)")
    ap.add_argument("--small-sizes", default="300000,1000000",
                    help="heap sizes for both tools when guppy3 cannot do the full heap "
                         "in time (default 300000,1000000)")
    ap.add_argument("--always-small", action="store_true",
                    help="also compare on the small sizes when guppy3 did the full heap")
    ap.add_argument("--no-guppy", action="store_true")
    ap.add_argument("--no-objgraph", action="store_true")
    args = ap.parse_args(argv)
    args.grown = min(args.grown, max(1, args.objects // 20))
    small_sizes = [int(x) for x in args.small_sizes.split(",") if x.strip()]

    gupp_ok, gupp_where = (False, "--no-guppy") if args.no_guppy else find_guppy(args.guppy_site)
    try:
        import objgraph

        og_ver = objgraph.__version__
    except ImportError as e:
        objgraph, og_ver = None, str(e)
    if args.no_objgraph:
        objgraph = None

    print("heapwatch reference-graph benchmark")
    print(f"python   {sys.version.split()[0]} ({platform.python_implementation()}, "
          f"{sys.executable})")
    print(f"heapwatch {heapwatch.__version__} from {os.path.dirname(heapwatch.__file__)}; "
          f"{engine_version()}")
    print(f"objgraph {og_ver if objgraph else 'not used: ' + og_ver}")
    print(f"guppy3   {gupp_where}")
    print(f"machine  {platform.machine()}, {os.cpu_count()} CPUs, kernel {platform.release()}; "
          f"load average at start {loadavg()}")
    hwm_ok, hwm_detail = cb.hwm_reset_works()
    print(f"peak-RSS method: VmHWM reset via /proc/self/clear_refs: "
          f"{'works' if hwm_ok else 'NOT WORKING'} ({hwm_detail})")
    print(flush=True)

    t0 = time.perf_counter()
    baseline, n_tracked = build_seed_heap(args.objects, args.grown)
    print(f"heap built in {time.perf_counter() - t0:.1f} s: {baseline:,} tracked objects at the "
          f"baseline, {n_tracked:,} after the growth (+{n_tracked - baseline:,}: "
          f"{args.grown:,} SecondModel cached on rows); RSS {fmt_b(now_rss())}")
    print(f"  held by module {VIEWS} .CACHE: {len(views_module().CACHE):,} querysets of "
          f"{cb.ROWS_PER_LIST:,} rows; timed after a full gc.collect()", flush=True)
    cache_addr = id(views_module().CACHE)
    print()

    # ---- 1-3: build, groups, dominators, memory --------------------------------
    print(f"graph rounds (fresh graph each: build, retention groups, dominators, "
          f"top_retainers), {args.repeats}x ...", flush=True)
    rounds = []
    was = gc.isenabled()
    gc.disable()
    try:
        for i in range(args.repeats):
            r = graph_round(hwm_ok, cache_addr)
            rounds.append(r)
            print(f"  round {i + 1}: build {ms(r['build'])} (CPU {ms(r['build_cpu'])}), groups {ms(r['groups_s'])}, "
                  f"dominators+retained {ms(r['dom'])} (CPU {ms(r['dom_cpu'])}), top_retainers(10) {ms(r['top_s'])}, "
                  f"groups with retained {ms(r['groups_ret_s'])}; build peak RSS "
                  f"+{fmt_b(r['build_peak'])}, load {loadavg()}", flush=True)
            if i + 1 < args.repeats:
                del r["graph"]
                r.pop("groups", None)
    finally:
        if was:
            gc.enable()
    last = rounds[-1]
    g = last["graph"]
    info = last["info"]
    t_build = min(r["build"] for r in rounds)
    t_groups = min(r["groups_s"] for r in rounds)
    t_build_groups = min(r["build"] + r["groups_s"] for r in rounds)
    t_dom = min(r["dom"] for r in rounds)
    c_build = min(r["build_cpu"] for r in rounds)
    c_dom = min(r["dom_cpu"] for r in rounds)
    t_top = min(r["top_s"] for r in rounds)
    t_groups_ret = min(r["groups_ret_s"] for r in rounds)
    groups = last["groups_ret"]

    print()
    print("retention groups of the grown objects (from the last round):")
    for cnt, size, ret, example, shape in groups[:3]:
        print(f"  {cnt:,} objects, {fmt_b(size)}, {fmt_b(ret)} retained: "
              f"{_explain.format_path(shape[0][2] if shape[0][1] == 'root' else None, shape, abstract=True)}")
    print(f"top retainer: {g.node(g.top_retainers(1)[0][0])[0]} retaining "
          f"{fmt_b(g.top_retainers(1)[0][1])}; benchshop.views.CACHE retains "
          f"{fmt_b(last['cache_retained'])}")
    print()

    # End to end: heapwatch.retention(SecondModel), with and without retained sizes.
    print(f"heapwatch.retention(SecondModel) end to end, {args.repeats}x ...", flush=True)
    e2e = cb.best_of(lambda: heapwatch.retention(SecondModel), args.repeats)
    e2e_noret = cb.best_of(lambda: heapwatch.retention(SecondModel, retained=False),
                           args.repeats)
    print(f"  retained=True {ms(e2e)}, retained=False {ms(e2e_noret)}", flush=True)

    # ---- 4: per object -------------------------------------------------------
    # The sample is kept as positions, and each object fetched from the cache
    # into one local variable (which why() and objgraph leave out): a list of
    # them would be a holder, and live heapwatch.why() would rightly name it.
    n_grown = len(grown_positions())
    positions = grown_positions()[:: max(1, n_grown // max(1, args.sample))][: args.sample]
    snap = _explain.Snapshot(g)
    print(f"\nper-object paths on a sample of {len(positions)} grown objects ...", flush=True)
    snap_times = []
    for pos in positions:
        o = fetch_grown(pos)
        best = float("inf")
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            p = snap.why(o)
            best = min(best, time.perf_counter() - t0)
        snap_times.append(best)
    snap_per = sum(snap_times) / len(snap_times)
    print(f"  Snapshot.why: mean {snap_per * 1e6:.1f} us per object; path {len(p)} steps: {p}")
    live_times = []
    for pos in positions[: args.live_why_sample]:
        o = fetch_grown(pos)
        t0 = time.perf_counter()
        p = heapwatch.why(o)
        live_times.append(time.perf_counter() - t0)
    live_per = sum(live_times) / len(live_times) if live_times else None
    if live_times:
        print(f"  heapwatch.why (live, builds a graph): mean {ms(live_per)} per object "
              f"({len(live_times)} objects; min {ms(min(live_times))}, max "
              f"{ms(max(live_times))}); path {len(p)} steps: {p}", flush=True)
    og_times = []
    og_note = ""
    if objgraph is not None:
        chain_lens = []
        for k, pos in enumerate(positions):
            o = fetch_grown(pos)
            t0 = time.perf_counter()
            chain = objgraph.find_backref_chain(o, inspect.ismodule)
            t = time.perf_counter() - t0
            og_times.append(t)
            chain_lens.append(len(chain))
            src = getattr(chain[0], "__name__", "?") if inspect.ismodule(chain[0]) else "no module"
            print(f"    objgraph.find_backref_chain #{k + 1}: {t:.2f} s, chain of "
                  f"{len(chain)} from {src}; load {loadavg()}", flush=True)
            del chain
        og_note = f"chains of {min(chain_lens)}-{max(chain_lens)} objects"
    og_per = sum(og_times) / len(og_times) if og_times else None
    o = p = None

    # ---- memory ----------------------------------------------------------------
    nodes, edges = info["nodes"], info["edges"]
    goal_bytes = 40 * nodes + 8 * edges
    build_peaks = [r["build_peak"] for r in rounds if r["build_peak"] is not None]
    build_kept = [r["build_kept"] for r in rounds if r["build_kept"] is not None]
    dom_peaks = [r["dom_peak"] for r in rounds if r["dom_peak"] is not None]
    dom_kept = [r["dom_kept"] for r in rounds if r["dom_kept"] is not None]

    # ---- guppy3 ----------------------------------------------------------------
    gres, gnote = None, ""
    small_rows = []
    if gupp_ok:
        del snap, g, last["graph"]
        gc.collect()
        print(f"\nguppy3 hpy().heap() + idset(grown).domisize on the full heap, forked child, "
              f"limit {args.guppy_timeout:.0f} s ...", flush=True)
        gres, gnote = run_guppy(args.repeats, args.guppy_timeout)
        if gres is None:
            print(f"  guppy3 on the full heap: {gnote}", flush=True)
        else:
            print(f"  guppy3: heap() {gres['heap_s']:.1f} s ({gres['heap_count']:,} objects), "
                  f"domisize {gres['domisize_s']:.1f} s = {fmt_b(gres['domisize'])} retained "
                  f"by the {gres['grown_count']:,} grown objects (heapwatch: "
                  f"{fmt_b(sum(x[2] for x in groups))} summed over its groups)", flush=True)
        if gres is None or args.always_small:
            for size in small_sizes:
                if size >= args.objects:
                    continue
                free_seed_heap()
                grown_s = min(args.grown, max(1, size // 20))
                b2, n2 = build_seed_heap(size, grown_s)
                cache_addr = id(views_module().CACHE)
                print(f"\nsmaller heap: {n2:,} tracked objects ({grown_s:,} grown); load "
                      f"{loadavg()}", flush=True)
                gc.disable()
                try:
                    tb2, td2 = ours_dominators_only(args.repeats, cache_addr)
                finally:
                    gc.enable()
                print(f"  heapwatch: build {ms(tb2)}, dominators+retained {ms(td2)}", flush=True)
                gr2, gn2 = run_guppy(args.repeats, args.guppy_timeout)
                if gr2 is None:
                    print(f"  guppy3: {gn2}")
                small_rows.append((n2, grown_s, tb2, td2, gr2, gn2))

    # ---- report ----------------------------------------------------------------
    print()
    print(f"Python {sys.version.split()[0]}: heap of {n_tracked:,} GC-tracked objects "
          f"({n_grown:,} grown); graph of {nodes:,} nodes ({info['tracked']:,} tracked), "
          f"{edges:,} edges, {info['types']:,} types, {info['roots']:,} named roots")
    print(f"load average at the end {loadavg()} ({os.cpu_count()} CPUs); times are the best of "
          f"{args.repeats} unless marked mean")
    print()
    rows = []  # (what, ours, anchor, goal, verdict)

    def row(what, ours="", anchor="", goal="", verdict=""):
        rows.append((what, ours, anchor, goal, verdict))

    verdicts = []

    def verdict(ok, text):
        tag = "SKIP" if ok is None else ("PASS" if ok else "MISS")
        verdicts.append(f"{tag}  {text}")
        return tag

    og_all = og_per * n_grown if og_per is not None else None
    row(f"graph build, {n_grown // 1000}k targets (_graph)", ms(t_build))
    row("  same, process CPU time", ms(c_build), "", "", "info")
    row("retention groups, all grown (retained=False)", ms(t_groups))
    v1 = verdict(t_build_groups < 2.0,
                 f"graph + retention groups for all {n_grown:,} grown objects < 2 s: "
                 f"{t_build_groups:.2f} s"
                 + (f" (objgraph chains for all, extrapolated: {og_all:,.0f} s = "
                    f"{og_all / t_build_groups:,.0f}x)" if og_all else ""))
    row("graph + groups (goal 1)", ms(t_build_groups),
        f"{og_all:,.0f} s objgraph x{n_grown:,} (extrap.)" if og_all else "-",
        "< 2 s", v1)
    row("heapwatch.retention(SecondModel) e2e", ms(e2e), "", "", "info")
    row("  same, retained=False", ms(e2e_noret), "", "", "info")
    row("dominators + retained (1st retained())", ms(t_dom),
        f"{gres['total_s']:.1f} s guppy3 heap()+domisize" if gres else f"- ({gnote or gupp_where})",
        "< 4 s", "")
    row("  same, process CPU time", ms(c_dom), "", "", "info")
    row("top_retainers(10) after dominators", ms(t_top), "", "", "info")
    row("retention groups with retained sizes", ms(t_groups_ret), "", "", "info")
    v2a = verdict(t_dom < 4.0, f"dominators + retained sizes < 4 s: {t_dom:.2f} s")
    k = next(i for i, r in enumerate(rows) if r[0].startswith("dominators + retained"))
    rows[k] = rows[k][:4] + (v2a,)
    if gres:
        ratio = gres["total_s"] / t_dom
        ratio_dom = gres["domisize_min_s"] / t_dom
        ratio_e2e = gres["total_s"] / (t_build + t_dom)
        v2b = verdict(ratio >= 10,
                      f"dominators + retained sizes >= 10x faster than guppy3 "
                      f"(hpy().heap() + .domisize of the grown set, full heap): {ratio:.1f}x "
                      f"({gres['total_s']:.1f} s vs {t_dom:.2f} s); [info] domisize alone vs "
                      f"dominators: {ratio_dom:.1f}x; guppy3 heap()+domisize vs our build + "
                      f"dominators: {ratio_e2e:.1f}x; guppy3 domisize alone (best "
                      f"{gres['domisize_min_s']:.1f} s, it needs no heap()) vs "
                      f"heapwatch.retention(SecondModel) end to end: "
                      f"{gres['domisize_min_s'] / e2e:.2f}x")
        row("guppy3 ratio (goal 2b, full heap)", f"{t_dom:.2f} s",
            f"{gres['total_s']:.1f} s", ">= 10x", f"{ratio:.1f}x {v2b}")
        row("  build + dominators vs heap()+domisize", ms(t_build + t_dom),
            f"{gres['total_s']:.1f} s", "", f"{ratio_e2e:.1f}x info")
        row("  retention() e2e vs domisize alone", ms(e2e),
            f"{gres['domisize_min_s']:.1f} s domisize", "", f"{gres['domisize_min_s'] / e2e:.2f}x info")
    elif small_rows:
        parts = []
        oks = []
        for n2, _gs, tb2, td2, gr2, gn2 in small_rows:
            if gr2:
                rr = gr2["total_s"] / td2
                oks.append(rr >= 10)
                parts.append(f"{n2:,} objects: {rr:.1f}x ({gr2['total_s']:.1f} s vs {td2:.3f} s)")
                row(f"guppy3 ratio at {n2:,} objects", f"{td2:.3f} s", f"{gr2['total_s']:.1f} s",
                    ">= 10x", f"{rr:.1f}x")
            else:
                parts.append(f"{n2:,} objects: guppy3 {gn2}")
        verdict(all(oks) if oks else None,
                "dominators + retained sizes >= 10x faster than guppy3 (heap()+domisize), "
                f"SMALLER HEAPS (guppy3 on the full heap: {gnote}): " + "; ".join(parts))
    else:
        verdict(None, f"dominators >= 10x faster than guppy3: not measured ({gnote or gupp_where})")
    # memory
    gb = info["graph_bytes"]
    v3 = verdict(gb <= goal_bytes,
                 f"graph memory <= 40 B per node + 8 B per edge: graph_bytes {gb:,} = "
                 f"{gb / nodes:.1f} B/node all in (goal {goal_bytes:,} B)")
    row("graph_bytes (Graph.info)", fmt_b(gb), "", f"<= {fmt_b(goal_bytes)}", v3)
    node_part = gb - 8 * edges
    row("  per node (edges at 8 B taken out)", f"{node_part / nodes:.1f} B", "", "<= 40 B", "")
    row("  per edge", "8 B", "", "<= 8 B", "")
    row("  analysis_bytes (path tree + dominators)", fmt_b(info["analysis_bytes"]), "", "", "info")
    if build_peaks:
        row("peak RSS growth during build (OS)", f"{fmt_b(min(build_peaks))}..{fmt_b(max(build_peaks))}",
            "", f"graph_bytes+paths {fmt_b(gb + 13 * nodes)}", "info")
        row("  RSS kept after build (graph alive)", f"{fmt_b(min(build_kept))}..{fmt_b(max(build_kept))}",
            "", "", "info")
        row("  peak per node", f"{max(build_peaks) / nodes:.1f} B", "", "", "info")
    if dom_peaks:
        row("peak RSS growth during dominators", f"{fmt_b(min(dom_peaks))}..{fmt_b(max(dom_peaks))}",
            "", f"kept: 12 B/node = {fmt_b(12 * nodes)}", "info")
    # per object
    row(f"Snapshot.why per object (mean of {len(snap_times)})", f"{snap_per * 1e6:.1f} us",
        f"{og_per:.2f} s objgraph" if og_per else "-", "", f"{og_per / snap_per:,.0f}x" if og_per else "")
    if live_per is not None:
        row(f"live heapwatch.why per object (mean of {len(live_times)})", ms(live_per),
            f"{og_per:.2f} s objgraph" if og_per else "-", "",
            f"{og_per / live_per:,.1f}x" if og_per else "")
    if og_per is not None:
        row(f"objgraph.find_backref_chain (mean of {len(og_times)})", f"{og_per:.2f} s", "", "",
            f"min {min(og_times):.2f} s, max {max(og_times):.2f} s; {og_note}")
        row(f"  extrapolated to {n_grown:,} objects", f"{og_all:,.0f} s", "", "",
            f"live why x{n_grown:,}: {live_per * n_grown:,.0f} s" if live_per else "")

    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows + [("", "ours")])
    w2 = max(len(r[2]) for r in rows + [("", "", "anchor")])
    w3 = max(len(r[3]) for r in rows + [("", "", "", "goal")])
    head = f"{'what':<{w0}}  {'ours':>{w1}}  {'anchor':<{w2}}  {'goal':<{w3}}  verdict / ratio"
    print(head)
    print("-" * len(head))
    for what, ours, anchor, goal, vd in rows:
        print(f"{what:<{w0}}  {ours:>{w1}}  {anchor:<{w2}}  {goal:<{w3}}  {vd}")
    print()
    if small_rows:
        print("guppy3 comparison on smaller heaps (both tools on the same fresh heap; "
              "heapwatch times: build / dominators+retained, best of "
              f"{args.repeats}; guppy3: heap() / domisize):")
        for n2, gs, tb2, td2, gr2, gn2 in small_rows:
            gtxt = (f"{gr2['heap_s']:.2f} s / {gr2['domisize_s']:.2f} s = {gr2['total_s']:.2f} s; "
                    f"{gr2['total_s'] / td2:.1f}x dominators, {gr2['total_s'] / (tb2 + td2):.1f}x "
                    f"build+dominators" if gr2 else gn2)
            print(f"  {n2:,} tracked ({gs:,} grown): heapwatch {tb2:.3f} s / {td2:.3f} s; guppy3 {gtxt}")
        print()
    for v in verdicts:
        print(v)
    return 0


if __name__ == "__main__":
    sys.exit(main())
