"""why(), retention(), top_retainers(), snapshot(), load(): what keeps objects alive.

The graph, the paths, the groups and the dominator tree are computed in C
(``heapwatch._engine.graph``); this module collects the named roots (modules
and the local variables of every thread's frames, which only Python can
list), and turns the engine's tuples into readable paths.

A path reads from a root to the object, one holder at a time::

    module leakyshop.views .CACHE ['dump'] -> QuerySet ._result_cache -> list [5120] -> FirstModel

``.name`` is an attribute (instance, class or module), ``[key]`` a dict key,
``[i]`` a list or tuple index, ``local x`` / ``closure x`` a variable.
Object contents are never shown: dict keys are (they name the reference),
values are not.
"""

from __future__ import annotations

import os
import sys
import threading
import types
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from heapwatch import _engine
from heapwatch._format import human_bytes

_OWN_DIR = os.path.dirname(os.path.abspath(__file__))


class Step(NamedTuple):
    """One object on a path, and the edge that reaches it from the previous one."""

    type: str
    address: int
    kind: str  # "root", "attr", "key", "index", "member", "dictkey", "local", "closure", "field", "none"
    label: str | int | None


class Path:
    """A shortest path from a root to an object."""

    def __init__(self, root: str | None, held: bool, steps: list[Step], fullnames: bool = False):
        self.root = root
        self.held = held
        self.steps = steps
        self.fullnames = fullnames

    def __len__(self) -> int:
        return len(self.steps)

    def __str__(self) -> str:
        return format_path(self.root, self.steps, fullnames=self.fullnames)

    def __repr__(self) -> str:
        return f"<heapwatch.Path {self}>"


@dataclass(frozen=True)
class Group:
    """Objects held the same way: count, shallow bytes, retained bytes."""

    count: int
    bytes: int
    retained: int | None
    type: str
    via: str
    example: Path | None

    def __str__(self) -> str:
        ret = "" if self.retained is None else f", {_bytes(self.retained)} retained"
        return f"{self.count:,} {_short(self.type)} ({_bytes(self.bytes)}{ret}) held via {self.via}"


@dataclass(frozen=True)
class Retainer:
    """An object (or a type) and what freeing it would free."""

    type: str
    address: int | None
    count: int
    bytes: int
    retained: int
    path: Path | None

    def __str__(self) -> str:
        what = (f"{_short(self.type)} at {self.address:#x}" if self.address is not None
                else f"{self.count:,} {_short(self.type)}")
        via = f" via {self.path}" if self.path is not None else ""
        return f"{_bytes(self.retained)} retained by {what}{via}"


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


# The one byte formatter (kept under this name for dot.py and __main__).
_bytes = human_bytes


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
    name = (lambda t: t) if fullnames else _short
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
        edge = _edge_text(s, attr_dict, abstract)
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


def _edge_text(s: Step, attr_dict: bool, abstract: bool) -> str:
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


# ---- roots -------------------------------------------------------------------


def _is_own_frame(f: types.FrameType) -> bool:
    """A frame of heapwatch's code, the package or a subpackage
    (heapwatch.django's middleware included)."""
    directory = os.path.dirname(os.path.abspath(f.f_code.co_filename))
    return directory == _OWN_DIR or directory.startswith(_OWN_DIR + os.sep)


def collect_roots(skip_values: Iterable[object] = (),
                  made: list[object] | None = None) -> list[tuple[str, object]]:
    """The named roots: every module in sys.modules, then the local variables
    of every thread's running frames (heapwatch's own frames left out, and in
    the calling thread the locals whose value is in skip_values: the objects
    being explained, which the caller holds).  Reading a function frame's
    f_locals makes CPython 3.11 and 3.12 cache a dict of its variables on
    the frame; those dicts are appended to `made`, for the graph to leave
    out (they would show as holders of every local variable)."""
    skip = {id(o) for o in skip_values}
    roots: list[tuple[str, object]] = [(f"module {name}", mod)
                                       for name, mod in list(sys.modules.items())
                                       if mod is not None]
    names = {t.ident: t.name for t in threading.enumerate()}
    me = threading.get_ident()
    for tid, top in sys._current_frames().items():
        f: types.FrameType | None = top
        while f is not None:
            if not _is_own_frame(f):
                where = (f"thread {names.get(tid, tid)} frame {f.f_code.co_name}() at "
                         f"{os.path.basename(f.f_code.co_filename)}:{f.f_lineno}")
                local_vars = f.f_locals
                if made is not None and type(local_vars) is dict and local_vars is not f.f_globals:
                    made.append(local_vars)
                for var, value in list(local_vars.items()):
                    if tid == me and id(value) in skip:
                        continue
                    roots.append((f"{where} local {var}", value))
            f = f.f_back
    # No frame stays referenced from here: they would be holders.
    del top, f
    return roots


def _caller_namespaces() -> tuple[object, ...]:
    """The globals (and, at module level, locals) of the first frame
    outside heapwatch: the namespace that called a query."""
    f: types.FrameType | None = sys._getframe(1)
    while f is not None and _is_own_frame(f):
        f = f.f_back
    if f is None:
        return ()
    return (f.f_globals,) if f.f_locals is f.f_globals else (f.f_globals, f.f_locals)


def _graph(targets: Any = None, labels: Literal["targets", "all", "none"] = "targets",
           reprs: bool = False,
           skip: Iterable[object] = (), exclude: tuple[object, ...] = (),
           quiet: tuple[object, ...] = ()) -> Any:
    """Build the graph.  The containers heapwatch makes for a query (and
    the caller's, in exclude) are left out of it: they would show as the
    holders of what is being explained."""
    made: list[object] = []
    roots = collect_roots(skip, made)
    return _engine.graph(roots, targets=targets, labels=labels, reprs=reprs,
                         exclude=exclude + tuple(made) + (made,), quiet=quiet)


def graph_of(objects: list[object], *, exclude: tuple[object, ...] = ()) -> Snapshot:
    """A snapshot whose targets are these objects (its retention(None)
    and graph.targets() are theirs), with exclude's objects left out of
    the graph: a caller's own state, which must not show as a holder."""
    return Snapshot(_graph(targets=objects, exclude=exclude + (objects,)))


# ---- snapshots ---------------------------------------------------------------


class Snapshot:
    """The reference graph of a heap at one moment, detached from it: it can
    be saved, loaded elsewhere and queried without the live objects."""

    def __init__(self, graph: Any, *, fullnames: bool = False) -> None:
        self.graph = graph
        self.fullnames = fullnames

    @property
    def info(self) -> dict[str, Any]:
        info: dict[str, Any] = self.graph.info
        return info

    def __len__(self) -> int:
        return len(self.graph)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the snapshot to path (created 0600, replaced atomically)."""
        self.graph.save(os.fspath(path))

    def census(self) -> dict[str, tuple[int, int]]:
        """{type name: (count, shallow bytes)} over every node."""
        return {name: (count, size) for name, count, size in self.graph.census()}

    def node_of(self, obj_or_address: object) -> int | None:
        addr = obj_or_address if isinstance(obj_or_address, int) else id(obj_or_address)
        node: int | None = self.graph.find(addr)
        return node

    def path(self, node: int) -> Path | None:
        p = self.graph.path(node)
        if p is None:
            return None
        root, held, steps = p
        return Path(root, held, [Step(*s) for s in steps], self.fullnames)

    def why(self, obj_or_address: object) -> Path | None:
        """The shortest path from a root to the object (or the object that
        had this address when the snapshot was taken)."""
        node = self.node_of(obj_or_address)
        return None if node is None else self.path(node)

    def nodes_of(self, type_name: str) -> list[int]:
        nodes: list[int] = self.graph.nodes_of(type_name)
        return nodes

    def retention(self, what: str | list[int] | None = None, limit: int | None = 10, *,
                  retained: bool = True, by: Literal["count", "retained"] = "count") -> list[Group]:
        """Group objects by the shape of their retention path.  what: a type
        name ('FirstModel' or 'app.models.FirstModel'), a list of nodes,
        "*" for every object, or None for the targets marked when the graph
        was built.  Largest count first, or largest retained size with
        by="retained"."""
        nodes: Any = "all" if what == "*" else self.nodes_of(what) if isinstance(what, str) else what
        rows = self.graph.retention(nodes, limit, retained=retained, by=by)
        groups = []
        for count, size, ret, example, shape in rows:
            *via, last = shape
            root = via[0] if via else last
            label = root[2] if root[1] == "root" else None
            text = format_path(label, via + [last], fullnames=self.fullnames, abstract=True)
            # The group names its type; the shape's text ends at the holder.
            suffix = f" -> {last[0] if self.fullnames else _short(last[0])}"
            if len(via) and text.endswith(suffix):
                text = text[: -len(suffix)]
            groups.append(Group(count, size, ret, last[0], text, self.path(example)))
        return groups

    def top_retainers(self, n: int = 10, *, by: str = "object") -> list[Retainer] | list[Group]:
        """What retains the most memory, from the dominator tree: single
        objects (by="object"), all the objects of a type (by="type"), or all
        the objects held the same way (by="holder": retention groups of
        every object, largest retained size first)."""
        if by == "holder":
            return self.retention("*", n, by="retained")
        if by == "object":
            out = []
            for node, ret in self.graph.top_retainers(n):
                tname, addr, size, _held, _tracked, _repr = self.graph.node(node)
                out.append(Retainer(tname, addr, 1, size, ret, self.path(node)))
            return out
        if by == "type":
            rows = sorted(self.graph.retained_by_type(), key=lambda r: (-r[3], r[0]))[:n]
            return [Retainer(t, None, c, b, r, None) for t, c, b, r in rows]
        raise ValueError(f"by must be 'object', 'type' or 'holder', not {by!r}")

    def diff(self, earlier: Snapshot, limit: int | None = 10) -> tuple[list[tuple[str, int, int, int]], list[Group]]:
        """Growth by type from earlier to this snapshot: [(type, count,
        delta, bytes delta)], largest delta first, and the retention groups
        of the new objects of the grown types (those whose address was not
        an object of the same type in earlier)."""
        before, after = earlier.census(), self.census()
        rows = []
        for name, (count, size) in after.items():
            c0, b0 = before.get(name, (0, 0))
            if count > c0:
                rows.append((name, count, count - c0, size - b0))
        rows.sort(key=lambda r: (-r[2], -r[3], r[0]))
        if limit is not None:
            rows = rows[:limit]
        grown: list[int] = self.graph.new_since(earlier.graph, tuple(r[0] for r in rows))
        groups = self.retention(grown, limit) if grown else []
        return rows, groups


def snapshot(*, reprs: bool = False, fullnames: bool = False) -> Snapshot:
    """Take a snapshot of the heap's reference graph, every path-tree edge
    named, ready to save.  reprs=True also keeps the text of str, bytes,
    int and float objects (80 characters at most); they are not kept
    otherwise."""
    return Snapshot(_graph(labels="all", reprs=reprs), fullnames=fullnames)


def load(path: str | os.PathLike[str], *, fullnames: bool = False) -> Snapshot:
    """Read a snapshot file (ValueError if it is not one, or is damaged)."""
    return Snapshot(_engine.load(os.fspath(path)), fullnames=fullnames)


# ---- live queries ------------------------------------------------------------


def why(obj: object, *, fullnames: bool = False) -> Path | None:
    """The shortest path from a root (a module, a thread's local variable, or
    an object held from outside Python, e.g. by C code) to obj; None if no
    root reaches it (garbage not collected yet).  The caller's own
    variables (locals, or globals at module level) that are obj do not
    count as its holders: the question is who else keeps it."""
    targets = [obj]
    snap = Snapshot(_graph(targets=targets, skip=targets, exclude=(targets,),
                           quiet=_caller_namespaces()),
                    fullnames=fullnames)
    return snap.why(obj)


def retention(what: type | Iterable[object], limit: int | None = 10, *,
              fullnames: bool = False, retained: bool = True) -> list[Group]:
    """Group the objects of a type (exactly that type), or the given
    objects, by the shape of what keeps them alive; largest groups first,
    with their count, shallow bytes and retained bytes."""
    if isinstance(what, type):
        snap = Snapshot(_graph(targets=what), fullnames=fullnames)
    else:
        objs = list(what)
        snap = Snapshot(_graph(targets=objs, skip=objs, exclude=(objs, what)),
                        fullnames=fullnames)
        del objs
    return snap.retention(None, limit, retained=retained)


def top_retainers(n: int = 10, *, by: str = "object",
                  fullnames: bool = False) -> list[Retainer] | list[Group]:
    """What retains the most memory: objects, types (by="type") or holders
    (by="holder"); see Snapshot.top_retainers."""
    if by not in ("object", "type", "holder"):
        raise ValueError(f"by must be 'object', 'type' or 'holder', not {by!r}")
    snap = Snapshot(_graph(labels="none" if by == "type" else "all"), fullnames=fullnames)
    return snap.top_retainers(n, by=by)
