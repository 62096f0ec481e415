"""What HeapWatchMiddleware costs per request, over real HTTP.

Serves examples/leakyshop with gunicorn (1 sync worker each) on 127.0.0.1,
one server per mode, all at once:

    off       no middleware (the heapwatch.django app and its queryset
              guard stay installed, so only the middleware differs): the
              anchor
    off2      the same as off, in a second server: what two identical
              servers differ by on this machine (the noise floor)
    defaults  HEAPWATCH = {}: the package defaults, sampling by TIME_BUDGET
    1/100     SAMPLE_RATE 0.01
    every     SAMPLE_RATE 1.0: every request measured
    bare      (only with --modes) no heapwatch at all, not even the app

Sends sequential requests to one view in rounds: each round sends one
request to every server, in a new random order, so that load from anything
else on the machine falls on every mode alike, and a request starts only
once the previous server closed its connection (done with its request,
the census after the response included), so no server's work overlaps
another's request.  The default view is /page/, shaped like a Wagtail
page: a base template, a page template extending it, includes, a menu from
a template tag, 20 items whose related objects the template loads one by
one; about 100 SQL queries.

Prints p50/p90/p99 and the mean per mode, the overhead against "off" in ms
and %, and checks the goal: at the defaults the middleware adds < 1% at
p50.  The same tables until the worker closes the connection and for the
worker's CPU time per request, taken by gunicorn hooks (in a config file
this script writes), which also report how many requests the middleware
measured, what share of the time in requests measuring took, and the
heapwatch log records per level.  In-process, it times what the
middleware adds to a request it does not measure (most requests at the
defaults).  Then it times one census on a 1M-object heap, what a measured
request pays (two or three times).

usage: python bench/middleware.py [--requests 600] [--warmup 30]
           [--modes off,off2,defaults,1/100,every] [--view page|fixed] [--rows 2000]
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
SHOP = ROOT / "examples" / "leakyshop"

#: bench mode -> LEAKYSHOP_HEAPWATCH (examples/leakyshop/leakyshop/settings.py)
MODES = {"off": "off", "off2": "off", "bare": "bare", "defaults": "defaults", "1/100": "1/100", "every": "1/1"}
GOAL = 0.01          # defaults: p50 overhead below 1%
OLD_GOAL = 0.02      # 1/100: p50 overhead below 2% (the first version of this bench)

# Loaded by gunicorn in each server (-c).  In the worker: the CPU time
# (time.thread_time) and wall time of every request, from gunicorn's
# pre_request to its post_request hook, so including what the middleware
# does after the response was sent (the second census runs when the server
# closes the response); and, with the middleware, which requests it
# measured (a wrapper around HeapWatchMiddleware._finish, found once after
# the app is loaded: one call per measured request).  When the worker exits
# it writes all that as JSON to $HEAPWATCH_BENCH_STATS.
GUNICORN_CONF = '''
import gc, json, os, time

_cpu, _wall, _seqs, _state = [], [], [], {}


def post_worker_init(worker):
    from django.conf import settings
    if "heapwatch.django.middleware.HeapWatchMiddleware" not in settings.MIDDLEWARE:
        return
    from heapwatch.django.middleware import HeapWatchMiddleware
    mw = next((o for o in gc.get_objects() if type(o) is HeapWatchMiddleware), None)
    if mw is None:
        return
    finish = mw._finish

    def counted(request, response, m):
        _seqs.append(m.seq)
        return finish(request, response, m)

    mw._finish = counted
    _state["mw"] = mw


def pre_request(worker, req):
    _state["t"] = (time.thread_time(), time.perf_counter())


def post_request(worker, req, environ, resp):
    cpu0, wall0 = _state.pop("t", (None, None))
    if cpu0 is not None:
        _cpu.append(time.thread_time() - cpu0)
        _wall.append(time.perf_counter() - wall0)


def worker_exit(server, worker):
    out = os.environ.get("HEAPWATCH_BENCH_STATS")
    if not out:
        return
    data = {"cpu": _cpu, "wall": _wall}
    mw = _state.get("mw")
    if mw is not None:
        import heapwatch
        data.update(requests=mw._seq, measured_seqs=_seqs, spent=mw._spent,
                    served=mw._served, heap_objects=heapwatch.census().total_count)
    with open(out, "w") as f:
        json.dump(data, f)
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, round(p / 100 * (len(xs) - 1))))
    return xs[k]


class Server:
    def __init__(self, mode: str, tmp: Path, index: int) -> None:
        self.mode = mode
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.stats_path = tmp / f"stats-{index}.json"
        self.log_path = tmp / f"server-{index}.log"
        env = dict(os.environ, LEAKYSHOP_HEAPWATCH=MODES[mode], PYTHONHASHSEED="0",
                   HEAPWATCH_BENCH_STATS=str(self.stats_path))
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "leakyshop.wsgi:application",
             "-c", str(tmp / "gunicorn_conf.py"), "--bind", f"127.0.0.1:{self.port}",
             "--workers", "1", "--timeout", "120", "--log-level", "error"],
            cwd=SHOP, env=env, stdout=subprocess.DEVNULL, stderr=self.log)
        self.sent = 0          # requests Django answered so far

    def get(self, path: str) -> tuple[float, float]:
        """One request on a fresh connection: the seconds until the whole
        response is in, and until the server closes the connection.  A
        gunicorn sync worker closes it once it is done with the request:
        after the WSGI response was closed (where the middleware's second
        census runs) and its post_request hook."""
        request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                   "Connection: close\r\n\r\n").encode()
        t0 = time.perf_counter()
        done = None
        buf = bytearray()
        with socket.create_connection(("127.0.0.1", self.port), timeout=60) as sock:
            sock.sendall(request)
            while True:
                chunk = sock.recv(1 << 16)
                if not chunk:
                    break
                buf += chunk
                if done is None and response_complete(buf):
                    done = time.perf_counter()
        closed = time.perf_counter()
        self.sent += 1
        if not buf.startswith(b"HTTP/1.1 200 ") or done is None:
            raise SystemExit(f"{self.mode}: bad response to {path}: {bytes(buf[:200])!r}")
        return done - t0, closed - t0

    def wait_ready(self, path: str) -> None:
        deadline = time.time() + 60
        while True:
            try:
                self.get(path)
                return
            except OSError:
                if time.time() > deadline or self.proc.poll() is not None:
                    self.log.flush()
                    raise SystemExit(f"gunicorn ({self.mode}) did not start:\n"
                                     + self.log_path.read_text(errors="replace")[-2000:])
                time.sleep(0.2)

    def stop(self) -> dict[str, Any]:
        self.proc.terminate()         # graceful: the worker runs worker_exit
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()
        try:
            data = dict(json.loads(self.stats_path.read_text()))
        except (OSError, ValueError):
            data = {}
        data["sent"] = self.sent
        # heapwatch's records, as the shop's LOGGING writes them to stderr
        levels: dict[str, int] = {}
        for line in self.log_path.read_text(errors="replace").splitlines():
            for level in ("WARNING", "INFO", "DEBUG"):
                if f"] {level} [heapwatch" in line:
                    levels[level] = levels.get(level, 0) + 1
                    if level == "WARNING" and "first_warning" not in data:
                        data["first_warning"] = line[:240]
        data["log"] = levels
        return data


def response_complete(buf: bytearray) -> bool:
    """Whether buf holds a whole HTTP response (Content-Length or chunked)."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return False
    head = bytes(buf[:end]).lower()
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip() == b"content-length":
            return len(buf) >= end + 4 + int(value)
    if b"transfer-encoding: chunked" in head:
        return buf.endswith(b"\r\n0\r\n\r\n")
    return False


def measure_interleaved(modes: list[str], path: str, n: int, warmup: int, tmp: Path
                        ) -> tuple[dict[str, list[float]], dict[str, list[float]],
                                   dict[str, dict[str, Any]], dict[str, int]]:
    """All servers run at once; each round sends one request to each, in a
    new random order, so load from anything else on the machine falls on
    every mode alike.  A request starts only when the previous one's
    worker closed the connection: no server's work after its response
    overlaps the next server's request."""
    (tmp / "gunicorn_conf.py").write_text(GUNICORN_CONF)
    servers = {m: Server(m, tmp, i) for i, m in enumerate(modes)}
    response: dict[str, list[float]] = {m: [] for m in modes}
    closed: dict[str, list[float]] = {m: [] for m in modes}
    before: dict[str, int] = {}
    stats: dict[str, dict[str, Any]] = {}
    rng = random.Random(0)
    try:
        for s in servers.values():
            s.wait_ready(path)
        for i in range(warmup):
            for m in modes:
                servers[m].get(path)
        before = {m: s.sent for m, s in servers.items()}
        order = list(modes)
        for i in range(n):
            rng.shuffle(order)
            for m in order:
                r, c = servers[m].get(path)
                response[m].append(r)
                closed[m].append(c)
    finally:
        for m, s in servers.items():
            stats[m] = s.stop()
    return response, closed, stats, before


def source_state() -> str:
    """The commit, and whether the sources differ from it."""
    def git(*a: str) -> str:
        out = subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True)
        return out.stdout.strip() if out.returncode == 0 else "?"
    dirty = git("status", "--porcelain", "--", "src")
    return f"at {git('rev-parse', '--short', 'HEAD')}, src/ {'modified' if dirty else 'as committed'}"


def view_facts(path: str) -> str:
    """SQL queries and HTML size of one request to path, in-process."""
    code = (
        "import django, json; django.setup()\n"
        "from django.db import connection\n"
        "from django.test import Client\n"
        "from django.test.utils import CaptureQueriesContext\n"
        "c = Client(); c.get(%r)\n"
        "with CaptureQueriesContext(connection) as q: r = c.get(%r)\n"
        "print(json.dumps([r.status_code, len(q.captured_queries), len(r.content)]))\n"
    ) % (path, path)
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="leakyshop.settings", LEAKYSHOP_HEAPWATCH="off")
    out = subprocess.run([sys.executable, "-c", code], cwd=SHOP, env=env,
                         capture_output=True, text=True)
    try:
        status, queries, size = json.loads(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return "(could not count its queries)"
    return f"{queries} SQL queries, {size / 1024:.1f} KiB of HTML, HTTP {status}"


# What the middleware adds to a request it does not measure, in-process
# (no HTTP, no other load to speak of): the defaults, a trivial view, the
# time budget used up so that no request is sampled.  Best of 5 x 20,000.
UNMEASURED = r'''
import json, time, django
django.setup()
from django.http import HttpResponse
from django.test import RequestFactory
from heapwatch.django.middleware import HeapWatchMiddleware

response = HttpResponse(b"ok")


def view(request):
    return response


mw = HeapWatchMiddleware(view)
request = RequestFactory().get("/page/")
mw._spent = 1e9                 # the time budget is used up: no request is measured


def best(fn):
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(20000):
            fn(request)
        times.append((time.perf_counter() - t0) / 20000)
    return min(times)


bare, wrapped = best(view), best(mw)
assert mw._current is None
print(json.dumps([bare, wrapped]))
'''


def unmeasured_cost() -> float | None:
    """Seconds the middleware adds to a request it does not measure."""
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="leakyshop.settings", LEAKYSHOP_HEAPWATCH="defaults")
    out = subprocess.run([sys.executable, "-c", UNMEASURED], cwd=SHOP, env=env,
                         capture_output=True, text=True)
    try:
        bare, wrapped = json.loads(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        print(out.stderr[-2000:], file=sys.stderr)
        return None
    return float(wrapped) - float(bare)


def p50_interval(a: list[float], b: list[float], reps: int = 1000) -> tuple[float, float]:
    """95% bootstrap interval of median(b)/median(a) - 1, resampling the
    rounds (a[i] and b[i] were sent in the same round)."""
    rng = random.Random(0)
    n = len(a)
    ratios = []
    for _ in range(reps):
        idx = [rng.randrange(n) for _ in range(n)]
        ratios.append(statistics.median([b[i] for i in idx]) / statistics.median([a[i] for i in idx]) - 1)
    ratios.sort()
    return ratios[int(0.025 * reps)], ratios[int(0.975 * reps) - 1]


def table(title: str, modes: list[str], data: dict[str, list[float]]) -> None:
    base = data["off"]
    b50, bmean = statistics.median(base), statistics.fmean(base)
    print(f"\n{title}:")
    print(f"{'mode':10} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'mean ms':>8}"
          f"   {'p50 vs off':>18}   {'mean vs off':>18}")
    for mode in modes:
        t = data[mode]
        p50, mean = statistics.median(t), statistics.fmean(t)
        row = (f"{mode:10} {p50 * 1e3:8.2f} {percentile(t, 90) * 1e3:8.2f} "
               f"{percentile(t, 99) * 1e3:8.2f} {mean * 1e3:8.2f}")
        if mode == "off":
            row += f"   {'(anchor)':>18}   {'(anchor)':>18}"
        else:
            row += (f"   {(p50 - b50) * 1e3:+7.2f} ms {(p50 / b50 - 1) * 100:+6.2f}%"
                    f"   {(mean - bmean) * 1e3:+7.2f} ms {(mean / bmean - 1) * 100:+6.2f}%")
        print(row)


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


def _timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=600, help="measured requests per mode")
    ap.add_argument("--warmup", type=int, default=30, help="warm-up requests per mode")
    ap.add_argument("--modes", default="off,off2,defaults,1/100,every",
                    help=f"comma-separated, 'off' first (the anchor); of {', '.join(MODES)}")
    ap.add_argument("--view", choices=["page", "fixed"], default="page",
                    help="page: the Wagtail-shaped /page/; fixed: /dump/fixed/ streaming --rows rows")
    ap.add_argument("--rows", type=int, default=2000, help="rows the fixed view streams per request")
    ap.add_argument("--no-census-cost", action="store_true", help="skip the 1M-object census timing")
    args = ap.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes or modes[0] != "off" or len(set(modes)) != len(modes):
        ap.error(f"--modes: distinct modes of {', '.join(MODES)}, starting with off")
    path = "/page/" if args.view == "page" else f"/dump/fixed/?rows={args.rows}"

    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=SHOP, check=True)
    subprocess.run([sys.executable, "manage.py", "seed_shop"], cwd=SHOP, check=True)
    facts = view_facts(path)
    per_request = unmeasured_cost()
    load0 = os.getloadavg()
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="heapwatch-bench-mw-") as tmp:
        measured, closed, stats, before = measure_interleaved(modes, path, args.requests, args.warmup, Path(tmp))
    wall = time.time() - started
    load1 = os.getloadavg()

    print(f"\n{datetime.date.today().isoformat()}, {platform.python_implementation()} "
          f"{platform.python_version()}, {os.cpu_count()} CPUs, load average "
          f"{load0[0]:.2f} before, {load1[0]:.2f} after; {wall:.0f} s")
    print(f"GET {path}: {facts}; {source_state()}")
    print(f"{args.requests} requests per mode after {args.warmup} warm-up, gunicorn 1 sync worker "
          f"per mode, modes interleaved (random order per round, one request at a time)")

    # The worker's own figures for the timed requests (the readiness and
    # warm-up requests come first in its lists).
    cpu: dict[str, list[float]] = {}
    for mode in modes:
        st = stats.get(mode) or {}
        timed = list(st.get("cpu", []))[before.get(mode, 0):]
        if len(timed) == args.requests:
            cpu[mode] = [float(x) for x in timed]

    table("HTTP latency: until the whole response is in (what the goal is about)", modes, measured)
    table("until the worker closes the connection (done with the request: includes the "
          "census after the response)", modes, closed)
    if "off" in cpu:
        table("worker CPU per request, thread time from pre_request to post_request (includes "
              "the census after the response)", [m for m in modes if m in cpu], cpu)

    print("\nthe middleware in the worker:")
    for mode in modes:
        st = stats.get(mode) or {}
        if "requests" not in st:
            continue
        seqs = [int(x) for x in st.get("measured_seqs", [])]
        during = sum(1 for x in seqs if x > before.get(mode, 0))
        served, spent = float(st["served"]), float(st["spent"])
        share = f"1 in {args.requests / during:.0f}" if during else "none"
        log = st.get("log") or {}
        records = ", ".join(f"{n} {level}" for level, n in log.items()) or "none"
        print(f"  {mode:9} measured {during} of the {args.requests} timed requests ({share}), "
              f"{len(seqs)} of all {st['requests']}; measuring took {spent * 1e3:.0f} ms = "
              f"{spent / served * 100 if served else 0:.2f}% of {served:.1f} s in requests; "
              f"heap at exit {int(st['heap_objects']):,} objects; "
              f"log records: {records}")
        if "first_warning" in st:
            print(f"            first WARNING: {st['first_warning']}")

    print("\ngoals, p50 ratios: ours / anchor (off) / limit; 95% bootstrap interval over the rounds:")
    for what, data in (("response", measured), ("to close", closed), ("worker CPU", cpu)):
        if "off" not in data:
            continue
        base = data["off"]
        for mode, limit, label in (("defaults", GOAL, "defaults adds < 1% at p50"),
                                   ("1/100", OLD_GOAL, "1/100 adds < 2% at p50 (the first bench)"),
                                   ("off2", None, "a second 'off' server (the noise floor)"),
                                   ("every", None, "every request measured (no goal)")):
            if mode not in data:
                continue
            t = data[mode]
            ratio = statistics.median(t) / statistics.median(base)
            lo, hi = p50_interval(base, t)
            verdict = "" if limit is None else ("  PASS" if ratio - 1 < limit else "  MISS")
            limit_s = f"{1 + limit:.4f}" if limit is not None else "-"
            print(f"  {what:10} {label}: {ratio:.4f} / 1.0000 / {limit_s}  "
                  f"({(ratio - 1) * 100:+.2f}%, {lo * 100:+.2f}% .. {hi * 100:+.2f}%){verdict}")
    if per_request is not None:
        off50 = statistics.median(measured["off"])
        fraction = per_request / off50
        print(f"  in-process: a request the defaults do not measure pays {per_request * 1e6:.1f} us "
              f"in the middleware = {fraction * 100:.3f}% of the HTTP p50 of off: "
              f"{1 + fraction:.5f} / 1.0000 / {1 + GOAL:.4f}  {'PASS' if fraction < GOAL else 'MISS'}")

    if not args.no_census_cost:
        count, best = census_cost_at(1_000_000)
        print(f"\none census of {count:,} objects: {best * 1000:.1f} ms "
              f"({best / count * 1e9:.1f} ns/object); a measured request takes two "
              f"(and a third at the next request, when it settles).")


if __name__ == "__main__":
    main()
