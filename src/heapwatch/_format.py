"""Text forms shared by the API and the reports: byte sizes, type names and
reference paths (no heapwatch imports here)."""

from __future__ import annotations

from typing import Any, NamedTuple

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


class Step(NamedTuple):
    """One object on a path, and the edge that reaches it from the previous one."""

    type: str
    address: int
    kind: str  # "root", "attr", "key", "index", "member", "dictkey", "local", "closure", "field", "none"
    label: str | int | None


def short_name(name: str) -> str:
    """A type's name without its module ("shop.models.Row" -> "Row")."""
    return name.rsplit(".", 1)[-1]


def _attr_name(key: str | int | None) -> str | None:
    """A dict key text that is a quoted identifier, as the bare name."""
    if isinstance(key, str) and len(key) >= 2 and key[0] == key[-1] and key[0] in "'\"":
        inner = key[1:-1]
        if inner.isidentifier():
            return inner
    return None


def format_path(root: str | None, steps: list[Step] | list[tuple[Any, ...]], *,
                fullnames: bool = False, abstract: bool = False) -> str:
    """Render a path (or a retention shape, with abstract=True: kind only,
    names where they are kept) as one line."""
    name = (lambda t: t) if fullnames else short_name
    steps = [s if isinstance(s, Step) else Step(s[0], 0, s[1], s[2]) if abstract else Step(*s)
             for s in steps]
    if not steps:
        return ""
    first = steps[0]
    if root is not None:
        out = [root]
    elif first.kind in ("held", "root"):
        out = [f"{name(first.type)} (held from outside)"]
    else:
        out = [f"{name(first.type)} (unreachable)"]
    attr_dict = False
    i = 1
    while i < len(steps):
        s = steps[i]
        nxt = steps[i + 1] if i + 1 < len(steps) else None
        # A __dict__ (of a module, class or instance) followed by one of its
        # keys reads as an attribute: "module m .CACHE", "Obj .x".
        if s.kind == "field" and s.label == "__dict__" and nxt is not None and nxt.kind == "key":
            attr_dict = True
            i += 1
            continue
        # function .__closure__ -> tuple -> cell .cell_contents: "(closure x)".
        if s.kind == "field" and s.label == "__closure__" and nxt is not None \
                and nxt.kind == "closure":
            i += 1
            continue
        if s.kind == "closure" and nxt is not None and nxt.kind == "field" \
                and nxt.label == "cell_contents":
            out.append(f"(closure {s.label})")
            out.append(f"-> {name(nxt.type)}")
            i += 2
            continue
        edge = edge_text(s, attr_dict, abstract)
        attr_dict = False
        if edge:
            out.append(edge)
        # A dict reached by a name and followed by one of its keys reads as
        # "CACHE ['dump']": its type is implied by the key.
        elide = (s.type == "dict" and nxt is not None and nxt.kind == "key"
                 and s.kind in ("attr", "key", "local", "closure"))
        if not elide:
            out.append(f"-> {name(s.type)}")
        i += 1
    return " ".join(out)


def edge_text(s: Step, attr_dict: bool, abstract: bool) -> str:
    k, label = s.kind, s.label
    if k == "key":
        bare = _attr_name(label) if attr_dict else None
        if bare is not None:
            return f".{bare}"
        return "[*]" if label is None else f"[{label}]"
    if k == "index":
        return "[*]" if abstract or label is None else f"[{label}]"
    if k in ("attr", "field"):
        return f".{label}"
    if k == "local":
        return f"local {label}"
    if k == "closure":
        return f"(closure {label})"
    if k == "member":
        return "{member}"
    if k == "dictkey":
        return "(dict key)"
    return ""
