"""The pytest plugin (heapwatch.pytest_plugin), run by pytester in a
subprocess on small test files: leaking, clean, garbage cycles, caches
that fill once, fixtures; the flag, the marker, the options; xdist,
pytest-django and pytest-asyncio; and heapwatch.no_leaks() and the Django
test runner, which share its check."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import heapwatch
from heapwatch._leaks import LeakError, check, no_leaks

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
IN_CI = bool(os.environ.get("CI"))

def _django_project(tmp_path: Path, tests_source: str) -> dict[str, str]:
    """A small project in tmp_path (no database: SimpleTestCase and the
    client need none) whose app `leakapp` holds tests_source; returns the
    environment to run it."""
    (tmp_path / "leakapp").mkdir()
    (tmp_path / "leakapp" / "__init__.py").write_text("")
    (tmp_path / "leakapp" / "tests.py").write_text(textwrap.dedent(tests_source))
    (tmp_path / "leakurls.py").write_text(textwrap.dedent("""
        from django.http import HttpResponse
        from django.urls import path
        urlpatterns = [path("flat/", lambda request: HttpResponse("ok"))]
    """))
    (tmp_path / "leaksettings.py").write_text(textwrap.dedent("""
        SECRET_KEY = "x"
        DEBUG = False
        ALLOWED_HOSTS = ["*"]
        ROOT_URLCONF = "leakurls"
        INSTALLED_APPS = ["heapwatch.django", "leakapp"]
        MIDDLEWARE = []
        DATABASES = {}
        USE_TZ = True
        TEST_RUNNER = "heapwatch.django.test.HeapWatchRunner"
    """))
    return dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}{ROOT / 'src'}",
                DJANGO_SETTINGS_MODULE="leaksettings")


LEAKY = """
    import pytest

    class Row:
        pass

    CACHE = []

    def test_leaky():
        CACHE.extend(Row() for _ in range(50))

    def test_clean():
        rows = [Row() for _ in range(50)]
        assert len(rows) == 50

    def test_cycle():
        a = []
        a.append(a)
        d = {"self": None}
        d["self"] = d

    def test_warm_up_cache():
        import re, functools, typing, logging
        logging.getLogger("app.checkout").info("once")
        re.compile(r"x{%d}" % 3)
        @functools.lru_cache(maxsize=None)
        def f(n):
            return n
        f(1)
        typing.List[int]
        _ONCE.setdefault("key", [Row() for _ in range(10)])

    _ONCE = {}
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """pytest in a subprocess, in pytester's directory; pytest-django only
    when asked for (the outer run's DJANGO_SETTINGS_MODULE is not the
    inner one's)."""
    if "django" not in args:
        pytester._monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
        args = ("-p", "no:django", *args)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider",
                                         "-W", "ignore::pytest.PytestAssertRewriteWarning",
                                         *args)


def test_off_by_default_changes_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x=textwrap.dedent(LEAKY))
    result = run(pytester, "-q")
    result.assert_outcomes(passed=4)


def test_the_flag_fails_the_leaking_test_only(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x=textwrap.dedent(LEAKY))
    result = run(pytester, "-q", "--heapwatch-leaks")
    result.assert_outcomes(passed=3, failed=1)
    out = result.stdout.str()
    assert "FAILED test_x.py::test_leaky" in out
    result.stdout.fnmatch_lines([
        "*test_x.py::test_leaky leaked: 150 objects of 1 type(s) grew on each of 3 runs "
        "(after 1 warm-up run(s)):",
        "*  test_x.Row: +50 per run (+50, +50, +50), * per run",
        "*    50 of the last run's held via module test_x .CACHE -> list [[]*[]], * retained",
        "*    e.g. module test_x .CACHE -> list [[]1*[]] -> Row",
    ])
    # The message, not heapwatch's traceback.
    assert "_leaks.py" not in out


def test_the_marker_checks_without_the_flag(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_m=textwrap.dedent("""
        import pytest
        KEPT = []

        class Row:
            pass

        @pytest.mark.heapwatch_leaks(runs=4, warmup=2)
        def test_marked():
            KEPT.append(Row())

        def test_unmarked():
            KEPT.append(Row())
    """))
    result = run(pytester, "-q")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*test_m.py::test_marked leaked: 4 objects of 1 type(s) grew on each of 4 runs "
        "(after 2 warm-up run(s)):",
        "*  test_m.Row: +1 per run (+1, +1, +1, +1)*",
    ])


def test_max_objects_ignore_and_types(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_o=textwrap.dedent("""
        import pytest
        class Row:
            pass
        class Other:
            pass
        KEPT = []

        @pytest.mark.heapwatch_leaks(max_objects=30)
        def test_within_allowance():
            KEPT.append(Row())

        @pytest.mark.heapwatch_leaks(ignore=["Row"])
        def test_ignored():
            KEPT.append(Row())

        @pytest.mark.heapwatch_leaks(types=[Other])
        def test_only_other():
            KEPT.append(Row())

        @pytest.mark.heapwatch_leaks(types=["Other"])
        def test_other_leaks():
            KEPT.append(Other())
    """))
    result = run(pytester, "-q")
    result.assert_outcomes(passed=3, failed=1)
    assert "FAILED test_o.py::test_other_leaks" in result.stdout.str()


def test_global_max_growth_and_ini_ignore(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_g=textwrap.dedent("""
        class Row:
            pass
        class Kept:
            pass
        KEPT = []

        def test_small():
            KEPT.append(Row())

        def test_ignored_by_ini():
            KEPT.extend(Kept() for _ in range(100))
    """))
    pytester.makeini("[pytest]\nheapwatch_ignore = Kept\n")
    run(pytester, "-q", "--heapwatch-leaks", "--heapwatch-max-growth=5").assert_outcomes(passed=2)
    run(pytester, "-q", "--heapwatch-leaks").assert_outcomes(passed=1, failed=1)


def test_fixture_objects_are_not_the_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_f=textwrap.dedent("""
        import pytest

        class Big:
            pass

        @pytest.fixture
        def big():
            return [Big() for _ in range(1000)]

        @pytest.fixture(scope="module")
        def shared():
            return {"rows": [Big() for _ in range(500)]}

        def test_uses_fixtures(big, shared):
            assert len(big) == 1000 and len(shared["rows"]) == 500
    """))
    run(pytester, "-q", "--heapwatch-leaks").assert_outcomes(passed=1)


def test_bad_marker_arguments_are_an_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_b=textwrap.dedent("""
        import pytest

        @pytest.mark.heapwatch_leaks(rounds=3)
        def test_typo():
            pass
    """))
    result = run(pytester, "-q")
    assert result.ret != 0
    assert "unknown argument(s) rounds" in result.stdout.str() + result.stderr.str()


def test_async_tests(pytester: pytest.Pytester) -> None:
    if importlib.util.find_spec("pytest_asyncio") is None:
        pytest.skip("pytest-asyncio is not installed")
    pytester.makepyfile(test_a=textwrap.dedent("""
        import asyncio
        import pytest

        class Row:
            pass
        KEPT = []

        @pytest.mark.asyncio
        async def test_async_leak():
            await asyncio.sleep(0)
            KEPT.extend(Row() for _ in range(20))

        @pytest.mark.asyncio
        async def test_async_clean():
            await asyncio.sleep(0)
            rows = [Row() for _ in range(20)]
    """))
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    result = run(pytester, "-q", "--heapwatch-leaks")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_async_leak leaked: 60 objects*", "*Row: +20 per run*"])


def test_xdist(pytester: pytest.Pytester) -> None:
    if importlib.util.find_spec("xdist") is None:
        if IN_CI:
            pytest.fail("pytest-xdist is not installed (required in CI)")
        pytest.skip("pytest-xdist is not installed")
    pytester.makepyfile(test_x=textwrap.dedent(LEAKY))
    result = run(pytester, "-q", "--heapwatch-leaks", "-n", "2")
    result.assert_outcomes(passed=3, failed=1)
    assert "Row: +50 per run" in result.stdout.str()


def test_pytest_django(pytester: pytest.Pytester) -> None:
    if importlib.util.find_spec("pytest_django") is None:
        pytest.skip("pytest-django is not installed")
    env = _django_project(pytester.path, """
        from django.test import SimpleTestCase

        class Row:
            pass
        KEPT = []

        def test_view(client):
            assert client.get("/flat/").status_code == 200

        def test_view_that_keeps(client):
            client.get("/flat/")
            KEPT.extend(Row() for _ in range(10))

        class ViewTests(SimpleTestCase):
            def test_in_testcase(self):
                self.assertEqual(self.client.get("/flat/").status_code, 200)
    """)
    pytester._monkeypatch.setenv("PYTHONPATH", env["PYTHONPATH"])
    pytester._monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "leaksettings")
    pytester.makeini("[pytest]\nDJANGO_SETTINGS_MODULE = leaksettings\n"
                     "django_find_project = false\n")
    result = run(pytester, "-q", "--heapwatch-leaks", "-p", "django", "leakapp/tests.py")
    result.assert_outcomes(passed=2, failed=1)
    assert "FAILED leakapp/tests.py::test_view_that_keeps" in result.stdout.str()
    assert "Row: +10 per run" in result.stdout.str()


# ---- no_leaks() ---------------------------------------------------------------------


class Row:
    pass


KEEP: list[Row] = []


def test_no_leaks_passes_clean_code_and_returns_the_report() -> None:
    report = no_leaks(lambda: [Row() for _ in range(100)])
    assert not report.failed and report.runs == 3 and len(report.growth) == 3


def test_no_leaks_raises_with_the_path() -> None:
    with pytest.raises(LeakError) as e:
        heapwatch.no_leaks(lambda: KEEP.extend(Row() for _ in range(7)), runs=2)
    text = str(e.value)
    assert "leaked: 14 objects of 1 type(s) grew on each of 2 runs" in text
    assert "Row: +7 per run (+7, +7)" in text
    assert "held via module tests.test_pytest_plugin .KEEP -> list [*]" in text
    assert isinstance(e.value, AssertionError)
    assert e.value.report.leaks[0].type == "tests.test_pytest_plugin.Row"
    KEEP.clear()


def test_no_leaks_as_a_decorator() -> None:
    @heapwatch.no_leaks(runs=2)
    def keeps(n: int) -> None:
        KEEP.extend(Row() for _ in range(n))

    with pytest.raises(LeakError, match="Row: \\+3 per run"):
        keeps(3)
    KEEP.clear()


def test_check_arguments() -> None:
    with pytest.raises(TypeError, match="callable"):
        check(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="runs must be >= 1"):
        check(lambda: None, runs=0)
    with pytest.raises(TypeError, match="ignore must be a list of type names"):
        check(lambda: None, ignore="Row")  # type: ignore[arg-type]


# ---- the Django test runner ------------------------------------------------------------


def test_django_test_runner_option(tmp_path: Path) -> None:
    env = _django_project(tmp_path, """
        from django.test import SimpleTestCase

        KEPT = []

        class Row:
            pass

        class Tests(SimpleTestCase):
            def test_clean(self):
                self.assertEqual(self.client.get("/flat/").status_code, 200)

            def test_keeps(self):
                KEPT.extend(Row() for _ in range(5))
    """)
    base = [sys.executable, "-m", "django", "test", "leakapp", "-v", "1"]
    plain = subprocess.run(base, capture_output=True, text=True, env=env, cwd=tmp_path,
                           timeout=300)
    assert plain.returncode == 0, plain.stderr
    checked = subprocess.run(base + ["--heapwatch-leaks"], capture_output=True, text=True,
                             env=env, cwd=tmp_path, timeout=300)
    assert checked.returncode == 1, checked.stderr
    assert "FAIL: test_keeps (leakapp.tests.Tests" in checked.stderr
    assert "Row: +5 per run (+5, +5, +5)" in checked.stderr
    assert "held via module leakapp.tests .KEPT -> list [*]" in checked.stderr
    assert "Ran 2 tests" in checked.stderr and "failures=1" in checked.stderr
