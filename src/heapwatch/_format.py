"""Small text formatters shared by the reports (no heapwatch imports here)."""

from __future__ import annotations

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def human_bytes(n: float, signed: bool = False) -> str:
    """A byte count in the largest unit that keeps the number below 1024:
    ``512 B``, ``24.3 KiB``, ``41.0 MiB``, ``1.2 GiB``.  Bytes are whole,
    larger units have one decimal; a value never rounds up to ``1024.0`` of
    a unit (it moves to the next one).  With ``signed`` a sign is always
    shown (``+1.5 MiB``, ``-512 B``, ``+0 B``)."""
    sign = "-" if n < 0 else ("+" if signed else "")
    size = float(abs(n))
    if size < 1024:
        return f"{sign}{int(size)} B"
    for unit in _UNITS[1:]:
        size /= 1024
        if round(size, 1) < 1024 or unit == _UNITS[-1]:
            return f"{sign}{size:.1f} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover
