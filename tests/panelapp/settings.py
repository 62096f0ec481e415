"""Settings of the panel's test project: DEBUG on, the toolbar with
HeapWatchPanel, HeapWatchMiddleware measuring every request, and a guard
threshold low enough for a few dozen rows.  PANELAPP_DB names the SQLite
file (the browser test's server); PANELAPP_MIDDLEWARE=0 leaves
HeapWatchMiddleware out."""

from __future__ import annotations

import os

SECRET_KEY = "heapwatch-panel-tests-not-secret"
DEBUG = True
ALLOWED_HOSTS = ["*"]
INTERNAL_IPS = ["127.0.0.1"]
ROOT_URLCONF = "tests.panelapp.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
STATIC_URL = "/static/"

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.staticfiles",
    "debug_toolbar",
    "heapwatch.django",
    "tests.panelapp",
]

MIDDLEWARE = [
    "debug_toolbar.middleware.DebugToolbarMiddleware",
]
if os.environ.get("PANELAPP_MIDDLEWARE", "1") == "1":
    # Outside the toolbar, as a project would put it first.
    MIDDLEWARE.insert(0, "heapwatch.django.middleware.HeapWatchMiddleware")

TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
}]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("PANELAPP_DB", ":memory:"),
    },
}

DEBUG_TOOLBAR_PANELS = [
    "debug_toolbar.panels.timer.TimerPanel",
    "debug_toolbar.panels.sql.SQLPanel",
    "debug_toolbar.panels.templates.TemplatesPanel",
    "heapwatch.django.panels.HeapWatchPanel",
]
DEBUG_TOOLBAR_CONFIG = {
    # The toolbar refuses to run under a test runner unless told it is meant to.
    "IS_RUNNING_TESTS": False,
}

HEAPWATCH = {
    "SAMPLE_RATE": 1.0,
    "QUERYSET_ROWS_WARN": 20,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
}
