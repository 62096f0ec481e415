"""The reference graph, paths, retention groups and retained sizes, on heaps
with known holders.

Each test builds its holders, asks heapwatch, and checks the answer against
what the test knows (the holder it made) or against gc.get_referents / a
brute-force reachability computation on the same graph.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
import types
from collections.abc import Iterator
from typing import Any

import pytest

import heapwatch
from heapwatch import _engine
from tests import reference


class Target:
    """The objects being explained."""

    def __init__(self, tag: int = 0) -> None:
        self.tag = tag


class Slotted:
    __slots__ = ("held", "other")

    def __init__(self, held: object) -> None:
        self.held = held
        self.other = None


class Holder:
    items: list[Target] = []


# One class per retention test, so that what other tests leave alive (a
# failed test's frame, say) does not join the groups.
class Kept1(Target):
    pass


class Kept2(Target):
    pass


class Kept3(Target):
    pass


class Kept4(Target):
    pass


def _closure_over(obj: object) -> Any:
    secret = [obj]

    def inner() -> list[object]:
        return secret

    return inner


@pytest.fixture
def module() -> Iterator[types.ModuleType]:
    """A throwaway module registered in sys.modules."""
    mod = types.ModuleType("hw_graph_testmod")
    sys.modules[mod.__name__] = mod
    try:
        yield mod
    finally:
        del sys.modules[mod.__name__]


# ---- paths to known holders ----------------------------------------------------


@pytest.mark.valgrind
def test_module_global_dict_list(module: types.ModuleType) -> None:
    t = Target()
    module.CACHE = {"dump": [Target(), t]}  # type: ignore[attr-defined]
    path = heapwatch.why(t)  # `t`, the caller's own variable, does not count
    assert path is not None
    assert str(path) == "module hw_graph_testmod .CACHE ['dump'] -> list [1] -> Target"
    assert path.root == "module hw_graph_testmod"
    assert [s.kind for s in path.steps] == ["root", "field", "key", "key", "index"]
    assert path.steps[-1].address == id(t)


def test_instance_attributes_inline_dict_and_slots(module: types.ModuleType) -> None:
    inline, with_dict, slotted = Target(), Target(), Target()
    a = Target()
    a.child = inline  # type: ignore[attr-defined]
    b = Target()
    b.__dict__  # materialize the instance dict
    b.child = with_dict  # type: ignore[attr-defined]
    module.A, module.B = a, b  # type: ignore[attr-defined]
    module.S = Slotted(slotted)  # type: ignore[attr-defined]
    del a, b  # the module is then the only holder
    assert str(heapwatch.why(inline)) == "module hw_graph_testmod .A -> Target .child -> Target"
    assert str(heapwatch.why(with_dict)) == "module hw_graph_testmod .B -> Target .child -> Target"
    assert str(heapwatch.why(slotted)) == "module hw_graph_testmod .S -> Slotted .held -> Target"


def test_inline_attribute_names_need_no_dict() -> None:
    # Naming an edge out of an instance with inline values must not create
    # its __dict__ (that would add a dict per instance on a big heap).
    if not _engine._inline_attrs_available():
        pytest.skip("inline attribute layout check failed on this build")
    holder = Target()
    holder.child = Target()  # type: ignore[attr-defined]
    before = sys.getsizeof(holder)
    path = heapwatch.why(holder.child)  # type: ignore[attr-defined]
    assert path is not None and str(path).endswith(" local holder .child -> Target")
    assert sys.getsizeof(holder) == before
    assert not any(type(r) is dict and r.get("child") is holder.child  # type: ignore[attr-defined]
                   for r in gc.get_referrers(holder.child))  # type: ignore[attr-defined]


def test_class_attribute() -> None:
    t = Target()
    Holder.items.append(t)
    try:
        text = str(heapwatch.why(t))
        assert text.startswith(f"module {__name__} .Holder -> type .items -> list [")
        assert text.endswith("-> Target")
    finally:
        Holder.items.clear()


def test_closure_variable(module: types.ModuleType) -> None:
    t = Target()
    module.HANDLER = _closure_over(t)  # type: ignore[attr-defined]
    assert str(heapwatch.why(t)) == \
        "module hw_graph_testmod .HANDLER -> function (closure secret) -> list [0] -> Target"


def test_generator_frame_local(module: types.ModuleType) -> None:
    def gen() -> Iterator[int]:
        held = Target()
        yield id(held)

    g = gen()
    addr = next(g)
    module.G = g  # type: ignore[attr-defined]
    del g
    snap = heapwatch.snapshot()
    node = snap.node_at(addr)
    assert node is not None
    path = snap.path(node)
    assert path is not None
    assert str(path) == "module hw_graph_testmod .G -> generator local held -> Target"


def test_thread_frame_local() -> None:
    ready, done = threading.Event(), threading.Event()
    box: list[int] = []

    def worker() -> None:
        mine = Target()
        box.append(id(mine))
        ready.set()
        done.wait(10)

    th = threading.Thread(target=worker, name="hw-worker")
    th.start()
    try:
        assert ready.wait(10)
        snap = heapwatch.snapshot()
        node = snap.node_at(box[0])
        assert node is not None
        path = snap.path(node)
        assert path is not None
        assert path.root is not None
        assert path.root.startswith("thread hw-worker frame worker() at test_graph.py:")
        assert path.root.endswith(" local mine")
        assert len(path.steps) == 1
    finally:
        done.set()
        th.join()


def test_c_held_container() -> None:
    # A list whose only reference is an extra count (what a C extension's
    # global, or a reference leak, looks like): held from outside.
    ctypes = pytest.importorskip("ctypes")
    t = Target()
    leaked = [t]
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(leaked))
    addr = id(leaked)
    del leaked
    try:
        path = heapwatch.why(t)
        assert path is not None
        assert path.root is None and path.held
        assert str(path) == "list (held from outside) [0] -> Target"
        assert path.steps[0].address == addr
    finally:
        obj = heapwatch.at(addr)
        assert obj is not None
        ctypes.pythonapi.Py_DecRef(ctypes.py_object(obj))
        del obj


def test_why_ignores_the_callers_own_variable(module: types.ModuleType) -> None:
    t = Target()
    module.KEEP = t  # type: ignore[attr-defined]
    # `t` (this frame's local) also holds it; the answer is the module.
    assert str(heapwatch.why(t)) == "module hw_graph_testmod .KEEP -> Target"


def test_unreachable_object_has_no_path() -> None:
    gc.collect()
    gc.disable()
    try:
        a, b = Target(), Target()
        a.other, b.other = b, a  # type: ignore[attr-defined]
        addr = id(a)
        del a, b
        snap = heapwatch.snapshot()
        node = snap.node_at(addr)
        assert node is not None
        assert snap.path(node) is None
    finally:
        gc.enable()
        gc.collect()


def test_heapwatch_temporaries_are_not_holders(module: types.ModuleType) -> None:
    module.TS = [Target(i) for i in range(5)]  # type: ignore[attr-defined]
    groups = heapwatch.retention(module.TS[:3])  # type: ignore[attr-defined]
    assert [(g.count, g.via) for g in groups] == [(3, "module hw_graph_testmod .TS -> list [*]")]


# ---- retention groups -------------------------------------------------------------


def test_retention_groups_by_holder(module: types.ModuleType) -> None:
    module.MANY = [Kept1(i) for i in range(300)]  # type: ignore[attr-defined]
    module.BY_KEY = {f"k{i}": Kept1(i) for i in range(120)}  # type: ignore[attr-defined]
    groups = heapwatch.retention(Kept1, limit=None)
    by_via = {g.via: g for g in groups}
    many = by_via["module hw_graph_testmod .MANY -> list [*]"]
    keyed = by_via["module hw_graph_testmod .BY_KEY [*]"]
    assert (many.count, keyed.count) == (300, 120)
    assert groups[0] is not None and groups[0].count >= 300
    assert many.bytes == sum(sys.getsizeof(t) for t in module.MANY)  # type: ignore[attr-defined]
    assert many.retained is not None and many.retained >= many.bytes
    assert str(many).startswith("300 Kept1 (")
    assert many.example is not None and str(many.example).startswith(
        "module hw_graph_testmod .MANY -> list [")


def test_retention_limit_and_order(module: types.ModuleType) -> None:
    module.A = [Kept2() for _ in range(30)]  # type: ignore[attr-defined]
    module.B = [Kept2() for _ in range(20)]  # type: ignore[attr-defined]
    module.C = [Kept2() for _ in range(10)]  # type: ignore[attr-defined]
    groups = heapwatch.retention(Kept2, limit=2)
    assert [g.count for g in groups] == [30, 20]
    with pytest.raises(ValueError):
        heapwatch.retention(Kept2, limit=-1)


def test_type_retained_counts_shared_subtrees_once(module: types.ModuleType) -> None:
    # Objects of one type that dominate one another: a linked chain.  The
    # type retains the union of their subtrees (the head's), not the sum.
    head = Kept3()
    node = head
    for i in range(10):
        node.next = Kept3(i)  # type: ignore[attr-defined]
        node = node.next  # type: ignore[attr-defined]
    module.HEAD = head  # type: ignore[attr-defined]
    del head, node
    snap = heapwatch.snapshot()
    n_head = snap.node_of(module.HEAD)  # type: ignore[attr-defined]
    assert n_head is not None
    whole = snap.graph.retained(n_head)
    by_type = {r.type: r for r in snap.top_retainers(10_000, by="type")}
    kept = by_type["tests.test_graph.Kept3"]
    assert (kept.count, kept.retained) == (11, whole)
    members = [snap.graph.retained(n) for n in snap.nodes_of("Kept3")]
    assert sum(members) > whole
    # A retention group never has a member dominating another (the
    # dominator is on the member's path, which makes the path longer), so
    # its retained size is the sum over its members.
    for g in snap.retention("Kept3", None):
        assert g.count == 1
        assert g.example is not None
        node = snap.node_at(g.example.steps[-1].address)
        assert g.retained == snap.graph.retained(node)


# ---- the graph against gc.get_referents ----------------------------------------------


def test_edges_are_gc_referents_in_order(module: types.ModuleType) -> None:
    objs: list[Any] = [[1, "x", Target()], {"a": Target(), "b": (1, 2)}, Target(),
                       Slotted([]), (Target(), "y")]
    module.OBJS = objs  # type: ignore[attr-defined]
    snap = heapwatch.snapshot()
    g = snap.graph
    for o in objs:
        n = g.find(id(o))
        assert n is not None
        got = [g.node(r)[1] for r in g.referents(n)]
        assert got == [id(r) for r in gc.get_referents(o)], type(o)
        for r in g.referents(n):
            assert n in g.referrers(r)


def test_large_graph_edges_are_gc_referents(module: types.ModuleType) -> None:
    # Big enough that every per-node array lives on a mapping of its own
    # (bigmem.h: 4 MiB and up) and grows by moving it.
    n_rows = 150_000
    module.ROWS = [Target(i) for i in range(n_rows)]  # type: ignore[attr-defined]
    for r in module.ROWS:  # type: ignore[attr-defined]
        r.name = f"row {r.tag}"
        r.pair = (r.tag * 7919, str(r.tag))
    del r
    gc.collect()  # untracks the pairs: reached only through the graph's pass 2
    snap = heapwatch.snapshot()
    g = snap.graph
    assert g.info["nodes"] > 600_000
    assert snap.census()["Target"].count >= n_rows
    for i in [*range(0, n_rows, 997), n_rows - 1]:
        row = module.ROWS[i]  # type: ignore[attr-defined]
        for o in (row, row.__dict__, row.pair):
            n = g.find(id(o))
            assert n is not None
            assert [g.node(c)[1] for c in g.referents(n)] == [id(c) for c in gc.get_referents(o)]
        assert g.node(g.find(id(row.pair)))[4] is gc.is_tracked(row.pair)
        assert str(snap.why(row)) == f"module hw_graph_testmod .ROWS -> list [{i}] -> Target"


def _graph_both_ways(module: types.ModuleType) -> tuple[Any, Any]:
    from heapwatch import _explain
    made: list[object] = []
    roots = _explain.collect_roots((), made)
    excl = (*made, made, roots)
    one = _engine.graph(roots, labels="none", exclude=excl, threads=False)
    two = _engine.graph(roots, labels="none", exclude=(*excl, one), threads=True)
    return one, two


def _same_edges(one: Any, two: Any, objs: list[object]) -> None:
    for o in objs:
        a, b = one.find(id(o)), two.find(id(o))
        assert a is not None and b is not None
        assert one.node(a)[:5] == two.node(b)[:5]
        assert [one.node(c)[1] for c in one.referents(a)] == \
            [two.node(c)[1] for c in two.referents(b)] == [id(c) for c in gc.get_referents(o)]


def test_resolver_thread_builds_the_same_graph(module: types.ModuleType) -> None:
    module.ROWS = [Target(i) for i in range(120_000)]  # type: ignore[attr-defined]
    for r in module.ROWS:  # type: ignore[attr-defined]
        r.name = f"row {r.tag}"
        r.parts = (r.tag, [str(r.tag)], {"k": r.tag * 3})
    del r
    one, two = _graph_both_ways(module)
    assert abs(len(one) - len(two)) < 100  # the first graph's own temporaries
    rows = module.ROWS  # type: ignore[attr-defined]
    sample = [x for r in rows[::1009] for x in (r, r.__dict__, r.parts, r.parts[1], r.parts[2])]
    _same_edges(one, two, sample + [rows])


def test_resolver_thread_grows_the_arrays(module: types.ModuleType) -> None:
    # Far more untracked objects than the build guesses (3 per tracked
    # one): the resolver thread grows the per-node arrays (moving them,
    # while the traverser waits) and the address index.
    n = 1_500_000
    module.MANY = [f"s{i}" for i in range(n)]  # type: ignore[attr-defined]
    one, two = _graph_both_ways(module)
    many = module.MANY  # type: ignore[attr-defined]
    assert len(two) > n
    _same_edges(one, two, [many])
    for s in many[::10007] + many[-2:]:
        a, b = one.find(id(s)), two.find(id(s))
        assert a is not None and b is not None
        assert one.node(a) == two.node(b)


def test_build_seconds() -> None:
    import time
    t0 = time.perf_counter()
    snap = heapwatch.snapshot()
    elapsed = time.perf_counter() - t0
    steps = snap.info["build_seconds"]
    assert set(steps) == {"walk", "edges", "index_held", "paths", "names"}
    assert all(t >= 0 for t in steps.values())
    assert steps["walk"] > 0 and steps["edges"] > 0
    assert sum(steps.values()) <= elapsed


def test_untracked_objects_are_nodes(module: types.ModuleType) -> None:
    module.S = "a string only this test makes " + str(os.getpid())  # type: ignore[attr-defined]
    snap = heapwatch.snapshot()
    s = module.S  # type: ignore[attr-defined]
    n = snap.node_of(s)
    assert n is not None
    tname, addr, size, _held, tracked, repr_ = snap.graph.node(n)
    assert (tname, addr, size, tracked, repr_) == ("str", id(s), sys.getsizeof(s), False, None)
    assert str(snap.why(s)) == "module hw_graph_testmod .S -> str"


def test_sizes_match_the_census_rule(module: types.ModuleType) -> None:
    class Sized:
        def __sizeof__(self) -> int:
            return 4321

    module.X = Sized()  # type: ignore[attr-defined]
    module.L = list(range(100))  # type: ignore[attr-defined]
    snap = heapwatch.snapshot()
    for o in (module.X, module.L, module.__dict__):  # type: ignore[attr-defined]
        n = snap.node_of(o)
        assert n is not None and snap.graph.node(n)[2] == reference.shallow_size(o)
    n = snap.node_of(module.X)  # type: ignore[attr-defined]
    assert n is not None and snap.graph.node(n)[2] != sys.getsizeof(module.X)  # type: ignore[attr-defined]


def test_memory_per_node_and_edge() -> None:
    info = heapwatch.snapshot().info
    assert info["graph_bytes"] <= 40 * info["nodes"] + 8 * info["edges"]
    assert info["tracked"] <= info["nodes"]


# ---- retained sizes against reachability ---------------------------------------------


def _brute_retained(g: Any, d: int) -> int:
    """Bytes no longer reachable from the roots once node d is removed."""
    info = g.info
    n = info["nodes"]
    roots = set()
    for v in range(n):
        p = g.path(v)
        if p is not None and p[2] and len(p[2]) == 1:
            roots.add(v)
    seen = set(r for r in roots if r != d)
    stack = list(seen)
    while stack:
        v = stack.pop()
        for w in g.referents(v):
            if w != d and w not in seen:
                seen.add(w)
                stack.append(w)
    reach_all = set(roots)
    stack = list(roots)
    while stack:
        v = stack.pop()
        for w in g.referents(v):
            if w not in reach_all:
                reach_all.add(w)
                stack.append(w)
    return sum(g.node(v)[2] for v in reach_all - seen)


@pytest.mark.slow
def test_retained_sizes_match_reachability(module: types.ModuleType) -> None:
    shared = Target()
    module.A = [Target(i) for i in range(20)] + [shared]  # type: ignore[attr-defined]
    module.B = {"shared": shared, "own": [Target(), Target()]}  # type: ignore[attr-defined]
    snap = heapwatch.snapshot()
    g = snap.graph
    for o in (module.A, module.B, shared):  # type: ignore[attr-defined]
        n = g.find(id(o))
        assert g.retained(n) == _brute_retained(g, n)
    # The shared object is dominated by neither holder.
    n_shared = g.find(id(shared))
    assert g.idom(n_shared) not in (g.find(id(module.A)), g.find(id(module.B)))  # type: ignore[attr-defined]


def test_top_retainers(module: types.ModuleType) -> None:
    module.BIG = [bytes(200_000) for _ in range(20)]  # type: ignore[attr-defined]
    tops = heapwatch.top_retainers(50)
    lists = [r for r in tops if r.address == id(module.BIG)]  # type: ignore[attr-defined]
    assert lists and lists[0].retained >= 20 * 200_000
    assert [r.retained for r in tops] == sorted((r.retained for r in tops), reverse=True)
    # The two selection methods (small n: one pass; large n: a sort) agree.
    snap = heapwatch.snapshot()
    few, many = snap.graph.top_retainers(10), snap.graph.top_retainers(10**9)
    assert len(many) == len(snap) and many[:10] == few
    by_type = heapwatch.top_retainers(200, by="type")
    assert any(r.type == "bytes" and r.count >= 20 for r in by_type)
    holders = heapwatch.top_retainers(30, by="holder")
    assert all(isinstance(g, heapwatch.Group) for g in holders)
    big = [g for g in holders if g.via == "module hw_graph_testmod .BIG -> list [*]"]
    assert big and big[0].count == 20 and big[0].retained == 20 * sys.getsizeof(bytes(200_000))
    assert [g.retained for g in holders] == sorted((g.retained for g in holders), reverse=True)
    with pytest.raises(ValueError):
        heapwatch.top_retainers(3, by="nonsense")


# ---- snapshots --------------------------------------------------------------------------


def test_snapshot_round_trip(tmp_path: Any, module: types.ModuleType) -> None:
    module.CACHE = {"dump": [Target()]}  # type: ignore[attr-defined]
    t = id(module.CACHE["dump"][0])  # type: ignore[attr-defined]
    snap = heapwatch.snapshot()
    f = tmp_path / "heap.hwsnap"
    snap.save(f)
    assert os.stat(f).st_mode & 0o777 == 0o600
    back = heapwatch.load(f)
    assert back.census() == snap.census()
    assert str(back.path(back.node_at(t))) == str(snap.path(snap.node_at(t))) == \
        "module hw_graph_testmod .CACHE ['dump'] -> list [0] -> Target"
    assert [(g.count, g.bytes, g.retained, g.via) for g in back.retention("Target", None)] == \
        [(g.count, g.bytes, g.retained, g.via) for g in snap.retention("Target", None)]
    assert back.info["nodes"] == snap.info["nodes"]
    assert back.info["edges"] == snap.info["edges"]
    assert set(back.info["build_seconds"].values()) == {0.0}  # read, not built


def test_snapshot_overwrites_with_0600(tmp_path: Any) -> None:
    f = tmp_path / "heap.hwsnap"
    f.write_text("old")
    os.chmod(f, 0o644)
    heapwatch.snapshot().save(f)
    assert os.stat(f).st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["heap.hwsnap"]


def test_reprs_only_when_asked(module: types.ModuleType) -> None:
    secret = "hunter2-" + str(os.getpid())
    module.PASSWORD = secret  # type: ignore[attr-defined]
    plain = heapwatch.snapshot()
    n = plain.node_of(secret)
    assert n is not None and plain.graph.node(n)[5] is None
    assert plain.info["has_reprs"] is False
    with_reprs = heapwatch.snapshot(reprs=True)
    n = with_reprs.node_of(secret)
    assert n is not None and with_reprs.graph.node(n)[5] == repr(secret)


@pytest.mark.parametrize("damage", ["empty", "truncate", "flip", "text"])
def test_load_rejects_damaged_files(tmp_path: Any, damage: str) -> None:
    f = tmp_path / "heap.hwsnap"
    heapwatch.snapshot().save(f)
    data = bytearray(f.read_bytes())
    if damage == "empty":
        data = bytearray()
    elif damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data[len(data) // 3] ^= 0x40
    else:
        data = bytearray(b"hello, this is not a snapshot\n" * 10)
    f.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="heap.hwsnap"):
        heapwatch.load(f)


def test_load_errors(tmp_path: Any) -> None:
    with pytest.raises(FileNotFoundError):
        heapwatch.load(tmp_path / "missing")
    with pytest.raises(OSError):
        heapwatch.load(tmp_path)
    with pytest.raises(TypeError):
        heapwatch.load(42)  # type: ignore[arg-type]


def test_diff_shows_growth_and_its_holders(module: types.ModuleType) -> None:
    before = heapwatch.snapshot()
    module.GROWN = [Kept4(i) for i in range(400)]  # type: ignore[attr-defined]
    after = heapwatch.snapshot()
    rows, groups = after.diff(before, limit=5)
    top = {name: delta for name, _count, delta, _b in rows}
    assert top.get("Kept4") == 400
    assert any(g.via == "module hw_graph_testmod .GROWN -> list [*]" and g.count == 400
               for g in groups)


# ---- the engine's arguments and safety ----------------------------------------------


def test_graph_argument_errors() -> None:
    with pytest.raises(TypeError):
        _engine.graph("roots")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        _engine.graph([("label",)])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        _engine.graph([(1, object())])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        _engine.graph([], labels="some")
    with pytest.raises(TypeError):
        _engine.graph([], quiet=[1])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        _engine.Graph()  # type: ignore[call-arg]
    g = _engine.graph([])
    with pytest.raises(IndexError):
        g.node(len(g))
    with pytest.raises(IndexError):
        g.path(-1)
    with pytest.raises(TypeError):
        g.node("0")  # type: ignore[arg-type]
    assert g.find(-5) is None
    with pytest.raises(ValueError):
        g.top_retainers(-1)


def test_audit_event(tmp_path: Any) -> None:
    # Audit hooks cannot be removed: this one records only while on.
    seen: list[tuple[str, tuple[Any, ...]]] = []
    state = {"on": False, "veto": False}

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if state["on"] and event.startswith("heapwatch."):
            seen.append((event, args))
            if state["veto"]:
                raise PermissionError("no heap graphs here")

    sys.addaudithook(hook)
    state["on"] = True
    try:
        snap = heapwatch.snapshot(reprs=True)
        snap.save(tmp_path / "s.hwsnap")
        assert seen == [("heapwatch.graph", (True,)),
                        ("heapwatch.snapshot.save", (str(tmp_path / "s.hwsnap"),))]
        state["veto"] = True
        with pytest.raises(PermissionError):
            heapwatch.why(snap)
        assert not (tmp_path / "t.hwsnap").exists()
        with pytest.raises(PermissionError):
            snap.save(tmp_path / "t.hwsnap")
        assert not (tmp_path / "t.hwsnap").exists()
    finally:
        state["on"] = False
        seen.clear()


def test_why_leaves_reference_counts_alone(module: types.ModuleType) -> None:
    t = Target()
    module.T = t  # type: ignore[attr-defined]
    heapwatch.why(t)
    gc.collect()
    before = sys.getrefcount(t), sys.getrefcount(module), sys.getrefcount(Target)
    for _ in range(20):
        heapwatch.why(t)
        heapwatch.retention(Target)
    gc.collect()
    assert (sys.getrefcount(t), sys.getrefcount(module), sys.getrefcount(Target)) == before


def test_gc_state_restored() -> None:
    assert gc.isenabled()
    heapwatch.snapshot()
    assert gc.isenabled()
    gc.disable()
    try:
        heapwatch.snapshot()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_graph_while_threads_allocate() -> None:
    stop = threading.Event()

    def churn() -> None:
        keep: list[Any] = []
        while not stop.is_set():
            keep.append([Target() for _ in range(50)])
            if len(keep) > 100:
                keep.clear()

    threads = [threading.Thread(target=churn) for _ in range(2)]
    for th in threads:
        th.start()
    try:
        for _ in range(5):
            snap = heapwatch.snapshot()
            assert len(snap) > 0
            snap.retention("Target", 3)
    finally:
        stop.set()
        for th in threads:
            th.join()


@pytest.mark.skipif(not _engine._walk_is_direct(), reason="the direct walk is not in use")
def test_fallback_walk_gives_the_same_roots(module: types.ModuleType) -> None:
    # The gc.get_objects() fallback (and 3.12's public walk) hold a
    # reference to each object while it is visited; held-from-outside must
    # not count it.
    gc.collect()
    gc.disable()
    try:
        a, b = Target(), Target()
        a.other, b.other = b, a  # type: ignore[attr-defined]
        addr = id(a)
        del a, b
        module.KEEP = [Target()]  # type: ignore[attr-defined]
        direct = heapwatch.snapshot()
        _engine._set_walk_direct(False)
        try:
            fallback = heapwatch.snapshot()
        finally:
            _engine._set_walk_direct(True)
        for snap in (direct, fallback):
            node = snap.node_at(addr)
            assert node is not None and snap.path(node) is None
            assert str(snap.why(module.KEEP[0])) == \
                "module hw_graph_testmod .KEEP -> list [0] -> Target"  # type: ignore[attr-defined]
    finally:
        gc.enable()
        gc.collect()


def test_builds_run_no_python_sizeof(module: types.ModuleType) -> None:
    # A failed build (a bad target name, found after the walk) and a
    # successful one alike never call a __sizeof__ written in Python.
    calls: list[int] = []

    class Sized:
        def __sizeof__(self) -> int:
            calls.append(1)
            return 100

    module.X = Sized()  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="type name must be a str"):
        _engine.graph([], targets=("Target", 1))
    _engine.graph([])
    assert calls == []


def test_dict_keys_name_edges_without_contents(module: types.ModuleType) -> None:
    big = 7 ** 20000  # over the int -> str digit limit
    module.D = {big: [Target()], 42: [Target()], True: [Target()],  # type: ignore[attr-defined]
                (1, 2): [Target()], "k" * 200: [Target()]}
    addrs = [id(v[0]) for v in module.D.values()]  # type: ignore[attr-defined]
    snap = heapwatch.snapshot()
    paths = {str(snap.path(snap.node_at(a))) for a in addrs}
    assert paths == {
        f"module hw_graph_testmod .D [<int of {big.bit_length()} bits>] -> list [0] -> Target",
        "module hw_graph_testmod .D [42] -> list [0] -> Target",
        "module hw_graph_testmod .D [True] -> list [0] -> Target",
        "module hw_graph_testmod .D [<tuple>] -> list [0] -> Target",
        "module hw_graph_testmod .D ['" + "k" * 80 + "'...] -> list [0] -> Target",
    }
