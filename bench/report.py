"""How long the HTML report takes to write, and how large it is.

On the seed heap of bench/graph.py (6M GC-tracked objects by default: a
module-level cache of querysets whose rows then grow cached related
objects), two snapshots are saved: one before the growth and one after.
Then, each timed in a fresh child process (as `python -m heapwatch report`
runs), best of --repeats:

  - the report of the last snapshot alone (issue #11's goal: under 10 s,
    under 20 MB);
  - the report of the pair (growth, and what holds the new objects).

Printed: seconds and MB against the limits, and the time of loading the
snapshot alone (the anchor: what any reader of the file pays).

    python bench/report.py                  # 6M objects (~3 minutes)
    python bench/report.py --objects 1000000 --repeats 1
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import graph as gb  # noqa: E402  (bench/graph.py: the seed heap)

import heapwatch  # noqa: E402

LIMIT_SECONDS = 10.0
LIMIT_BYTES = 20_000_000


def timed_child(code: str, *args: str) -> float:
    """Wall time of a fresh interpreter running code (imports included)."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, *args], check=True)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--objects", type=int, default=6_000_000)
    ap.add_argument("--grown", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3, help="best of N (default 3)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="hw-bench-report-") as tmp:
        before_path = os.path.join(tmp, "before.hwsnap")
        after_path = os.path.join(tmp, "after.hwsnap")
        # The growth happens inside build_seed_heap; the "before" snapshot
        # is of the heap without it (built with grown=0 first).
        gb.build_seed_heap(args.objects, 0)
        heapwatch.snapshot().save(before_path)
        tracked_before, tracked = gb.build_seed_heap(args.objects, args.grown)
        heapwatch.snapshot().save(after_path)
        gb.free_seed_heap()
        print(f"seed heap: {tracked:,} tracked objects; snapshot files "
              f"{os.path.getsize(before_path) / 2**20:,.0f} and "
              f"{os.path.getsize(after_path) / 2**20:,.0f} MiB")
        load = "import sys, heapwatch; heapwatch.load(sys.argv[1])"
        report = ("import sys; from heapwatch import report; "
                  "report.write(sys.argv[2:], sys.argv[1])")
        one = os.path.join(tmp, "one.html")
        two = os.path.join(tmp, "two.html")
        t_load = min(timed_child(load, after_path) for _ in range(args.repeats))
        t_one = min(timed_child(report, one, after_path) for _ in range(args.repeats))
        t_two = min(timed_child(report, two, before_path, after_path)
                    for _ in range(args.repeats))
        s_one, s_two = os.path.getsize(one), os.path.getsize(two)
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    print(f"load the snapshot alone:   {t_load:6.2f} s (anchor)")
    print(f"report of one snapshot:    {t_one:6.2f} s = {t_one / t_load:.2f}x the load, "
          f"{t_one / LIMIT_SECONDS:.2f}x the 10 s limit; {s_one / 1e6:.1f} MB = "
          f"{s_one / LIMIT_BYTES:.2f}x the 20 MB limit")
    print(f"report of the pair:        {t_two:6.2f} s = {t_two / t_load:.2f}x one load, "
          f"{t_two / LIMIT_SECONDS:.2f}x the 10 s limit; {s_two / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
