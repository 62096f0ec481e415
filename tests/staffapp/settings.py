"""Settings of the staff page's real server (tests/test_django_staff.py):
DEBUG off, a SQLite file named by HEAPWATCH_STAFF_DB, sessions in signed
cookies, the auth app's login view, HeapWatchMiddleware measuring every
request."""

from __future__ import annotations

import os

SECRET_KEY = "heapwatch-staff-tests-not-secret"
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = "tests.staffapp.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/heapwatch/"

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "heapwatch.django",
    "tests.staffapp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "heapwatch.django.middleware.HeapWatchMiddleware",
]
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"

TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": ["django.template.context_processors.request",
                                       "django.contrib.auth.context_processors.auth"]},
}]

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                         "NAME": os.environ.get("HEAPWATCH_STAFF_DB", ":memory:")}}

HEAPWATCH = {"SAMPLE_RATE": 1.0, "SNAPSHOT_DIR": os.environ.get("HEAPWATCH_STAFF_SNAPSHOTS",
                                                                "/var/tmp/heapwatch")}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"heapwatch.audit": {"handlers": ["console"], "level": "INFO"}},
}
