"""Dominators and retained sizes (dominators.c), through the test bindings
_engine._dominators and _engine._retained: equal to the definitions,
computed by brute force, on random small graphs; hand-made cases; graphs
deep enough that any recursion would crash; argument checks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heapwatch import _engine

U64_MAX = 2**64 - 1
Edges = list[tuple[int, int]]


def reached(n: int, edges: Sequence[tuple[int, int]], roots: Sequence[int],
            removed: int | None = None) -> set[int]:
    """The nodes reachable from the virtual root without going through
    removed."""
    succ: list[list[int]] = [[] for _ in range(n)]
    for s, t in edges:
        succ[s].append(t)
    seen = {r for r in roots if r != removed}
    todo = list(seen)
    while todo:
        for t in succ[todo.pop()]:
            if t != removed and t not in seen:
                seen.add(t)
                todo.append(t)
    return seen


def strict_dominators(n: int, edges: Edges, roots: list[int]) -> list[set[int] | None]:
    """For each node, the nodes d != v without which v is unreachable (None
    for the unreached); the virtual root, which dominates them all, is left
    out."""
    live = reached(n, edges, roots)
    doms: list[set[int] | None] = [set() if v in live else None for v in range(n)]
    for d in live:
        for v in live - reached(n, edges, roots, removed=d) - {d}:
            dv = doms[v]
            assert dv is not None
            dv.add(d)
    return doms


def brute_idom(n: int, edges: Edges, roots: list[int]) -> list[int | None]:
    """The strict dominator of v that all its other strict dominators
    dominate; -1 for the virtual root, None for the unreached."""
    doms = strict_dominators(n, edges, roots)
    out: list[int | None] = []
    for dv in doms:
        if dv is None:
            out.append(None)
            continue
        closest = [d for d in dv if all(o == d or o in (doms[d] or ()) for o in dv)]
        assert len(closest) == (1 if dv else 0)
        out.append(closest[0] if closest else -1)
    return out


def brute_retained(n: int, edges: Edges, roots: list[int], sizes: list[int]) -> list[int]:
    doms = strict_dominators(n, edges, roots)
    total = list(sizes)
    for v, dv in enumerate(doms):
        for d in dv or ():
            total[d] += sizes[v]
    return [min(t, U64_MAX) for t in total]


@st.composite
def graphs(draw: st.DrawFn, max_nodes: int = 9) -> tuple[int, Edges, list[int]]:
    n = draw(st.integers(0, max_nodes))
    if n == 0:
        return 0, [], []
    node = st.integers(0, n - 1)
    edges = draw(st.lists(st.tuples(node, node), max_size=3 * n))
    roots = draw(st.lists(node, max_size=4))
    return n, edges, roots


@settings(max_examples=300, deadline=None)
@given(graph=graphs())
def test_idom_matches_definition(graph: tuple[int, Edges, list[int]]) -> None:
    n, edges, roots = graph
    assert _engine._dominators(n, edges, roots) == brute_idom(n, edges, roots)


@settings(max_examples=150, deadline=None)
@given(graph=graphs(), data=st.data())
def test_retained_matches_definition(graph: tuple[int, Edges, list[int]],
                                     data: st.DataObject) -> None:
    n, edges, roots = graph
    size = st.one_of(st.integers(0, 1000), st.integers(U64_MAX - 1000, U64_MAX))
    sizes = data.draw(st.lists(size, min_size=n, max_size=n))
    assert _engine._retained(n, edges, roots, sizes) == brute_retained(n, edges, roots, sizes)


@pytest.mark.parametrize("n, edges, roots, want", [
    pytest.param(0, [], [], [], id="empty"),
    pytest.param(3, [(0, 1), (1, 2)], [], [None, None, None], id="no-roots"),
    pytest.param(4, [(0, 1), (0, 2), (1, 3), (2, 3)], [0], [-1, 0, 0, 0], id="diamond"),
    pytest.param(4, [(0, 1), (1, 2), (2, 3)], [0], [-1, 0, 1, 2], id="chain"),
    pytest.param(4, [(0, 1), (1, 2), (2, 3), (3, 1)], [0], [-1, 0, 1, 2], id="loop"),
    pytest.param(2, [(0, 0), (0, 1), (1, 1)], [0], [-1, 0], id="self-loops"),
    pytest.param(3, [(0, 1), (2, 1)], [0, 2], [-1, -1, -1], id="two-roots"),
    pytest.param(2, [(0, 1)], [0, 1], [-1, -1], id="root-below-root"),
    pytest.param(2, [(0, 1)], [1, 0], [-1, -1], id="root-below-root-reversed"),
    pytest.param(2, [(0, 1)], [0, 0, 0], [-1, 0], id="repeated-roots"),
    pytest.param(3, [(0, 1), (2, 1), (2, 0)], [0], [-1, 0, None],
                 id="unreached-predecessor"),
    pytest.param(3, [(0, 1), (0, 1), (1, 2), (1, 2)], [0], [-1, 0, 1],
                 id="parallel-edges"),
])
def test_hand_made(n: int, edges: Edges, roots: list[int], want: list[int | None]) -> None:
    assert _engine._dominators(n, edges, roots) == want
    assert brute_idom(n, edges, roots) == want


def test_lengauer_tarjan_example() -> None:
    """The flow graph of Lengauer and Tarjan's paper (1979), figure 1."""
    names = "RABCDEFGHIJKL"
    succ = {"R": "ABC", "A": "D", "B": "ADE", "C": "FG", "D": "L", "E": "H",
            "F": "I", "G": "IJ", "H": "EK", "I": "K", "J": "I", "K": "IR", "L": "H"}
    edges = [(names.index(s), names.index(t)) for s, ts in succ.items() for t in ts]
    idom = _engine._dominators(len(names), edges, [0])
    got = {names[v]: (names[d] if d is not None and d >= 0 else d) for v, d in enumerate(idom)}
    assert got == {"R": -1, "A": "R", "B": "R", "C": "R", "D": "R", "E": "R", "F": "C",
                   "G": "C", "H": "R", "I": "R", "J": "G", "K": "R", "L": "D"}


def test_order_of_roots_and_edges_does_not_matter() -> None:
    n = 6
    edges = [(0, 1), (1, 2), (2, 3), (0, 4), (4, 3), (3, 5), (5, 2)]
    want = brute_idom(n, edges, [0])
    assert _engine._dominators(n, edges[::-1], [0]) == want
    assert _engine._dominators(n, edges, [0, 0]) == want


def test_accepts_tuples_and_other_sequences() -> None:
    assert _engine._dominators(2, ((0, 1),), (0,)) == [-1, 0]
    assert _engine._retained(2, ((0, 1),), range(1), (3, 4)) == [7, 4]


N_DEEP = 1_000_000


def test_million_long_chain() -> None:
    """A DFS a million deep: a recursive implementation would overflow the
    C stack."""
    edges = [(i, i + 1) for i in range(N_DEEP - 1)]
    idom = _engine._dominators(N_DEEP, edges, [0])
    assert idom[0] == -1
    assert idom[1:] == list(range(N_DEEP - 1))
    retained = _engine._retained(N_DEEP, edges, [0], [1] * N_DEEP)
    assert retained == list(range(N_DEEP, 0, -1))


def test_million_long_chain_with_back_edges() -> None:
    """Every node of the chain also points back at its first node, whose
    predecessors then need path compression over the whole chain."""
    edges = [(i, i + 1) for i in range(N_DEEP - 1)] + [(i, 0) for i in range(N_DEEP)]
    idom = _engine._dominators(N_DEEP, edges, [0])
    assert idom[0] == -1
    assert idom[1:] == list(range(N_DEEP - 1))


def test_million_long_chain_entered_from_both_ends() -> None:
    """Roots at both ends of a cycle: only the virtual root dominates."""
    edges = [(i, i + 1) for i in range(N_DEEP - 1)] + [(N_DEEP - 1, 0)]
    idom = _engine._dominators(N_DEEP, edges, [0, N_DEEP // 2])
    assert idom[0] == idom[N_DEEP // 2] == -1
    assert idom[1:N_DEEP // 2] == list(range(N_DEEP // 2 - 1))
    assert idom[N_DEEP // 2 + 1:] == list(range(N_DEEP // 2, N_DEEP - 1))


def test_long_list_whose_items_are_held_from_elsewhere() -> None:
    """Items 0..m-1 of a linked list (nodes m..2m-1) also held by a later
    root: each item's dominator search starts deep in the list and must
    climb it all, which takes quadratic time unless the climb jumps."""
    m = 300_000
    holder = 2 * m
    edges = ([(m + i, m + i + 1) for i in range(m - 1)]
             + [(m + i, i) for i in range(m)]
             + [(holder, i) for i in range(m)])
    idom = _engine._dominators(2 * m + 1, edges, [m, holder])
    assert idom[:m] == [-1] * m
    assert idom[m] == -1 and idom[m + 1:2 * m] == list(range(m, 2 * m - 1))
    assert idom[holder] == -1


def test_retained_saturates() -> None:
    got = _engine._retained(3, [(0, 1), (1, 2)], [0], [U64_MAX, U64_MAX, 5])
    assert got == [U64_MAX, U64_MAX, 5]
    got = _engine._retained(3, [(0, 1), (0, 2)], [0], [1, U64_MAX - 1, 1])
    assert got == [U64_MAX, U64_MAX - 1, 1]


def test_retained_of_unreached_is_own_size() -> None:
    # 2 is unreached and points at 1: it adds nothing to 0's retained size.
    assert _engine._retained(3, [(0, 1), (2, 1)], [0], [1, 10, 100]) == [11, 10, 100]


@pytest.mark.parametrize("args, error, match", [
    pytest.param((-1, [], []), ValueError, "n must be", id="n-negative"),
    pytest.param((2**24 + 1, [], []), ValueError, "n must be", id="n-too-large"),
    pytest.param((2**100, [], []), ValueError, "n must be", id="n-huge"),
    pytest.param(("3", [], []), TypeError, "n must be an int", id="n-str"),
    pytest.param((3.0, [], []), TypeError, "n must be an int", id="n-float"),
    pytest.param((3, 5, []), TypeError, "edges must be a sequence", id="edges-int"),
    pytest.param((3, [], None), TypeError, "roots must be a sequence", id="roots-none"),
    pytest.param((3, [[0, 1]], []), TypeError, r"edges\[0\] must be a", id="edge-list"),
    pytest.param((3, [(0, 1, 2)], []), TypeError, r"edges\[0\] must be a", id="edge-triple"),
    pytest.param((3, [(0, 1), (1,)], []), TypeError, r"edges\[1\] must be a", id="edge-single"),
    pytest.param((3, [("0", 1)], []), TypeError, r"edges\[0\]: a node must be an int",
                 id="edge-str"),
    pytest.param((3, [(0, 1.0)], []), TypeError, r"edges\[0\]", id="edge-float"),
    pytest.param((3, [(0, 3)], []), ValueError, r"edges\[0\]: node out of range\(3\)",
                 id="edge-out-of-range"),
    pytest.param((3, [(-1, 0)], []), ValueError, r"edges\[0\]", id="edge-negative"),
    pytest.param((3, [(0, 2**70)], []), ValueError, r"edges\[0\]", id="edge-huge"),
    pytest.param((0, [(0, 0)], []), ValueError, r"edges\[0\]", id="edge-in-empty-graph"),
    pytest.param((3, [], [3]), ValueError, r"roots\[0\]: node out of range", id="root-range"),
    pytest.param((3, [], [0, -1]), ValueError, r"roots\[1\]", id="root-negative"),
    pytest.param((3, [], ["a"]), TypeError, r"roots\[0\]: a node must be an int",
                 id="root-str"),
    pytest.param((3, []), TypeError, None, id="too-few-arguments"),
])
def test_bad_arguments(args: tuple[Any, ...], error: type[Exception], match: str | None) -> None:
    with pytest.raises(error, match=match):
        _engine._dominators(*args)
    if len(args) == 3:
        with pytest.raises(error, match=match):
            _engine._retained(*args, [0] * 3)


@pytest.mark.parametrize("sizes, error, match", [
    pytest.param([1, 2], ValueError, "sizes has 2 items, not n = 3", id="short"),
    pytest.param([1, 2, 3, 4], ValueError, "sizes has 4 items", id="long"),
    pytest.param([1, -1, 3], ValueError, r"sizes\[1\] is not between", id="negative"),
    pytest.param([1, 2, 2**64], ValueError, r"sizes\[2\] is not between", id="too-large"),
    pytest.param([1, "2", 3], TypeError, r"sizes\[1\] must be an int", id="str"),
    pytest.param(None, TypeError, "sizes must be a sequence", id="none"),
])
def test_bad_sizes(sizes: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        _engine._retained(3, [(0, 1)], [0], sizes)
