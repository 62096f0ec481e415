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


class Node:
    """A cycle: garbage only a collection frees."""

    def __init__(self) -> None:
        self.me = self
        self.payload = [0]


def garbage(request: HttpRequest) -> HttpResponse:
    # Cycles kept alive while the view works (so the collector's automatic
    # passes move them to older generations), then dropped.
    work = [Node() for _ in range(3000)]
    junk = [[i] for i in range(20000)]
    del work, junk
    return HttpResponse("made garbage")


def response_held(request: HttpRequest) -> HttpResponse:
    response = HttpResponse("held by the response")
    response.rows = [FirstModel(i) for i in range(2500)]  # type: ignore[attr-defined]
    return response


CACHE: dict[int, Any] = {}


def cache_once(request: HttpRequest) -> HttpResponse:
    if not CACHE:
        CACHE.update((i, FirstModel(i)) for i in range(3000))
    return HttpResponse("cached %d" % len(CACHE))


def slow(request: HttpRequest) -> HttpResponse:
    import time

    time.sleep(float(request.GET.get("s", "0.2")))
    if request.GET.get("leak"):
        LEAKED.extend(FirstModel(i) for i in range(2000))
    return HttpResponse("slow")


def mocked(request: HttpRequest) -> HttpResponse:
    from tests.djangoapp import services

    services.CLIENT.send(request.GET.get("i", ""))
    LEAKED.extend(FirstModel(i) for i in range(1500))
    return HttpResponse("sent")


FRAGMENTS: list[Any] = []


def fragment(request: HttpRequest) -> HttpResponse:
    # Many small objects, one in 64 kept: pymalloc's pools stay in use, so
    # the freed memory stays with the process.
    many = [[i] for i in range(int(request.GET.get("n", "1000000")))]
    FRAGMENTS.append(many[::64])
    del many
    return HttpResponse("fragmented")


RING: list[Any] = []


def ring(request: HttpRequest) -> HttpResponse:
    RING.extend(FirstModel(i) for i in range(1200))
    return HttpResponse("ring %d" % len(RING))


def ring_trim(request: HttpRequest) -> HttpResponse:
    # Another view frees what /ring/ added: the process does not grow.
    RING[:] = RING[-1200:]
    return HttpResponse("trimmed")
