#!/usr/bin/env python3
"""What a Prometheus scrape of heapwatch.prometheus.HeapCollector costs.

Builds the Django-shaped heap of bench/census.py (model instances with a
materialized __dict__ and a ModelState, in result-cache lists; about 1M
GC-tracked objects by default), then times, in this one process, against
the anchors:

  census        heapwatch.census()               (what a refresh must take)
  memory        heapwatch.memory()               (its untracked census)
  refresh       a scrape that takes a census: HeapCollector(interval=0),
                with memory() and without (memory=False)
  cached        a scrape within the interval: HeapCollector(interval=3600)
                after one scrape, i.e. what every scrape but one per
                interval costs, and the collector's collect() alone

A scrape is prometheus_client's generate_latest() of a registry holding the
collector alone (top=20): the text a Prometheus server receives.  Every
number is measured in this run; times are best of N with time.perf_counter()
and the automatic garbage collector off; the census-taking rows are timed
in alternation, so load from other processes falls on them alike.

Goals checked at the end (PASS or MISS):
  - a cached scrape costs at most 1/100 of a scrape that takes a census,
    and under 1 ms;
  - a scrape that takes a census costs at most 1.1x census + memory (the
    collector adds little to what it must measure).

Usage:
  python bench/prometheus.py                    # ~1M tracked objects
  python bench/prometheus.py --objects 300000 --repeats 3
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from census import best_of, best_of_interleaved, build_heap  # noqa: E402

import heapwatch  # noqa: E402

try:
    from prometheus_client import CollectorRegistry, generate_latest

    import heapwatch.prometheus as hp
except ImportError as exc:  # pragma: no cover - a bench without the client
    sys.exit(f"bench/prometheus.py needs prometheus-client: {exc}")


def scraper(collector: hp.HeapCollector):
    registry = CollectorRegistry()
    registry.register(collector)
    return lambda: generate_latest(registry)


def fmt(seconds: float) -> str:
    if seconds >= 0.1:
        return f"{seconds:.3f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--objects", type=int, default=1_000_000,
                    help="GC-tracked objects in the heap (default 1,000,000)")
    ap.add_argument("--repeats", type=int, default=7,
                    help="rounds for the census-taking rows (default 7)")
    ap.add_argument("--cached-repeats", type=int, default=2000,
                    help="cached scrapes timed (default 2000)")
    args = ap.parse_args(argv)

    print(f"python   {sys.version.split()[0]} ({platform.python_implementation()}), "
          f"prometheus_client {_client_version()}")
    print(f"machine  {platform.machine()}, {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    t0 = time.perf_counter()
    heap = build_heap(args.objects)
    gc.collect()
    c = heapwatch.census()
    u = heapwatch.census(include_untracked=True)
    print(f"heap     {c.total_count:,} tracked objects ({c.total_bytes / 2**20:.1f} MiB), "
          f"{u.total_count:,} with the untracked ones, built in "
          f"{time.perf_counter() - t0:.1f} s")
    del c, u

    census_s, memory_s, refresh_s, refresh_nomem_s = best_of_interleaved([
        lambda: heapwatch.census(),
        lambda: heapwatch.memory(),
        scraper(hp.HeapCollector(top=20, interval=0)),
        scraper(hp.HeapCollector(top=20, interval=0, memory=False)),
    ], args.repeats)

    cached_scrape = scraper(hp.HeapCollector(top=20, interval=3600))
    cached_scrape()                                  # the one census of the interval
    cached_nomem = scraper(hp.HeapCollector(top=20, interval=3600, memory=False))
    cached_nomem()
    cached_s = best_of(cached_scrape, args.cached_repeats)
    collector = hp.HeapCollector(top=20, interval=3600)
    collector.collect()
    collect_s = best_of(collector.collect, args.cached_repeats)
    cached_nomem_s = best_of(cached_nomem, args.cached_repeats)
    # The median too: a cached scrape is short enough for the scheduler to show.
    times = []
    gc.disable()
    try:
        for _ in range(args.cached_repeats):
            t = time.perf_counter()
            cached_scrape()
            times.append(time.perf_counter() - t)
    finally:
        gc.enable()
    cached_median = statistics.median(times)
    size = len(cached_scrape())

    rows = [
        ("census()", census_s, "anchor"),
        ("memory()", memory_s, "anchor"),
        ("census() + memory()", census_s + memory_s, "what a refresh must take"),
        ("scrape taking a census (memory on)", refresh_s,
         f"{refresh_s / (census_s + memory_s):.2f}x census + memory"),
        ("scrape taking a census (memory=False)", refresh_nomem_s,
         f"{refresh_nomem_s / census_s:.2f}x census"),
        ("cached scrape (memory on), best", cached_s,
         f"1/{refresh_s / cached_s:,.0f} of a census scrape"),
        ("cached scrape (memory on), median", cached_median,
         f"1/{refresh_s / cached_median:,.0f} of a census scrape"),
        ("cached scrape (memory=False), best", cached_nomem_s,
         f"1/{refresh_nomem_s / cached_nomem_s:,.0f} of a census scrape"),
        ("  of which collect(), best", collect_s,
         "the rest is prometheus_client's text exposition"),
    ]
    print()
    width = max(len(r[0]) for r in rows)
    for label, seconds, note in rows:
        print(f"  {label:<{width}}  {fmt(seconds):>10}   {note}")
    print(f"\n  exposition: {size:,} bytes per scrape (top=20, memory on)")
    print(f"  at interval=60 a worker spends {refresh_s / 60:.2%} of one CPU on censuses "
          f"({refresh_nomem_s / 60:.3%} with memory=False)")

    goals = [
        ("cached scrape <= 1/100 of a census scrape", cached_median * 100 <= refresh_s,
         f"{cached_median / refresh_s:.5f}"),
        ("cached scrape < 1 ms", cached_median < 1e-3, fmt(cached_median)),
        ("census scrape <= 1.1x census + memory", refresh_s <= 1.1 * (census_s + memory_s),
         f"{refresh_s / (census_s + memory_s):.3f}"),
    ]
    print("\nGoals:")
    for label, ok, figure in goals:
        print(f"  {label:<45} {figure:>12}  {'PASS' if ok else 'MISS'}")
    del heap
    return 0 if all(ok for _, ok, _ in goals) else 1


def _client_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("prometheus-client")
    except PackageNotFoundError:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
