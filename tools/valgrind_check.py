"""Run a command under valgrind (memcheck) and fail on any error that
involves heapwatch's engine.

CPython 3.11 itself is noisy under memcheck: int.from_bytes() builds ints
from a partly uninitialised digit buffer, and that taint then follows
values (and pointers chosen by them, such as small-int singletons) all over
the heap, including into objects the engine visits.  Suppressing that by
hand is brittle, so memcheck runs with --track-origins=yes and every error
block is judged by its stacks:

- an uninitialised-value error is ours when the value was *created* in the
  engine (a frame of ours in the "was created by" stack);
- any other error (invalid read/write, bad free...) is ours when any frame
  is in the engine (its .so, or one of its C files in a debug build).

Errors of ours fail the run; the rest are counted as interpreter noise.

usage: python tools/valgrind_check.py -- CMD...
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile

OURS = re.compile(
    r"_engine\.cpython|\b(census|censusobject|module|walk|shallow|typetable|ptrset)\.c:\d+"
)
LINE = re.compile(r"^==\d+==(.*)$")


def blocks(log: str) -> list[list[str]]:
    out: list[list[str]] = []
    cur: list[str] = []
    for line in log.splitlines():
        m = LINE.match(line)
        text = m.group(1).strip() if m else ""
        if not text:
            if cur:
                out.append(cur)
                cur = []
            continue
        cur.append(text)
    if cur:
        out.append(cur)
    return [b for b in out if not b[0].startswith(("by ", "at ", "Address "))]


ORIGIN = "Uninitialised value was created"


def is_ours(block: list[str]) -> bool:
    for i, line in enumerate(block):
        if line.startswith(ORIGIN):
            return any(OURS.search(x) for x in block[i:])
    return any(OURS.search(x) for x in block)


def main() -> int:
    argv = sys.argv[1:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    with tempfile.TemporaryDirectory() as tmp:
        logpath = os.path.join(tmp, "valgrind.log")
        cmd = ["valgrind", "-q", "--tool=memcheck", "--leak-check=no", "--track-origins=yes",
               "--num-callers=40", f"--log-file={logpath}", *argv]
        env = dict(os.environ, PYTHONMALLOC="malloc")
        rc = subprocess.call(cmd, env=env)
        with open(logpath) as f:
            log = f.read()
    ours = [b for b in blocks(log) if is_ours(b)]
    noise = len(blocks(log)) - len(ours)
    for b in ours:
        print("\n".join(b), file=sys.stderr)
        print(file=sys.stderr)
    print(f"valgrind: {len(ours)} error(s) in heapwatch, {noise} in the interpreter (ignored)")
    if rc != 0:
        print(f"valgrind: the command exited with {rc}", file=sys.stderr)
        return rc
    return 1 if ours else 0


if __name__ == "__main__":
    sys.exit(main())
