"""manage.py heapwatch_replay URL --times N: the seed's experiment as one
command.  Requests URL N times in-process (Django's test client, no
network) and prints what grew on each call.

A view that raises does not stop the replay: Django turns the exception into
its 500 response, as a server would, and the call's line says which
exception it was, on that one line; what the view left behind is still
measured.  (Django's own logging of the error, the django.request logger,
follows the project's LOGGING.)"""

from __future__ import annotations

import gc
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

import heapwatch


def _host() -> str:
    for h in getattr(settings, "ALLOWED_HOSTS", []):
        if h and h != "*":
            return str(h).lstrip(".")
    return "localhost"


def _error(response: Any) -> str:
    """' (Type: message)' for the exception the view raised, on one line;
    '' when it raised none.  Drops the response's traceback, which holds the
    view's frames (and what they hold) alive."""
    exc_info = getattr(response, "exc_info", None)
    response.exc_info = None
    if not exc_info:
        return ""
    exc = exc_info[1]
    message = " ".join(str(exc).split())
    return f" ({type(exc).__name__}: {message})" if message else f" ({type(exc).__name__})"


class Command(BaseCommand):
    help = "Request a URL N times in-process and print the object types that grew on each call."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("url", help="path to request, e.g. /dump/")
        parser.add_argument("--times", type=int, default=3, help="number of calls (default 3)")
        parser.add_argument("--method", default="GET", choices=["GET", "POST", "HEAD"])
        parser.add_argument("--limit", type=int, default=10, help="types shown per call")
        parser.add_argument("--collect", action="store_true",
                            help="run a full garbage collection before each measurement")

    def handle(self, *args: Any, **opts: Any) -> None:
        from django.test import Client

        if opts["times"] < 1:
            raise CommandError("--times must be >= 1")
        if opts["limit"] < 0:
            raise CommandError("--limit must be >= 0")
        url: str = opts["url"]
        if not url.startswith("/"):
            raise CommandError("URL must be a path starting with '/'")
        client = Client(SERVER_NAME=_host(), raise_request_exception=False)
        call = getattr(client, opts["method"].lower())
        if opts["collect"]:
            gc.collect()
        before = heapwatch.census()
        for i in range(1, opts["times"] + 1):
            response = call(url)
            status, error = response.status_code, _error(response)
            del response
            if opts["collect"]:
                gc.collect()
            after = heapwatch.census()
            rows = [r for r in after - before if r.delta > 0 or r.bytes_delta > 0][: opts["limit"]]
            self.stdout.write(f"call {i}: {opts['method']} {url} -> {status}{error}, "
                              f"objects {after.total_count - before.total_count:+d}, "
                              f"bytes {after.total_bytes - before.total_bytes:+d}")
            for r in rows:
                self.stdout.write(f"  {r.name} {r.count} {r.delta:+d}")
            before = after
