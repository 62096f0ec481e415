"""pytest plugin: fail a test that leaks, and say what holds the leak.

Installed with heapwatch (entry point pytest11 "heapwatch") and inert
unless asked: with neither --heapwatch-leaks nor the marker, the only hook
that runs per test looks for the marker and returns.

    pytest --heapwatch-leaks                    # every test
    @pytest.mark.heapwatch_leaks(runs=5)        # this test, flag or not

A checked test's body runs warmup times, then runs times between censuses
(heapwatch._leaks.check); the test fails when some type grew on every
measured run by more than max_objects in all, with each type's growth per
run and the path that holds one of its new objects.  The body is run
again through the test item itself (item.runtest), so async tests
(pytest-asyncio), unittest and Django TestCase methods run as they would;
fixtures are set up once, before the first census, so what they create is
not counted against the test.  Under xdist each worker checks its own
tests.

Options: --heapwatch-max-growth=N (the default max_objects), the ini
option heapwatch_ignore (type names never reported, one per line or
space-separated), and the marker's warmup, runs, types, ignore and
max_objects.
"""

from __future__ import annotations

from typing import Any

import pytest

MARKER = "heapwatch_leaks"
_OPTIONS = ("warmup", "runs", "types", "ignore", "max_objects")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("heapwatch", "heapwatch: object leaks")
    group.addoption("--heapwatch-leaks", action="store_true", default=False,
                    help="check every test for objects left behind on each of several runs "
                         "(slower: each test body runs warmup + runs times)")
    group.addoption("--heapwatch-max-growth", type=int, default=None, metavar="N",
                    help="objects a checked test may leave behind in all its runs "
                         "(default 0)")
    parser.addini("heapwatch_ignore", type="args", default=[],
                  help="type names heapwatch never reports as leaks")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(warmup=1, runs=3, types=None, ignore=(), max_objects=0): fail the test "
        f"when objects of some type are left behind on each run (heapwatch), with or without "
        f"--heapwatch-leaks")


def _settings(item: pytest.Item) -> dict[str, Any] | None:
    """The check's arguments for this item, or None when it is not checked."""
    marker = item.get_closest_marker(MARKER)
    if marker is None and not item.config.getoption("heapwatch_leaks"):
        return None
    kwargs: dict[str, Any] = {"warmup": 1, "runs": 3, "max_objects": 0}
    default_max = item.config.getoption("heapwatch_max_growth")
    if default_max is not None:
        kwargs["max_objects"] = default_max
    ignore = list(item.config.getini("heapwatch_ignore"))
    if marker is not None:
        if marker.args:
            raise pytest.UsageError(f"@pytest.mark.{MARKER} takes keyword arguments only "
                                    f"({', '.join(_OPTIONS)})")
        unknown = set(marker.kwargs) - set(_OPTIONS)
        if unknown:
            raise pytest.UsageError(f"@pytest.mark.{MARKER}: unknown argument(s) "
                                    f"{', '.join(sorted(unknown))}; it takes "
                                    f"{', '.join(_OPTIONS)}")
        kwargs.update({k: v for k, v in marker.kwargs.items() if k != "ignore"})
        ignore += list(marker.kwargs.get("ignore", ()))
    kwargs["ignore"] = ignore
    return kwargs


# An old-style hook wrapper (hookwrapper=True): every pytest from 6 on
# takes it, where wrapper=True needs a recent pluggy.
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    settings = _settings(item)
    if settings is None:
        yield
        return
    from heapwatch._leaks import check

    own = "runtest" in vars(item)      # another plugin's replacement, kept
    original = item.runtest

    def checked() -> None:
        report = check(original, name=item.nodeid, **settings)
        if report.failed:
            # The report is the message; heapwatch's frames would add nothing.
            pytest.fail(report.message(), pytrace=False)

    item.runtest = checked  # type: ignore[method-assign]
    try:
        yield
    finally:
        if own:
            item.runtest = original  # type: ignore[method-assign]
        else:
            del item.runtest

