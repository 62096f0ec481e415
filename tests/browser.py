"""Headless Chromium for the tests that look at pages (the HTML report, the
staff page, the debug-toolbar panel).

The browser is Debian's (packages `chromium` and `chromium-driver`, which
.ci/run installs), driven by Selenium from PyPI.  Without them the tests
skip, saying what to install; under CI (CI set) they fail instead.

    from tests.browser import browser, console_errors, screenshot  # fixtures/helpers

Screenshots go to a temporary directory, printed at the end of the run
(HEAPWATCH_SCREENSHOTS=dir keeps them elsewhere: the README's pictures are
made that way, see tools/screenshots.sh).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
DRIVER = "chromedriver"

_shots_dir: str | None = None


def _missing(what: str) -> None:
    msg = (f"{what}: the browser tests need Debian's chromium and chromium-driver "
           f"(apt-get install chromium chromium-driver) and selenium (pip)")
    if os.environ.get("CI"):
        pytest.fail(msg)
    pytest.skip(msg)


def shots_dir() -> str:
    global _shots_dir
    if _shots_dir is None:
        _shots_dir = os.environ.get("HEAPWATCH_SCREENSHOTS") or tempfile.mkdtemp(
            prefix="heapwatch-shots-")
        os.makedirs(_shots_dir, exist_ok=True)
    return _shots_dir


def screenshot(driver: Any, name: str, max_height: int = 6000) -> str:
    """Save a PNG of the page (its whole height, up to max_height pixels)
    as name.png; returns its path."""
    path = os.path.join(shots_dir(), name + ".png")
    # The full height of the page, so the screenshot shows every section.
    height = driver.execute_script(
        "return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)")
    width = driver.get_window_size()["width"]
    driver.set_window_size(width, min(max(int(height) + 40, 600), max_height))
    driver.save_screenshot(path)
    return path


def console_errors(driver: Any) -> list[str]:
    """The browser console's SEVERE entries since the last call (JavaScript
    errors, failed loads)."""
    return [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("selenium is not installed")
    binary = next((p for p in map(shutil.which, CHROMIUM) if p), None)
    driver_path = shutil.which(DRIVER)
    if binary is None or driver_path is None:
        _missing("chromium or chromedriver not found")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,900", "--hide-scrollbars", "--no-first-run",
                "--disable-extensions", "--disable-background-networking"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    profile = tempfile.mkdtemp(prefix="heapwatch-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    # The driver path is given: Selenium Manager must not go to the network.
    # The browser is not ours to instrument: the sanitizer run's preloaded
    # ASan runtime and options stay out of its environment.
    env = {k: v for k, v in os.environ.items()
           if k not in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS", "PYTHONMALLOC")}
    driver = webdriver.Chrome(options=options,
                              service=Service(executable_path=driver_path, env=env))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
