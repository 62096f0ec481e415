"""heapwatch for Django: per-request growth in the app's logs, the big-queryset
guard, and bounded-memory streaming and deletion of querysets.

    INSTALLED_APPS += ["heapwatch.django"]
    MIDDLEWARE += ["heapwatch.django.middleware.HeapWatchMiddleware"]
"""

__all__ = ["HugeQuerySetError", "delete_in_chunks", "stream"]

_LAZY = {
    "stream": "heapwatch.django.querysets",
    "delete_in_chunks": "heapwatch.django.querysets",
    "HugeQuerySetError": "heapwatch.django.guard",
}


def __getattr__(name: str) -> object:
    # Lazy, so importing heapwatch.django does not import Django models
    # before the app registry is ready.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'heapwatch.django' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
