"""The snapshot file reader/writer (src/heapwatch/_engine/snapfile.c), at
the C level, under AddressSanitizer + UndefinedBehaviorSanitizer, without
an interpreter:

- the fuzzing corpus (fuzz/corpus/) replayed through the fuzz target's
  oracles with gcc (fuzz/standalone.c), no clang or libFuzzer needed;
- the seeds in the corpus are what fuzz/make_seeds.c writes today;
- fuzz/test_snapfile.c: round trips, the writer's errors, every truncation,
  single-byte mutations, the allocation bound;
- files built here by an independent encoder of the documented layout
  (the comment at the top of snapfile.c): the valid ones must read, and
  write back byte for byte; each corrupt one must be refused with its
  message.

Campaigns that grow the corpus: fuzz/run.sh (clang).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import shutil
import struct
import subprocess
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENGINE = ROOT / "src" / "heapwatch" / "_engine"
FUZZ = ROOT / "fuzz"
CORPUS = FUZZ / "corpus"

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None,
                                reason="gcc is not installed: cannot build the C fuzz harness")

CFLAGS = ["-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter",
          "-Wno-missing-field-initializers", "-Werror", "-g", "-O1",
          "-fno-omit-frame-pointer", "-fsanitize=address,undefined",
          "-fno-sanitize-recover=undefined", "-I", str(ENGINE)]
ENGINE_SOURCES = [str(ENGINE / n) for n in ("snapfile.c", "graph.c", "strtab.c", "bigmem.c")]
PROGRAMS = {
    "standalone": ["standalone.c", "fuzz_snapfile.c"],
    "test_snapfile": ["test_snapfile.c", "fuzz_snapfile.c"],
    "make_seeds": ["make_seeds.c"],
}
# No single allocation above 16 MB (the inputs here are a few KB), leaks
# are errors, UBSan stops at the first report.
SAN_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=1:max_allocation_size_mb=16:"
                    "allocator_may_return_null=0",
    "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
}


def clean_env() -> dict[str, str]:
    """The environment without the sanitizer preload of `make test-asan`
    (these programs link their own runtime; gcc runs better without)."""
    return {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}


@pytest.fixture(scope="module")
def bins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("snapfile_fuzz")
    procs = {}
    for name, sources in PROGRAMS.items():
        cmd = ["gcc", *CFLAGS, *[str(FUZZ / s) for s in sources], *ENGINE_SOURCES,
               "-o", str(out / name)]
        if name == "test_snapfile":
            cmd.append("-Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc")
        procs[name] = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       text=True, env=clean_env())
    for name, proc in procs.items():
        output, _ = proc.communicate()
        assert proc.returncode == 0, f"building {name} failed:\n{output}"
    return {name: out / name for name in PROGRAMS}


def run(cmd: list[str | Path]) -> subprocess.CompletedProcess[str]:
    env = dict(clean_env(), **SAN_ENV)
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env,
                          timeout=120)


def test_corpus_replays_clean(bins: dict[str, Path]) -> None:
    files = sorted(p for p in CORPUS.iterdir() if p.is_file())
    assert len(files) >= 6
    r = run([bins["standalone"], "-v", CORPUS])
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert f"standalone: {len(files)} inputs" in r.stderr
    verdicts = dict(line.split(": ", 1) for line in r.stdout.splitlines())
    seeds = [p.name for p in files if p.name.startswith("seed-")]
    assert seeds
    for name in seeds:
        assert verdicts[name].startswith("OK"), (name, verdicts[name])


def test_corpus_stays_modest() -> None:
    files = [p for p in CORPUS.iterdir() if p.is_file()]
    assert len(files) < 400, "minimize it: fuzz/run.sh --minimize"
    assert sum(p.stat().st_size for p in files) < 3 * 1024 * 1024


def test_seeds_are_current(bins: dict[str, Path], tmp_path: Path) -> None:
    r = run([bins["make_seeds"], tmp_path])
    assert r.returncode == 0, r.stderr
    made = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    kept = {p.name: p.read_bytes() for p in CORPUS.glob("seed-*")}
    assert made.keys() == kept.keys()
    for name in made:
        assert made[name] == kept[name], f"{name} is stale: rerun fuzz/make_seeds fuzz/corpus"


def test_c_unit_tests(bins: dict[str, Path]) -> None:
    r = run([bins["test_snapfile"]])
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert ", 0 failed" in r.stdout


# ---- an independent encoder of the documented layout ----------------------

MAGIC = b"\x89HWS\r\n\x1a\n"
NONE = 0xFFFFFFFF
HELD, NAMED = 0x01, 0x02
L_NONE, L_ATTR, L_KEY, L_INDEX, L_MEMBER = 0, 1, 2, 3, 4


@dataclasses.dataclass
class Snap:
    strings: list[bytes]
    type_name: list[int]
    addr: list[int]
    type: list[int]
    size: list[int]
    flags: list[int]
    out_off: list[int]
    out_adj: list[int]
    roots: list[tuple[int, int]]
    n_tracked: int
    parent: list[int] | None = None
    root_of: list[int] | None = None
    label_kind: list[int] | None = None
    label: list[int] | None = None
    reprs: list[int] | None = None
    memory: list[int] | None = None
    python_version: bytes = b"3.11.9".ljust(32, b"\0")
    pointer_size: int = 8
    created: float = 1718000000.5
    version: int | None = None
    header_flags: int | None = None
    counts: dict[str, int] = dataclasses.field(default_factory=dict)
    tags: dict[str, bytes] = dataclasses.field(default_factory=dict)
    string_lengths: dict[int, int] = dataclasses.field(default_factory=dict)
    after_strings: bytes = b""


def u32s(values: list[int]) -> bytes:
    return struct.pack(f"<{len(values)}I", *values)


def encode(s: Snap) -> bytes:
    """The layout of snapfile.c's comment, from the fields as given (no
    validation: the point is to build broken files too)."""
    n = len(s.addr)
    paths = s.parent is not None
    flags = s.header_flags if s.header_flags is not None else \
        (1 if paths else 0) | (2 if s.reprs is not None else 0) | (4 if s.memory is not None else 0)
    version = s.version if s.version is not None else 1 if s.memory is None else 2
    counts = {"strings": len(s.strings), "types": len(s.type_name), "nodes": n,
              "tracked": s.n_tracked, "edges": len(s.out_adj), "roots": len(s.roots)}
    counts.update(s.counts)

    def tag(name: str) -> bytes:
        return s.tags.get(name, name.encode())

    body = tag("STRS")
    for i, b in enumerate(s.strings):
        body += struct.pack("<I", s.string_lengths.get(i, len(b))) + b
    body += s.after_strings
    body += tag("TYPE") + u32s(s.type_name)
    body += tag("NODE") + struct.pack(f"<{n}Q", *s.addr) + u32s(s.type)
    body += struct.pack(f"<{n}Q", *s.size) + bytes(s.flags)
    body += tag("EDGE") + u32s(s.out_off) + u32s(s.out_adj)
    body += tag("ROOT") + b"".join(struct.pack("<II", v, lab) for v, lab in s.roots)
    if paths:
        assert s.parent is not None and s.root_of is not None
        assert s.label_kind is not None and s.label is not None
        body += tag("PATH") + u32s(s.parent) + u32s(s.root_of) + bytes(s.label_kind)
        body += u32s(s.label)
    if s.reprs is not None:
        body += tag("REPR") + u32s(s.reprs)
    if s.memory is not None:
        body += tag("MEMS") + struct.pack(f"<{len(s.memory)}Q", *s.memory)
    size = 92 + len(body) + 4
    header = MAGIC + struct.pack("<IIQI", version, flags, size, s.pointer_size)
    header += s.python_version + struct.pack("<d", s.created)
    header += struct.pack("<6I", counts["strings"], counts["types"], counts["nodes"],
                          counts["tracked"], counts["edges"], counts["roots"])
    assert len(header) == 92
    data = header + body
    return data + struct.pack("<I", zlib.crc32(data))


def base() -> Snap:
    """0 a module dict (named root "__main__"), 1 a list, 2 a dict, 3 a
    list held from outside, with a self-loop."""
    return Snap(
        strings=[b"builtins.dict", b"builtins.list", b"__main__", b"x", b"'k'"],
        type_name=[0, 1],
        addr=[0x1000, 0x1040, 0x1080, 0x10C0],
        type=[0, 1, 0, 1],
        size=[232, 56, 64, 72],
        flags=[NAMED, 0, 0, HELD],
        out_off=[0, 2, 3, 4, 5],
        out_adj=[1, 2, 3, 3, 3],
        roots=[(0, 2)],
        n_tracked=3,
        parent=[NONE, 0, 0, 1],
        root_of=[0, 0, 0, 0],
        label_kind=[L_NONE, L_ATTR, L_KEY, L_INDEX],
        label=[0, 3, 4, 0],
        reprs=[NONE, 3, NONE, 4],
    )


def variant(change: Callable[[Snap], None]) -> bytes:
    s = base()
    change(s)
    return encode(s)


def setter(**fields: object) -> Callable[[Snap], None]:
    def change(s: Snap) -> None:
        for k, v in fields.items():
            setattr(s, k, copy.deepcopy(v))
    return change


def at(field: str, index: int, value: object) -> Callable[[Snap], None]:
    def change(s: Snap) -> None:
        getattr(s, field)[index] = value
    return change


def both(*changes: Callable[[Snap], None]) -> Callable[[Snap], None]:
    def change(s: Snap) -> None:
        for c in changes:
            c(s)
    return change


VALID = encode(base())
NO_PATHS = setter(parent=None, root_of=None, label_kind=None, label=None)

# name -> (file bytes, "OK" or a substring of the reader's message)
CASES: dict[str, tuple[bytes, str]] = {
    "ok": (VALID, "OK"),
    "ok-no-paths-no-reprs": (variant(both(NO_PATHS, setter(reprs=None))), "OK"),
    "ok-index-label-any": (variant(at("label", 3, 123456)), "OK"),
    "ok-empty": (encode(Snap([], [], [], [], [], [], [0], [], [], 0)), "OK"),
    "ok-unicode": (variant(at("strings", 3, "é日🐍".encode())), "OK"),
    "empty-file": (b"", "not a heapwatch snapshot"),
    "magic-prefix": (MAGIC[:5], "truncated file"),
    "magic": (b"HWSNAP\r\n" + VALID[8:], "not a heapwatch snapshot"),
    "text-mode": (VALID.replace(b"\r\n", b"\n", 1), "line endings were converted"),
    "version-7": (variant(setter(version=7)),
                  "unsupported snapshot version 7 (this heapwatch reads 1 to 2)"),
    "ok-memory": (variant(setter(memory=[1 << 30, 5, 0, (1 << 64) - 1, 7])), "OK"),
    "version-2-without-memory": (variant(setter(version=2)),
                                 "version 2 without the memory flag"),
    "version-1-with-memory": (variant(setter(version=1, memory=[1, 2, 3, 4, 5])),
                              "version 1 with the memory flag"),
    "memory-short": (variant(setter(memory=[1, 2, 3, 4])), "corrupt snapshot"),
    "memory-tag": (variant(both(setter(memory=[1, 2, 3, 4, 5]), setter(tags={"MEMS": b"MEMZ"}))),
                   "the MEMS section is missing"),
    "version-0": (variant(setter(version=0)), "unsupported snapshot version 0"),
    "truncated": (VALID[:-10], f"truncated file ({len(VALID) - 10} of {len(VALID)} bytes)"),
    "truncated-header": (VALID[:50], "truncated file (50 bytes)"),
    "trailing-garbage": (VALID + b"\0", "1 bytes of trailing garbage"),
    "checksum": (VALID[:-1] + bytes([VALID[-1] ^ 1]), "checksum mismatch"),
    "header-flags": (variant(setter(header_flags=0xB)), "unknown header flags 0xb"),
    "pointer-size": (variant(setter(pointer_size=3)), "pointer size 3"),
    "python-version-unterminated": (variant(setter(python_version=b"3" * 32)),
                                    "bad python_version"),
    "python-version-padding": (variant(setter(python_version=b"3.11\0x".ljust(32, b"\0"))),
                               "bad python_version"),
    "python-version-control": (variant(setter(python_version=b"3.11\n".ljust(32, b"\0"))),
                               "bad python_version"),
    "created-nan": (variant(setter(created=math.nan)), "not a finite number"),
    "created-inf": (variant(setter(created=math.inf)), "not a finite number"),
    "nodes-huge": (variant(setter(counts={"nodes": 1 << 31})), "counts need at least"),
    "nodes-max": (variant(setter(counts={"nodes": NONE})), "4294967295 nodes"),
    "strings-huge": (variant(setter(counts={"strings": NONE})), "counts need at least"),
    "edges-huge": (variant(setter(counts={"edges": 1 << 30})), "counts need at least"),
    "roots-huge": (variant(setter(counts={"roots": 1 << 29})), "counts need at least"),
    "types-huge": (variant(setter(counts={"types": 1 << 28})), "counts need at least"),
    "paths-flag-without-section": (variant(both(NO_PATHS, setter(header_flags=3))),
                                   "counts need at least"),
    "tracked": (variant(setter(n_tracked=5)), "5 tracked nodes of 4"),
    "string-repeated": (variant(at("strings", 4, b"x")), "string 4 repeats string 3"),
    "string-latin1": (variant(at("strings", 3, b"caf\xe9")), "string 3 is not valid UTF-8"),
    "string-surrogate": (variant(at("strings", 3, b"\xed\xa0\x80")), "not valid UTF-8"),
    "string-overlong": (variant(at("strings", 3, b"\xc0\xaf")), "not valid UTF-8"),
    "string-beyond-unicode": (variant(at("strings", 3, b"\xf4\x90\x80\x80")),
                              "not valid UTF-8"),
    "string-cut-sequence": (variant(at("strings", 3, b"\xe6\x97")), "not valid UTF-8"),
    "string-nul": (variant(at("strings", 3, b"a\0b")), "(it holds a NUL)"),
    "string-length": (variant(setter(string_lengths={2: 10_000})),
                      "string 2 (10000 bytes) runs past its section"),
    "string-length-short": (variant(setter(string_lengths={4: 1})),
                            "2 stray bytes after the strings"),
    "stray-after-strings": (variant(setter(after_strings=b"zz")),
                            "2 stray bytes after the strings"),
    "tag": (variant(setter(tags={"EDGE": b"EDGX"})), "the EDGE section is missing"),
    "type-name": (variant(at("type_name", 1, 5)), "type 1 is named by string 5 of 5"),
    "node-type": (variant(at("type", 2, 2)), "node 2 has type 2 of 2"),
    "node-flags": (variant(at("flags", 1, 0x04)), "node 1 has unknown flags 0x04"),
    "named-missing": (variant(at("flags", 0, 0)), "node 0 is not marked as a named root"),
    "named-wrongly": (variant(at("flags", 1, NAMED)), "node 1 is wrongly marked"),
    "same-address": (variant(at("addr", 3, 0x1040)), "two nodes have the same address"),
    "offsets-start": (variant(setter(out_off=[1, 2, 3, 4, 5])), "edge offsets start at 1"),
    "offsets-decrease": (variant(setter(out_off=[0, 3, 2, 4, 5])),
                         "edge offsets decrease at node 1"),
    "offsets-end": (variant(both(setter(out_off=[0, 2, 3, 4, 4]), NO_PATHS)),
                    "edge offsets end at 4, not at the 5 edges"),
    "edge-target": (variant(at("out_adj", 2, 9)), "node 1 has an edge to node 9 of 4"),
    "root-node": (variant(setter(roots=[(4, 2)])), "root 0 is node 4 of 4"),
    "root-label": (variant(setter(roots=[(0, 5)])), "root 0 is labelled by string 5 of 5"),
    "parent-range": (variant(at("parent", 3, 4)), "the parent of node 3 is node 4 of 4"),
    "root-of-range": (variant(at("root_of", 1, 1)), "node 1 starts at root 1 of 1"),
    "label-kind": (variant(at("label_kind", 3, 9)), "node 3 has label kind 9 of 9"),
    "label-string": (variant(at("label", 1, 5)),
                     "the edge to node 1 is named by string 5 of 5"),
    "label-unused": (variant(both(at("label_kind", 3, L_MEMBER), at("label", 3, 7))),
                     "node 3 has label 7 for kind 4"),
    "label-on-root": (variant(at("label_kind", 0, L_ATTR)),
                      "node 0 has no parent but label kind 1"),
    "parent-without-edge": (variant(at("parent", 3, 0)),
                            "node 3 has parent 0, which has no edge to it"),
    "root-of-differs": (variant(at("root_of", 3, NONE)),
                        "node 3 and its parent 1 start at different roots"),
    "root-of-parentless": (variant(both(at("parent", 2, NONE), at("label_kind", 2, 0),
                                        at("label", 2, 0))),
                           "node 2 has no parent but starts at root 0 (node 0)"),
    "parent-cycle": (variant(at("parent", 3, 3)), "the parents of node 3 form a cycle"),
    "repr": (variant(at("reprs", 1, 5)), "the repr of node 1 is string 5 of 5"),
}


def test_documented_layout(bins: dict[str, Path], tmp_path: Path) -> None:
    for name, (data, _) in CASES.items():
        (tmp_path / name).write_bytes(data)
    r = run([bins["standalone"], "-v", tmp_path])
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    verdicts = dict(line.split(": ", 1) for line in r.stdout.splitlines())
    wrong = []
    for name, (_, want) in CASES.items():
        got = verdicts[name]
        if want == "OK" and not got.startswith("OK"):
            wrong.append(f"{name}: refused: {got}")
        elif want != "OK" and not (got.startswith("ERR ") and want in got):
            wrong.append(f"{name}: {got!r}, wanted {want!r}")
    assert not wrong, "\n".join(wrong)
    # The harness wrote each accepted file back byte for byte (or aborted):
    # the C writer and this encoder agree on the layout.
    assert verdicts["ok"] == "OK nodes=4 edges=5 roots=1 paths=1 reprs=1"
