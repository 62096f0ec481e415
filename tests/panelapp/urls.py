from __future__ import annotations

from typing import Any

from debug_toolbar.toolbar import debug_toolbar_urls
from django.urls import path

from tests.panelapp import views

urlpatterns: list[Any] = [
    path("leak/", views.leak, name="leak"),
    path("flat/", views.flat, name="flat"),
    path("big-queryset/", views.big_queryset, name="big-queryset"),
    path("concurrent/", views.concurrent, name="concurrent"),
    *debug_toolbar_urls(),
]
