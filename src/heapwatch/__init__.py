"""heapwatch: find, explain and fix memory growth in Django and Python servers.

The engine is C (``heapwatch._engine``); this package is the thin layer over it.
"""

from heapwatch import _compat

_compat.check_supported()

from heapwatch._capture import Capture, CaptureError, CaptureMemoryError, capture  # noqa: E402
from heapwatch._engine import Census, GrowthRow, TypeStats, at, census  # noqa: E402
from heapwatch._explain import (  # noqa: E402
    Group,
    Path,
    Retainer,
    Snapshot,
    load,
    retention,
    snapshot,
    top_retainers,
    why,
)
from heapwatch._format import Step  # noqa: E402
from heapwatch._growth import growth, show_growth  # noqa: E402
from heapwatch._leaks import LeakError, no_leaks  # noqa: E402
from heapwatch._memory import Memory, memory  # noqa: E402
from heapwatch._triggers import install_signal_handler  # noqa: E402

import collections.abc as _abc  # noqa: E402

_abc.Mapping.register(Census)
del _abc

__all__ = [
    "Capture", "CaptureError", "CaptureMemoryError", "Census", "Group", "GrowthRow", "LeakError",
    "Memory", "Path", "Retainer", "Snapshot", "Step", "TypeStats",
    "at", "capture", "census", "growth", "install_signal_handler", "load", "memory", "no_leaks",
    "retention", "show_growth", "snapshot", "top_retainers", "why",
]
__version__ = "0.1.0"
