"""heapwatch.prometheus: the collector, the multiprocess gauges, the
middleware's metrics, a gunicorn app with two workers, and a real
Prometheus server scraping it."""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _missing(what: str) -> None:
    """Skip outside CI; in CI (the CI variable set) a missing tool fails."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} (required in CI)")
    pytest.skip(what)


try:
    import prometheus_client  # noqa: F401
except ImportError:  # pragma: no cover - depends on the venv
    if os.environ.get("CI"):
        raise
    pytest.skip("prometheus-client is not installed", allow_module_level=True)

from django.test import Client  # noqa: E402
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402
from prometheus_client.samples import Sample  # noqa: E402

import heapwatch.prometheus as hp  # noqa: E402
from tests.pgserver import _clean_env, _free_port  # noqa: E402
from tests.test_django_middleware import (  # noqa: E402,F401  (_clean: autouse)
    EVERY,
    LOGGER,
    _clean,
    records,
    run,
    verdicts,
)

# ---- helpers -------------------------------------------------------------------

_AUDIT = {"on": False, "censuses": 0, "veto": False}
_HOOKED: list[bool] = []


@pytest.fixture
def censuses() -> Iterator[dict[str, Any]]:
    """Counts heapwatch.census audit events (a census each: census() and
    memory()'s own); "veto" makes the census fail."""
    if not _HOOKED:
        def hook(event: str, args: tuple[Any, ...]) -> None:
            if event == "heapwatch.census" and _AUDIT["on"]:
                _AUDIT["censuses"] += 1
                if _AUDIT["veto"]:
                    raise PermissionError("no census here")
        sys.addaudithook(hook)
        _HOOKED.append(True)
    _AUDIT.update(on=True, censuses=0, veto=False)
    try:
        yield _AUDIT
    finally:
        _AUDIT.update(on=False, veto=False)


def samples(metrics: Any, name: str) -> dict[str, float]:
    """{label value: value} of the one-label samples called name."""
    out = {}
    for family in metrics:
        for s in family.samples:
            if s.name == name:
                (value,) = s.labels.values() if s.labels else ("",)
                out[value] = s.value
    return out


def value(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class PromLeak:
    """A type of its own, to find among the top types."""

    def __init__(self) -> None:
        self.payload = [1, 2, 3]


# ---- the collector -------------------------------------------------------------


def test_families_labels_and_the_other_row(censuses: dict[str, Any]) -> None:
    collector = hp.HeapCollector(top=5, interval=3600)
    families = collector.collect()
    assert [f.name for f in families] == [
        "heapwatch_objects", "heapwatch_object_bytes", "heapwatch_memory_bytes",
        "heapwatch_census_duration_seconds", "heapwatch_census_timestamp_seconds"]
    assert all(f.type == "gauge" for f in families)
    objects = samples(families, "heapwatch_objects")
    nbytes = samples(families, "heapwatch_object_bytes")
    assert list(objects) == list(nbytes)
    assert len(objects) == 6 and list(objects)[-1] == "other"
    # The rows are the census's top five by bytes, and sum to its totals.
    census = collector._reading.census  # type: ignore[union-attr]
    top = [name for name, _ in census.most_common(5, by="bytes")]
    assert list(objects)[:5] == top
    assert sum(objects.values()) == census.total_count
    assert sum(nbytes.values()) == census.total_bytes
    assert objects["other"] == census.total_count - sum(census[n].count for n in top)
    memory = samples(families, "heapwatch_memory_bytes")
    assert list(memory) == ["rss", "python_objects", "pymalloc_free", "malloc_free", "other"]
    assert memory["rss"] > 0 and memory["python_objects"] > census.total_bytes / 2
    [seconds] = samples(families, "heapwatch_census_duration_seconds").values()
    [stamp] = samples(families, "heapwatch_census_timestamp_seconds").values()
    assert 0 < seconds < 60 and abs(stamp - time.time()) < 60


def test_top_by_count_and_a_growing_type(censuses: dict[str, Any]) -> None:
    collector = hp.HeapCollector(top=20, interval=0, by="count", memory=False)
    kept = [PromLeak() for _ in range(60_000)]
    first = samples(collector.collect(), "heapwatch_objects")
    assert "heapwatch_memory_bytes" not in [f.name for f in collector.collect()]
    kept += [PromLeak() for _ in range(40_000)]
    second = samples(collector.collect(), "heapwatch_objects")
    assert (first["PromLeak"], second["PromLeak"]) == (60_000, 100_000)
    rows = [v for k, v in second.items() if k != "other"]
    assert rows == sorted(rows, reverse=True)
    del kept


def test_top_zero_is_one_other_row(censuses: dict[str, Any]) -> None:
    families = hp.HeapCollector(top=0, interval=3600, memory=False).collect()
    assert list(samples(families, "heapwatch_objects")) == ["other"]


def test_a_type_named_other_is_in_the_other_row(censuses: dict[str, Any]) -> None:
    other = type("other", (), {})
    kept = [other() for _ in range(200_000)]
    collector = hp.HeapCollector(top=3, interval=3600, by="count", memory=False)
    families = collector.collect()
    text = generate_latest(_registry_of(collector)).decode()
    assert text.count('heapwatch_objects{type="other"}') == 1
    objects = samples(families, "heapwatch_objects")
    assert len(objects) == 4 and objects["other"] >= 200_000
    assert sum(objects.values()) == collector._reading.census.total_count  # type: ignore[union-attr]
    del kept


def _registry_of(collector: Any) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(collector)
    return registry


def test_a_census_at_most_once_per_interval(censuses: dict[str, Any]) -> None:
    registry = CollectorRegistry(auto_describe=True)
    collector = hp.HeapCollector(top=5, interval=3600)
    registry.register(collector)
    assert censuses["censuses"] == 0, "registering takes no census"
    first = generate_latest(registry)
    assert censuses["censuses"] == 2, "census() and memory()'s census"
    for _ in range(5):
        assert generate_latest(registry) == first
    assert censuses["censuses"] == 2, "scrapes within the interval take none"

    censuses["censuses"] = 0
    quick = hp.HeapCollector(top=5, interval=0.3, memory=False)
    quick.collect()
    quick.collect()
    assert censuses["censuses"] == 1
    time.sleep(0.35)
    quick.collect()
    assert censuses["censuses"] == 2

    censuses["censuses"] = 0
    every = hp.HeapCollector(top=5, interval=0, memory=False)
    for _ in range(3):
        every.collect()
    assert censuses["censuses"] == 3


def test_concurrent_scrapes_share_one_census(censuses: dict[str, Any]) -> None:
    collector = hp.HeapCollector(top=5, interval=3600)
    barrier = threading.Barrier(8)
    results: list[bytes] = []
    registry = _registry_of(collector)

    def scrape() -> None:
        barrier.wait()
        results.append(generate_latest(registry))

    threads = [threading.Thread(target=scrape) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert censuses["censuses"] == 2
    assert len(set(results)) == 1 and b'heapwatch_objects{type="other"}' in results[0]


def test_collect_never_raises_and_logs_once(censuses: dict[str, Any],
                                            caplog: pytest.LogCaptureFixture) -> None:
    collector = hp.HeapCollector(top=5, interval=0, memory=False)
    served = collector.collect()
    censuses["veto"] = True
    with caplog.at_level(logging.DEBUG, logger="heapwatch.prometheus"):
        assert collector.collect() == served, "the last figures are served"
        assert collector.collect() == served
    censuses["veto"] = False
    errors = [r for r in caplog.records if r.name == "heapwatch.prometheus"]
    assert len(errors) == 1 and errors[0].levelno == logging.ERROR
    assert errors[0].exc_info is not None
    # Failing from the first scrape: the families are empty.
    censuses["veto"] = True
    assert hp.HeapCollector(top=5, interval=0).collect() == []


def test_a_failing_memory_split_leaves_the_types(monkeypatch: pytest.MonkeyPatch,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> None:
        raise RuntimeError("no allocator statistics")

    monkeypatch.setattr(hp.heapwatch, "memory", broken)
    collector = hp.HeapCollector(top=5, interval=0)
    with caplog.at_level(logging.DEBUG, logger="heapwatch.prometheus"):
        families = collector.collect()
        collector.collect()
    assert len(samples(families, "heapwatch_objects")) == 6
    assert samples(families, "heapwatch_memory_bytes") == {}
    assert len([r for r in caplog.records if r.name == "heapwatch.prometheus"]) == 1


def test_a_scrape_from_inside_the_census_does_not_wait_for_itself(
        censuses: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    # An audit hook that scrapes (on the census's own thread, the lock
    # held): it gets the last figures at once.
    collector = hp.HeapCollector(top=5, interval=0, memory=False)
    collector.collect()
    inner: list[Any] = []
    hook_state = {"armed": True}

    def scrape_inside(event: str, args: tuple[Any, ...]) -> None:
        if event == "heapwatch.census" and hook_state["armed"]:
            hook_state["armed"] = False
            inner.append(collector.collect())

    sys.addaudithook(scrape_inside)
    try:
        with caplog.at_level(logging.DEBUG, logger="heapwatch.prometheus"):
            outer = collector.collect()
    finally:
        hook_state["armed"] = False
    assert caplog.records == [], "no nested census was tried"
    assert len(inner) == 1 and len(samples(inner[0], "heapwatch_objects")) == 6
    assert len(samples(outer, "heapwatch_objects")) == 6


@pytest.mark.parametrize("kwargs, error", [
    ({"top": "20"}, TypeError),
    ({"top": True}, TypeError),
    ({"top": 2.0}, TypeError),
    ({"top": -1}, ValueError),
    ({"interval": "60"}, TypeError),
    ({"interval": None}, TypeError),
    ({"interval": -1}, ValueError),
    ({"interval": math.nan}, ValueError),
    ({"interval": math.inf}, ValueError),
    ({"by": "size"}, ValueError),
    ({"by": b"bytes"}, TypeError),
    ({"memory": 1}, TypeError),
    ({"fullnames": "yes"}, TypeError),
])
def test_bad_arguments(kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        hp.HeapCollector(**kwargs)
    with pytest.raises(error):
        hp.HeapPublisher(**kwargs)
    with pytest.raises(error):
        hp.install(CollectorRegistry(), **kwargs)


def test_bad_arguments_of_the_publisher_and_install() -> None:
    with pytest.raises(ValueError, match="interval"):
        hp.HeapPublisher(interval=0)
    with pytest.raises(TypeError, match="registry"):
        hp.install("REGISTRY")  # type: ignore[arg-type]


def test_fullnames(censuses: dict[str, Any]) -> None:
    kept = [PromLeak() for _ in range(100_000)]
    families = hp.HeapCollector(top=50, interval=3600, by="count", fullnames=True,
                                memory=False).collect()
    assert samples(families, "heapwatch_objects")["tests.test_prometheus.PromLeak"] == 100_000
    del kept


def test_install_registers_the_heap_and_the_request_metrics() -> None:
    registry = CollectorRegistry()
    collector = hp.install(registry, top=3, interval=3600, memory=False)
    assert isinstance(collector, hp.HeapCollector)
    text = generate_latest(registry).decode()
    names = {f.name for f in text_string_to_metric_families(text)}
    assert {"heapwatch_objects", "heapwatch_object_bytes", "heapwatch_request_objects_delta",
            "heapwatch_request_bytes_delta", "heapwatch_leak_verdicts"} <= names
    with pytest.raises(ValueError):
        hp.install(registry)
    # Another registry gets its own collector, and the request metrics too.
    other = CollectorRegistry()
    hp.install(other, top=3, memory=False)
    assert b"heapwatch_request_objects_delta" in generate_latest(other)


# ---- the multiprocess gauges, in this process ------------------------------------------


def test_publisher_keeps_a_types_series_once_shown(censuses: dict[str, Any]) -> None:
    publisher = hp.HeapPublisher(top=1, interval=3600, memory=False)
    publisher.refresh()
    assert censuses["censuses"] == 1
    [first] = [k for k in samples(publisher.collect(), "heapwatch_objects") if k != "other"]
    # Types that become the largest in turn: each gets a series, and keeps
    # it once gone (a series cannot leave the multiprocess files), until
    # 4 x top types have one.
    for i in range(5):
        big = type(f"PromBig{i}", (list,), {})
        kept = [big(range(1000)) for _ in range(3000)]
        publisher.refresh()
        del kept
    publisher.refresh()
    objects = samples(publisher.collect(), "heapwatch_objects")
    nbytes = samples(publisher.collect(), "heapwatch_object_bytes")
    assert set(objects) == {first, "PromBig0", "PromBig1", "PromBig2", "other"}
    assert objects["PromBig1"] == 0 and nbytes["PromBig1"] == 0
    assert objects[first] > 0
    assert "heapwatch_memory_bytes" not in [f.name for f in publisher.collect()]


def test_publisher_thread_refreshes_every_interval(censuses: dict[str, Any]) -> None:
    publisher = hp.HeapPublisher(top=5, interval=0.1, memory=True).start()
    try:
        assert publisher.running
        with pytest.raises(RuntimeError):
            publisher.start()
        deadline = time.monotonic() + 10
        while censuses["censuses"] < 6 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        publisher.stop(timeout=10)
    assert not publisher.running
    assert censuses["censuses"] >= 6
    memory = samples(publisher.collect(), "heapwatch_memory_bytes")
    assert memory["rss"] > 0


def test_child_exit_outside_multiprocess_mode_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.delenv("prometheus_multiproc_dir", raising=False)
    hp.child_exit(None, type("Worker", (), {"pid": 12345})())


def test_child_exit_removes_the_dead_workers_gauges(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    for name in ("gauge_liveall_4242.db", "gauge_liveall_4243.db", "counter_4242.db"):
        (tmp_path / name).write_bytes(b"")
    hp.child_exit(None, type("Worker", (), {"pid": 4242})())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["counter_4242.db",
                                                           "gauge_liveall_4243.db"]


# ---- the middleware's metrics ------------------------------------------------------------

LEAKY = "tests.djangoapp.views.leaky"


def test_middleware_counts_leak_verdicts_and_request_growth(
        client: Client, settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    settings.HEAPWATCH = {**EVERY, "PROMETHEUS": True}
    leaks0 = value("heapwatch_leak_verdicts_total", {"view": LEAKY, "type": "FirstModel"})
    count0 = value("heapwatch_request_objects_delta_count", {"view": LEAKY})
    sum0 = value("heapwatch_request_objects_delta_sum", {"view": LEAKY})
    bytes0 = value("heapwatch_request_bytes_delta_count", {"view": LEAKY})
    under = {le: value("heapwatch_request_objects_delta_bucket", {"view": LEAKY, "le": le})
             for le in ("1000.0", "10000.0")}
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        run(client, "/leaky/?n=2000", 8)
    every = records(caplog)
    assert len(every) == 8, "every request measured, over MIN_OBJECTS"
    leaked = [r for r in every if verdicts(r).get("FirstModel") == "leak"]
    assert leaked, "the leak was found"
    assert (value("heapwatch_leak_verdicts_total", {"view": LEAKY, "type": "FirstModel"})
            - leaks0) == len(leaked)
    assert value("heapwatch_request_objects_delta_count", {"view": LEAKY}) - count0 == 8
    assert value("heapwatch_request_bytes_delta_count", {"view": LEAKY}) - bytes0 == 8
    grown = sum(max(r.heapwatch["objects_delta"], 0) for r in every)  # type: ignore[attr-defined]
    assert value("heapwatch_request_objects_delta_sum", {"view": LEAKY}) - sum0 == grown
    # 2,000 rows (4,000 objects and a few) each: all between 1,000 and 10,000.
    added = {le: value("heapwatch_request_objects_delta_bucket", {"view": LEAKY, "le": le})
             - under[le] for le in under}
    assert added == {"1000.0": 0, "10000.0": 8}


def test_middleware_metrics_are_off_by_default(client: Client) -> None:
    before = value("heapwatch_request_objects_delta_count", {"view": LEAKY})
    run(client, "/leaky/?n=2000", 3)
    assert value("heapwatch_request_objects_delta_count", {"view": LEAKY}) == before


def test_observe_record() -> None:
    view = "tests.observe"
    hp.observe_record({"view": view, "objects_delta": -500, "bytes_delta": -1,
                       "verdict": "no leak", "types": []})
    assert value("heapwatch_request_objects_delta_bucket", {"view": view, "le": "0.0"}) == 1
    assert value("heapwatch_request_objects_delta_sum", {"view": view}) == 0
    hp.observe_record({"view": view, "objects_delta": 9000, "bytes_delta": 1 << 20,
                       "verdict": "concurrent", "types": []})
    assert value("heapwatch_request_objects_delta_count", {"view": view}) == 1, \
        "a concurrent measurement is not the view's growth"
    hp.observe_record({"view": view, "objects_delta": 4000, "bytes_delta": 200_000,
                       "verdict": "leak",
                       "types": [{"name": "Row", "verdict": "leak"},
                                 {"name": "dict", "verdict": "warm-up"}]})
    assert value("heapwatch_leak_verdicts_total", {"view": view, "type": "Row"}) == 1
    assert value("heapwatch_leak_verdicts_total", {"view": view, "type": "dict"}) == 0
    assert value("heapwatch_request_bytes_delta_bucket", {"view": view, "le": "262144.0"}) == 2


def test_observe_record_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="heapwatch.prometheus"):
        hp.observe_record({"view": "tests.bad", "objects_delta": "many"})
        hp.observe_record({"view": "tests.bad", "types": [None]})


# The middleware imports prometheus_client only when PROMETHEUS is on, and
# without it says so once and serves on.  In a process of its own (this one
# has imported it), with Django configured in the script: tests.djangoapp's
# settings would start a PostgreSQL server.
_IMPORTS = """
import json, logging, sys
mode = sys.argv[1]
if mode == "missing":
    sys.modules["prometheus_client"] = None
import django
from django.conf import settings
settings.configure(
    SECRET_KEY="x", ALLOWED_HOSTS=["*"], ROOT_URLCONF="tests.djangoapp.urls", DATABASES={},
    INSTALLED_APPS=["heapwatch.django"],
    MIDDLEWARE=["heapwatch.django.middleware.HeapWatchMiddleware"],
    HEAPWATCH={"SAMPLE_RATE": 1.0, "PROMETHEUS": mode != "off"})
django.setup()
seen = []
handler = logging.Handler(logging.WARNING)
handler.emit = seen.append
logging.getLogger("heapwatch").addHandler(handler)
from django.test import Client
client = Client()
status = [client.get("/leaky/?n=100").status_code for _ in range(3)]
print(json.dumps({"status": status, "imported": sys.modules.get("prometheus_client") is not None,
                  "warnings": [r.getMessage() for r in seen]}))
"""


@pytest.mark.parametrize("mode, imported, warned", [
    ("off", False, 0), ("on", True, 0), ("missing", False, 1)])
def test_prometheus_client_is_imported_only_when_on(mode: str, imported: bool,
                                                    warned: int) -> None:
    out = subprocess.run([sys.executable, "-c", _IMPORTS, mode], cwd=ROOT, check=True,
                         capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, PYTHONPATH=str(ROOT))).stdout
    result = json.loads(out.splitlines()[-1])
    assert result["status"] == [200, 200, 200]
    assert result["imported"] is imported
    assert len(result["warnings"]) == warned
    if warned:
        assert "PROMETHEUS is on" in result["warnings"][0]


# ---- gunicorn, two workers, multiprocess mode ---------------------------------------------

# The app: Django (tests.djangoapp's views, with the middleware) and, at
# /metrics, prometheus_client's exporter of the multiprocess files.
_SETTINGS = """
SECRET_KEY = "heapwatch-tests-not-secret"
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "tests.djangoapp.urls"
INSTALLED_APPS = ["heapwatch.django"]
MIDDLEWARE = ["heapwatch.django.middleware.HeapWatchMiddleware"]
DATABASES = {}
HEAPWATCH = {"SAMPLE_RATE": 1.0, "PROMETHEUS": True, "MIN_OBJECTS": 1000,
             "MIN_BYTES": 1 << 40, "MIN_RSS": 1 << 40}
LOGGING = {"version": 1, "disable_existing_loggers": False}
"""

_WSGI = """
from django.core.wsgi import get_wsgi_application
from prometheus_client import CollectorRegistry, make_wsgi_app, multiprocess

_django = get_wsgi_application()
_registry = CollectorRegistry()
multiprocess.MultiProcessCollector(_registry)
_metrics = make_wsgi_app(_registry)


def application(environ, start_response):
    if environ.get("PATH_INFO") == "/metrics":
        return _metrics(environ, start_response)
    return _django(environ, start_response)
"""

# As the README says, plus a census every second for the test.
_GUNICORN_CONF = """
from heapwatch.prometheus import child_exit  # noqa: F401


def post_worker_init(worker):
    import heapwatch.prometheus
    heapwatch.prometheus.install(top=20, interval=1)


control_socket_disable = True    # gunicorn 24+: no control socket in $HOME
"""

LEAK_PATH = "/slow/?s=0.02&leak=1"     # 2,000 FirstModel kept per request
SLOW = "tests.djangoapp.views.slow"


def get(url: str, timeout: float = 30) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        body: bytes = response.read()
        return body


def scrape(base: str) -> list[Sample]:
    text = get(base + "/metrics").decode()
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def leak(base: str, n: int) -> None:
    """n leaking requests, two at a time (one per worker, mostly)."""
    for _ in range(0, n, 2):
        pair = [threading.Thread(target=get, args=(base + LEAK_PATH,)) for _ in range(2)]
        for t in pair:
            t.start()
        for t in pair:
            t.join()


def wait_for(check: Callable[[], Any], timeout: float, what: str,
             between: Callable[[], None] = lambda: time.sleep(0.2)) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        between()


class Shop:
    def __init__(self, base: str, proc: subprocess.Popen[bytes], log: Path, mp: Path) -> None:
        self.base, self.proc, self.log, self.mp = base, proc, log, mp


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    import importlib.util

    if importlib.util.find_spec("gunicorn") is None:
        _missing("gunicorn is not installed")
    tmp = tmp_path_factory.mktemp("promshop")
    (tmp / "promshop_settings.py").write_text(_SETTINGS)
    (tmp / "promshop_wsgi.py").write_text(_WSGI)
    (tmp / "gunicorn_conf.py").write_text(_GUNICORN_CONF)
    mp = tmp / "multiproc"
    mp.mkdir()
    port = _free_port()
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(mp), PYTHONPATH=f"{tmp}:{ROOT}",
               DJANGO_SETTINGS_MODULE="promshop_settings")
    log = tmp / "gunicorn.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "promshop_wsgi:application",
             "-c", str(tmp / "gunicorn_conf.py"), "--workers", "2",
             "--bind", f"127.0.0.1:{port}", "--timeout", "120", "--log-level", "warning"],
            cwd=tmp, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        def up() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"gunicorn exited:\n{log.read_text()}")
            try:
                get(base + "/flat/", timeout=5)
                return True
            except OSError:
                return False
        wait_for(up, 60, "gunicorn to serve")
        yield Shop(base, proc, log, mp)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def pids_with(samples_: list[Sample], name: str, **labels: str) -> dict[str, float]:
    """{pid: value} of the samples called name with these labels."""
    return {s.labels["pid"]: s.value for s in samples_
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())}


def test_gunicorn_workers_publish_their_heaps(shop: Shop) -> None:
    def both_workers() -> dict[str, float] | None:
        found = pids_with(scrape(shop.base), "heapwatch_objects", type="FirstModel")
        return found if len(found) == 2 and min(found.values()) > 0 else None

    found = wait_for(both_workers, 60, "FirstModel series from both workers",
                     between=lambda: leak(shop.base, 4))
    first = scrape(shop.base)
    for name in ("heapwatch_objects", "heapwatch_object_bytes"):
        assert len(pids_with(first, name, type="other")) == 2
    rss = pids_with(first, "heapwatch_memory_bytes", kind="rss")
    assert set(rss) == set(found) and min(rss.values()) > 10 << 20
    # The leak keeps rising, in every worker that serves it.
    leak(shop.base, 8)

    def risen() -> bool:      # after a refresh in each worker (interval=1)
        later = pids_with(scrape(shop.base), "heapwatch_objects", type="FirstModel")
        return sum(later.values()) >= sum(found.values()) + 8 * 2000
    wait_for(risen, 30, "the FirstModel series to rise by 16,000")

    # The request metrics are summed over the workers; a leak verdict comes
    # once a worker measured its view a few times.
    def leak_counted() -> float:
        return sum(s.value for s in scrape(shop.base)
                   if s.name == "heapwatch_leak_verdicts_total"
                   and s.labels == {"view": SLOW, "type": "FirstModel"})
    assert wait_for(leak_counted, 60, "a leak verdict", between=lambda: leak(shop.base, 4)) > 0
    assert sum(s.value for s in scrape(shop.base)
               if s.name == "heapwatch_request_objects_delta_count"
               and s.labels == {"view": SLOW}) >= 8


def test_a_dead_workers_series_go(shop: Shop) -> None:
    before = pids_with(scrape(shop.base), "heapwatch_memory_bytes", kind="rss")
    assert len(before) == 2
    victim = sorted(before)[0]
    os.kill(int(victim), signal.SIGKILL)

    def replaced() -> set[str] | None:
        pids = set(pids_with(scrape(shop.base), "heapwatch_memory_bytes", kind="rss"))
        return pids if victim not in pids and len(pids) == 2 else None

    # child_exit() dropped its gauges; the new worker publishes its own.
    pids = wait_for(replaced, 60, "the killed worker's series to go")
    assert set(before) - {victim} < pids
    assert not list(shop.mp.glob(f"gauge_liveall_{victim}.db"))


# ---- a real Prometheus server -------------------------------------------------------------

_PROMETHEUS_CONF = """
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: shop
    static_configs:
      - targets: ["127.0.0.1:{port}"]
"""


def _query(api: str, promql: str) -> list[dict[str, Any]]:
    url = f"{api}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    answer = json.loads(get(url, timeout=10))
    assert answer["status"] == "success", answer
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def test_prometheus_sees_the_leaking_type_rise(shop: Shop, tmp_path: Path) -> None:
    binary = shutil.which("prometheus")
    if binary is None:
        _missing("the prometheus binary is not installed (Debian: apt-get install prometheus)")
        return
    port = _free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(_PROMETHEUS_CONF.replace("{port}", shop.base.rsplit(":", 1)[1]))
    log = tmp_path / "prometheus.log"
    api = f"http://127.0.0.1:{port}"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            stdout=out, stderr=subprocess.STDOUT, env=_clean_env(), cwd=tmp_path)
    try:
        def ready() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"prometheus exited:\n{log.read_text()}")
            try:
                return get(api + "/-/ready", timeout=2) is not None
            except OSError:
                return False
        wait_for(ready, 60, "prometheus to be ready")

        # Leaking requests go on while Prometheus scrapes every second; its
        # query API must show the type's series rising from scrape to scrape.
        seen: list[float] = []

        def risen() -> bool:
            result = _query(api, 'sum(heapwatch_objects{type="FirstModel"})')
            if result:
                v = float(result[0]["value"][1])
                if not seen or v != seen[-1]:
                    seen.append(v)
            return len(seen) >= 4

        wait_for(risen, 60, "the FirstModel series to rise in Prometheus",
                 between=lambda: (leak(shop.base, 2), time.sleep(0.5)))
        assert seen == sorted(seen) and seen[-1] > seen[0], seen
        per_worker = _query(api, 'heapwatch_objects{type="FirstModel"}')
        assert per_worker and all(r["metric"]["job"] == "shop" and "pid" in r["metric"]
                                  for r in per_worker)
        assert _query(api, 'up{job="shop"}')[0]["value"][1] == "1"

        def counted() -> bool:
            result = _query(api, 'sum(heapwatch_leak_verdicts_total{type="FirstModel"})')
            return bool(result) and float(result[0]["value"][1]) > 0
        wait_for(counted, 60, "leak verdicts in Prometheus",
                 between=lambda: (leak(shop.base, 2), time.sleep(0.5)))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
