"""The seed's "apparently innocent" view, and its fix.

The mistake is real Django, not a simulation: ALL_ROWS is a QuerySet built
once at import and shared by every request.  The first iteration fills its
result cache with every row, and the cache lives as long as the worker.
Each call then reads the ForeignKeys of the next thousand rows; Django
loads them lazily and caches the related objects on the cached rows, so the
worker keeps growing by three thousand model instances per call.
"""

from typing import TextIO

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from shop.models import FirstModel


def _dump_file() -> TextIO:
    settings.DUMP_PATH.parent.mkdir(parents=True, exist_ok=True)
    return open(settings.DUMP_PATH, "w")


ALL_ROWS = FirstModel.objects.all()  # the retention mistake: module-level, reused
_calls = {"n": 0}


def dump(request: HttpRequest) -> HttpResponse:
    page = _calls["n"]
    _calls["n"] += 1
    with _dump_file() as f:
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
    with _dump_file() as f:
        for obj in stream(qs, chunk_size=2000):
            f.write(f"{obj.pk} {obj.name} {obj.second.name} {obj.third.name} {obj.fourth.name}\n")
    return HttpResponse("dumped\n")


INTRO = ("A page of the shop, rendered the way a CMS page is: a base template,\n"
         "a page template that extends it, includes for the header, breadcrumbs,\n"
         "cards, sidebar and footer, a menu from a template tag, and every\n"
         "related object loaded lazily by the template (N+1 queries).")


def page(request: HttpRequest) -> HttpResponse:
    """A view shaped like a Wagtail page (bench/middleware.py measures it):
    template inheritance and includes, a menu loop, a list of 20 items whose
    related objects the template loads one query at a time; about 100 SQL
    queries, nothing kept between requests."""
    from django.shortcuts import render

    from shop.models import FourthModel, SecondModel, ThirdModel

    pk = int(request.GET.get("id", 1))
    site = SecondModel.objects.get(pk=1)                     # the site root
    current = FirstModel.objects.get(pk=pk)                  # the page
    context = {
        "site_name": f"Shop {site.name}",
        "page": current,
        "intro": INTRO,
        "items": FirstModel.objects.filter(pk__gt=pk).order_by("pk")[:20],  # + 3 per item
        "related": FirstModel.objects.filter(third_id=current.third_id)
                                     .exclude(pk=pk).order_by("pk")[:8],    # + 1 per item
        "tags": FourthModel.objects.order_by("pk")[:10],                    # + a count per tag
        "topics": ThirdModel.objects.order_by("pk")[:6],
    }
    return render(request, "shop/page.html", context)
