"""Views of the panel's test project."""

from __future__ import annotations

import threading
from typing import Any

from django.http import HttpResponse
from django.test import Client

from tests.panelapp.models import PanelItem

PAGE = "<!DOCTYPE html><html><head><title>{0}</title></head><body><h1>{0}</h1>{1}</body></html>"


class PanelLeak:
    """What the leaky view keeps, a known number per request."""

    def __init__(self, i: int) -> None:
        self.i = i


KEPT: list[PanelLeak] = []
PER_REQUEST = 2000


def leak(request: Any) -> HttpResponse:
    KEPT.extend(PanelLeak(i) for i in range(PER_REQUEST))
    return HttpResponse(PAGE.format("leak", f"<p>{len(KEPT)} kept</p>"))


def flat(request: Any) -> HttpResponse:
    return HttpResponse(PAGE.format("flat", "<p>nothing kept</p>"))


def big_queryset(request: Any) -> HttpResponse:
    names = []
    for item in PanelItem.objects.all():  # the guard's line
        names.append(item.name)
    return HttpResponse(PAGE.format("big queryset", f"<p>{len(names)} rows</p>"))


def concurrent(request: Any) -> HttpResponse:
    # Another request of the process runs while this one does.
    other = threading.Thread(target=lambda: Client().get("/flat/"))
    other.start()
    other.join()
    KEPT.extend(PanelLeak(i) for i in range(10))
    return HttpResponse(PAGE.format("concurrent", "<p>another request ran</p>"))
