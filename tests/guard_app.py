"""Application code for the queryset guard tests (tests/test_django_guard.py):
a helper of the kind a project writes around its querysets, and a middleware
that names the request the way HeapWatchMiddleware does."""

from __future__ import annotations

from typing import Any, Callable

from heapwatch.django import guard


def load_all(qs: Any) -> list[Any]:
    return list(qs)  # the helper's line


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        with guard.request_context(request):
            return self.get_response(request)
