"""Two views for the staff page to show: one that keeps what it makes."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse


class Order:
    def __init__(self, n: int) -> None:
        self.n = n


class OrderCache:
    """Holds the leaked orders: the holder "explain a type" names."""

    def __init__(self) -> None:
        self.rows: list[Order] = []


CACHE = OrderCache()


def grow(request: HttpRequest) -> HttpResponse:
    CACHE.rows.extend(Order(i) for i in range(2000))
    return HttpResponse(f"kept {len(CACHE.rows)}")


def flat(request: HttpRequest) -> HttpResponse:
    rows = [Order(i) for i in range(2000)]
    return HttpResponse(f"made {len(rows)}")
