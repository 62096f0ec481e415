"""heapwatch.memory(): the RSS split into live objects, the allocators'
free memory and the rest; the parser of pymalloc's statistics."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import re
import subprocess
import sys
import textwrap
import types
import unittest.mock
from typing import Any

import pytest

import heapwatch
from heapwatch import Memory, memory
from heapwatch._engine import memstats
from heapwatch._memory import current_rss

MIB = 1 << 20
FIELDS = ("rss", "python_objects", "pymalloc_free", "malloc_free", "other",
          "pymalloc_used", "pymalloc_arenas")
UNDER_ASAN = "asan" in os.environ.get("LD_PRELOAD", "")

# What CPython 3.12 prints (the 3.11 and 3.13 texts have the same lines).
SAMPLE = """\
Small block threshold = 512, in 32 size classes.

class   size   num pools   blocks in use  avail blocks
-----   ----   ---------   -------------  ------------
    0     16           1              27           994
    1     32           2             597           423

# arenas allocated total           =                    2
# arenas reclaimed                 =                    0
# arenas highwater mark            =                    2
# arenas allocated current         =                    2
2 arenas * 1048576 bytes/arena     =            2,097,152

# bytes in allocated blocks        =              799,200
# bytes in available blocks        =              371,232
55 unused pools * 16384 bytes      =              901,120
# bytes lost to pool headers       =                3,456
# bytes lost to quantization       =                5,760
# bytes lost to arena alignment    =               16,384
Total                              =            2,097,152

arena map counts
# arena map mid nodes              =                    1
# arena map bot nodes              =                    1

# bytes lost to arena map root     =              262,144
# bytes lost to arena map mid      =              262,144
# bytes lost to arena map bot      =              131,072
Total                              =              655,360
"""

MIMALLOC_SAMPLE = """\
Small block threshold = 16384, in 73 size classes.
Medium block threshold = 131072
Large object max size = 16777216
    Allocated Blocks: 15835
    Allocated Bytes: 2021768
    Allocated Bytes w/ Overhead: 2021768
    Bytes Reserved: 4342456
    Bytes Committed: 2726688
"""


def reference_parse(text: str) -> tuple[int, int, int, int]:
    """(arenas, allocated, available, unused_pools) by regular expressions,
    independently of the C parser."""
    def value(pattern: str) -> int:
        m = re.search(r"^" + pattern + r"\s*=\s*([\d,]+)$", text, re.M)
        assert m, pattern
        return int(m.group(1).replace(",", ""))
    return (value(r"\d+ arenas \* \d+ bytes/arena"), value(r"# bytes in allocated blocks"),
            value(r"# bytes in available blocks"), value(r"\d+ unused pools \* \d+ bytes"))


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONMALLOC"}
    env.update(extra)
    return env


def run_child(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env=child_env(**env), timeout=300)


# --------------------------------------------------------------------------
# The Memory record


def test_fields_are_non_negative_ints() -> None:
    m = memory()
    assert isinstance(m, Memory)
    assert tuple(f.name for f in dataclasses.fields(m)) == FIELDS
    for name in FIELDS:
        value = getattr(m, name)
        assert type(value) is int and value >= 0, (name, value)
    assert m.rss > 0 and m.python_objects > 0
    assert m.other == max(0, m.rss - m.python_objects - m.pymalloc_free - m.malloc_free)
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.rss = 0  # type: ignore[misc]
    assert "MiB" in str(m) and "pymalloc free" in str(m)


def test_rss_is_the_kernels() -> None:
    m = memory()
    with open("/proc/self/status") as f:
        vmrss = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))
    assert abs(m.rss - vmrss) < 8 * MIB
    rss = current_rss()
    assert rss is not None and abs(rss - vmrss) < 8 * MIB


def test_python_objects_is_the_census_with_untracked(quiet_gc: None) -> None:
    c = heapwatch.census(include_untracked=True)
    m = memory()
    assert abs(m.python_objects - c.total_bytes) < 256 * 1024
    assert m.python_objects > heapwatch.census().total_bytes


def test_pymalloc_figures_fit_the_arenas() -> None:
    allocator, arenas, used, available, unused, malloc_free = memstats()
    m = memory()
    if allocator != "pymalloc":
        # make test-asan runs with PYTHONMALLOC=malloc.
        assert (arenas, used, available, unused) == (0, 0, 0, 0)
        assert m.pymalloc_free == m.pymalloc_used == m.pymalloc_arenas == 0
        return
    assert arenas > 0 and arenas % (64 * 1024) == 0
    assert 0 < used and used + available + unused <= arenas
    assert m.pymalloc_used + m.pymalloc_free <= m.pymalloc_arenas


def test_figures_match_sys_debugmallocstats(capfd: pytest.CaptureFixture[str]) -> None:
    """The live figures are CPython's own printout, read a moment later."""
    capfd.readouterr()
    sys._debugmallocstats()
    text = capfd.readouterr().err
    allocator, arenas, used, available, unused, _ = memstats()
    if allocator != "pymalloc":
        assert "bytes in allocated blocks" not in text
        return
    ref = reference_parse(text)
    assert arenas == ref[0]
    assert abs(used - ref[1]) < MIB
    assert abs(available + unused - ref[2] - ref[3]) < MIB


# --------------------------------------------------------------------------
# No code of the application runs


class SizeofInPython:
    calls = 0

    def __sizeof__(self) -> int:
        SizeofInPython.calls += 1
        return 1000


MOCK = unittest.mock.MagicMock()
MOCK.child.grandchild.value = 3
SIZED = [SizeofInPython() for _ in range(3)]


def test_memory_runs_no_code_of_user_objects() -> None:
    before = list(MOCK.mock_calls)
    sizeof_calls = SizeofInPython.calls
    called: list[str] = []
    watched = (__file__, unittest.mock.__file__)

    def profile(frame: types.FrameType, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code.co_filename in watched:
            called.append(frame.f_code.co_name)

    sys.setprofile(profile)
    try:
        memory()
    finally:
        sys.setprofile(None)
    assert called == []
    assert MOCK.mock_calls == before
    assert SizeofInPython.calls == sizeof_calls


# --------------------------------------------------------------------------
# The parser


def test_parses_the_sample() -> None:
    assert memstats(SAMPLE) == ("pymalloc", 2_097_152, 799_200, 371_232, 901_120, 0)
    assert memstats(SAMPLE)[1:5] == reference_parse(SAMPLE)


def test_parses_the_real_text_of_this_python() -> None:
    r = run_child("import sys; sys._debugmallocstats()", PYTHONMALLOC="pymalloc")
    assert r.returncode == 0, r.stderr
    got = memstats(r.stderr)
    assert got[0] == "pymalloc"
    assert got[1:5] == reference_parse(r.stderr)


def test_mimalloc_text_is_not_pymalloc() -> None:
    assert memstats(MIMALLOC_SAMPLE) == ("mimalloc", 0, 0, 0, 0, 0)


@pytest.mark.parametrize("text, message", [
    ("", "no line for"),
    ("garbage\n\x00\xff = = =\n", "no line for"),
    (SAMPLE.replace("# bytes in available blocks", "# bytes in free blocks"),
     "no line for # bytes in available blocks"),
    (SAMPLE.replace("55 unused pools", "many unused pools"), "no line for N unused pools"),
    (SAMPLE.replace("799,200", "799.200"), "bad number"),
    (SAMPLE.replace("799,200", "799,2x0"), "bad number"),
    (SAMPLE.replace("799,200", ""), "bad number"),
    (SAMPLE.replace("799,200", "-799,200"), "bad number"),
    (SAMPLE.replace("799,200", "99,999,999,999,999,999,999,999"), "bad number"),
    (SAMPLE.replace("799,200", "2,799,200"), "exceed the arenas"),
    (SAMPLE.replace("901,120", "1,901,120"), "exceed the arenas"),
])
def test_malformed_text_is_a_clear_runtime_error(text: str, message: str) -> None:
    with pytest.raises(RuntimeError, match="pymalloc's statistics") as info:
        memstats(text)
    assert message in str(info.value)


def test_parser_never_crashes_on_mangled_text() -> None:
    rng = random.Random(1234)
    alphabet = "0123456789,= #\n*abcdefghijklmnopqrstuvwxyz/\x00"
    outcomes = set()
    for _ in range(3000):
        chars = list(SAMPLE)
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(chars))
            op = rng.random()
            if op < 0.4:
                chars[i] = rng.choice(alphabet)
            elif op < 0.7:
                del chars[i]
            else:
                chars.insert(i, rng.choice(alphabet))
        cut = rng.choice([len(chars), rng.randrange(len(chars))])
        try:
            got = memstats("".join(chars[:cut]))
        except RuntimeError:
            outcomes.add("error")
        else:
            outcomes.add(got[0])
            assert got[2] + got[3] + got[4] <= got[1]
    assert outcomes == {"error", "pymalloc"}


def test_text_must_be_str() -> None:
    with pytest.raises(TypeError):
        memstats(SAMPLE.encode())  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# A fragmented heap, in a child process (this one stays unfragmented)

FRAGMENT = """
import dataclasses, json, heapwatch
from heapwatch._engine import memstats
out = {"allocator": memstats()[0], "base": dataclasses.asdict(heapwatch.memory())}
a = [[i] for i in range(N_ELEMENTS)]
kept = a[::64]
del a
out["fragmented"] = dataclasses.asdict(heapwatch.memory())
del kept
out["freed"] = dataclasses.asdict(heapwatch.memory())
print(json.dumps(out))
"""


def fragment(n: int, allocator: str) -> dict[str, Any]:
    r = run_child(FRAGMENT.replace("N_ELEMENTS", str(n)), PYTHONMALLOC=allocator)
    assert r.returncode == 0, r.stderr
    out: dict[str, Any] = json.loads(r.stdout)
    assert out["allocator"] == allocator
    return out


def growth(out: dict[str, Any], field: str, stage: str = "fragmented") -> int:
    return int(out[stage][field] - out["base"][field])


SIZES = [pytest.param(600_000, id="600k"),
         pytest.param(3_000_000, id="3M", marks=pytest.mark.slow)]


@pytest.mark.skipif(UNDER_ASAN, reason="the child would run on ASan's allocator")
@pytest.mark.parametrize("n", SIZES)
def test_fragmented_pymalloc_heap(n: int) -> None:
    """Every 64th of n one-item lists survives: each pool keeps a few live
    blocks, so pymalloc keeps every arena.  RSS stays up by ~110 bytes an
    element; memory() puts it in pymalloc_free, not in python_objects."""
    out = fragment(n, "pymalloc")
    scale = n / 3_000_000
    assert growth(out, "rss") > 150 * MIB * scale
    assert growth(out, "pymalloc_free") > 150 * MIB * scale
    assert growth(out, "python_objects") < 30 * MIB * scale
    # The split explains the growth: little is left for `other`.
    assert growth(out, "other") < 40 * MIB * scale
    assert out["fragmented"]["pymalloc_used"] < out["fragmented"]["pymalloc_arenas"] / 10
    # Freeing the survivors frees the arenas: the free memory was theirs.
    assert growth(out, "pymalloc_free", "freed") < 30 * MIB * scale
    assert growth(out, "rss", "freed") < 40 * MIB * scale


@pytest.mark.skipif(UNDER_ASAN, reason="the child would run on ASan's allocator")
@pytest.mark.parametrize("n", SIZES)
def test_fragmented_malloc_heap(n: int) -> None:
    """The same under PYTHONMALLOC=malloc: glibc keeps the freed chunks
    (small ones in fastbins, never coalesced until a consolidation) and the
    survivors pin the heap's top, so nothing is trimmed."""
    out = fragment(n, "malloc")
    scale = n / 3_000_000
    for stage in ("base", "fragmented", "freed"):
        assert out[stage]["pymalloc_free"] == 0
        assert out[stage]["pymalloc_used"] == out[stage]["pymalloc_arenas"] == 0
    assert growth(out, "rss") > 150 * MIB * scale
    assert growth(out, "malloc_free") > 150 * MIB * scale
    assert growth(out, "python_objects") < 30 * MIB * scale
    assert growth(out, "other") < 40 * MIB * scale


@pytest.mark.skipif(sys.version_info < (3, 13), reason="PYTHONMALLOC=mimalloc is 3.13+")
def test_under_mimalloc_pymalloc_is_empty() -> None:
    r = run_child("""
        import dataclasses, json, heapwatch
        from heapwatch._engine import memstats
        print(json.dumps([memstats()[0], dataclasses.asdict(heapwatch.memory())]))
    """, PYTHONMALLOC="mimalloc")
    if r.returncode != 0 and "PYTHONMALLOC" in r.stderr:
        pytest.skip("this CPython has no mimalloc")
    assert r.returncode == 0, r.stderr
    allocator, m = json.loads(r.stdout)
    assert allocator == "mimalloc"
    assert m["pymalloc_free"] == m["pymalloc_used"] == m["pymalloc_arenas"] == 0
    assert m["rss"] > 0 and m["python_objects"] > 0
