"""Peak memory and speed of iterating and deleting big querysets.

    .venv/bin/python bench/querysets.py                 # 1M rows: takes a while (minutes)
    .venv/bin/python bench/querysets.py --rows 200000 --parents 100000
    .venv/bin/python bench/querysets.py --backends sqlite

Iteration: a Record table with three foreign keys (--rows rows) on SQLite (a
file in a temporary directory) and PostgreSQL (a fresh server started by
tests/pgserver.py, when installed).  Variants: list(qs), qs.iterator()
(on PostgreSQL with server-side cursors and with DISABLE_SERVER_SIDE_CURSORS),
django-chunkator (from .venv-bench-qs when this venv lacks it, see
CHUNKATOR_VENV), the seed's snippet (order by pk, pk__gt
chunks of 1000), heapwatch's stream().  Deletion: --parents Owners with three
CASCADE Records each, QuerySet.delete() vs delete_in_chunks().

Each variant runs in a fresh subprocess; peak RSS is the child's
getrusage(RUSAGE_SELF).ru_maxrss, which includes the interpreter, Django and
the open database connection (the "base" column is the RSS just before the
measured operation, with the connection already open).  Tables are filled with
INSERT ... SELECT in SQL by a separate child (also before each delete variant),
so building them costs the measured child nothing.

Speed on a shared machine: each iteration variant runs --repeat times, the
rounds interleaved; the tables show the best wall-clock rows/s and the best
rows per CPU second, CPU being the child's user+system time plus, on
PostgreSQL, that of the server backend serving its connection (read from
/proc/<pg_backend_pid()>/stat).  Peak and base are those of the run with the
largest peak, growth the largest peak minus base of any run (the kernel's RSS
counters are approximate: a few hundred KiB either way, so a growth can read
slightly negative).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHUNK = 1000  # --chunk


# ---------------------------------------------------------------------------
# child side


def _setup_django(db: dict[str, Any], ssc_off: bool = False) -> None:
    sys.path[:0] = [ROOT, os.path.join(ROOT, "src")]
    import django
    from django.conf import settings

    db = dict(db)
    if ssc_off:
        db["DISABLE_SERVER_SIDE_CURSORS"] = True
    settings.configure(
        DATABASES={"default": db},
        INSTALLED_APPS=["django.contrib.contenttypes", "tests.qsapp"],
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        USE_TZ=True,
    )
    django.setup()


def _series(vendor: str, n: int, select: str) -> str:
    """SELECT `select` (using i = 1..n)."""
    if vendor == "postgresql":
        return f"SELECT {select} FROM generate_series(1, {n}) AS s(i)"
    return (f"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) "
            f"SELECT {select} FROM s")


def _build(kind: str, n: int) -> None:
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", run_syncdb=True, verbosity=0)
    v = connection.vendor
    with connection.cursor() as c:
        for t in ("qsapp_record", "qsapp_kind", "qsapp_owner", "qsapp_place"):
            c.execute(f"DELETE FROM {t}")
        if kind == "iterate":
            for t, m in (("qsapp_kind", 100), ("qsapp_owner", 1000), ("qsapp_place", 1000)):
                c.execute(f"INSERT INTO {t} (id, name) " + _series(v, m, "i, 'n' || i"))
            c.execute("INSERT INTO qsapp_record (id, kind_id, owner_id, place_id, name, value) "
                      + _series(v, n, "i, 1 + i % 100, 1 + i % 1000, 1 + (i * 7) % 1000, "
                                      "'record number ' || i, i % 9973"))
        else:  # delete: n owners with 3 records each
            c.execute("INSERT INTO qsapp_kind (id, name) VALUES (1, 'k')")
            c.execute("INSERT INTO qsapp_place (id, name) VALUES (1, 'p')")
            c.execute("INSERT INTO qsapp_owner (id, name) " + _series(v, n, "i, 'o' || i"))
            c.execute("INSERT INTO qsapp_record (id, kind_id, owner_id, place_id, name, value) "
                      + _series(v, 3 * n, f"i, 1, 1 + (i - 1) % {n}, 1, 'r', i"))
        if v == "postgresql":
            for t in ("qsapp_kind", "qsapp_owner", "qsapp_place", "qsapp_record"):
                c.execute(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), "
                          f"(SELECT coalesce(max(id), 1) FROM {t}))")
                c.execute(f"ANALYZE {t}")


def _seed_snippet(queryset: Any, chunksize: int = CHUNK) -> Any:
    """The seed blog's workaround, as it describes it: order by pk, then
    pk__gt chunks of 1000 (integer pks only)."""
    queryset = queryset.order_by("pk")
    last = queryset.last()
    if last is None:
        return
    pk, last_pk = 0, last.pk
    while pk < last_pk:
        for row in queryset.filter(pk__gt=pk)[:chunksize]:
            pk = row.pk
            yield row


def _backend_cpu(pid: int | None) -> float:
    """CPU seconds (user + system) used so far by the PostgreSQL backend `pid`."""
    if pid is None:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _rss_kb() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def child(args: argparse.Namespace) -> None:
    db = json.loads(args.db)
    chunk = args.chunk
    _setup_django(db, ssc_off=args.variant == "iterator-ssc-off")
    if args.variant.startswith("build-"):
        _build(args.variant[len("build-"):], args.n)
        print(json.dumps({}))
        return
    from django.db import connection

    # Open the connection before "base": it is a fixed cost of the process,
    # not of the operation measured.
    backend: int | None = None
    with connection.cursor() as c:
        if connection.vendor == "postgresql":
            c.execute("SELECT pg_backend_pid()")
            backend = c.fetchone()[0]

    from heapwatch.django import delete_in_chunks, stream
    from tests.qsapp.models import Owner, Record

    queries = tx = 0

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal queries, tx
        queries += 1
        if sql.lstrip()[:8].upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT",
                                                 "RELEASE")):
            tx += 1  # SQLite's atomic() sends BEGIN as a statement
        return execute(sql, params, many, context)

    result: dict[str, Any] = {}
    if args.variant in ("delete", "delete_in_chunks"):
        qs = Owner.objects.all()  # built by a "build-delete" child just before
        base = _rss_kb()
        cpu0, server0 = _cpu(), _backend_cpu(backend)
        t0 = time.perf_counter()
        with connection.execute_wrapper(count):
            if args.variant == "delete":
                total, per = qs.delete()
            else:
                total, per = delete_in_chunks(qs, chunk, progress=False)
        result["rows"] = total
        result["per"] = per
    else:
        qs = Record.objects.all()
        if args.variant == "list":
            it: Any = None  # evaluated below, inside the measurement
        elif args.variant.startswith("iterator"):
            it = qs.iterator(chunk_size=chunk)
        elif args.variant == "chunkator":
            from chunkator import chunkator  # type: ignore[import-not-found]

            it = chunkator(qs, chunk)
        elif args.variant == "seed":
            it = _seed_snippet(qs, chunk)
        else:
            it = stream(qs, chunk)
        base = _rss_kb()
        cpu0, server0 = _cpu(), _backend_cpu(backend)
        t0 = time.perf_counter()
        n = 0
        acc = 0
        with connection.execute_wrapper(count):
            if args.variant == "list":
                it = list(qs)
            for obj in it:
                n += 1
                acc += obj.kind_id + obj.value
            del it
        result["rows"] = n
    result["seconds"] = time.perf_counter() - t0
    result["cpu"] = _cpu() - cpu0
    result["server_cpu"] = _backend_cpu(backend) - server0
    result["peak_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result["base_kb"] = base
    result["queries"] = queries
    result["tx"] = tx
    print(json.dumps(result))


# ---------------------------------------------------------------------------
# parent side


def _run(variant: str, db: dict[str, Any], n: int, chunk: int = CHUNK,
         python: str = sys.executable) -> dict[str, Any]:
    out = subprocess.run(
        [python, os.path.abspath(__file__), "--child", variant, "--db", json.dumps(db),
         "--n", str(n), "--chunk", str(chunk)], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["?"])[-1]}
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _merge(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One row of the table from --repeat runs of a variant: the peak and
    base of the run with the largest peak, the largest growth (peak minus
    base) of any run, the best wall-clock and CPU speeds."""
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[-1]
    top = max(ok, key=lambda r: r["peak_kb"])
    return {
        "rows": ok[0]["rows"],
        "queries": ok[0]["queries"],
        "peak_kb": top["peak_kb"],
        "base_kb": top["base_kb"],
        "growth_kb": max(r["peak_kb"] - r["base_kb"] for r in ok),
        "rate": max(r["rows"] / r["seconds"] for r in ok),
        "cpu_rate": max(r["rows"] / (r["cpu"] + r["server_cpu"]) for r in ok),
        "rates": [r["rows"] / r["seconds"] for r in ok],
    }


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


# django-chunkator is not a dependency of heapwatch: it lives in its own venv,
# made with (same CPython as .venv, so the built heapwatch engine imports):
#   python3.11 -m venv .venv-bench-qs
#   .venv-bench-qs/bin/pip install Django==<.venv's> 'psycopg[binary]' django-chunkator
CHUNKATOR_VENV = os.path.join(ROOT, ".venv-bench-qs", "bin", "python")


def _chunkator_python() -> str | None:
    """The interpreter to run the chunkator variant with: this one when it
    has django-chunkator, else .venv-bench-qs's, else None."""
    import importlib.util

    if importlib.util.find_spec("chunkator") is not None:
        return sys.executable
    if os.access(CHUNKATOR_VENV, os.X_OK):
        return CHUNKATOR_VENV
    return None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--parents", type=int, default=100_000)
    p.add_argument("--backends", default="sqlite,pg")
    p.add_argument("--repeat", type=int, default=3,
                   help="runs of each iteration variant (interleaved rounds)")
    p.add_argument("--chunk", type=int, default=CHUNK,
                   help="chunk size of every variant (iterator, chunkator, seed, stream, "
                        "delete_in_chunks)")
    p.add_argument("--variants", default="",
                   help="comma-separated iteration variants to run (default: all)")
    p.add_argument("--no-delete", action="store_true", help="skip the deletion benchmark")
    p.add_argument("--child")
    p.add_argument("--db")
    p.add_argument("--n", type=int, default=0)
    args = p.parse_args()
    if args.child:
        args.variant = args.child
        child(args)
        return
    sys.path[:0] = [ROOT]
    tmp = tempfile.mkdtemp(prefix="heapwatch-bench-qs-")
    import atexit
    import shutil

    atexit.register(shutil.rmtree, tmp, True)
    backends: dict[str, dict[str, Any]] = {}
    if "sqlite" in args.backends:
        backends["sqlite"] = {"ENGINE": "django.db.backends.sqlite3",
                              "NAME": os.path.join(tmp, "bench.sqlite3")}
    if "pg" in args.backends:
        from tests.pgserver import postgres_database

        pg = postgres_database()
        if pg is None:
            print("PostgreSQL: skipped (no server binaries)")
        else:
            pg.pop("TEST", None)
            backends["pg"] = pg
    chunk = args.chunk
    for name, db in backends.items():
        t0 = time.perf_counter()
        _run("build-iterate", db, args.rows)
        print(f"\n== {name}: iterate {args.rows} Records (3 FKs), chunks of {chunk}, "
              f"best of {args.repeat} (built in {time.perf_counter() - t0:.1f}s)")
        variants = ["list", "iterator"]
        if name == "pg":
            variants = ["list", "iterator", "iterator-ssc-off"]
        variants += ["chunkator", "seed", "stream"]
        if args.variants:
            variants = [v for v in variants if v in args.variants.split(",")]
        pythons: dict[str, str] = {}
        for v in variants:
            python = sys.executable
            if v == "chunkator":
                found = _chunkator_python()
                if found is None:
                    print(f"{v:18} skipped: django-chunkator is not installed here nor in "
                          f"{os.path.relpath(CHUNKATOR_VENV, ROOT)}")
                    continue
                python = found
            pythons[v] = python
        runs: dict[str, list[dict[str, Any]]] = {v: [] for v in pythons}
        for _ in range(max(1, args.repeat)):
            for v, python in pythons.items():
                runs[v].append(_run(v, db, args.rows, chunk, python))
        res = {v: _merge(r) for v, r in runs.items()}
        print(f"{'variant':18} {'peak MiB':>9} {'base MiB':>9} {'growth':>8} {'rows/s':>9} "
              f"{'rows/CPUs':>10} {'queries':>8}  rows/s of each run")
        for v, r in res.items():
            if "error" in r:
                print(f"{v:18} error: {r['error']}")
                continue
            print(f"{v:18} {r['peak_kb'] / 1024:9.1f} {r['base_kb'] / 1024:9.1f} "
                  f"{r['growth_kb'] / 1024:8.1f} {r['rate']:9.0f} "
                  f"{r['cpu_rate']:10.0f} {r['queries']:8d}  "
                  f"{' '.join(f'{x:.0f}' for x in r['rates'])}")
        s, lst, it = res.get("stream", {}), res.get("list", {}), res.get("iterator", {})
        if "peak_kb" in s and "peak_kb" in lst:
            ratio = s["peak_kb"] / lst["peak_kb"]
            print(f"stream peak / list peak      = {ratio:.3f} (goal <= 0.05) {_verdict(ratio <= 0.05)}")
            growth = s["growth_kb"] / max(1, lst["growth_kb"])
            print(f"stream growth / list growth  = {growth:.3f} (peak minus base RSS; "
                  f"goal <= 0.05) {_verdict(growth <= 0.05)}")
        if "peak_kb" in s and "peak_kb" in it:
            label = "iterator (server-side cursor)" if name == "pg" else "iterator"
            ratio = s["peak_kb"] / it["peak_kb"]
            print(f"stream peak / {label} peak = {ratio:.3f} (goal <= 1.2) {_verdict(ratio <= 1.2)}")
            speed = s["rate"] / it["rate"]
            print(f"stream rows/s / {label} rows/s = {speed:.3f} (best wall clock; "
                  f"goal >= 0.9) {_verdict(speed >= 0.9)}")
            cpu = s["cpu_rate"] / it["cpu_rate"]
            print(f"stream rows/CPUs / {label} rows/CPUs = {cpu:.3f} (CPU time"
                  f"{' of client + server backend' if name == 'pg' else ''}; goal >= 0.9) "
                  f"{_verdict(cpu >= 0.9)}")

        if args.no_delete:
            continue
        print(f"\n== {name}: delete {args.parents} Owners x 3 CASCADE Records")
        d: dict[str, dict[str, Any]] = {}
        for v in ("delete", "delete_in_chunks"):
            _run("build-delete", db, args.parents)
            d[v] = _run(v, db, args.parents, chunk)
        for v, r in d.items():
            if "error" in r:
                print(f"{v:18} error: {r['error']}")
                continue
            print(f"{v:18} peak {r['peak_kb'] / 1024:7.1f} MiB (base {r['base_kb'] / 1024:.1f}, "
                  f"growth {(r['peak_kb'] - r['base_kb']) / 1024:.1f})  {r['seconds']:6.2f}s  "
                  f"{r['queries']} queries ({r['tx']} BEGIN)  deleted {r['rows']}")
        a, b = d["delete"], d["delete_in_chunks"]
        if "peak_kb" in a and "peak_kb" in b:
            # The minimum any chunked delete needs: per chunk, one SELECT of the
            # chunk's primary keys and one DELETE per table it removes rows
            # from (here qsapp_owner and qsapp_record: 3 queries per chunk).
            chunks = -(-args.parents // chunk)
            tables = len(b.get("per") or {}) or 2
            minimum = chunks * (1 + tables)
            ratio = b["peak_kb"] / a["peak_kb"]
            growth = (b["peak_kb"] - b["base_kb"]) / max(1, a["peak_kb"] - a["base_kb"])
            print(f"delete_in_chunks peak / delete peak = {ratio:.3f} (goal <= 0.1) "
                  f"{_verdict(ratio <= 0.1)}; growth ratio {growth:.3f} {_verdict(growth <= 0.1)}")
            q = b["queries"]
            print(f"delete_in_chunks queries / minimum = {q} / {minimum} = {q / minimum:.2f} "
                  f"(goal <= 2) {_verdict(q / minimum <= 2)}; without BEGIN: "
                  f"{(q - b['tx']) / minimum:.2f} (minimum = {chunks} chunks x (1 SELECT of "
                  f"pks + 1 DELETE per table touched ({tables})); QuerySet.delete() itself: "
                  f"{a['queries']})")


if __name__ == "__main__":
    main()
