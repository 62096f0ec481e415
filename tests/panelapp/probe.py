"""Requests to the panel's test project through Django's test client and the
real toolbar, in a process of their own (its settings are not the test
session's): ``python -m tests.panelapp.probe '[["/leak/", 1], ...]'``
prints, as JSON, one entry per request: the status, HeapWatchPanel's stats,
its nav subtitle and its rendered content."""

from __future__ import annotations

import json
import os
import sys
from typing import Any


def main(steps: list[tuple[str, int]]) -> list[dict[str, Any]]:
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.panelapp.settings"
    import django

    django.setup()
    from debug_toolbar.toolbar import DebugToolbar
    from django.core.management import call_command
    from django.test import Client

    from tests.panelapp.models import PanelItem

    call_command("migrate", run_syncdb=True, verbosity=0)
    PanelItem.objects.bulk_create(PanelItem(name=f"item {i}") for i in range(50))

    made: list[Any] = []

    def created(sender: Any, toolbar: Any, **kwargs: Any) -> None:
        if not made:          # the outer request's toolbar, not a nested one
            made.append(toolbar)

    DebugToolbar._created.connect(created, weak=False)
    out: list[str] = []
    client = Client()
    for path, times in steps:
        for _ in range(times):
            made.clear()
            # The client's handler without Client.request(): that one records
            # the templates rendered through a functools.partial per request,
            # which Django's signal dispatch keeps in an lru_cache of 512
            # entries (django.utils.inspect) -- growth that stays, of the test
            # client's making; a server has none of it.
            response = client.handler(client._base_environ(PATH_INFO=path, REQUEST_METHOD="GET"))
            entry: dict[str, Any] = {"path": path, "status": response.status_code,
                                     "has_toolbar": b"djDebug" in response.content}
            if made:
                panel = made[0].get_panel_by_id("HeapWatchPanel")
                stats = panel.get_stats()
                entry.update(stats=json.loads(json.dumps(stats)),   # as the store keeps them
                             subtitle=panel.nav_subtitle, title=panel.title,
                             content=panel.content)
            made.clear()
            del response
            # Kept as text: a str is not counted by a census, so what the
            # probe keeps is not seen as the views' growth (dicts would be).
            out.append(json.dumps(entry))
    return [json.loads(e) for e in out]


if __name__ == "__main__":
    json.dump(main(json.loads(sys.argv[1])), sys.stdout)
