"""A real PostgreSQL server for the tests and the benchmarks.

Debian's server package installs its binaries under /usr/lib/postgresql/N/bin.
When they are there, the first call to postgres_database() creates a cluster
in a temporary directory (trust auth, listening on 127.0.0.1 only, unix
sockets inside the directory), starts it, and registers an atexit handler that
stops it and removes the directory.  Later calls in the same process return
the same server.  PostgreSQL refuses to run as root, so as root the binaries
run as the `postgres` user through runuser.

Without the binaries it returns None and the tests run on SQLite alone, unless
HEAPWATCH_REQUIRE_PG=1 (set by CI), where that is an error.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from typing import Any

_cache: dict[str, Any] | None = None
_started = False


class PostgresUnavailable(RuntimeError):
    pass


def _bindir() -> str | None:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0,
    )
    if found:
        return os.path.dirname(found[-1])
    which = shutil.which("initdb")
    return os.path.dirname(which) if which else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# The sanitizer run preloads ASan into the test process; the server's own
# programs must not inherit that (initdb hangs under it).
_SANITIZER_ENV = ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS", "PYTHONMALLOC")


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in _SANITIZER_ENV}


def _run(argv: list[str], as_postgres: bool) -> None:
    if as_postgres:
        argv = ["runuser", "-u", "postgres", "--", *argv]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, env=_clean_env())
    if proc.returncode != 0:
        raise PostgresUnavailable(
            f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}"
        )


def _start() -> dict[str, Any] | None:
    bindir = _bindir()
    if bindir is None:
        return None
    as_postgres = os.geteuid() == 0
    root = tempfile.mkdtemp(prefix="heapwatch-pg-")
    if as_postgres:
        pw = pwd.getpwnam("postgres")
        os.chown(root, pw.pw_uid, pw.pw_gid)
    data = os.path.join(root, "data")
    port = _free_port()

    def stop() -> None:
        if os.path.exists(os.path.join(data, "postmaster.pid")):
            subprocess.run(
                _wrap([f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"],
                      as_postgres),
                capture_output=True, check=False, env=_clean_env(),
            )
        shutil.rmtree(root, ignore_errors=True)

    atexit.register(stop)
    _run([f"{bindir}/initdb", "-D", data, "-U", "postgres", "-A", "trust",
          "-E", "UTF8", "--locale=C", "--no-sync"], as_postgres)
    options = f"-h 127.0.0.1 -p {port} -k {root} -F -c fsync=off -c full_page_writes=off"
    _run([f"{bindir}/pg_ctl", "-D", data, "-l", os.path.join(root, "log"),
          "-o", options, "-w", "-t", "60", "start"], as_postgres)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "USER": "postgres",
        "PASSWORD": "",
        "NAME": "postgres",
        "TEST": {"NAME": "heapwatch_test"},
    }


def _wrap(argv: list[str], as_postgres: bool) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if as_postgres else argv


def postgres_database() -> dict[str, Any] | None:
    """The Django DATABASES entry of a running server, or None without one."""
    global _cache, _started
    if not _started:
        _started = True
        required = os.environ.get("HEAPWATCH_REQUIRE_PG") == "1"
        try:
            _cache = _start()
        except (PostgresUnavailable, KeyError, OSError) as exc:
            if required:
                raise PostgresUnavailable(f"PostgreSQL is required: {exc}") from exc
            _cache = None
        if _cache is None and required:
            raise PostgresUnavailable(
                "HEAPWATCH_REQUIRE_PG=1 but no PostgreSQL binaries were found "
                "(install Debian's postgresql package)"
            )
    return dict(_cache) if _cache is not None else None
