"""Never hurt the host: no leaks, no crash under threads, GC callbacks,
finalizers, re-entrant calls and re-import."""

from __future__ import annotations

import ctypes
import gc
import subprocess
import sys
import textwrap
import threading
import weakref
from typing import Any

import pytest

import heapwatch
from heapwatch._compat import unsupported_reason
from tests import heaps, reference


def _exercise(include_untracked: bool) -> None:
    c = heapwatch.census(include_untracked=include_untracked)
    c.most_common(5)
    c.most_common(5, by="bytes")
    c.items()
    c.counts()
    c.get("FirstModel")
    _ = c - c


class _MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
        "uordblks", "fordblks", "keepcost")]


_mallinfo2 = ctypes.CDLL(None).mallinfo2
_mallinfo2.restype = _MallInfo2


def _malloc_in_use() -> int:
    """Bytes in use by malloc (glibc mallinfo2): sees the engine's raw
    allocations, which sys.getallocatedblocks() does not."""
    info = _mallinfo2()
    return int(info.uordblks) + int(info.hblkhd)


def _settles(runs: int, include_untracked: bool) -> None:
    keep = heaps.varied_heap() + heaps.seed_heap(200)
    gc.collect()  # earlier tests' cyclic heaps hold instances too
    refs_before = (sys.getrefcount(heaps.FirstModel), sys.getrefcount(heaps.SizedInPython))
    for _ in range(20):  # warm caches (method cache, interned names)
        _exercise(include_untracked)
    _malloc_in_use()
    gc.collect()
    objects_before = len(gc.get_objects())
    total_before = getattr(sys, "gettotalrefcount", lambda: 0)()
    blocks_before = sys.getallocatedblocks()
    mem_before = _malloc_in_use()
    for _ in range(runs):
        _exercise(include_untracked)
    gc.collect()
    mem_after = _malloc_in_use()
    blocks_after = sys.getallocatedblocks()
    objects_after = len(gc.get_objects())
    total_after = getattr(sys, "gettotalrefcount", lambda: 0)()
    assert objects_after - objects_before <= 1  # the list from get_objects' frame
    assert mem_after - mem_before < 256 * 1024, "malloc'd memory kept growing"
    assert blocks_after - blocks_before < 100, "Python allocator blocks kept growing"
    assert (sys.getrefcount(heaps.FirstModel), sys.getrefcount(heaps.SizedInPython)) == refs_before
    assert total_after - total_before < 50
    del keep


@pytest.mark.valgrind
def test_no_leak_short() -> None:
    _settles(50, include_untracked=True)


@pytest.mark.slow
def test_no_leak_10000_censuses() -> None:
    _settles(10_000, include_untracked=False)


@pytest.mark.slow
def test_no_leak_include_untracked() -> None:
    _settles(1_000, include_untracked=True)


def test_threads_allocating_during_census() -> None:
    stop = threading.Event()
    errors: list[BaseException] = []

    def churn() -> None:
        try:
            junk: list[Any] = []
            while not stop.is_set():
                junk.append([heaps.FirstModel(i) for i in range(50)])
                junk.append({i: [i] for i in range(20)})
                if len(junk) > 200:
                    junk.clear()
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    def census_loop() -> None:
        try:
            for _ in range(30):
                heapwatch.census(include_untracked=True)
                heapwatch.growth()
        except BaseException as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=churn) for _ in range(3)]
    threads += [threading.Thread(target=census_loop) for _ in range(2)]
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        for t in threads:
            t.start()
        for _ in range(50):
            c = heapwatch.census()
            assert c.total_count > 0
        for t in threads[3:]:
            t.join()
    finally:
        stop.set()
        for t in threads:
            t.join()
        sys.setswitchinterval(old)
    assert errors == []


@pytest.mark.valgrind
def test_census_inside_gc_callback() -> None:
    seen: list[tuple[str, int]] = []

    def cb(phase: str, info: dict[str, int]) -> None:
        c = heapwatch.census(include_untracked=True)
        seen.append((phase, c.total_count))

    class Cycle:
        def __init__(self) -> None:
            self.me = self

    gc.callbacks.append(cb)
    try:
        for _ in range(100):
            Cycle()
        gc.collect()
    finally:
        gc.callbacks.remove(cb)
    phases = [p for p, _ in seen]
    assert "start" in phases and "stop" in phases
    assert all(n > 0 for _, n in seen)


class CensusOnDel:
    results: list[int] = []

    def __init__(self) -> None:
        self.me: Any = None

    def __del__(self) -> None:
        c = heapwatch.census(include_untracked=True)
        heapwatch.growth()
        CensusOnDel.results.append(c.total_count)


@pytest.mark.valgrind
def test_census_from_finalizers() -> None:
    CensusOnDel.results.clear()
    x = CensusOnDel()
    del x  # refcount drop
    cyc = CensusOnDel()
    cyc.me = cyc
    del cyc
    gc.collect()  # finalizer run by the collector
    assert len(CensusOnDel.results) == 2


def test_census_from_weakref_callback_during_gc() -> None:
    got: list[int] = []

    class Obj:
        def __init__(self) -> None:
            self.me = self

    objs = [Obj() for _ in range(10)]
    refs = [weakref.ref(o, lambda r: got.append(heapwatch.census().total_count)) for o in objs]
    del objs
    gc.collect()
    assert len(got) == 10
    del refs


class ReentrantSizeof:
    """A __sizeof__ in Python that would census again: never called."""

    inner: list[int] = []

    def __sizeof__(self) -> int:
        ReentrantSizeof.inner.append(heapwatch.census().total_count)
        return 64


def test_python_sizeof_that_censuses_is_not_called() -> None:
    ReentrantSizeof.inner.clear()
    objs = [ReentrantSizeof() for _ in range(3)]
    c = heapwatch.census()
    heapwatch.snapshot()
    assert ReentrantSizeof.inner == []
    assert c["ReentrantSizeof"].count == 3
    assert c["ReentrantSizeof"].bytes == 3 * reference.fallback_size(objs[0])
    del objs


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=60)


def test_reimport_gives_independent_module() -> None:
    r = _run("""
        import sys, importlib
        import heapwatch._engine as m1
        c1 = m1.census()
        del sys.modules["heapwatch._engine"]
        m2 = importlib.import_module("heapwatch._engine")
        assert m2 is not m1
        assert m2.Census is not m1.Census
        c2 = m2.census()
        m1.swap_baseline(c1)
        assert m2.swap_baseline(None) is None     # separate module state
        assert m1.swap_baseline(None) is c1
        assert c2.total_count > 0 and len(c1) > 0
        print("ok")
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


def test_interpreter_exit_with_baseline_and_censuses_alive() -> None:
    r = _run("""
        import heapwatch
        heapwatch.growth()
        keep = [heapwatch.census(include_untracked=True) for _ in range(3)]
        print("ok")
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


@pytest.mark.parametrize("impl, version, gil_disabled, expect", [
    ("cpython", (3, 11), 0, None),
    ("cpython", (3, 13), None, None),
    ("cpython", (3, 13), 1, "free-threaded"),
    ("cpython", (3, 10), 0, "3.11 to 3.13"),
    ("cpython", (3, 14), 0, "3.11 to 3.13"),
    ("pypy", (3, 11), 0, "needs CPython"),
])
def test_unsupported_interpreters_get_clear_import_error(
        impl: str, version: tuple[int, int], gil_disabled: Any, expect: str | None) -> None:
    reason = unsupported_reason(impl, version, gil_disabled)
    if expect is None:
        assert reason is None
    else:
        assert reason is not None and expect in reason


def test_freed_objects_reported_by_traverse_are_left_alone() -> None:
    """CPython 3.12 before 3.12.6 (gh-122695): the _asyncio module's traverse
    reports freed FutureIter objects from its free list.  A census that
    INCREF'd and DECREF'd them would free them twice and the next
    collection would loop forever.  Run where a hang can be timed out."""
    r = _run("""
        import asyncio, gc
        import heapwatch
        import heapwatch.objgraph as objgraph
        loop = asyncio.new_event_loop()
        for _ in range(3):
            fut = loop.create_future()
            it = iter(fut)
            del it, fut      # FutureIter goes to the free list
            heapwatch.census(include_untracked=True)
            heapwatch.census(include_untracked=True)
            objgraph.get_leaking_objects()
            gc.collect()
        loop.close()
        print("ok")
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"
