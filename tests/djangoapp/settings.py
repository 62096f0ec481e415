"""Settings for the Django tests: SQLite as "default", and a real PostgreSQL
server as "pg" when Debian's server is installed (tests/pgserver.py starts it
on 127.0.0.1 in a temporary directory)."""

from __future__ import annotations

import os

from tests.pgserver import postgres_database

SECRET_KEY = "heapwatch-tests-not-secret"
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "tests.djangoapp.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "heapwatch.django",
    "tests.djangoapp",
    "tests.qsapp",
]

MIDDLEWARE = [
    "heapwatch.django.middleware.HeapWatchMiddleware",
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("HEAPWATCH_TEST_SQLITE", ":memory:"),
    },
}
_pg = postgres_database()
if _pg is not None:
    DATABASES["pg"] = _pg

HEAPWATCH: dict[str, object] = {}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
}
