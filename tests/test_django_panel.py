"""HeapWatchPanel in the real django-debug-toolbar (5.x, 6.x or 8.x, whichever
this Python has): requests through the toolbar in a process of their own
(tests/panelapp, whose settings are not the test session's), and the panel
in a real browser against a real server (runserver)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import browser, console_errors, screenshot  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parent.parent
VIEWS = ROOT / "tests" / "panelapp" / "views.py"

pytest.importorskip("debug_toolbar")


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(extra)
    return env


def probe(steps: list[tuple[str, int]], **env: str) -> list[dict[str, Any]]:
    """Run the requests in a fresh process (tests/panelapp/probe.py)."""
    done = subprocess.run([sys.executable, "-m", "tests.panelapp.probe", json.dumps(steps)],
                          cwd=ROOT, env=_env(**env), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    result: list[dict[str, Any]] = json.loads(done.stdout)
    return result


def line_of(marker: str) -> int:
    for number, text in enumerate(VIEWS.read_text().splitlines(), 1):
        if marker in text:
            return number
    raise AssertionError(marker)


def rows(entry: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in entry["stats"]["types"]}


OWN = {"HeapWatchPanel", "_GuardCapture", "Measurement", "Memory", "TypeVerdict", "_Pair",
       "_Pending"}


@pytest.fixture(scope="module")
def with_middleware() -> list[dict[str, Any]]:
    return probe([("/leak/", 10), ("/big-queryset/", 1), ("/flat/", 40), ("/concurrent/", 1)])


@pytest.fixture(scope="module")
def without_middleware() -> list[dict[str, Any]]:
    return probe([("/leak/", 8), ("/flat/", 10)], PANELAPP_MIDDLEWARE="0")


def of(entries: list[dict[str, Any]], path: str) -> list[dict[str, Any]]:
    return [e for e in entries if e["path"] == path]


# ---- the stats -------------------------------------------------------------


def test_the_panel_shows_the_grown_type_with_its_delta(with_middleware: list[dict[str, Any]]) -> None:
    first = with_middleware[0]
    assert first["status"] == 200 and first["has_toolbar"]
    stats = first["stats"]
    assert (stats["method"], stats["path"], stats["view"]) == ("GET", "/leak/",
                                                               "tests.panelapp.views.leak")
    row = rows(first)["PanelLeak"]
    assert row["delta"] == 2000
    assert row["count"] == 2000
    assert row["bytes_delta"] > 2000 * 40
    assert row["delta_text"] == "+2,000"
    # The largest growth comes first.
    assert stats["types"][0]["name"] == "PanelLeak"
    # One request is never a leak.
    assert row["verdict"] == "not confirmed"
    assert row["note"] == "one request only"
    assert not stats["concurrent"]
    assert re.fullmatch(r"\+[\d,]+ objects, \+[\d.]+ (B|KiB|MiB)", first["subtitle"])
    assert stats["objects_delta"] >= 2000
    assert first["title"] == "Memory growth (heapwatch)"
    html = first["content"]
    assert "PanelLeak" in html and "+2,000" in html and "not confirmed" in html


def test_the_memory_split(with_middleware: list[dict[str, Any]]) -> None:
    stats = with_middleware[0]["stats"]
    mem = stats["memory"]
    assert set(mem) >= {"rss", "python_objects", "pymalloc_free", "malloc_free", "other"}
    assert mem["rss"] > mem["python_objects"] > 0
    assert [m["name"] for m in stats["memory_rows"]] == [
        "RSS", "GC-tracked objects", "pymalloc free", "malloc free", "other"]
    assert stats["rss_delta"] is not None
    assert "Process memory" in with_middleware[0]["content"]


def test_the_guard_warning_names_the_views_line(with_middleware: list[dict[str, Any]]) -> None:
    (entry,) = of(with_middleware, "/big-queryset/")
    warnings = entry["stats"]["queryset_warnings"]
    assert len(warnings) == 1
    w = warnings[0]
    where = f"{VIEWS}:{line_of('# the guard' + chr(39) + 's line')}"
    assert w["location"] == where
    assert (w["model"], w["rows"], w["code"], w["function"]) == (
        "panelapp.PanelItem", 50, "app", "big_queryset")
    assert where in w["message"] and "panelapp.PanelItem cached 50 rows" in w["message"]
    assert where in entry["content"]
    # Only the request that made it shows it.
    assert all(not e["stats"]["queryset_warnings"] for e in with_middleware
               if e["path"] != "/big-queryset/")


def test_a_leak_is_a_leak_only_once_the_middleware_confirmed_it(
        with_middleware: list[dict[str, Any]]) -> None:
    leaks = of(with_middleware, "/leak/")
    verdicts = [rows(e)["PanelLeak"]["verdict"] for e in leaks]
    assert all(r["delta"] == 2000 for r in (rows(e)["PanelLeak"] for e in leaks))
    # The middleware needs several requests (LEAK_AFTER, then a confirming
    # collection); before that the panel does not say leak.
    first = verdicts.index("leak")
    assert first >= 4, verdicts
    assert set(verdicts[:first]) == {"not confirmed"}
    assert set(verdicts[first:]) == {"leak"}
    last = leaks[-1]
    row = rows(last)["PanelLeak"]
    assert "confirmed by HeapWatchMiddleware on earlier requests" in row["note"]
    assert [k["name"] for k in last["stats"]["known_leaks"]] == ["PanelLeak"]
    assert last["stats"]["known_leaks"][0]["kept"] >= 2000
    assert "leaking type" in last["subtitle"]
    assert "<strong>leak</strong>" in last["content"]


def test_a_view_that_keeps_nothing_shows_no_leak(with_middleware: list[dict[str, Any]]) -> None:
    flats = of(with_middleware, "/flat/")
    assert len(flats) == 40
    for e in flats:
        stats = e["stats"]
        assert stats["known_leaks"] == []
        assert all(t["verdict"] != "leak" for t in stats["types"]), stats["types"]
        assert "leak" not in e["subtitle"]
        # The panel's (and the middleware's) own bookkeeping is not counted.
        assert not OWN & set(rows(e))
        assert stats["objects_delta"] < 100, stats["types"]
        assert stats["middleware"]


def test_growth_while_another_request_ran_is_concurrent(
        with_middleware: list[dict[str, Any]]) -> None:
    (entry,) = of(with_middleware, "/concurrent/")
    stats = entry["stats"]
    assert stats["concurrent"]
    assert stats["types"] and {t["verdict"] for t in stats["types"]} == {"concurrent"}
    # PanelLeak is a confirmed leak of another view, not of this one.
    assert rows(entry)["PanelLeak"]["delta"] == 10
    assert entry["subtitle"].endswith("(concurrent)")
    assert "Concurrent:" in entry["content"]


def test_without_the_middleware_nothing_is_called_a_leak(
        without_middleware: list[dict[str, Any]]) -> None:
    for e in without_middleware:
        stats = e["stats"]
        assert not stats["middleware"]
        assert all(t["verdict"] == "not confirmed" for t in stats["types"])
    leak = of(without_middleware, "/leak/")[-1]
    assert rows(leak)["PanelLeak"]["delta"] == 2000
    assert "HeapWatchMiddleware is not in" in leak["content"]


# ---- a real browser ---------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    tmp = tempfile.mkdtemp(prefix="heapwatch-panel-")
    env = _env(DJANGO_SETTINGS_MODULE="tests.panelapp.settings",
               PANELAPP_DB=os.path.join(tmp, "db.sqlite3"))
    subprocess.run([sys.executable, "-m", "django", "migrate", "--run-syncdb", "-v", "0"],
                   cwd=ROOT, env=env, check=True, timeout=120)
    port = _free_port()
    log = open(os.path.join(tmp, "server.log"), "w+")
    proc = subprocess.Popen([sys.executable, "-m", "django", "runserver", "--noreload",
                             f"127.0.0.1:{port}"], cwd=ROOT, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/flat/", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise AssertionError("runserver did not start:\n" + log.read()[-4000:])
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _toolbar_root(driver: Any) -> Any:
    """Where the toolbar's elements are: its shadow root (8.x uses one by
    default), else the page."""
    from selenium.webdriver.common.by import By

    hosts = driver.find_elements(By.ID, "djDebugRoot")   # 8.x; 5.x and 6.x have none
    shadow = driver.execute_script("return arguments[0].shadowRoot", hosts[0]) if hosts else None
    return shadow if shadow is not None else driver


def test_the_panel_in_a_browser(browser: Any, server: str) -> None:  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    driver.get(server + "/leak/")
    root = _toolbar_root(driver)
    wait = WebDriverWait(driver, 30)
    button = wait.until(lambda d: _visible(root, "#djdt-HeapWatchPanel a"))
    subtitle = button.text
    assert re.search(r"\+[\d,]+ objects, \+[\d.]+ (B|KiB|MiB)", subtitle), subtitle
    button.click()
    # 6.x and 8.x fetch the panel's content when it is opened; 5.x has it inline.
    table = wait.until(lambda d: _visible(root, "#HeapWatchPanel table.heapwatch-types"))
    text = table.text
    assert "PanelLeak" in text and "+2,000" in text
    content = root.find_element(By.CSS_SELECTOR, "#HeapWatchPanel").text
    assert "Process memory" in content and "Queryset guard" in content
    # The browser asks for /favicon.ico, which the test project does not
    # serve: that 404 is the page's, not the panel's.
    errors = [e for e in console_errors(driver) if "favicon.ico" not in e]
    assert errors == []
    path = screenshot(driver, "panel")
    assert os.path.getsize(path) > 10_000


def _visible(root: Any, css: str) -> Any:
    from selenium.webdriver.common.by import By

    found = root.find_elements(By.CSS_SELECTOR, css)
    return found[0] if found and found[0].is_displayed() else False
