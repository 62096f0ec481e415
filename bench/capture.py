"""How long capture() stops the process, against an in-process snapshot.

On the seed heap of bench/graph.py (6M GC-tracked objects by default: a
module-level cache of querysets whose rows grew cached related objects),
each round times, in alternation:

  - snapshot().save(path): the graph built and written in this process
    (the anchor: what stopping the worker for a snapshot costs today);
  - capture(path): collecting the roots and forking (the pause, what
    Capture.pause_seconds reports, measured here around the call too),
    then, separately, the child's wall time, its peak memory and the file.

While the child works, this process keeps running a loop of small
allocations, and the longest gap between two iterations is reported: what
a request would have waited during the capture (page faults of the
copy-on-write pages included).

Goal (issue #10): the pause at least 20x shorter than snapshot().save().

    python bench/capture.py                 # 6M objects, 3 rounds (~4 minutes)
    python bench/capture.py --objects 1000000 --repeats 2
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import tempfile
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import graph as gb  # noqa: E402  (bench/graph.py: the seed heap)

import heapwatch  # noqa: E402
from heapwatch import _capture  # noqa: E402


def ms(s: float) -> str:
    return f"{s * 1e3:,.1f} ms"


def mib(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB"


def busy_until_done(cap: heapwatch.Capture) -> tuple[int, float]:
    """Small allocations until the child is done: (iterations, longest gap
    between two of them, in seconds)."""
    n, worst = 0, 0.0
    last = time.perf_counter()
    while not cap.done():
        junk = [{"n": i} for i in range(100)]
        del junk
        now = time.perf_counter()
        worst = max(worst, now - last)
        last = now
        n += 1
    return n, worst


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--objects", type=int, default=6_000_000)
    ap.add_argument("--grown", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    print("heapwatch capture benchmark")
    print(f"python   {platform.python_version()} ({sys.executable})")
    print(f"machine  {platform.machine()}, {os.cpu_count()} CPUs; "
          f"load average at start {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    t = time.perf_counter()
    before, after = gb.build_seed_heap(args.objects, args.grown)
    rss = gb.now_rss()
    print(f"heap built in {time.perf_counter() - t:.1f} s: {after:,} tracked objects; "
          f"RSS {mib(rss)}; sys.getallocatedblocks() {sys.getallocatedblocks():,}")
    needed, objects = _capture.memory_needed()
    available, where = _capture.memory_available()
    print(f"capture's estimate: {mib(needed)} for ~{objects:,} objects; available "
          f"{mib(available or 0)} ({where})")
    print()

    d = tempfile.mkdtemp(prefix="hwbench-")
    saves, pauses, calls, childs, gaps, sizes, privates, maxrsss, nodes = ([] for _ in range(9))
    try:
        for r in range(args.repeats):
            gc.collect()
            path = os.path.join(d, f"inproc-{r}.hwsnap")
            t0 = time.perf_counter()
            heapwatch.snapshot().save(path)
            saves.append(time.perf_counter() - t0)
            os.unlink(path)

            gc.collect()
            path = os.path.join(d, f"capture-{r}.hwsnap")
            t0 = time.perf_counter()
            cap = heapwatch.capture(path)
            calls.append(time.perf_counter() - t0)
            pauses.append(cap.pause_seconds)
            t1 = time.perf_counter()
            iterations, gap = busy_until_done(cap)
            cap.wait()
            childs.append(time.perf_counter() - t1)
            gaps.append(gap)
            sizes.append(os.path.getsize(path))
            privates.append(cap.stats["child_private_bytes"])
            maxrsss.append(cap.stats["child_maxrss_bytes"])
            nodes.append(cap.stats["nodes"])
            os.unlink(path)
            print(f"  round {r + 1}: snapshot().save() {ms(saves[-1])}; capture() pause "
                  f"{ms(pauses[-1])} (call {ms(calls[-1])}), child {childs[-1]:.2f} s, "
                  f"file {mib(sizes[-1])}, child private {mib(privates[-1])}, "
                  f"longest gap in the parent's loop {ms(gap)} ({iterations:,} iterations)",
                  flush=True)
    finally:
        for f in os.listdir(d):
            os.unlink(os.path.join(d, f))
        os.rmdir(d)

    save, pause, call = min(saves), min(pauses), min(calls)
    ratio = save / call
    print()
    print(f"Python {platform.python_version()}: heap of {after:,} GC-tracked objects, graph of "
          f"{nodes[-1]:,} nodes; best of {args.repeats}")
    print(f"{'what':<48}{'ours':>14}{'anchor':>16}{'goal':>14}")
    print("-" * 92)
    print(f"{'capture() pause (Capture.pause_seconds)':<48}{ms(pause):>14}")
    print(f"{'capture() call, timed around it':<48}{ms(call):>14}{ms(save):>16}"
          f"{'>= 20x less':>14}")
    print(f"{'  ratio snapshot().save() / capture()':<48}{ratio:>13.0f}x")
    print(f"{'child wall time (graph + file)':<48}{min(childs):>12.2f} s")
    print(f"{'file size':<48}{mib(min(sizes)):>14}")
    print(f"{'child private memory at the end (smaps)':<48}{mib(max(privates)):>14}"
          f"{mib(needed):>16}{'< estimate':>14}")
    print(f"{'child peak RSS incl. shared pages (ru_maxrss)':<48}{mib(max(maxrsss)):>14}")
    print(f"{'longest stall of the parent during the child':<48}{ms(max(gaps)):>14}")
    print()
    verdict = "PASS" if ratio >= 20 else "FAIL"
    print(f"{verdict}  capture() stops the process >= 20x less than snapshot().save(): "
          f"{ratio:.0f}x ({ms(call)} vs {ms(save)})")
    fits = max(privates) <= needed
    print(f"{'PASS' if fits else 'FAIL'}  the child's private memory is within the "
          f"estimate capture() checks: {mib(max(privates))} <= {mib(needed)}")
    return 0 if ratio >= 20 and fits else 1


if __name__ == "__main__":
    sys.exit(main())
