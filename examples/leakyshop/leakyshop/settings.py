"""The seed's leaky shop: SQLite, heapwatch installed, its records on stderr."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "leakyshop-demo-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "leakyshop.urls"
WSGI_APPLICATION = "leakyshop.wsgi.application"
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "heapwatch.django",
    "shop",
]

MIDDLEWARE = [
    "heapwatch.django.middleware.HeapWatchMiddleware",
]

# For the Wagtail-shaped page (shop.views.page).  DEBUG is off, so Django
# caches the compiled templates, as in production.
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("LEAKYSHOP_DB", str(BASE_DIR / "db.sqlite3")),
    }
}

HEAPWATCH = {
    "SAMPLE_RATE": 1.0,          # a demo: measure every request
    "MIN_OBJECTS": 1000,
    "TOP_TYPES": 6,
    "QUERYSET_ROWS_WARN": 10_000,
}

# bench/middleware.py runs the shop several ways (the demo: "every").
#   off       no middleware (the app, and so the queryset guard, stay)
#   bare      no heapwatch at all: neither the app nor the middleware
#   defaults  HEAPWATCH = {}: the package defaults (TIME_BUDGET sampling)
#   1/N       the package defaults with SAMPLE_RATE 1/N ("1/1": every request)
_mode = os.environ.get("LEAKYSHOP_HEAPWATCH", "every")
if _mode == "off":
    MIDDLEWARE = []
elif _mode == "bare":
    MIDDLEWARE = []
    INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "heapwatch.django"]
elif _mode == "defaults":
    HEAPWATCH = {}
elif _mode.startswith("1/"):
    HEAPWATCH = {"SAMPLE_RATE": 1 / int(_mode[2:])}
else:
    # The demo also asks what holds the growth (a graph of the worker's
    # heap per logged request: fine for a demo, rate limited in production).
    HEAPWATCH.update({"RETENTION": True, "RETENTION_INTERVAL": 0,
                      "RETENTION_TYPES": 3, "RETENTION_GROUPS": 1})
    if _mode == "demo":
        # A record for every request, small growth included, so that the
        # demo's table takes each request's RSS from its record.
        HEAPWATCH["MIN_OBJECTS"] = 0

# Where the views write their dump: the repository's ignored build folder.
DUMP_PATH = Path(os.environ.get("LEAKYSHOP_DUMP",
                                BASE_DIR.parent.parent / "build" / "leakyshop" / "dump.txt"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "seed": {
            "format": "[%(asctime)s] %(levelname)s [%(name)s] %(message)s",
            "datefmt": "%d/%m/%Y %H:%M:%S",
        }
    },
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "seed"}},
    "loggers": {
        "heapwatch": {"handlers": ["stderr"], "level": "DEBUG", "propagate": False},
    },
}
# The demo reads the middleware's records back from a JSON-lines file: the
# figures of its table are the ones the log lines show.
if os.environ.get("LEAKYSHOP_RECORDS"):
    LOGGING["handlers"]["records"] = {"class": "shop.records.RecordsFile",
                                      "filename": os.environ["LEAKYSHOP_RECORDS"]}
    LOGGING["loggers"]["heapwatch"]["handlers"].append("records")
