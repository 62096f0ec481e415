"""heapwatch's staff page (heapwatch.django.views): access control, CSRF,
the audit trail, captures and their downloads, "explain a type", and a real
server driven by a real browser."""

from __future__ import annotations

import gc
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

import heapwatch
from heapwatch._triggers import snapshot_name
from heapwatch.django import middleware, views
from tests.browser import browser, console_errors, screenshot  # noqa: F401  (fixture)
from tests.staffapp import views as demo

ROOT = Path(__file__).resolve().parent.parent
PAGE = "/heapwatch/"
PASSWORD = "correct horse battery staple"

pytestmark = [pytest.mark.urls("tests.staffapp.urls")]


# ---- in-process: Django's test client ------------------------------------------


@pytest.fixture(autouse=True)
def _staff_settings(settings: Any, tmp_path: Path) -> Iterator[None]:
    from tests.staffapp import settings as staff

    settings.DEBUG = False
    settings.MIDDLEWARE = staff.MIDDLEWARE
    settings.SESSION_ENGINE = staff.SESSION_ENGINE
    settings.TEMPLATES = staff.TEMPLATES
    settings.LOGIN_URL = staff.LOGIN_URL
    settings.HEAPWATCH = {"SAMPLE_RATE": 1.0, "SNAPSHOT_DIR": str(tmp_path / "snaps")}
    middleware.reset_state()
    demo.CACHE.rows.clear()
    views._seen.clear()
    yield
    demo.CACHE.rows.clear()


def make_user(django_user_model: Any, name: str, *, staff: bool = True, perm: bool = True,
              active: bool = True, superuser: bool = False) -> Any:
    user = django_user_model.objects.create_user(name, password=PASSWORD, is_staff=staff,
                                                 is_active=active, is_superuser=superuser)
    if perm:
        user.user_permissions.add(Permission.objects.get(codename="view_heap",
                                                         content_type__app_label="heapwatch"))
    return user


def logged_in(user: Any, **kwargs: Any) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def csrf_client(user: Any) -> tuple[Client, str]:
    """A client that enforces CSRF, logged in, with the token from the page."""
    client = logged_in(user, enforce_csrf_checks=True)
    response = client.get(PAGE)
    assert response.status_code == 200
    return client, response.context["csrf_token"]


@pytest.mark.django_db
def test_migrate_created_the_permission() -> None:
    perm = Permission.objects.get(codename="view_heap")
    assert perm.content_type.app_label == "heapwatch"
    assert perm.content_type.model == "heap"


@pytest.mark.django_db
def test_the_migration_matches_the_model() -> None:
    from django.core.management import call_command

    # makemigrations --check exits non-zero when the model needs a migration.
    call_command("makemigrations", "heapwatch", "--check", "--dry-run", verbosity=0)


@pytest.mark.django_db
def test_anonymous_is_sent_to_the_login_page_with_next() -> None:
    response = Client().get(PAGE)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/heapwatch/"
    for url in ("/heapwatch/capture/", "/heapwatch/explain/"):
        response = Client().post(url)
        assert response.status_code in (302, 403)   # CSRF may refuse first
        if response.status_code == 302:
            assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["not staff", "staff without the permission",
                                  "permission without staff"])
def test_users_without_access_get_403(django_user_model: Any, kind: str,
                                      caplog: pytest.LogCaptureFixture) -> None:
    user = make_user(django_user_model, "u", staff=kind != "not staff" and kind != "permission without staff",
                     perm=kind != "staff without the permission")
    with caplog.at_level(logging.INFO, logger="heapwatch.audit"):
        client = logged_in(user)
        assert client.get(PAGE).status_code == 403
        assert client.get("/heapwatch/assets/staff.js").status_code == 403
    denied = [r for r in caplog.records if r.name == "heapwatch.audit"]
    assert denied and denied[0].heapwatch_audit["action"] == "denied"  # type: ignore[attr-defined]
    assert denied[0].heapwatch_audit["username"] == "u"  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_an_inactive_staff_user_is_refused(django_user_model: Any, settings: Any) -> None:
    user = make_user(django_user_model, "gone", active=False)
    # The default backend does not let an inactive user in at all ...
    assert Client().get(PAGE).status_code == 302
    client = logged_in(user)
    assert client.get(PAGE).status_code == 302
    # ... one that does (AllowAllUsersModelBackend) meets the page's own check.
    settings.AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.AllowAllUsersModelBackend"]
    client = logged_in(user)
    assert client.get(PAGE).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("superuser", [False, True])
def test_staff_with_the_permission_and_superusers_see_the_page(
        django_user_model: Any, superuser: bool) -> None:
    user = make_user(django_user_model, "boss", perm=not superuser, superuser=superuser)
    client = logged_in(user)
    client.get("/grow/")     # a measured request for the table
    client.get("/flat/")
    response = client.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<table class=\"views\">" in html
    assert "tests.staffapp.views.grow" in html and "tests.staffapp.views.flat" in html
    assert 'id="hw-rss-data"' in html and 'id="hw-memory-data"' in html
    assert "First visit" in html
    assert response["Cache-Control"].startswith("max-age=0")
    # No inline script: data in json_script, code in the staff-only assets.
    assert "<script>" not in html
    assert html.count("<script src=") == 2
    # The second visit shows growth since the first.
    demo.CACHE.rows.extend(demo.Order(i) for i in range(3000))
    html = client.get(PAGE).content.decode()
    assert "Growth since your last visit" in html
    assert "Grew most since your last visit" in html
    assert ">Order</td>" in html


@pytest.mark.django_db
def test_the_page_shows_no_object_contents(django_user_model: Any) -> None:
    secret = "s3cr3t-token-value-" + "x" * 10
    holder = {"k": [secret]}
    demo.CACHE.rows.append(demo.Order(0))
    demo.CACHE.rows[0].secret = holder  # type: ignore[attr-defined]
    client, token = csrf_client(make_user(django_user_model, "boss"))
    for response in (client.get(PAGE),
                     client.post("/heapwatch/explain/", {"type": "list", "csrfmiddlewaretoken": token})):
        assert secret not in response.content.decode()


@pytest.mark.django_db
def test_the_per_view_table_counts_verdicts(django_user_model: Any) -> None:
    client = logged_in(make_user(django_user_model, "boss"))
    for _ in range(8):
        client.get("/grow/")
    rows = {v["view"]: v for v in views.per_view(middleware.recent_records())}
    grow = rows["tests.staffapp.views.grow"]
    assert grow["requests"] == 8
    # The sum of the requests' growth (other tests' garbage freed meanwhile
    # makes it noisy; the leak's own 2000 per request dominates).
    assert grow["objects"] > 4 * 2000
    assert grow["verdicts"]["leak"] >= 1
    assert "Order" in grow["leaks"]
    assert sum(grow["verdicts"].values()) == 8
    html = client.get(PAGE).content.decode()
    assert '<span class="tag">Order +' in html


def test_one_verdict_per_request() -> None:
    def record(verdict: str, objects: int, *types: tuple[str, int, str]) -> dict[str, Any]:
        return {"verdict": verdict, "objects_delta": objects, "bytes_delta": objects * 50,
                "types": [{"name": n, "delta": d, "verdict": v} for n, d, v in types]}

    v = views.request_verdict
    assert v(record("leak", 2000, ("Row", 2000, "leak")), 1000, 1 << 20) == "leak"
    assert v(record("concurrent", 5000), 1000, 1 << 20) == "concurrent"
    assert v(record("allocator", 10), 1000, 1 << 20) == "allocator"
    # Below the thresholds the middleware logs at: no leak, whatever grew.
    assert v(record("no leak", 40, ("dict", 40, "warm-up")), 1000, 1 << 20) == "no leak"
    # Above them: the verdict of the largest grown type.
    big = record("no leak", 3000, ("dict", 10, "transient"), ("Row", 2990, "warm-up"))
    assert v(big, 1000, 1 << 20) == "warm-up"
    big = record("no leak", 3000, ("Node", 3000, "transient"), ("dict", 5, "warm-up"))
    assert v(big, 1000, 1 << 20) == "transient"


@pytest.mark.django_db
def test_the_staff_page_is_not_measured(django_user_model: Any) -> None:
    # Every request measured (SAMPLE_RATE 1) but the page's own: its
    # censuses, per-user memory, captures and graphs are not the
    # application's growth (its views are marked heapwatch_exempt).
    middleware.reset_state()
    client, token = csrf_client(make_user(django_user_model, "boss"))
    for i in range(12):
        client.get(PAGE)
        client.post("/heapwatch/explain/", {"type": "Order", "csrfmiddlewaretoken": token})
        client.get("/flat/")
    views = [str(r["view"]) for r in middleware.recent_records()]
    assert views.count("tests.staffapp.views.flat") == 12
    assert not [v for v in views if v.startswith("heapwatch.")]
    assert not [r for r in middleware.recent_records() if r["verdict"] == "leak"]


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/heapwatch/capture/", "/heapwatch/explain/",
                                 "/heapwatch/snapshot/", "/heapwatch/report/"])
def test_actions_need_post_and_a_csrf_token(django_user_model: Any, url: str) -> None:
    client, token = csrf_client(make_user(django_user_model, "boss"))
    assert client.get(url).status_code == 405
    assert client.post(url, {"type": "Order", "name": "x"}).status_code == 403
    assert client.post(url, {"type": "Order", "name": "x", "csrfmiddlewaretoken": "0" * 64}
                       ).status_code == 403
    # With the token the view runs (the name "x" is not a listed file: 404).
    expected = {"/heapwatch/capture/": 302, "/heapwatch/explain/": 200,
                "/heapwatch/snapshot/": 404, "/heapwatch/report/": 404}[url]
    assert client.post(url, {"type": "Order", "name": "x", "csrfmiddlewaretoken": token}
                       ).status_code == expected
    if url == "/heapwatch/capture/":
        views._captures[-1].capture.wait(120)


_AUDITED: list[tuple[Any, ...]] = []
_HOOKED: list[bool] = []


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if event == "heapwatch.audit" and _HOOKED and _HOOKED[0]:
        _AUDITED.append(args)


@pytest.fixture
def audit_events() -> Iterator[list[tuple[Any, ...]]]:
    """The heapwatch.audit events raised while the test runs (an audit hook
    cannot be removed: this one records only while the flag is set)."""
    if not _HOOKED:
        sys.addaudithook(_hook)
        _HOOKED.append(False)
    _AUDITED.clear()
    _HOOKED[0] = True
    try:
        yield _AUDITED
    finally:
        _HOOKED[0] = False


@pytest.mark.django_db
def test_each_view_and_action_is_audited(django_user_model: Any, caplog: pytest.LogCaptureFixture,
                                         audit_events: list[tuple[Any, ...]]) -> None:
    with caplog.at_level(logging.INFO, logger="heapwatch.audit"):
        client, token = csrf_client(make_user(django_user_model, "auditor"))
        client.post("/heapwatch/explain/", {"type": "Order", "csrfmiddlewaretoken": token})
        client.post("/heapwatch/explain/", {"type": "../etc", "csrfmiddlewaretoken": token})
        client.post("/heapwatch/capture/", {"csrfmiddlewaretoken": token})
        views._captures[-1].capture.wait(120)
        client.post("/heapwatch/snapshot/", {"name": "../../x", "csrfmiddlewaretoken": token})
    logged = [(r.heapwatch_audit["action"], r.heapwatch_audit["username"])  # type: ignore[attr-defined]
              for r in caplog.records if r.name == "heapwatch.audit"]
    expected = [("view", "auditor"), ("explain", "auditor"), ("explain-refused", "auditor"),
                ("capture", "auditor"), ("refused-download", "auditor")]
    assert logged == expected
    assert [(a, u) for a, u, _d in audit_events] == expected
    assert audit_events[1][2] == "Order"
    messages = [r.getMessage() for r in caplog.records if r.name == "heapwatch.audit"]
    assert messages[0] == "heapwatch staff page: view by auditor"


AUDIT_SCRIPT = textwrap.dedent("""
    import os, sys
    import django
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.staffapp.settings"
    django.setup()
    from django.core.management import call_command
    call_command("migrate", verbosity=0)
    from django.contrib.auth.models import User
    User.objects.create_superuser("root", password="pw")
    seen = []
    sys.addaudithook(lambda event, args: seen.append(args) if event == "heapwatch.audit" else None)
    from django.test import Client
    c = Client()
    c.force_login(User.objects.get(username="root"))
    assert c.get("/heapwatch/").status_code == 200
    print(seen)
""")


def test_the_audit_event_in_a_fresh_process(tmp_path: Path) -> None:
    env = dict(os.environ, HEAPWATCH_STAFF_DB=str(tmp_path / "db.sqlite3"),
               HEAPWATCH_STAFF_SNAPSHOTS=str(tmp_path / "snaps"), PYTHONPATH=str(ROOT))
    env.pop("DJANGO_SETTINGS_MODULE", None)
    out = subprocess.run([sys.executable, "-c", AUDIT_SCRIPT], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[('view', 'root', '')]"


@pytest.mark.django_db
def test_capture_then_download_the_snapshot_and_its_report(
        django_user_model: Any, tmp_path: Path) -> None:
    client, token = csrf_client(make_user(django_user_model, "boss"))
    response = client.post("/heapwatch/capture/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302 and response["Location"] == "/heapwatch/#snapshots"
    path = views._captures[-1].capture.wait(120)
    assert os.path.dirname(os.fsdecode(path)) == str(tmp_path / "snaps")
    assert oct(os.stat(tmp_path / "snaps").st_mode & 0o777) == "0o700"
    name = os.path.basename(os.fsdecode(path))
    html = client.get(PAGE).content.decode()
    assert name in html and "Download snapshot" in html

    response = client.post("/heapwatch/snapshot/", {"name": name, "csrfmiddlewaretoken": token})
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="{name}"'
    data = b"".join(response.streaming_content)
    copy = tmp_path / "copy.hwsnap"
    copy.write_bytes(data)
    snap = heapwatch.load(copy)
    assert len(snap) > 1000 and snap.census().total_count > 1000

    response = client.post("/heapwatch/report/", {"name": name, "csrfmiddlewaretoken": token})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="{name[:-7]}.html"'
    assert response.content.lstrip().lower().startswith(b"<!doctype html")
    assert name.encode() in response.content

    # Another worker's capture in the same directory (same host): listed,
    # and any worker may serve it.
    other = name.replace(f"-{os.getpid()}-", f"-{os.getpid() + 100000}-")
    shutil.copyfile(path, os.path.join(os.path.dirname(os.fsdecode(path)), other))
    html = client.get(PAGE).content.decode()
    assert other in html and f"{os.getpid() + 100000}</td>" in html
    response = client.post("/heapwatch/snapshot/", {"name": other, "csrfmiddlewaretoken": token})
    assert response.status_code == 200 and b"".join(response.streaming_content) == data
    os.unlink(os.path.join(os.path.dirname(os.fsdecode(path)), other))

    # A second capture: the page offers the report of the series.
    demo.CACHE.rows.extend(demo.Order(i) for i in range(3000))
    assert client.post("/heapwatch/capture/", {"csrfmiddlewaretoken": token}).status_code == 302
    second = os.path.basename(os.fsdecode(views._captures[-1].capture.wait(120)))
    html = client.get(PAGE).content.decode()
    assert "report of this process's last 2 snapshots" in html
    response = client.post("/heapwatch/report/", {"name": [name, second],
                                                  "csrfmiddlewaretoken": token})
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="{name[:-7]}-and-1-more.html"'
    assert second.encode() in response.content
    # One name not listed refuses the whole report.
    response = client.post("/heapwatch/report/", {"name": [name, "../x"],
                                                  "csrfmiddlewaretoken": token})
    assert response.status_code == 404


@pytest.mark.django_db
def test_a_second_capture_while_one_runs_is_refused(django_user_model: Any) -> None:
    client, token = csrf_client(make_user(django_user_model, "boss"))
    assert client.post("/heapwatch/capture/", {"csrfmiddlewaretoken": token}).status_code == 302
    response = client.post("/heapwatch/capture/", {"csrfmiddlewaretoken": token})
    views._captures[-1].capture.wait(120)
    # Either the first was still running (refused, said on the page), or
    # it had finished already and the second ran.
    if response.status_code == 409:
        assert "already running" in response.content.decode()
        assert response.context["error"].startswith("No capture: a capture is already running")
    else:
        assert response.status_code == 302
        views._captures[-1].capture.wait(120)


@pytest.mark.django_db
def test_an_unusable_snapshot_dir_falls_back_to_a_private_directory(
        django_user_model: Any, settings: Any, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    settings.HEAPWATCH = {"SAMPLE_RATE": 1.0, "SNAPSHOT_DIR": str(tmp_path / "file" / "snaps")}
    client, token = csrf_client(make_user(django_user_model, "boss"))
    html = client.get(PAGE).content.decode()
    assert "is not usable" in html and "a private temporary directory" in html
    assert client.post("/heapwatch/capture/", {"csrfmiddlewaretoken": token}).status_code == 302
    path = os.fsdecode(views._captures[-1].capture.wait(120))
    directory = os.path.dirname(path)
    assert directory.startswith(tempfile.gettempdir())
    assert oct(os.stat(directory).st_mode & 0o777) == "0o700"
    assert os.path.basename(path) in client.get(PAGE).content.decode()
    shutil.rmtree(directory)


@pytest.mark.django_db
def test_downloads_serve_only_listed_files(django_user_model: Any, tmp_path: Path) -> None:
    client, token = csrf_client(make_user(django_user_model, "boss"))
    snaps = tmp_path / "snaps"
    os.makedirs(snaps, mode=0o700, exist_ok=True)
    secret = tmp_path / "secret.txt"
    secret.write_text("not for download")
    prefix = snapshot_name().rsplit("-", 1)[0]
    # Named like this process's captures, but a symlink out of the directory.
    os.symlink(secret, snaps / f"{prefix}-20250101T000000.000000Z.hwsnap")
    # Another process's file, and a file not named as a capture.
    (snaps / "otherhost-1-20250101T000000.000000Z.hwsnap").write_bytes(b"x")
    (snaps / "notes.txt").write_bytes(b"x")
    for name in ["../secret.txt", str(secret), "/etc/passwd", "..", ".", "",
                 f"{prefix}-20250101T000000.000000Z.hwsnap",
                 "otherhost-1-20250101T000000.000000Z.hwsnap", "notes.txt",
                 f"../snaps/{prefix}-20250101T000000.000000Z.hwsnap", "a\x00b"]:
        for url in ("/heapwatch/snapshot/", "/heapwatch/report/"):
            response = client.post(url, {"name": name, "csrfmiddlewaretoken": token})
            assert response.status_code == 404, (url, name)
            assert b"not for download" not in response.content
    html = client.get(PAGE).content.decode()
    assert "otherhost-1" not in html and "notes.txt" not in html


@pytest.mark.django_db
def test_explain_a_type_names_the_holder(django_user_model: Any) -> None:
    demo.CACHE.rows.extend(demo.Order(i) for i in range(500))
    client, token = csrf_client(make_user(django_user_model, "boss"))
    response = client.post("/heapwatch/explain/", {"type": "Order", "csrfmiddlewaretoken": token})
    assert response.status_code == 200
    groups = response.context["explain"]["groups"]
    assert groups[0]["count"] == 500
    assert "OrderCache .rows" in groups[0]["via"]
    assert "CACHE" in groups[0]["example"]
    assert not groups[0]["unreachable"]
    assert "OrderCache .rows" in response.content.decode()
    # A qualified name works too; an unknown type is said so.
    response = client.post("/heapwatch/explain/", {"type": "tests.staffapp.views.Order",
                                                   "csrfmiddlewaretoken": token})
    assert response.context["explain"]["groups"][0]["count"] == 500
    response = client.post("/heapwatch/explain/", {"type": "NoSuchType",
                                                   "csrfmiddlewaretoken": token})
    assert "No live object of type NoSuchType" in response.content.decode()
    # Garbage (a cycle not collected yet) is said to be unreachable, and
    # "collect garbage first" frees it.
    gc_was = gc.isenabled()
    gc.disable()
    try:
        cycle = [demo.OrderCache() for _ in range(3)]
        for c in cycle:
            c.rows.append(c)  # type: ignore[arg-type]
        del cycle, c
        response = client.post("/heapwatch/explain/", {"type": "OrderCache",
                                                       "csrfmiddlewaretoken": token})
        rows = response.context["explain"]["groups"]
        assert any(g["unreachable"] and g["count"] == 3 for g in rows)
        assert "garbage the collector has not freed yet" in response.content.decode()
        response = client.post("/heapwatch/explain/", {"type": "OrderCache", "collect": "on",
                                                       "csrfmiddlewaretoken": token})
        assert [g["count"] for g in response.context["explain"]["groups"]] == [1]
    finally:
        if gc_was:
            gc.enable()


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["", " ", "a b", "1abc", "../x", "x/y", "a..b", "x" * 201,
                                  "<script>", "Order'", "a.", "*"])
def test_explain_refuses_a_bad_type_name(django_user_model: Any, name: str) -> None:
    client, token = csrf_client(make_user(django_user_model, "boss"))
    response = client.post("/heapwatch/explain/", {"type": name, "csrfmiddlewaretoken": token})
    assert response.status_code == 400
    assert "<script>" not in response.content.decode().split("</header>")[1].split("<script src")[0]


@pytest.mark.django_db
def test_assets_are_staff_only_and_cached(django_user_model: Any) -> None:
    client = logged_in(make_user(django_user_model, "boss"))
    html = client.get(PAGE).content.decode()
    url = next(part.split('"')[0] for part in html.split('<script src="')[1:]
               if "plotly" in part)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    assert "private" in response["Cache-Control"] and "immutable" in response["Cache-Control"]
    assert b"plotly" in response.content[:2000].lower()
    again = client.get(url, HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304
    assert Client().get(url).status_code == 302
    assert client.get("/heapwatch/assets/..%2Fmodels.py").status_code == 404
    assert client.get("/heapwatch/assets/nothing.js").status_code == 404
    unversioned = client.get("/heapwatch/assets/staff.css")
    assert unversioned.status_code == 200 and "immutable" not in unversioned["Cache-Control"]


# ---- a real server and a real browser -------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


USERS_SCRIPT = textwrap.dedent("""
    import django
    django.setup()
    from django.contrib.auth.models import Permission, User
    perm = Permission.objects.get(codename="view_heap", content_type__app_label="heapwatch")
    staff = User.objects.create_user("staff", password=%(pw)r, is_staff=True)
    staff.user_permissions.add(perm)
    User.objects.create_user("plain", password=%(pw)r)
    User.objects.create_user("staffnoperm", password=%(pw)r, is_staff=True)
    User.objects.create_superuser("root", password=%(pw)r)
""") % {"pw": PASSWORD}


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    tmp = tempfile.mkdtemp(prefix="heapwatch-staff-")
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="tests.staffapp.settings",
               HEAPWATCH_STAFF_DB=os.path.join(tmp, "db.sqlite3"),
               HEAPWATCH_STAFF_SNAPSHOTS=os.path.join(tmp, "snaps"), PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, "-m", "django", "migrate", "--verbosity", "0"],
                   cwd=ROOT, env=env, check=True, timeout=120)
    subprocess.run([sys.executable, "-c", USERS_SCRIPT], cwd=ROOT, env=env, check=True,
                   timeout=120)
    port = _free_port()
    log = open(os.path.join(tmp, "server.log"), "wb")
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}",
                             "--workers", "1", "tests.staffapp.wsgi"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/flat/", timeout=2).read()
                break
            except (urllib.error.URLError, ConnectionError):
                if proc.poll() is not None:
                    raise RuntimeError(open(log.name).read()) from None
                time.sleep(0.1)
        for _ in range(8):
            urllib.request.urlopen(base + "/grow/", timeout=10).read()
            urllib.request.urlopen(base + "/flat/", timeout=10).read()
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


def _log_in(driver: Any, base: str, username: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.delete_all_cookies()
    driver.get(base + PAGE)
    assert driver.current_url == base + "/accounts/login/?next=/heapwatch/"
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login-submit").click()
    WebDriverWait(driver, 30).until(lambda d: "/accounts/login/" not in d.current_url
                                    or d.find_elements(By.ID, "login-error"))
    assert not driver.find_elements(By.ID, "login-error"), username


def test_browser_anonymous_and_non_staff_are_kept_out(browser: Any, server: str) -> None:  # noqa: F811
    driver = browser
    driver.delete_all_cookies()
    driver.get(server + PAGE)
    assert "/accounts/login/?next=/heapwatch/" in driver.current_url
    for name in ("plain", "staffnoperm"):
        _log_in(driver, server, name)
        assert driver.current_url == server + PAGE
        assert "403" in driver.page_source or "Forbidden" in driver.page_source
        assert "hw-rss-chart" not in driver.page_source
    console_errors(driver)   # the 403 responses' own entries


@pytest.mark.parametrize("username", ["staff", "root"])
def test_browser_staff_sees_the_page_and_the_chart(browser: Any, server: str,  # noqa: F811
                                                   username: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    _log_in(driver, server, username)
    assert driver.current_url == server + PAGE
    assert driver.find_element(By.CSS_SELECTOR, "table.views")
    assert "tests.staffapp.views.grow" in driver.find_element(By.CSS_SELECTOR, "table.views").text
    WebDriverWait(driver, 30).until(lambda d: d.execute_script(
        "var el = document.getElementById('hw-rss-chart');"
        "return !!(el && el.classList.contains('js-plotly-plot') && el.data && el.data.length"
        " && el.data[0].y.length && el.querySelector('svg.main-svg'));"))
    points = driver.execute_script("return document.getElementById('hw-rss-chart').data[0].y.length")
    assert points >= 10
    assert driver.execute_script(
        "return document.getElementById('hw-memory-chart').data.length") == 4
    assert console_errors(driver) == []
    if username != "staff":
        return
    # Capture a snapshot, wait until it is written, explain a type through
    # the form (its result page has every section), then screenshot.
    driver.find_element(By.CSS_SELECTOR, "#snapshots button[type=submit]").click()

    def written(d: Any) -> bool:
        if "Download snapshot" in d.page_source:
            return True
        time.sleep(0.5)
        d.get(server + PAGE)    # the list says "writing" until the child is done
        return False

    WebDriverWait(driver, 120).until(written)
    box = driver.find_element(By.ID, "hw-type")
    box.send_keys("Order")
    box.submit()
    WebDriverWait(driver, 60).until(
        lambda d: "OrderCache .rows" in d.find_element(By.ID, "explain").text)
    WebDriverWait(driver, 30).until(lambda d: d.execute_script(
        "var el = document.getElementById('hw-rss-chart'); return !!(el && el.data);"))
    assert "Growth since your last visit" in driver.page_source
    driver.execute_script("window.scrollTo(0, 0)")
    path = screenshot(driver, "staff-page")
    assert os.path.getsize(path) > 10_000
    assert console_errors(driver) == []
