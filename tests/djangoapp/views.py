"""Views for the middleware tests: one that leaks (keeps what it builds at
module level), one that stays flat, an async one, one that raises."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse

from tests.heaps import FirstModel

LEAKED: list[Any] = []


def leaky(request: HttpRequest) -> HttpResponse:
    n = int(request.GET.get("n", "2000"))
    LEAKED.extend(FirstModel(i) for i in range(n))
    return HttpResponse("leaked %d" % n)


def flat(request: HttpRequest) -> HttpResponse:
    rows = [FirstModel(i) for i in range(2000)]
    return HttpResponse("made and dropped %d" % len(rows))


async def async_leaky(request: HttpRequest) -> HttpResponse:
    LEAKED.extend(FirstModel(i) for i in range(1500))
    return HttpResponse("async leaked")


def boom(request: HttpRequest) -> HttpResponse:
    LEAKED.extend(FirstModel(i) for i in range(1200))
    raise ValueError("view failed")


def books(request: HttpRequest) -> HttpResponse:
    from tests.djangoapp.models import Book

    titles = [b.title for b in Book.objects.all()]  # materializes the queryset
    return HttpResponse(str(len(titles)))
