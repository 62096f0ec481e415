"""What HeapWatchMiddleware costs per request, over real HTTP.

Serves examples/leakyshop with gunicorn (1 sync worker each) on 127.0.0.1
three ways at once: middleware off, sampling 1 request in 100, measuring
every request.  Sends sequential requests to the fixed (streaming) view,
rotating between the three servers, and prints
p50/p99 latency and the overhead against "off".  Goal: sampled 1/100 adds
< 2% at p50.  Then reports what one full census costs on a 1M-object heap,
which is what a measured request pays twice.

usage: python bench/middleware.py [--requests 400] [--rows 2000]
"""

from __future__ import annotations

import argparse
import gc
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHOP = ROOT / "examples" / "leakyshop"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, round(p / 100 * (len(xs) - 1))))
    return xs[k]


def start_server(mode: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = dict(os.environ, LEAKYSHOP_HEAPWATCH=mode)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "leakyshop.wsgi:application",
         "--bind", f"127.0.0.1:{port}", "--workers", "1", "--log-level", "error"],
        cwd=SHOP, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return server, f"http://127.0.0.1:{port}"


def wait_ready(url: str) -> None:
    deadline = time.time() + 30
    while True:
        try:
            urllib.request.urlopen(url, timeout=30).read()
            return
        except OSError:
            if time.time() > deadline:
                raise SystemExit(f"gunicorn at {url} did not start")
            time.sleep(0.2)


def measure_interleaved(modes: list[str], n: int, rows: int) -> dict[str, list[float]]:
    """All servers run at once and requests rotate between them, so load
    from anything else on the machine falls on every mode alike."""
    servers = {m: start_server(m) for m in modes}
    urls = {m: f"{base}/dump/fixed/?rows={rows}" for m, (_, base) in servers.items()}
    times: dict[str, list[float]] = {m: [] for m in modes}
    try:
        for url in urls.values():
            wait_ready(url)
            for _ in range(20):  # warm-up
                urllib.request.urlopen(url, timeout=30).read()
        for i in range(n):
            order = modes[i % len(modes):] + modes[:i % len(modes)]
            for m in order:
                t0 = time.perf_counter()
                urllib.request.urlopen(urls[m], timeout=30).read()
                times[m].append(time.perf_counter() - t0)
    finally:
        for server, _ in servers.values():
            server.terminate()
            server.wait(10)
    return times


def census_cost_at(objects: int) -> tuple[int, float]:
    import heapwatch

    class Row:
        def __init__(self, i: int) -> None:
            self.i = i
            self.tags = [i]

    keep = [Row(i) for i in range(objects // 2)]
    gc.collect()
    count = heapwatch.census().total_count
    best = min(_timed(heapwatch.census) for _ in range(5))
    del keep
    return count, best


def _timed(fn: object) -> float:
    t0 = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--rows", type=int, default=2000, help="rows the fixed view streams per request")
    args = ap.parse_args()
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=SHOP, check=True)
    subprocess.run([sys.executable, "manage.py", "seed_shop"], cwd=SHOP, check=True)
    modes = ["off", "1/100", "every"]
    measured = measure_interleaved(modes, args.requests, args.rows)
    results = {m: (statistics.median(t), percentile(t, 99)) for m, t in measured.items()}
    off50, off99 = results["off"]
    print(f"\nfixed view, {args.rows} rows streamed, {args.requests} requests per mode, "
          "modes interleaved")
    print(f"{'middleware':12} {'p50 ms':>9} {'p99 ms':>9} {'p50 vs off':>11} {'p99 vs off':>11}")
    for mode, (p50, p99) in results.items():
        print(f"{mode:12} {p50 * 1000:9.2f} {p99 * 1000:9.2f} {p50 / off50:10.3f}x {p99 / off99:10.3f}x")
    s50 = results["1/100"][0] / off50 - 1
    verdict = "PASS" if s50 < 0.02 else "MISS"
    print(f"\ngoal: sampled 1/100 adds < 2% at p50: {s50 * 100:+.2f}% -> {verdict}")
    count, best = census_cost_at(1_000_000)
    print(f"one census of {count:,} objects: {best * 1000:.1f} ms "
          f"({best / count * 1e9:.1f} ns/object); a measured request takes two.")


if __name__ == "__main__":
    main()
