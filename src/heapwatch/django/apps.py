from __future__ import annotations

from django.apps import AppConfig


class HeapWatchConfig(AppConfig):
    name = "heapwatch.django"
    label = "heapwatch"
    verbose_name = "heapwatch"
    default = True

    def ready(self) -> None:
        from heapwatch.django import checks, conf, guard  # noqa: F401  (registers)

        conf.connect_signals()
        guard.install()
