"""Captures started in live processes: install_signal_handler(), the
Django SNAPSHOT_* settings, heapwatch.gunicorn's hooks in threaded
gunicorn workers (signal, max_requests recycling, RSS threshold), and
manage.py heapwatch_snapshot signalling every worker of a master.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import heapwatch
from heapwatch import _triggers

ROOT = Path(__file__).resolve().parent.parent
IN_CI = bool(os.environ.get("CI"))


def run(code: str, *args: str, env: dict[str, str] | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args],
                          capture_output=True, text=True, timeout=timeout,
                          env=None if env is None else {**os.environ, **env})


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


def snaps(d: Path, pid: int | None = None) -> list[Path]:
    pattern = f"*-{pid}-*.hwsnap" if pid is not None else "*.hwsnap"
    return sorted(Path(p) for p in glob.glob(str(d / pattern)))


# ---- names and directories -----------------------------------------------------------


def test_snapshot_names_sort_by_host_process_and_time() -> None:
    a = _triggers.snapshot_name(1_700_000_000.25)
    b = _triggers.snapshot_name(1_700_000_000.5)
    host = socket.gethostname()
    assert a == f"{host}-{os.getpid()}-20231114T221320.250000Z.hwsnap"
    assert a < b


def test_the_directory_is_created_0700(tmp_path: Path) -> None:
    d = tmp_path / "a" / "b"
    assert _triggers.prepare_directory(d) == str(d)
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError):
        _triggers.prepare_directory(tmp_path / "file")


# ---- a signal in a plain Python process ---------------------------------------------


def test_signal_handler_captures_rate_limits_and_chains(tmp_path: Path) -> None:
    d = tmp_path / "snaps"
    out = run("""
        import logging, os, signal, sys, time, heapwatch
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s",
                            stream=sys.stdout)
        class Kept: pass
        kept = [Kept() for _ in range(1234)]
        seen = []
        signal.signal(signal.SIGUSR2, lambda s, f: seen.append(s))
        heapwatch.install_signal_handler(signal.SIGUSR2, directory=sys.argv[1],
                                         min_interval=3600)
        os.kill(os.getpid(), signal.SIGUSR2)
        os.kill(os.getpid(), signal.SIGUSR2)    # within min_interval: refused
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(
                n.endswith(".hwsnap") for n in os.listdir(sys.argv[1])):
            time.sleep(0.05)
        time.sleep(0.5)                         # the waiting thread logs
        print("previous handler calls:", len(seen))
    """, str(d))
    assert out.returncode == 0, out.stderr
    files = snaps(d)
    assert len(files) == 1, out.stdout
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(files[0]).st_mode) == 0o600
    census = dict(heapwatch.load(files[0]).census().items())
    assert census["Kept"].count == 1234
    log = out.stdout
    assert "INFO heapwatch: capturing the heap of process" in log and "for signal SIGUSR2" in log
    assert "INFO heapwatch: no capture for signal SIGUSR2: the last one started" in log
    assert f"INFO heapwatch: heap snapshot written: {files[0]}" in log
    assert "previous handler calls: 2" in log


def test_install_signal_handler_checks_its_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        heapwatch.install_signal_handler(999, directory=tmp_path)
    with pytest.raises(TypeError, match="reprs must be True or False"):
        heapwatch.install_signal_handler(directory=tmp_path, reprs=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="min_interval"):
        heapwatch.install_signal_handler(directory=tmp_path, min_interval=-1)
    # From a thread other than the main one, as signal.signal() says.
    errors: list[BaseException] = []

    def other() -> None:
        try:
            heapwatch.install_signal_handler(directory=tmp_path)
        except ValueError as e:
            errors.append(e)
    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert len(errors) == 1 and "main thread" in str(errors[0])
    assert signal.getsignal(signal.SIGUSR2) in (signal.SIG_DFL, None) or \
        not getattr(signal.getsignal(signal.SIGUSR2), "heapwatch_directory", None)


# ---- Django settings ------------------------------------------------------------------


_DJANGO = """
    import os, sys, signal, time, logging
    import django
    from django.conf import settings
    settings.configure(
        SECRET_KEY="x", DEBUG=False, ALLOWED_HOSTS=["*"], USE_TZ=True,
        ROOT_URLCONF="tests.djangoapp.urls", INSTALLED_APPS=["heapwatch.django"],
        MIDDLEWARE=["heapwatch.django.middleware.HeapWatchMiddleware"], DATABASES={},
        LOGGING={"version": 1, "disable_existing_loggers": False},
        HEAPWATCH=dict(SAMPLE_RATE=0.0, **eval(sys.argv[2])))
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s",
                        stream=sys.stdout)
    django.setup()
    def wait_file():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any(n.endswith(".hwsnap") for n in os.listdir(sys.argv[1])):
                time.sleep(0.3)
                return True
            time.sleep(0.05)
        return False
"""


def test_django_snapshot_signal_setting(tmp_path: Path) -> None:
    d = tmp_path / "dj"
    out = run(_DJANGO + """
    os.kill(os.getpid(), signal.SIGUSR2)
    print("file:", wait_file())
    """, str(d), repr({"SNAPSHOT_SIGNAL": "SIGUSR2", "SNAPSHOT_DIR": str(d)}),
        env={"PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    assert "file: True" in out.stdout
    assert len(snaps(d)) == 1


def test_django_snapshot_on_rss_setting_captures_once(tmp_path: Path) -> None:
    d = tmp_path / "rss"
    out = run(_DJANGO + """
    from django.test import Client
    c = Client()
    for _ in range(3):
        assert c.get("/flat/").status_code == 200
    print("file:", wait_file())
    for _ in range(3):
        c.get("/flat/")
    time.sleep(0.5)
    """, str(d), repr({"SNAPSHOT_ON_RSS": 1, "SNAPSHOT_DIR": str(d), "SNAPSHOT_INTERVAL": 0}),
        env={"PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    assert "file: True" in out.stdout
    assert len(snaps(d)) == 1, out.stdout           # once per process
    assert "SNAPSHOT_ON_RSS 1 MiB" in out.stdout


def test_django_checks_for_snapshot_settings() -> None:
    out = run("""
        import django
        from django.conf import settings
        settings.configure(INSTALLED_APPS=["heapwatch.django"], DATABASES={},
                           MIDDLEWARE=["heapwatch.django.middleware.HeapWatchMiddleware"],
                           HEAPWATCH={"SNAPSHOT_SIGNAL": "SIGTERM", "SNAPSHOT_ON_RSS": 0,
                                      "SNAPSHOT_DIR": 7})
        django.setup()
        from django.core import checks
        for m in checks.run_checks():
            if m.id.startswith("heapwatch"):
                print(m.id, m.msg)
        settings.HEAPWATCH["SNAPSHOT_SIGNAL"] = "SIGKILL"
        from heapwatch.django.conf import get_settings
        get_settings.cache_clear()
        for m in checks.run_checks():
            if m.id.startswith("heapwatch") and "SIGNAL" in m.msg:
                print(m.id, m.msg)
    """, env={"PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "heapwatch.W006 HEAPWATCH['SNAPSHOT_SIGNAL'] is SIGTERM, which servers use to " \
           "control their workers." in lines
    assert "heapwatch.E003 HEAPWATCH['SNAPSHOT_ON_RSS'] must be >= 1, got 0." in lines
    assert "heapwatch.E002 HEAPWATCH['SNAPSHOT_DIR'] must be str, not int." in lines
    assert "heapwatch.E003 HEAPWATCH['SNAPSHOT_SIGNAL'] is not a signal a handler can be set " \
           "for: 'SIGKILL'." in lines


# ---- gunicorn ----------------------------------------------------------------------------

_SETTINGS = """
SECRET_KEY = "heapwatch-tests-not-secret"
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "tests.djangoapp.urls"
INSTALLED_APPS = ["heapwatch.django"]
MIDDLEWARE = ["heapwatch.django.middleware.HeapWatchMiddleware"]
DATABASES = {}
HEAPWATCH = {"SAMPLE_RATE": 0.0}
LOGGING = {"version": 1, "disable_existing_loggers": False,
           "handlers": {"console": {"class": "logging.StreamHandler"}},
           "loggers": {"heapwatch.capture": {"handlers": ["console"], "level": "INFO"}}}
"""

# The one line the README gives, and the test's own knobs.
_CONF = """
from heapwatch.gunicorn import *  # noqa: F401,F403

control_socket_disable = True    # gunicorn 24+: no control socket in $HOME
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as r:
        body: bytes = r.read()
        return body


class Server:
    def __init__(self, proc: subprocess.Popen[bytes], base: str, log: Path, snaps: Path,
                 tmp: Path, env: dict[str, str]) -> None:
        self.proc, self.base, self.log, self.snaps, self.tmp, self.env = \
            proc, base, log, snaps, tmp, env

    def workers(self) -> list[int]:
        from heapwatch.management.commands.heapwatch_snapshot import children
        return children(self.proc.pid)


def _start(tmp: Path, *extra: str, env: dict[str, str] | None = None) -> Server:
    if importlib.util.find_spec("gunicorn") is None:
        if IN_CI:
            raise AssertionError("gunicorn is not installed")
        pytest.skip("gunicorn is not installed")
    (tmp / "trigshop_settings.py").write_text(_SETTINGS)
    (tmp / "gunicorn_conf.py").write_text(_CONF)
    d = tmp / "snaps"
    port = _free_port()
    full_env = dict(os.environ, PYTHONPATH=f"{tmp}:{ROOT}",
                    DJANGO_SETTINGS_MODULE="trigshop_settings",
                    HEAPWATCH_SNAPSHOT_DIR=str(d), **(env or {}))
    log = tmp / "gunicorn.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "django.core.wsgi:get_wsgi_application()",
             "-c", str(tmp / "gunicorn_conf.py"), "--bind", f"127.0.0.1:{port}",
             "--timeout", "120", "--log-level", "info", *extra],
            cwd=tmp, env=full_env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(proc, f"http://127.0.0.1:{port}", log, d, tmp, full_env)

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"gunicorn exited:\n{log.read_text()}")
        try:
            _get(server.base + "/flat/")
            return True
        except OSError:
            return False
    wait_for(up, 60, "gunicorn to serve")
    return server


def _stop(server: Server) -> None:
    server.proc.send_signal(signal.SIGTERM)
    try:
        server.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()


@pytest.fixture
def threaded(tmp_path: Path) -> Iterator[Server]:
    server = _start(tmp_path, "--workers", "2", "--threads", "4", "--worker-class", "gthread")
    try:
        yield server
    finally:
        _stop(server)


def test_heapwatch_snapshot_signals_every_threaded_worker(threaded: Server) -> None:
    workers = wait_for(lambda: len(threaded.workers()) == 2 and threaded.workers(), 30,
                       "two workers")
    # Requests in flight on the workers' threads while they capture.
    stop = threading.Event()
    served = [0]

    def load() -> None:
        while not stop.is_set():
            _get(threaded.base + "/flat/")
            served[0] += 1
    clients = [threading.Thread(target=load) for _ in range(3)]
    for c in clients:
        c.start()
    try:
        out = subprocess.run(
            [sys.executable, "-m", "django", "heapwatch_snapshot", str(threaded.proc.pid),
             "--timeout", "120"],
            capture_output=True, text=True, timeout=180, env=threaded.env, cwd=threaded.tmp)
    finally:
        stop.set()
        for c in clients:
            c.join()
    assert out.returncode == 0, out.stdout + out.stderr + threaded.log.read_text()
    lines = out.stdout.splitlines()
    assert lines[0].startswith("sent SIGUSR2 to 2 process(es): ")
    written = [Path(p) for p in lines[1:]]
    assert sorted(int(p.name.split("-")[-2]) for p in written) == sorted(workers)
    for p in written:
        assert heapwatch.load(p).census().total_count > 10_000
    assert served[0] > 0
    assert threaded.proc.poll() is None and sorted(threaded.workers()) == sorted(workers)
    log = threaded.log.read_text()
    assert log.count("heapwatch: capturing the heap of process") == 2


def test_heapwatch_snapshot_refuses_a_process_without_heapwatch(tmp_path: Path) -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        out = subprocess.run(
            [sys.executable, "-m", "django", "heapwatch_snapshot", str(sleeper.pid),
             "--dir", str(tmp_path), "--timeout", "1"],
            capture_output=True, text=True, timeout=60,
            env=dict(os.environ, PYTHONPATH=str(ROOT),
                     DJANGO_SETTINGS_MODULE="tests.djangoapp.settings"))
        assert out.returncode != 0
        assert f"process(es) {sleeper.pid} do not run heapwatch" in out.stderr
        assert sleeper.poll() is None       # not signalled
    finally:
        sleeper.kill()
        sleeper.wait()


def test_gunicorn_captures_a_worker_recycled_by_max_requests(tmp_path: Path) -> None:
    server = _start(tmp_path, "--workers", "1", "--max-requests", "5",
                    env={"HEAPWATCH_SNAPSHOT_SIGNAL": "none"})
    try:
        first = wait_for(server.workers, 30, "a worker")[0]
        for _ in range(8):
            _get(server.base + "/flat/")
        f = wait_for(lambda: snaps(server.snaps, first), 60, "the recycled worker's file")
        assert first not in server.workers()            # it was recycled
        assert heapwatch.load(f[0]).census().total_count > 10_000
        assert "after 5 requests (max_requests)" in server.log.read_text()
    finally:
        _stop(server)


def test_gunicorn_captures_once_when_a_worker_passes_the_rss_threshold(tmp_path: Path) -> None:
    server = _start(tmp_path, "--workers", "1",
                    env={"HEAPWATCH_SNAPSHOT_ON_RSS": "1", "HEAPWATCH_SNAPSHOT_ON_RECYCLE": "0"})
    try:
        worker = wait_for(server.workers, 30, "a worker")[0]
        for _ in range(5):
            _get(server.base + "/flat/")
        wait_for(lambda: snaps(server.snaps, worker), 60, "the worker's file")
        time.sleep(1)
        for _ in range(5):
            _get(server.base + "/flat/")
        time.sleep(1)
        assert len(snaps(server.snaps, worker)) == 1
        assert server.log.read_text().count("heapwatch: capturing the heap") == 1
    finally:
        _stop(server)
