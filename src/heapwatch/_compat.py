"""Which interpreters heapwatch runs on, checked before the C engine loads."""

from __future__ import annotations

import sys
import sysconfig
from typing import Any

SUPPORTED = ((3, 11), (3, 12), (3, 13))


def unsupported_reason(
    implementation: str, version: tuple[int, int], gil_disabled: Any
) -> str | None:
    """Why heapwatch cannot run on this interpreter, or None if it can."""
    if implementation != "cpython":
        return f"heapwatch needs CPython; this is {implementation}"
    if version not in SUPPORTED:
        return "heapwatch supports CPython 3.11 to 3.13, not %d.%d" % version
    if gil_disabled:
        return (
            "heapwatch does not support the free-threaded build of CPython yet: "
            "its heap walk relies on the GIL; use a standard build"
        )
    return None


def check_supported() -> None:
    reason = unsupported_reason(
        sys.implementation.name,
        sys.version_info[:2],
        sysconfig.get_config_var("Py_GIL_DISABLED"),
    )
    if reason is not None:
        raise ImportError(reason)
