"""make demo: the seed's leaky shop, served for real.

Creates the SQLite database with 100k rows on the first run (reused after),
starts gunicorn on 127.0.0.1 with one worker, sends real HTTP requests to
the leaky view a few times and then to the fixed one, and shows, as they
happen, what heapwatch writes into the app's log: per-request growth lines
and the queryset guard's warning.  It ends with the worker's RSS per request.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent / "leakyshop"
PY = sys.executable
LEAKY_CALLS = 6
FIXED_CALLS = 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def manage(*args: str) -> None:
    subprocess.run([PY, "manage.py", *args], cwd=HERE, check=True)


def worker_pid(master: int) -> int | None:
    try:
        kids = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    except OSError:
        return None
    return int(kids[0]) if kids else None


def rss_mib(pid: int | None) -> float:
    if pid is None:
        return float("nan")
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pump(stream: object, lines: list[str]) -> None:
    for raw in stream:  # type: ignore[attr-defined]
        line = raw.rstrip("\n")
        lines.append(line)
        if "[heapwatch" in line or not line.startswith("["):
            print("    log | " + line, flush=True)


def main() -> int:
    print("== 1. database: examples/leakyshop/db.sqlite3 (100k FirstModel rows, made once)")
    manage("migrate", "--verbosity", "0")
    manage("seed_shop")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    print(f"\n== 2. gunicorn on {base} (1 sync worker), heapwatch middleware on every request")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    server = subprocess.Popen(
        [PY, "-m", "gunicorn", "leakyshop.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--timeout", "120", "--log-level", "warning"],
        cwd=HERE, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    threading.Thread(target=pump, args=(server.stdout, lines), daemon=True).start()
    table: list[tuple[str, float, float]] = []
    try:
        deadline = time.time() + 30
        while True:
            try:
                urllib.request.urlopen(base + "/dump/fixed/?warmup=1", timeout=120).read()
                break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    print("gunicorn did not start", file=sys.stderr)
                    return 1
                time.sleep(0.2)
        time.sleep(0.3)
        pid = worker_pid(server.pid)
        print(f"   worker pid {pid}, RSS after warm-up {rss_mib(pid):.1f} MiB")
        plan = [("/dump/", "leaky")] * LEAKY_CALLS + [("/dump/fixed/", "fixed")] * FIXED_CALLS
        for i, (path, kind) in enumerate(plan, 1):
            print(f"\n-- request {i}: GET {path}  ({kind})", flush=True)
            before = rss_mib(pid)
            t0 = time.perf_counter()
            urllib.request.urlopen(base + path, timeout=300).read()
            took = time.perf_counter() - t0
            time.sleep(0.3)  # let the log lines arrive
            after = rss_mib(pid)
            table.append((f"{i}. {kind:5} GET {path}", after - before, after))
            print(f"   answered in {took * 1000:.0f} ms; worker RSS {before:.1f} -> {after:.1f} MiB")
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
    print("\n== 3. worker RSS per request")
    print(f"   {'request':32} {'RSS delta':>10} {'RSS after':>10}")
    for name, delta, after in table:
        print(f"   {name:32} {delta:+9.1f}M {after:9.1f}M")
    leaky = sum(d for n, d, _ in table if "leaky" in n)
    fixed = sum(d for n, d, _ in table if "fixed" in n)
    print(f"""
   The leaky view kept {leaky:.1f} MiB of RSS: its QuerySet lives at module level
   (shop/views.py), so its result cache holds every row for as long as the worker
   lives; the guard named that line on the first call.  Each later call adds 3,000
   more model instances (the ForeignKeys it reads, cached on the cached rows): too
   little to move RSS yet, since they fit in memory the worker already holds, but
   heapwatch's census sees them grow on every call, as the seed's log did.  The
   first records say "warm-up" (DEBUG): one call cannot tell a cache filling once
   from a leak.  Once the growth stayed through four calls and a full collection,
   the record says "leak" at WARNING, and its "held:" part names the holder of
   that call's new objects: the module-level QuerySet's _result_cache.
   The fixed view streams with heapwatch.django.stream() in chunks of 2,000 rows:
   {fixed:+.1f} MiB over {FIXED_CALLS} calls, and no growth worth a log line.""")
    return 0


if __name__ == "__main__":
    sys.exit(main())
