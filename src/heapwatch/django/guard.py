"""The big-queryset guard.

When a QuerySet fills its result cache with more than QUERYSET_ROWS_WARN
rows, say so on the ``heapwatch.queryset`` logger:

    QuerySet of shop.Order cached 48210 rows (> 10000), about 61.2 MiB, by
    iteration at /srv/shop/reports.py:41 (monthly) during GET /reports/
    (shop.views.reports). Iterate it without caching:
    heapwatch.django.stream(qs) or qs.iterator(). (seen 17 more times since 12:01:02)

with the same facts in ``extra={"heapwatch_queryset": {...}}``.  With
QUERYSET_RAISE it raises HugeQuerySetError with that message instead (every
time: a test suite wants to fail on each).

It wraps QuerySet._fetch_all, the one place every materialization goes
through (iteration, len(), bool(), list(), pickling, Django's own deletion
and prefetching); .iterator(), .aiterator() and heapwatch.django.stream() do
not fill the cache and are never flagged.  The wrapper only reads the cache
after Django filled it: results are unchanged.  With QUERYSET_GUARD off it is
not installed at all.  Below the threshold the cost is a cached settings
read and one length test; walking the stack, the estimate and the
de-duplication happen only when the threshold is passed.

Which line is blamed.  Walking outward from the call into _fetch_all, each
frame is Django (module ``django.*``), heapwatch, the standard library
(sysconfig's stdlib/platstdlib, ``<frozen ...>``), library code
(site-packages, dist-packages, the interpreter's scripts directory, and the
modules named in QUERYSET_SKIP_MODULES) or application code.  The walk
stops at the first application frame, which is blamed, with the innermost
library frame in between named ("via").  It also stops at a dispatcher:
Django's request handler (``django.core.handlers``), its command runner
(``django.core.management`` and ``.base``) and asgiref's sync_to_async
thread hop, because the frames beyond one of those only run the code that
did it (a middleware, manage.py, a test calling the test client, the
executor's thread).  If the walk found no application frame, the innermost
library frame is blamed and said to be library code, with its caller; if
there was none either, the innermost Django frame outside ``django.db``
(a template tag, an admin view); a thread hop with nothing before it is
reported as such (``async for`` over a QuerySet runs its fetch there).

What materialized the cache (the "kind", which picks the advice) is read
from the frames between the fetch and the blamed frame, blamed frame
included: Django's deletion Collector, prefetch_one_level, a paginator
(``django.core.paginator`` or a module named ``*.pagination``/``*.paginator``),
the template engine, else the QuerySet method entered from outside
``django.db.models.query`` (``__iter__``, ``__len__``, ``__bool__``,
``__getstate__``, ...).  Code other than len() reaches ``__len__`` too
(``reversed(qs)``, C code using the sequence protocol), so ``__len__`` is
called len() only when the source text of the calling instruction is a
``len(...)`` call.

De-duplication.  One warning per location (file:line and model; for a
location that is not application code, also the view) per
QUERYSET_WARN_INTERVAL seconds; the next warning there says how many were
held back and since when.  The table holds at most MAX_LOCATIONS entries;
the one warned about longest ago is dropped first (its count is lost).

The request.  ``request_context(request)`` marks the code run inside it as
serving that request (a contextvars.ContextVar, so it follows threads run by
asgiref and asyncio tasks).  The method, the path (never the query string)
and the view name are read from the request only when a warning is written.
Unset, warnings simply name no request.
"""

from __future__ import annotations

import contextvars
import itertools
import linecache
import logging
import os
import sys
import sysconfig
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Callable

import django

from heapwatch._format import human_bytes
from heapwatch.django.conf import get_settings, setting

logger = logging.getLogger("heapwatch.queryset")

_SAMPLE = 50

#: Most locations remembered for de-duplication.
MAX_LOCATIONS = 1000

_lock = threading.Lock()
_original: Callable[[Any], None] | None = None


class HugeQuerySetError(RuntimeError):
    """A QuerySet materialized more rows than HEAPWATCH["QUERYSET_ROWS_WARN"]."""


# ---- the request being served ------------------------------------------

_request: contextvars.ContextVar[tuple[Any, Any, Any, Any] | None] = \
    contextvars.ContextVar("heapwatch_request", default=None)


class request_context:
    """``with request_context(request): ...`` -- warnings raised inside name
    the request: its method, its path without the query string, and its view
    (``request.resolver_match``, resolved from the path if Django has not
    resolved it yet).  Nothing is read from the request until a warning is
    written.  ``method``, ``path`` and ``view`` override what the request
    says, or stand without one.  Works in sync and async code; enter and
    leave it in the same thread or task."""

    __slots__ = ("_value", "_token")

    def __init__(self, request: Any = None, *, method: str | None = None,
                 path: str | None = None, view: str | None = None) -> None:
        self._value = (request, method, path, view)
        self._token: contextvars.Token[Any] | None = None

    def __enter__(self) -> request_context:
        self._token = _request.set(self._value)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _request.reset(self._token)
            self._token = None


def current_request() -> dict[str, str | None] | None:
    """The request set by request_context(), as {"method", "path", "view"},
    or None outside one."""
    value = _request.get()
    if value is None:
        return None
    request, method, path, view = value
    if method is None:
        method = getattr(request, "method", None)
    if path is None:
        path = getattr(request, "path", None)
    if isinstance(path, str):
        path = path.split("?", 1)[0]
    if view is None and request is not None:
        view = _view_name(request)
    return {"method": method, "path": path, "view": view}


def _view_name(request: Any) -> str | None:
    match = getattr(request, "resolver_match", None)
    if match is None:
        try:
            from django.urls import resolve

            match = resolve(request.path_info, getattr(request, "urlconf", None))
        except Exception:
            return None
    return getattr(match, "_func_path", None) or getattr(match, "view_name", None)


# ---- where frames come from --------------------------------------------

_SEP = os.sep
_LIB_PARTS = (f"{_SEP}site-packages{_SEP}", f"{_SEP}dist-packages{_SEP}")


def _dirs(*keys: str) -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    found: set[str] = set()
    for key in keys:
        p = paths.get(key)
        if p:
            found.add(p.rstrip(_SEP) + _SEP)
            found.add(os.path.realpath(p).rstrip(_SEP) + _SEP)
    return tuple(sorted(found, key=len, reverse=True))


_STDLIB_DIRS = _dirs("stdlib", "platstdlib")
_LIB_DIRS = _dirs("purelib", "platlib", "scripts")
_DJANGO_ROOT = os.path.dirname(os.path.dirname(django.__file__)) + _SEP

_path_places: dict[str, str] = {}   # co_filename -> "stdlib", "library" or "other"


def _path_place(filename: str) -> str:
    place = _path_places.get(filename)
    if place is None:
        if filename.startswith("<frozen "):
            place = "stdlib"
        elif any(p in filename for p in _LIB_PARTS) or filename.startswith(_LIB_DIRS):
            place = "library"
        elif filename.startswith(_STDLIB_DIRS):
            place = "stdlib"
        else:
            place = "other"
        if len(_path_places) >= 4096:
            _path_places.clear()
        _path_places[filename] = place
    return place


def _module(frame: FrameType) -> str:
    name = frame.f_globals.get("__name__")
    return name if isinstance(name, str) else ""


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _skipped(module: str, skip: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p if p.endswith(".") else p + ".")
               for p in skip)


def _place(frame: FrameType, skip: tuple[str, ...]) -> str:
    """"django", "heapwatch", "stdlib", "library" or "app"."""
    module = _module(frame)
    if _in(module, "django"):
        return "django"
    if _in(module, "heapwatch"):
        return "heapwatch"
    place = _path_place(frame.f_code.co_filename)
    if place == "other":
        return "library" if _skipped(module, skip) else "app"
    return place


def _dispatcher(frame: FrameType) -> bool:
    """A frame beyond which the stack only runs the code that did it."""
    module = _module(frame)
    return (module.startswith("django.core.handlers.")
            or module in ("django.core.management", "django.core.management.base"))


def _hop(frame: FrameType) -> bool:
    """asgiref running a sync_to_async() call in this thread for a coroutine."""
    return (_module(frame) == "asgiref.sync"
            and frame.f_code.co_qualname.startswith("SyncToAsync."))


def _short(filename: str) -> str:
    """A library or Django file as its import path (``django/core/paginator.py``)."""
    for part in _LIB_PARTS:
        i = filename.rfind(part)
        if i >= 0:
            return filename[i + len(part):]
    for d in (_DJANGO_ROOT,) + _LIB_DIRS + _STDLIB_DIRS:
        if filename.startswith(d):
            return filename[len(d):]
    return filename


def _text(frame: FrameType, short: bool) -> str:
    filename = frame.f_code.co_filename
    return f"{_short(filename) if short else filename}:{frame.f_lineno}"


@dataclass
class _Blame:
    code: str                       # "app", "library", "django", "coroutine", "unknown"
    frame: FrameType | None         # the blamed frame
    via: FrameType | None = None    # app blamed: innermost library frame in between
    caller: FrameType | None = None  # library blamed: its caller
    between: list[FrameType] = field(default_factory=list)  # fetch .. blamed, inclusive

    @property
    def location(self) -> str:
        if self.frame is None:
            return "<sync_to_async>" if self.code == "coroutine" else "<unknown>"
        return _text(self.frame, short=self.code != "app")

    @property
    def function(self) -> str | None:
        return self.frame.f_code.co_qualname if self.frame is not None else None

    def describe(self) -> str:
        if self.code == "coroutine":
            return ("in a coroutine (through sync_to_async; the awaiting line is not on "
                    "this thread's stack)")
        if self.frame is None:
            return "at <unknown>"
        here = f"{self.location} ({self.function})"
        if self.code == "app":
            via = f" via library code {_text(self.via, short=True)}" if self.via else ""
            return f"at {here}{via}"
        if self.code == "library":
            caller = (f", called from {_text(self.caller, short=True)} "
                      f"({self.caller.f_code.co_qualname})" if self.caller else "")
            return f"in library code {here}{caller}"
        return f"in Django code {here}"


def _blame(start: FrameType | None, skip: tuple[str, ...]) -> _Blame:
    """Who made the fetch: see the module docstring."""
    between: list[FrameType] = []
    library: list[FrameType] = []
    frame = start
    while frame is not None:
        if _hop(frame):
            if library:
                break
            return _Blame("coroutine", None, between=between)
        place = _place(frame, skip)
        between.append(frame)
        if place == "app":
            return _Blame("app", frame, via=library[0] if library else None, between=between)
        if place == "library":
            library.append(frame)
        elif place == "django" and _dispatcher(frame):
            break
        frame = frame.f_back
    if library:
        lib = library[0]
        return _Blame("library", lib, caller=library[1] if len(library) > 1 else None,
                      between=between[: between.index(lib) + 1])
    for i, f in enumerate(between):
        if _place(f, skip) == "django" and not _module(f).startswith("django.db."):
            return _Blame("django", f, between=between[: i + 1])
    # Nothing before a dispatcher: the first frame outside Django anywhere.
    while frame is not None:
        place = _place(frame, skip)
        if place in ("app", "library"):
            return _Blame(place, frame, between=between)
        frame = frame.f_back
    return _Blame("unknown", None, between=between)


# ---- what made the fetch, and the advice --------------------------------

def _call_text(frame: FrameType) -> str | None:
    """Source text of the instruction a frame is executing (3.11+ positions)."""
    try:
        code = frame.f_code
        at = itertools.islice(code.co_positions(), frame.f_lasti // 2, None)
        lineno, end_lineno, col, end_col = next(at)
        if lineno is None or col is None:
            return None
        line = linecache.getline(code.co_filename, lineno, frame.f_globals).encode()
        stop = end_col if end_lineno == lineno else None
        return line[col:stop].decode("utf-8", "replace")
    except Exception:
        return None


def _label(model: Any) -> str:
    return f"{model._meta.app_label}.{model.__name__}" if model is not None else "?"


@dataclass
class _Kind:
    name: str       # "iterate", "len", "bool", "delete", "paginate", "prefetch",
                    # "template", "pickle", "aiter", "method"
    how: str        # "by iteration", ...
    advice: str


_ITERATE = "Iterate it without caching: heapwatch.django.stream(qs) or qs.iterator()"


def _kind(blame: _Blame, qs: Any, label: str, rows: int) -> _Kind:
    frames = blame.between
    modules = [(_module(f), f) for f in frames]
    for module, f in modules:
        if module == "heapwatch.django.querysets" and "delete" in f.f_code.co_name:
            if any(m == "django.db.models.deletion" for m, _ in modules):
                return _Kind("delete", "by a delete",
                             f"A chunk of heapwatch.django.delete_in_chunks() cascaded to "
                             f"{rows} {label} rows: lower its chunk_size")
    if any(m == "django.db.models.deletion" for m, _ in modules):
        return _delete_kind(modules, label)
    if any(m == "django.db.models.query" and f.f_code.co_name == "prefetch_one_level"
           for m, f in modules):
        return _Kind("prefetch", "by prefetch_related()",
                     f"prefetch_related() loads the {label} rows of every object of the "
                     f"outer QuerySet at once: iterate the outer one in chunks with "
                     f"heapwatch.django.stream(qs) or qs.iterator(chunk_size=1000) (both "
                     f"prefetch per chunk), or narrow it with Prefetch(..., queryset=...)")
    if any(m == "django.core.paginator" or m.rsplit(".", 1)[-1] in ("pagination", "paginator")
           for m, _ in modules):
        query = getattr(qs, "query", None)
        if getattr(query, "is_sliced", False):
            return _Kind("paginate", "by a paginator",
                         f"That is one page ({rows} rows, LIMIT already in the query): the "
                         f"page size is too big; cap it (Paginator per_page; Django REST "
                         f"framework page_size with max_page_size, max_limit)")
        return _Kind("paginate", "by a paginator",
                     "The paginator evaluated the whole QuerySet, not a page: give it the "
                     "unevaluated QuerySet, count with qs.count() and evaluate only the "
                     "page slice qs[offset:offset + page_size]")
    if any(m.startswith("django.template.") for m, _ in modules):
        return _Kind("template", "by a template",
                     "A {% for %} (or |length) in a template evaluates the whole QuerySet: "
                     "paginate it in the view (django.core.paginator.Paginator) or pass a "
                     "slice (qs[:100])")
    return _entry_kind(frames)


def _delete_kind(modules: list[tuple[str, FrameType]], label: str) -> _Kind:
    why = ("Django's Collector loads the rows it deletes unless it can fast-delete them "
           "(no delete signal receivers, no cascades of their own)")
    for module, f in reversed(modules):  # the outermost delete() called
        if f.f_code.co_name != "delete":
            continue
        self = f.f_locals.get("self")
        if module == "django.db.models.query":
            root = _label(getattr(self, "model", None))
            if root == label:
                return _Kind("delete", "by QuerySet.delete()",
                             f"{why}: heapwatch.django.delete_in_chunks(qs) deletes with "
                             f"the same effects, a chunk at a time")
            return _Kind("delete", f"by QuerySet.delete() of {root}",
                         f"{why}; these are the {label} rows it cascades to: "
                         f"heapwatch.django.delete_in_chunks(qs) deletes a chunk of {root} "
                         f"rows and their cascade at a time (lower chunk_size if each "
                         f"has many)")
        if module == "django.db.models.base":
            root = _label(type(self)) if self is not None else "?"
            return _Kind("delete", f"by delete() of one {root}",
                         f"{why}; these are the {label} rows it cascades to: delete them "
                         f"first with heapwatch.django.delete_in_chunks() on a {label} "
                         f"QuerySet, then the object")
    return _Kind("delete", "by a delete",
                 f"{why}: heapwatch.django.delete_in_chunks(qs) deletes with the same "
                 f"effects, a chunk at a time")


def _entry_kind(frames: list[FrameType]) -> _Kind:
    """The QuerySet method entered from outside django.db.models.query."""
    entry: FrameType | None = None
    caller: FrameType | None = None
    for f in frames:
        module = _module(f)
        if module == "django.db.models.query":
            entry = f
        elif not _in(module, "heapwatch"):
            caller = f
            break
    name = entry.f_code.co_name if entry is not None else None
    if name is None and caller is None:  # straight from sync_to_async: __aiter__
        return _Kind("aiter", "by async for",
                     "`async for` over a QuerySet loads every row before the first "
                     "(QuerySet.__aiter__ fills the cache): use "
                     "`async for obj in qs.aiterator()`")
    if name == "__len__":
        text = _call_text(caller) if caller is not None else None
        if text is not None and text.lstrip().startswith("len("):
            return _Kind("len", "by len()",
                         "len(qs) loads every row to count them: use qs.count()")
        if text is None:
            return _Kind("iterate", "by len()",
                         f"For the number only, use qs.count(). {_ITERATE}")
    if name == "__bool__":
        return _Kind("bool", "by a truth test (if qs, not qs, bool(qs))",
                     "Testing a QuerySet's truth loads every row: use qs.exists()")
    if name in ("__getstate__", "__reduce__", "__reduce_ex__"):
        return _Kind("pickle", "by pickling",
                     "Pickling a QuerySet evaluates it first (cache.set(), a session, a "
                     "task argument): pickle qs.query or a list of primary keys instead")
    if name in (None, "__iter__", "__len__", "__getitem__"):
        return _Kind("iterate", "by iteration", _ITERATE)
    return _Kind("method", f"by QuerySet.{name}()", _ITERATE)


# ---- de-duplication -----------------------------------------------------

_clock: Callable[[], float] = time.monotonic
_seen: OrderedDict[tuple[Any, ...], list[float]] = OrderedDict()  # key -> [when, wall, held]
_seen_lock = threading.Lock()


def reset() -> None:
    """Forget every location warned about (the next one warns at once)."""
    with _seen_lock:
        _seen.clear()


def _admit(key: tuple[Any, ...], interval: float) -> tuple[bool, int, float | None]:
    """(warn now?, warnings held back since the last one, when that was)."""
    now = _clock()
    with _seen_lock:
        entry = _seen.get(key)
        if entry is not None and now - entry[0] < interval:
            entry[2] += 1
            return False, 0, None
        held, since = (int(entry[2]), entry[1]) if entry is not None else (0, None)
        _seen[key] = [now, time.time(), 0]
        _seen.move_to_end(key)
        while len(_seen) > MAX_LOCATIONS:
            _seen.popitem(last=False)
    return True, held, since


# ---- the check ----------------------------------------------------------

def estimate_bytes(rows: list[Any]) -> int:
    """Shallow bytes of the rows, their instance dicts and model states,
    measured on a sample and scaled.  An estimate, never an object's
    contents."""
    if not rows:
        return 0
    step = max(1, len(rows) // _SAMPLE)
    sample = rows[::step]
    total = 0
    for obj in sample:
        total += sys.getsizeof(obj)
        d = getattr(obj, "__dict__", None)
        if isinstance(d, dict):
            total += sys.getsizeof(d)
            state = d.get("_state")
            if state is not None:
                total += sys.getsizeof(state) + sys.getsizeof(getattr(state, "__dict__", {}))
                cache = getattr(state, "fields_cache", None)
                if isinstance(cache, dict):
                    total += sys.getsizeof(cache)
    return total * len(rows) // len(sample) + sys.getsizeof(rows)


def _threshold() -> tuple[int, dict[str, Any]] | None:
    cfg = get_settings()
    if not setting(cfg, "QUERYSET_GUARD"):
        return None
    return setting(cfg, "QUERYSET_ROWS_WARN"), cfg


def _check(qs: Any) -> None:
    try:
        conf = _threshold()
        cache = qs._result_cache
        if conf is None or cache is None or len(cache) <= conf[0]:
            return
        limit, cfg = conf
        raising = setting(cfg, "QUERYSET_RAISE")
        skip = tuple(setting(cfg, "QUERYSET_SKIP_MODULES"))
        blame = _blame(sys._getframe(1), skip)
        rows = len(cache)
        label = _label(qs.model)
        kind = _kind(blame, qs, label, rows)
        request = current_request()
        nbytes = estimate_bytes(cache)
        held, since = 0, None
        if not raising:
            interval = setting(cfg, "QUERYSET_WARN_INTERVAL")
            key: tuple[Any, ...] = (blame.location, label)
            if blame.code != "app":  # the location does not say whose code it was
                key += (request["view"] if request else None,)
            warn, held, since = _admit(key, float(interval))
            if not warn:
                return
        during = ""
        if request is not None:
            during = f" during {request['method']} {request['path']}"
            if request["view"]:
                during += f" ({request['view']})"
        repeats = (f" (seen {held} more time{'s' if held != 1 else ''} since "
                   f"{time.strftime('%H:%M:%S', time.localtime(since))})"
                   if held and since is not None else "")
        msg = (f"QuerySet of {label} cached {rows} rows (> {limit}), about "
               f"{human_bytes(nbytes)}, {kind.how} {blame.describe()}{during}. "
               f"{kind.advice}.{repeats}")
        data = {
            "model": label, "rows": rows, "bytes_estimate": nbytes, "limit": limit,
            "location": blame.location, "function": blame.function, "code": blame.code,
            "via": _text(blame.via, short=True) if blame.via is not None else None,
            "called_from": _text(blame.caller, short=True) if blame.caller is not None else None,
            "kind": kind.name, "request": request,
            "repeats": held, "repeats_since": since,
        }
        del blame  # frames
    except Exception:  # never break the query over a report
        logger.debug("heapwatch: queryset guard failed", exc_info=True)
        return
    if raising:
        raise HugeQuerySetError(msg)
    logger.warning(msg, extra={"heapwatch_queryset": data})


def install() -> None:
    """Wrap QuerySet._fetch_all (idempotent; not done when the guard is off)."""
    global _original
    from django.db.models.query import QuerySet

    with _lock:
        if _original is not None or not setting(get_settings(), "QUERYSET_GUARD"):
            return
        original = QuerySet._fetch_all

        def _fetch_all(self: Any) -> None:
            fresh = self._result_cache is None
            original(self)
            if fresh:
                _check(self)

        _fetch_all.__wrapped__ = original  # type: ignore[attr-defined,unused-ignore]
        QuerySet._fetch_all = _fetch_all
        _original = original


def uninstall() -> None:
    global _original
    from django.db.models.query import QuerySet

    with _lock:
        if _original is not None:
            QuerySet._fetch_all = _original
            _original = None


def installed() -> bool:
    return _original is not None
