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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, TypeGuard, cast

from heapwatch import _args
from heapwatch import _engine
from heapwatch._format import Step, format_path, human_bytes, short_name
from heapwatch._memory import Memory

_OWN_DIR = os.path.dirname(os.path.abspath(__file__))


class Path:
    """A shortest path from a root to an object.

    ``steps``: the objects on the path, first to last (the last is the
    object asked about), each a Step(type, address, kind, label) whose kind
    and label name the reference that reaches it from the previous step.
    Iterating a Path yields its steps; ``len()`` counts them.
    ``root``: the name of the root the path starts from ("module app.views",
    "thread MainThread frame run() at jobs.py:12 local rows"), or None when
    the first object is not reached from a named root.
    ``held``: True when the first object is held from outside Python (by C
    code, or by an object the graph could not see into) rather than by a
    named root; False with root None means no root reaches it (garbage not
    collected yet).
    ``repr``: the last object's text when the snapshot kept reprs (str,
    bytes, int and float only), else None.
    """

    def __init__(self, root: str | None, held: bool, steps: list[Step], fullnames: bool = False,
                 repr: str | None = None):
        self.root = root
        self.held = held
        self.steps = steps
        self.fullnames = fullnames
        self.repr = repr

    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

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
        ret = "" if self.retained is None else f", {human_bytes(self.retained)} retained"
        return f"{self.count:,} {short_name(self.type)} ({human_bytes(self.bytes)}{ret}) held via {self.via}"


@dataclass(frozen=True)
class Retainer:
    """An object (or a type) and what freeing it would free.  repr: the
    object's text when the snapshot kept reprs, else None."""

    type: str
    address: int | None
    count: int
    bytes: int
    retained: int
    path: Path | None
    repr: str | None = None

    def __str__(self) -> str:
        what = (f"{short_name(self.type)} at {self.address:#x}" if self.address is not None
                else f"{self.count:,} {short_name(self.type)}")
        via = f" via {self.path}" if self.path is not None else ""
        return f"{human_bytes(self.retained)} retained by {what}{via}"


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
           quiet: tuple[object, ...] = (), memory: bool = False) -> Any:
    """Build the graph.  The containers heapwatch makes for a query (and
    the caller's, in exclude) are left out of it: they would show as the
    holders of what is being explained."""
    made: list[object] = []
    roots = collect_roots(skip, made)
    return _engine.graph(roots, targets=targets, labels=labels, reprs=reprs,
                         exclude=exclude + tuple(made) + (made,), quiet=quiet, memory=memory)


def graph_of(objects: list[object], *, exclude: tuple[object, ...] = ()) -> Snapshot:
    """A snapshot whose targets are these objects (its retention(None)
    and graph.targets() are theirs), with exclude's objects left out of
    the graph: a caller's own state, which must not show as a holder."""
    return Snapshot(_graph(targets=objects, exclude=exclude + (objects,)))


# ---- arguments ---------------------------------------------------------------


# isinstance() asks an object that is not an instance for its __class__,
# which runs a metaclass's __getattribute__; these look at type(obj) only.
def _is_str(obj: object) -> TypeGuard[str]:
    return issubclass(type(obj), str)


def _is_type(obj: object) -> TypeGuard[type]:
    return issubclass(type(obj), type)


def _is_bytes(obj: object) -> bool:
    return issubclass(type(obj), (bytes, bytearray))


def _type_key(what: object) -> str:
    """The name a type is matched by in a graph: "module.qualname", or the
    qualname alone for builtins, as the engine names types.  The names are
    read through type's own descriptors, so that a metaclass cannot run
    code here."""
    if _is_str(what):
        if not what:
            raise ValueError("a type name cannot be empty")
        return what
    if _is_type(what):
        module = type.__dict__["__module__"].__get__(what, type)
        qualname = type.__dict__["__qualname__"].__get__(what, type)
        if not isinstance(module, str) or module == "builtins":
            return str(qualname)
        return f"{module}.{qualname}"
    raise TypeError(f"expected a type or a type name, not {type(what).__name__}")


def _node_list(nodes: Iterable[int]) -> list[int]:
    if _is_bytes(nodes):
        raise TypeError("node numbers must be an iterable of ints, not bytes")
    out = list(nodes)
    # The types are gathered at C speed (a type question per node in
    # Python took seconds for the millions of nodes of a large type).
    if not set(map(type, out)) <= {int}:
        for n in out:
            if not isinstance(n, int) or isinstance(n, bool):
                raise TypeError(f"node numbers must be ints, not {type(n).__name__}")
        out = [int(n) for n in out]     # subclasses of int, as plain ints
    return out


# ---- snapshots ---------------------------------------------------------------


class Snapshot:
    """The reference graph of a heap at one moment, detached from it: it can
    be saved, loaded elsewhere and queried without the live objects."""

    def __init__(self, graph: Any, *, fullnames: bool = False, live: bool = True) -> None:
        self.graph = graph
        self.fullnames = fullnames
        # Taken in this process (its addresses may still be the objects'),
        # not read from a file.
        self.live = live

    @property
    def info(self) -> dict[str, Any]:
        info: dict[str, Any] = self.graph.info
        return info

    def __len__(self) -> int:
        return len(self.graph)

    def save(self, path: str | bytes | os.PathLike[str] | os.PathLike[bytes]) -> None:
        """Write the snapshot to path (created 0600, replaced atomically:
        a symlink there is replaced by the file; a FIFO, device or
        directory is refused)."""
        self.graph.save(os.fspath(path))

    @property
    def memory(self) -> Memory | None:
        """The process's memory when the snapshot was taken, split as
        heapwatch.memory() splits it (the live objects' part is every
        object of the snapshot), or None for a snapshot without the
        figures (written before they were kept, or taken by why() and
        retention(), which do not read them)."""
        mem = self.info["memory"]
        if mem is None:
            return None
        objects = sum(b for _t, _c, b in self.graph.census())
        return Memory(
            rss=mem["rss"], python_objects=objects, pymalloc_free=mem["pymalloc_free"],
            malloc_free=mem["malloc_free"],
            other=max(0, mem["rss"] - objects - mem["pymalloc_free"] - mem["malloc_free"]),
            pymalloc_used=mem["pymalloc_used"], pymalloc_arenas=mem["pymalloc_arenas"])

    def census(self) -> _engine.Census:
        """A Census of every object in the snapshot, the same type census()
        returns (``later - earlier`` gives GrowthRows).  It counts the
        untracked objects the graph reached too (include_untracked is True),
        so compare it with another snapshot's census, not a live one."""
        name = (lambda t: t) if self.fullnames else short_name
        return _engine.census_of([(name(t), c, b) for t, c, b in self.graph.census()],
                                  True, self.fullnames)

    def node_of(self, obj: object) -> int | None:
        """The node of a live object: the node at its id() when the snapshot
        was taken in this process and that node is of the object's type,
        else None (an object freed since and another made at its address).
        Every object, ints included, is taken as itself; a bare address
        goes through node_at()."""
        if not self.live:
            raise TypeError("a snapshot read from a file has no live objects: "
                            "use path(node_at(address))")
        node: int | None = self.graph.find(id(obj))
        if node is None or self.graph.node(node)[0] != _type_key(type(obj)):
            return None
        return node

    def node_at(self, address: int) -> int | None:
        """The node of the object that had this address when the snapshot
        was taken (an address a path or a log printed), or None."""
        if not isinstance(address, int) or isinstance(address, bool):
            raise TypeError(f"address must be an int, not {type(address).__name__}")
        if address < 0:
            return None
        node: int | None = self.graph.find(address)
        return node

    def path(self, node: int) -> Path | None:
        """The shortest path from a root to a node."""
        if not isinstance(node, int) or isinstance(node, bool):
            raise TypeError(f"node must be an int, not {type(node).__name__}")
        p = self.graph.path(node)
        if p is None:
            return None
        root, held, steps = p
        return Path(root, held, [Step(*s) for s in steps], self.fullnames,
                    self.graph.node(node)[5])

    def why(self, obj: object) -> Path | None:
        """The shortest path from a root to a live object, as it was when
        the snapshot was taken.  For an address (of a loaded snapshot),
        use path(node_at(address))."""
        node = self.node_of(obj)
        return None if node is None else self.path(node)

    def nodes_of(self, what: str | type) -> list[int]:
        """The nodes of a type, given by name ('Row', or 'app.models.Row'
        to tell apart types that share a short name) or as a type (matched
        by its qualified name)."""
        nodes: list[int] = self.graph.nodes_of(_type_key(what))
        return nodes

    def retention(self, what: str | type | Iterable[int] | None = None,
                  limit: int | None = 10, *, retained: bool = True,
                  by: Literal["count", "retained"] = "count") -> list[Group]:
        """Group objects by the shape of their retention path.  what: a type
        (matched by qualified name) or a type name ('FirstModel' or
        'app.models.FirstModel'), node numbers, "*" for every object, or
        None for the targets marked when the graph was built.  Largest
        count first, or largest retained size with by="retained"."""
        retained = _args.flag(retained, "retained")
        limit = _args.limit(limit)
        nodes: Any
        if what is None:
            nodes = None
        elif _is_str(what) and what == "*":
            nodes = "all"
        elif _is_str(what) or _is_type(what):
            nodes = self.nodes_of(what)
        else:
            nodes = _node_list(cast("Iterable[int]", what))
        rows = self.graph.retention(nodes, limit, retained=retained, by=by)
        groups = []
        for count, size, ret, example, shape in rows:
            *via, last = shape
            root = via[0] if via else last
            label = root[2] if root[1] == "root" else None
            text = format_path(label, via + [last], fullnames=self.fullnames, abstract=True)
            # The group names its type; the shape's text ends at the holder.
            suffix = f" -> {last[0] if self.fullnames else short_name(last[0])}"
            if len(via) and text.endswith(suffix):
                text = text[: -len(suffix)]
            groups.append(Group(count, size, ret, last[0], text, self.path(example)))
        return groups

    def top_retainers(self, n: int = 10, *, by: str = "object") -> list[Retainer] | list[Group]:
        """What retains the most memory, from the dominator tree: single
        objects (by="object"), all the objects of a type (by="type"), or all
        the objects held the same way (by="holder": retention groups of
        every object, largest retained size first)."""
        if not isinstance(n, int) or isinstance(n, bool):
            raise TypeError(f"n must be an int, not {type(n).__name__}")
        if n < 0:
            raise ValueError(f"n must be >= 0, not {n}")
        if by == "holder":
            return self.retention("*", n, by="retained")
        if by == "object":
            out = []
            for node, ret in self.graph.top_retainers(n):
                tname, addr, size, _held, _tracked, text = self.graph.node(node)
                out.append(Retainer(tname, addr, 1, size, ret, self.path(node), text))
            return out
        if by == "type":
            rows = sorted(self.graph.retained_by_type(), key=lambda r: (-r[3], r[0]))[:n]
            return [Retainer(t, None, c, b, r, None) for t, c, b, r in rows]
        raise ValueError(f"by must be 'object', 'type' or 'holder', not {by!r}")

    def diff(self, earlier: Snapshot,
             limit: int | None = 10) -> tuple[list[_engine.GrowthRow], list[Group]]:
        """Growth by type from earlier to this snapshot: the GrowthRows
        (name, count, delta, bytes_delta) of the types whose count grew,
        largest delta first, and the retention groups of the new objects of
        those types (those whose address was not an object of the same type
        in earlier)."""
        if not isinstance(earlier, Snapshot):
            raise TypeError(f"earlier must be a Snapshot, not {type(earlier).__name__}")
        limit = _args.limit(limit)
        grew = [r for r in self.census() - earlier.census() if r.delta > 0]
        rows = grew if limit is None else grew[:limit]
        grown: list[int] = self.graph.new_since(earlier.graph, tuple(r.name for r in rows))
        groups = self.retention(grown, limit) if grown else []
        return rows, groups


def snapshot(*, reprs: bool = False, fullnames: bool = False) -> Snapshot:
    """Take a snapshot of the heap's reference graph, every path-tree edge
    named, ready to save.  reprs=True also keeps the text of str, bytes,
    int and float objects (80 characters at most); they are not kept
    otherwise."""
    reprs = _args.flag(reprs, "reprs")
    fullnames = _args.flag(fullnames, "fullnames")
    return Snapshot(_graph(labels="all", reprs=reprs, memory=True), fullnames=fullnames)


def load(path: str | bytes | os.PathLike[str] | os.PathLike[bytes], *,
         fullnames: bool = False) -> Snapshot:
    """Read a snapshot file (ValueError if it is not one, or is damaged)."""
    fullnames = _args.flag(fullnames, "fullnames")
    return Snapshot(_engine.load(path), fullnames=fullnames, live=False)


# ---- live queries ------------------------------------------------------------


def why(obj: object, *, fullnames: bool = False, reprs: bool = False) -> Path | None:
    """The shortest path from a root (a module, a thread's local variable, or
    an object held from outside Python, e.g. by C code) to obj; None if no
    root reaches it (garbage not collected yet).  obj is always the object
    itself: an int is that int, never an address (for an address, see
    heapwatch.at() and Snapshot.node_at()).  The caller's own variables
    (locals, or globals at module level) that are obj do not count as its
    holders: the question is who else keeps it."""
    fullnames = _args.flag(fullnames, "fullnames")
    reprs = _args.flag(reprs, "reprs")
    targets = [obj]
    snap = Snapshot(_graph(targets=targets, skip=targets, exclude=(targets,),
                           quiet=_caller_namespaces(), reprs=reprs),
                    fullnames=fullnames)
    nodes = snap.graph.targets()
    return snap.path(nodes[0]) if nodes else None


def retention(what: type | str | Iterable[object], limit: int | None = 10, *,
              fullnames: bool = False, retained: bool = True,
              reprs: bool = False) -> list[Group]:
    """Group the objects of a type (exactly that type), of the types a name
    matches ('Row', or 'app.models.Row'), or the given objects, by the
    shape of what keeps them alive; largest groups first, with their
    count, shallow bytes and retained bytes."""
    fullnames = _args.flag(fullnames, "fullnames")
    retained = _args.flag(retained, "retained")
    reprs = _args.flag(reprs, "reprs")
    limit = _args.limit(limit)
    if _is_type(what):
        snap = Snapshot(_graph(targets=what, reprs=reprs), fullnames=fullnames)
    elif _is_str(what):
        name = _type_key(what)
        snap = Snapshot(_graph(labels="all", reprs=reprs), fullnames=fullnames)
        return snap.retention(name, limit, retained=retained)
    elif _is_bytes(what):
        raise TypeError("retention() takes a type, a type name or an iterable of "
                        "objects, not bytes")
    else:
        objs = list(cast("Iterable[object]", what))
        snap = Snapshot(_graph(targets=objs, skip=objs, exclude=(objs, what), reprs=reprs),
                        fullnames=fullnames)
        del objs
    return snap.retention(None, limit, retained=retained)


def top_retainers(n: int = 10, *, by: str = "object", fullnames: bool = False,
                  reprs: bool = False) -> list[Retainer] | list[Group]:
    """What retains the most memory: objects, types (by="type") or holders
    (by="holder"); see Snapshot.top_retainers."""
    if by not in ("object", "type", "holder"):
        raise ValueError(f"by must be 'object', 'type' or 'holder', not {by!r}")
    fullnames = _args.flag(fullnames, "fullnames")
    reprs = _args.flag(reprs, "reprs")
    snap = Snapshot(_graph(labels="none" if by == "type" else "all", reprs=reprs),
                    fullnames=fullnames)
    return snap.top_retainers(n, by=by)
