"""heapwatch's staff page (heapwatch.django.views):

    path("heapwatch/", include("heapwatch.django.urls"))

URL names in the "heapwatch" namespace: page, capture, download-snapshot,
download-report, explain, asset.
"""

from __future__ import annotations

from django.urls import path

from heapwatch.django import views

app_name = "heapwatch"

urlpatterns = [
    path("", views.page, name="page"),
    path("capture/", views.capture, name="capture"),
    path("snapshot/", views.download_snapshot, name="download-snapshot"),
    path("report/", views.download_report, name="download-report"),
    path("explain/", views.explain, name="explain"),
    path("assets/<str:name>", views.asset, name="asset"),
]
