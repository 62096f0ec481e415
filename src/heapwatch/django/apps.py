from __future__ import annotations

from django.apps import AppConfig


class HeapWatchConfig(AppConfig):
    """INSTALLED_APPS += ["heapwatch.django"] finds this config (default).

    Its name is the top-level package "heapwatch", not "heapwatch.django":
    `manage.py help` lists an app's commands under the last component of the
    name, and Django loads them from <name>.management.commands, so they
    live in heapwatch/management/commands and are listed under [heapwatch].
    Its one model, heapwatch.models.Heap, is unmanaged (no table): it
    carries the staff page's permission, heapwatch.view_heap, which the
    migration heapwatch/migrations/0001_initial.py creates on `migrate`.
    The staff page's templates (heapwatch/templates/heapwatch/) and
    script and style sheet (heapwatch/static/heapwatch/, served by the
    page's own view) are found through this app.
    """

    name = "heapwatch"
    label = "heapwatch"
    verbose_name = "heapwatch"
    default = True

    def ready(self) -> None:
        from heapwatch.django import checks, conf, guard, snapshots  # noqa: F401  (registers)

        conf.connect_signals()
        guard.install()
        snapshots.install()
