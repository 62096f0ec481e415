"""The seed's "apparently innocent" view, and its fix.

The mistake is real Django, not a simulation: ALL_ROWS is a QuerySet built
once at import and shared by every request.  The first iteration fills its
result cache with every row, and the cache lives as long as the worker.
Each call then reads the ForeignKeys of the next thousand rows; Django
loads them lazily and caches the related objects on the cached rows, so the
worker keeps growing by three thousand model instances per call.
"""

import os
import tempfile

from django.http import HttpRequest, HttpResponse

from shop.models import FirstModel

DUMP = os.path.join(tempfile.gettempdir(), "leakyshop-dump.txt")

ALL_ROWS = FirstModel.objects.all()  # the retention mistake: module-level, reused
_calls = {"n": 0}


def dump(request: HttpRequest) -> HttpResponse:
    page = _calls["n"]
    _calls["n"] += 1
    with open(DUMP, "w") as f:
        for obj in ALL_ROWS:
            f.write(f"{obj.pk} {obj.name}\n")
        for obj in ALL_ROWS[page * 1000:(page + 1) * 1000]:
            f.write(f"{obj.second.name} {obj.third.name} {obj.fourth.name}\n")
    return HttpResponse("dumped\n")


def dump_fixed(request: HttpRequest) -> HttpResponse:
    from heapwatch.django import stream  # keyset pagination, one chunk in memory

    qs = FirstModel.objects.select_related("second", "third", "fourth")
    if "rows" in request.GET:  # the benchmark asks for a smaller dump
        qs = qs.filter(pk__lte=int(request.GET["rows"]))
    with open(DUMP, "w") as f:
        for obj in stream(qs, chunk_size=2000):
            f.write(f"{obj.pk} {obj.name} {obj.second.name} {obj.third.name} {obj.fourth.name}\n")
    return HttpResponse("dumped\n")
