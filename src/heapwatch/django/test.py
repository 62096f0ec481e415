"""A Django test runner with heapwatch's leak check: `manage.py test
--heapwatch-leaks` with TEST_RUNNER = "heapwatch.django.test.HeapWatchRunner".

With the flag, each test method runs warmup + runs times inside its own
setUp/tearDown (so what setUp and class fixtures make is not counted) and
fails, with the report heapwatch.no_leaks() gives, when some type grew on
every run; --heapwatch-runs, --heapwatch-warmup and --heapwatch-max-growth
set the check.  Without the flag it is Django's DiscoverRunner.
"""

from __future__ import annotations

import functools
import unittest
from argparse import ArgumentParser
from collections.abc import Iterator
from typing import Any

from django.test.runner import DiscoverRunner

from heapwatch._leaks import check

__all__ = ["HeapWatchRunner"]


def _tests(suite: unittest.TestSuite | unittest.TestCase) -> Iterator[unittest.TestCase]:
    if isinstance(suite, unittest.TestSuite):
        for t in suite:
            yield from _tests(t)
    else:
        yield suite


class HeapWatchRunner(DiscoverRunner):
    def __init__(self, heapwatch_leaks: bool = False, heapwatch_runs: int = 3,
                 heapwatch_warmup: int = 1, heapwatch_max_growth: int = 0,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.heapwatch_leaks = heapwatch_leaks
        self.heapwatch_settings = {"runs": heapwatch_runs, "warmup": heapwatch_warmup,
                                   "max_objects": heapwatch_max_growth}

    @classmethod
    def add_arguments(cls, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--heapwatch-leaks", action="store_true",
                            help="fail a test whose objects of some type are left behind on "
                                 "each of several runs (heapwatch)")
        parser.add_argument("--heapwatch-runs", type=int, default=3, metavar="N",
                            help="measured runs of each test (default 3)")
        parser.add_argument("--heapwatch-warmup", type=int, default=1, metavar="N",
                            help="unmeasured runs first (default 1)")
        parser.add_argument("--heapwatch-max-growth", type=int, default=0, metavar="N",
                            help="objects a test may leave behind in all its runs (default 0)")

    def build_suite(self, *args: Any, **kwargs: Any) -> Any:
        suite = super().build_suite(*args, **kwargs)
        if self.heapwatch_leaks:
            for test in _tests(suite):
                name = getattr(test, "_testMethodName", None)
                method = getattr(test, name, None) if isinstance(name, str) else None
                if isinstance(name, str) and callable(method):
                    setattr(test, name, self._checked(test, method))
        return suite

    def _checked(self, test: unittest.TestCase, method: Any) -> Any:
        runs, warmup, max_objects = (self.heapwatch_settings[k]
                                     for k in ("runs", "warmup", "max_objects"))

        @functools.wraps(method)
        def run() -> None:
            report = check(method, name=test.id(), runs=runs, warmup=warmup,
                           max_objects=max_objects)
            if report.failed:
                test.fail(report.message())
        return run
