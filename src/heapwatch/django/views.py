"""heapwatch's staff page: this worker's memory, the middleware's recent
records, a live census, heap captures and their reports, and retention
groups of a type.

    urlpatterns += [path("heapwatch/", include("heapwatch.django.urls"))]

Access: an active staff user with the permission ``heapwatch.view_heap``
(superusers have it).  Anonymous users are sent to ``settings.LOGIN_URL``
(``?next=``); any other user gets 403.  Actions are POST forms checked for
CSRF; GET never acts.  Every page view, action and refusal is logged on the
``heapwatch.audit`` logger with the username, and raises the audit event
``heapwatch.audit`` with ``(action, username, detail)``; the actions are
view, denied, capture, capture-refused, download-snapshot,
download-report, refused-download, explain and explain-refused.

Object contents are never shown: the page has type names, counts, sizes
and reference paths, no reprs.  Downloads serve only the files the page
lists (the captures of this host's processes, host-pid-time.hwsnap, regular
files of this user, by name, in the capture directory).
"""

from __future__ import annotations

import collections
import functools
import gc
import hashlib
import json
import logging
import os
import re
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_GET, require_POST

import heapwatch
from heapwatch import report
from heapwatch._format import human_bytes
from heapwatch._triggers import SUFFIX, prepare_directory, snapshot_name
from heapwatch.django.conf import get_settings, setting
from heapwatch.django.middleware import recent_records

audit_log = logging.getLogger("heapwatch.audit")

#: The permission the page needs, besides is_staff and is_active.
PERMISSION = "heapwatch.view_heap"
#: The audit event raised for every page view, action and refusal.
AUDIT_EVENT = "heapwatch.audit"

TOP_N = 20                 # census rows per table
GROWTH_N = 15              # rows of "grew most since your last visit"
USERS_KEPT = 16            # users whose last census the process remembers
CAPTURES_KEPT = 20         # captures this process remembers starting
RETENTION_GROUPS = 10      # groups shown for "explain a type"
SERIES_MAX = 5             # snapshots in one report of the series (each is loaded)
TYPE_NAME_MAX = 200

_STATIC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       "static", "heapwatch")
ASSETS = {"staff.js": "text/javascript", "staff.css": "text/css",
          "plotly.min.js": "text/javascript"}


# ---- access and audit ------------------------------------------------------------


def _username(request: HttpRequest) -> str:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return "-"
    return str(user.get_username())


def audit(request: HttpRequest, action: str, detail: str = "") -> None:
    """One line on heapwatch.audit and the audit event heapwatch.audit
    (action, username, detail)."""
    username = _username(request)
    sys.audit(AUDIT_EVENT, action, username, detail)
    # Denials and refused downloads may be probing: WARNING.
    level = logging.WARNING if action in ("denied", "refused-download") else logging.INFO
    audit_log.log(level, "heapwatch staff page: %s by %s%s", action, username,
                  f": {detail}" if detail else "",
                  extra={"heapwatch_audit": {"action": action, "username": username,
                                             "detail": detail, "pid": os.getpid()}})


def allowed(user: Any) -> bool:
    """An active staff user with heapwatch.view_heap (superusers have every
    permission)."""
    return bool(user is not None and user.is_authenticated and user.is_active
                and user.is_staff and user.has_perm(PERMISSION))


def staff_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous: redirect to LOGIN_URL with ?next=; not allowed: 403."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is None:
            audit_log.error("heapwatch staff page: request.user is missing: add "
                            "django.contrib.auth.middleware.AuthenticationMiddleware")
            raise PermissionDenied
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        if not allowed(user):
            audit(request, "denied", request.path)
            raise PermissionDenied
        return view(request, *args, **kwargs)

    # The middleware leaves these views unmeasured (see its _sampled()):
    # the page's own censuses are not the application's growth.
    wrapped.heapwatch_exempt = True  # type: ignore[attr-defined]
    return wrapped


# ---- per-user census memory ------------------------------------------------------


@dataclass
class _Seen:
    when: float
    text: str   # JSON {type: [count, bytes]}: a str is not tracked by the collector


_seen: collections.OrderedDict[str, _Seen] = collections.OrderedDict()
_seen_lock = threading.Lock()


def _last_census(key: str, now: dict[str, list[int]]) -> tuple[float, dict[str, list[int]]] | None:
    """This user's census from the last visit (None on a first visit), and
    remember the current one in its place."""
    text = json.dumps(now, separators=(",", ":"))
    with _seen_lock:
        before = _seen.pop(key, None)
        _seen[key] = _Seen(time.time(), text)
        while len(_seen) > USERS_KEPT:
            _seen.popitem(last=False)
    if before is None:
        return None
    previous: dict[str, list[int]] = json.loads(before.text)
    return before.when, previous


# ---- captures --------------------------------------------------------------------


@dataclass
class _Started:
    name: str
    capture: heapwatch.Capture
    by: str
    when: float


_captures: collections.deque[_Started] = collections.deque(maxlen=CAPTURES_KEPT)
_captures_lock = threading.Lock()
_fallback: dict[int, str] = {}    # pid -> this process's private temporary directory


def capture_directory() -> tuple[str, str | None]:
    """Where captures go: SNAPSHOT_DIR (created 0700 if missing) when it
    can be written, else a private 0700 temporary directory of this
    process.  Returns (directory, why SNAPSHOT_DIR was not used or None)."""
    configured = setting(get_settings(), "SNAPSHOT_DIR")
    try:
        d = prepare_directory(configured)
        if not os.access(d, os.W_OK | os.X_OK):
            raise PermissionError(f"cannot write into {d}")
        return os.path.abspath(d), None
    except (OSError, TypeError) as e:
        why = f"SNAPSHOT_DIR {configured!r} is not usable ({e})"
    pid = os.getpid()
    with _captures_lock:
        private = _fallback.get(pid)
        if private is None or not os.path.isdir(private):
            private = _fallback[pid] = tempfile.mkdtemp(prefix=f"heapwatch-{pid}-")  # 0700
    return private, why


def _host_prefix() -> str:
    """host- : the start of the capture file names of this host's processes
    (snapshot_name() is host-pid-time.hwsnap)."""
    return snapshot_name().rsplit("-", 2)[0] + "-"


_PID = re.compile(r"-([0-9]+)-[0-9T.]+Z" + re.escape(SUFFIX) + "$")


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass
class SnapshotFile:
    name: str
    size: int
    mtime: float
    state: str          # "written", "writing" or "failed"
    error: str = ""
    by: str = ""
    pid: int = 0


def list_snapshots(directory: str) -> list[SnapshotFile]:
    """The capture files of this host's processes in directory (regular
    files owned by this user, named host-pid-time.hwsnap: the workers of
    one server share SNAPSHOT_DIR, and any of them may serve the download),
    oldest first, with the captures this process started that are still
    being written or failed."""
    prefix = _host_prefix()
    found: dict[str, SnapshotFile] = {}
    try:
        names = os.listdir(directory)
    except OSError:
        names = []
    for name in names:
        if not (name.startswith(prefix) and name.endswith(SUFFIX) and _NAME.fullmatch(name)):
            continue
        try:
            st = os.lstat(os.path.join(directory, name))
        except OSError:
            continue
        pid = _PID.search(name)
        if pid and stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid():
            found[name] = SnapshotFile(name, st.st_size, st.st_mtime, "written",
                                       pid=int(pid.group(1)))
    with _captures_lock:
        started = [s for s in _captures if s.capture.owner == os.getpid()
                   and os.path.dirname(os.fsdecode(s.capture.path)) == directory]
    for s in started:
        try:
            done = s.capture.done()
            if done:
                s.capture.wait(0)
        except heapwatch.CaptureError as e:
            found[s.name] = SnapshotFile(s.name, 0, s.when, "failed", str(e), s.by, os.getpid())
            continue
        if not done:
            found[s.name] = SnapshotFile(s.name, 0, s.when, "writing", "", s.by, os.getpid())
        elif s.name in found:
            found[s.name].by = s.by
    return sorted(found.values(), key=lambda f: (f.mtime, f.name))


def _open_listed(request: HttpRequest, name: str) -> tuple[str, int]:
    """The named file, if the page lists it as written: (path, open fd).
    Anything else is a 404, never a path."""
    directory, _why = capture_directory()
    listed = {f.name for f in list_snapshots(directory) if f.state == "written"}
    if name not in listed or os.sep in name or name.startswith("."):
        audit(request, "refused-download", repr(name[:100]))
        raise Http404("no such snapshot of this process")
    path = os.path.join(directory, name)
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
        os.close(fd)
        raise Http404("no such snapshot of this process")
    return path, fd


def _asset_text(name: str) -> bytes:
    if name == "plotly.min.js":
        return report.plotly_js().encode("utf-8")
    with open(os.path.join(_STATIC, name), "rb") as f:
        return f.read()


@functools.lru_cache(maxsize=None)
def asset_version(name: str) -> str:
    """A short hash of an asset's content, for its URL and ETag (only the
    hash is kept: plotly.js is 3.5 MB, not worth keeping in every worker)."""
    return hashlib.sha256(_asset_text(name)).hexdigest()[:16]


# ---- page data -------------------------------------------------------------------

RECORD_VERDICTS = ("leak", "warm-up", "transient", "concurrent", "allocator", "no leak")


def request_verdict(record: dict[str, Any], min_objects: int, min_bytes: int) -> str:
    """One verdict per measured request: the record's own (leak,
    concurrent, allocator); for "no leak", when the request grew by
    MIN_OBJECTS or MIN_BYTES (what the middleware logs), the verdict of
    its largest grown type (warm-up or transient); else no leak."""
    verdict = str(record.get("verdict", "no leak"))
    if verdict != "no leak":
        return verdict
    if (int(record.get("objects_delta") or 0) < min_objects
            and int(record.get("bytes_delta") or 0) < min_bytes):
        return "no leak"
    types = record.get("types") or []
    largest = max(types, key=lambda t: int(t.get("delta") or 0), default=None)
    kind = None if largest is None else largest.get("verdict")
    return str(kind) if kind in ("warm-up", "transient") else "no leak"


def thresholds() -> tuple[int, int]:
    cfg = get_settings()
    return setting(cfg, "MIN_OBJECTS"), setting(cfg, "MIN_BYTES")


def dotted(name: str) -> str:
    """A dotted name, escaped, with line-break opportunities after the dots."""
    return mark_safe(".<wbr>".join(escape(part) for part in name.split(".")))


def per_view(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    min_objects, min_bytes = thresholds()
    views: dict[str, dict[str, Any]] = {}
    for r in records:
        name = str(r.get("view") or "-")
        v = views.setdefault(name, {"view": name, "requests": 0, "objects": 0, "bytes": 0,
                                    "verdicts": dict.fromkeys(RECORD_VERDICTS, 0),
                                    "leaks": {}, "last": 0.0})
        v["requests"] += 1
        v["objects"] += int(r.get("objects_delta") or 0)
        v["bytes"] += int(r.get("bytes_delta") or 0)
        v["verdicts"][request_verdict(r, min_objects, min_bytes)] += 1
        v["last"] = max(v["last"], float(r.get("time") or 0))
        for t in r.get("types", []):
            if t.get("verdict") == "leak":
                kept = int(t.get("kept") or t.get("delta") or 0)
                v["leaks"][t["name"]] = max(v["leaks"].get(t["name"], 0), kept)
    rows = sorted(views.values(), key=lambda v: (-v["verdicts"]["leak"], -v["objects"], v["view"]))
    for v in rows:
        v["label"] = dotted(v["view"]) if v["view"] != "-" else "(no view: not found, static)"
        v["bytes_text"] = human_bytes(v["bytes"], signed=True)
        v["verdict_cells"] = [(k, v["verdicts"][k]) for k in RECORD_VERDICTS]
        v["leak_list"] = sorted(v["leaks"].items(), key=lambda kv: -kv[1])
    return rows


def rss_series(records: list[dict[str, Any]]) -> dict[str, list[Any]]:
    min_objects, min_bytes = thresholds()
    out: dict[str, list[Any]] = {"time": [], "rss": [], "objects": [], "verdict": [], "view": []}
    for r in records:
        if r.get("rss_after") is None:
            continue
        out["time"].append(time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(r["time"]))))
        out["rss"].append(round(int(r["rss_after"]) / (1 << 20), 2))
        mem = r.get("memory") or {}
        objects = mem.get("python_objects")
        out["objects"].append(None if objects is None else round(int(objects) / (1 << 20), 2))
        out["verdict"].append(request_verdict(r, min_objects, min_bytes))
        out["view"].append(str(r.get("view") or "-"))
    return out


def census_tables(user_key: str) -> dict[str, Any]:
    c = heapwatch.census()
    now = {name: [s.count, s.bytes] for name, s in c.items()}
    last = _last_census(user_key, now)
    previous = None if last is None else last[1]

    def row(name: str) -> dict[str, Any]:
        count, nbytes = now[name]
        d = previous.get(name, [0, 0]) if previous is not None else None
        return {"name": name, "count": count, "bytes": human_bytes(nbytes),
                "delta": None if d is None else count - d[0],
                "bytes_delta": None if d is None else human_bytes(nbytes - d[1], signed=True)}

    grew: list[dict[str, Any]] = []
    if previous is not None:
        growth = sorted(((now[n][0] - previous.get(n, [0, 0])[0], n) for n in now), reverse=True)
        grew = [row(n) for delta, n in growth[:GROWTH_N] if delta > 0]
    return {
        "total_count": c.total_count,
        "total_bytes": human_bytes(c.total_bytes),
        "types": len(c),
        "by_count": [row(n) for n, _s in c.most_common(TOP_N, by="count")],
        "by_bytes": [row(n) for n, _s in c.most_common(TOP_N, by="bytes")],
        "grew": grew,
        "first_visit": previous is None,
        "last_visit": None if last is None else time.strftime(
            "%H:%M:%S", time.localtime(last[0])),
        "last_visit_ago": None if last is None else _ago(time.time() - last[0]),
    }


def _ago(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


def memory_split() -> dict[str, Any]:
    m = heapwatch.memory()
    parts = [("python objects", m.python_objects), ("pymalloc free", m.pymalloc_free),
             ("malloc free", m.malloc_free), ("other", m.other)]
    return {
        "rss": human_bytes(m.rss),
        "rows": [{"name": n, "bytes": human_bytes(b),
                  "share": f"{100 * b / m.rss:.0f}%" if m.rss else "-"} for n, b in parts],
        "pymalloc_used": human_bytes(m.pymalloc_used),
        "pymalloc_arenas": human_bytes(m.pymalloc_arenas),
        "chart": {"names": [n for n, _b in parts],
                  "mib": [round(b / (1 << 20), 2) for _n, b in parts]},
        "allocator_heavy": m.rss > 0 and (m.pymalloc_free + m.malloc_free) > m.python_objects,
    }


def _valid_type_name(name: str) -> bool:
    """A type name as retention() takes it: dotted identifiers
    ("FirstModel", "shop.models.FirstModel", "Outer.<locals>.Inner")."""
    if not name or len(name) > TYPE_NAME_MAX:
        return False
    return all(part.isidentifier() or part == "<locals>" for part in name.split("."))


def _page(request: HttpRequest, *, status: int = 200, notice: str = "", error: str = "",
          explain: dict[str, Any] | None = None) -> HttpResponse:
    user_key = f"{request.user.pk}:{request.user.get_username()}"
    directory, fallback_why = capture_directory()
    records = recent_records()
    context = {
        "pid": os.getpid(),
        "python": sys.version.split()[0],
        "now": time.strftime("%Y-%m-%d %H:%M:%S"),
        "memory": memory_split(),
        "records": len(records),
        "views": per_view(records),
        "verdict_names": RECORD_VERDICTS,
        "series": rss_series(records),
        "census": census_tables(user_key),
        "directory": directory,
        "fallback_why": fallback_why,
        "snapshots": [dict(vars(f), size_text=human_bytes(f.size), mine=f.pid == os.getpid(),
                           when=time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(f.mtime)))
                      for f in reversed(list_snapshots(directory))],
        # A series compares snapshots of one process: this one's.
        "series_names": [f.name for f in list_snapshots(directory)
                         if f.state == "written" and f.pid == os.getpid()][-SERIES_MAX:],
        "notice": notice,
        "error": error,
        "explain": explain,
        "type_name_max": TYPE_NAME_MAX,
        "assets": {name.replace(".", "_"): reverse("heapwatch:asset", args=[name])
                   + "?v=" + asset_version(name) for name in ASSETS},
    }
    return render(request, "heapwatch/staff.html", context, status=status)


# ---- views -------------------------------------------------------------------------


@never_cache
@require_GET
@staff_only
def page(request: HttpRequest) -> HttpResponse:
    audit(request, "view")
    return _page(request)


@never_cache
@require_POST
@csrf_protect
@staff_only
def capture(request: HttpRequest) -> HttpResponse:
    directory, _why = capture_directory()
    name = snapshot_name()
    path = os.path.join(directory, name)
    try:
        cap = heapwatch.capture(path)
    except heapwatch.CaptureMemoryError as e:
        audit(request, "capture-refused", str(e))
        return _page(request, status=503, error=f"No capture: {e}")
    except (heapwatch.CaptureError, OSError, ValueError) as e:
        audit(request, "capture-refused", str(e))
        return _page(request, status=409, error=f"No capture: {e}")
    with _captures_lock:
        _captures.append(_Started(name, cap, _username(request), time.time()))
    audit(request, "capture", f"{path} (process {cap.pid}, paused {cap.pause_seconds * 1e3:.1f} ms)")
    logging.getLogger("heapwatch.capture").info(
        "heapwatch: capture of process %d started from the staff page by %s into %s",
        os.getpid(), _username(request), path)
    return redirect(reverse("heapwatch:page") + "#snapshots", permanent=False)


@never_cache
@require_POST
@csrf_protect
@staff_only
def download_snapshot(request: HttpRequest) -> HttpResponse:
    name = request.POST.get("name", "")
    path, fd = _open_listed(request, name)
    audit(request, "download-snapshot", path)
    return FileResponse(os.fdopen(fd, "rb"), as_attachment=True, filename=name,
                        content_type="application/octet-stream")


@never_cache
@require_POST
@csrf_protect
@staff_only
def download_report(request: HttpRequest) -> HttpResponse:
    """The HTML report (heapwatch.report) of one listed snapshot, or of a
    series of them (several names, oldest first, at most SERIES_MAX)."""
    names = request.POST.getlist("name")[:SERIES_MAX] or [""]
    snaps = []
    paths = []
    for name in names:
        path, fd = _open_listed(request, name)
        try:
            # Read through the descriptor checked above (not the name again).
            snaps.append(heapwatch.load(f"/proc/self/fd/{fd}", fullnames=True))
        except ValueError as e:
            return _page(request, status=422, error=f"{name} is not a readable snapshot: {e}")
        finally:
            os.close(fd)
        paths.append(path)
    audit(request, "download-report", ", ".join(paths))
    html = report.render(snaps, names)
    del snaps
    stem = names[0][: -len(SUFFIX)] + (f"-and-{len(names) - 1}-more" if len(names) > 1 else "")
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{stem}.html"'
    return response


@never_cache
@require_POST
@csrf_protect
@staff_only
def explain(request: HttpRequest) -> HttpResponse:
    name = request.POST.get("type", "").strip()
    if not _valid_type_name(name):
        audit(request, "explain-refused", repr(name[:100]))
        return _page(request, status=400, error="A type name is a dotted Python name: "
                                                "FirstModel or shop.models.FirstModel.",
                     explain={"name": name[:TYPE_NAME_MAX], "groups": None, "collect": True})
    collect = request.POST.get("collect") == "on"
    audit(request, "explain", name + (" (after gc.collect())" if collect else ""))
    started = time.perf_counter()
    if collect:
        gc.collect()
    groups = heapwatch.retention(name, RETENTION_GROUPS)
    seconds = time.perf_counter() - started
    rows = [{"count": g.count, "bytes": human_bytes(g.bytes),
             "retained": "-" if g.retained is None else human_bytes(g.retained),
             "type": g.type, "via": g.via,
             "example": "" if g.example is None else str(g.example),
             # No path from a root and not held from outside: garbage.
             "unreachable": g.example is None or (g.example.root is None
                                                  and not g.example.held)} for g in groups]
    del groups
    return _page(request, explain={"name": name, "groups": rows, "seconds": f"{seconds:.2f}",
                                   "collect": collect, "qualified": "." in name})


@require_GET
@staff_only
def asset(request: HttpRequest, name: str) -> HttpResponse:
    """The page's script, style sheet and plotly.js: staff only, cached by
    the browser (a year when the URL names the current version)."""
    content_type = ASSETS.get(name)
    if content_type is None:
        raise Http404("no such asset")
    version = asset_version(name)
    etag = f'"{version}"'
    if request.headers.get("If-None-Match") == etag:
        response: HttpResponse = HttpResponseNotModified()
    else:
        response = HttpResponse(_asset_text(name), content_type=f"{content_type}; charset=utf-8")
    response["ETag"] = etag
    if request.GET.get("v") == version:
        patch_cache_control(response, private=True, max_age=365 * 24 * 3600, immutable=True)
    else:
        patch_cache_control(response, private=True, max_age=300)
    response["X-Content-Type-Options"] = "nosniff"
    return response
