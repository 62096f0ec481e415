"""The engine's shared helpers (src/heapwatch/_engine/hashing.h and csr.h),
built by gcc with tests/c/test_helpers.c under ASan and UBSan, without an
interpreter: the counting sort against a plain stable sort, the table
capacity rule against its definition and against graph.h's former index
rule, the hashes, the id-table insert."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENGINE = ROOT / "src" / "heapwatch" / "_engine"
CFLAGS = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-g", "-O1", "-I", str(ENGINE),
          "-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"]

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")


def test_helpers(tmp_path: Path) -> None:
    exe = tmp_path / "test_helpers"
    build = subprocess.run(["gcc", *CFLAGS, str(ROOT / "tests" / "c" / "test_helpers.c"),
                            "-o", str(exe)], capture_output=True, text=True)
    assert build.returncode == 0, build.stdout + build.stderr
    # The sanitizer preload of `make test-asan` is not for this program.
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=1"
    env["UBSAN_OPTIONS"] = "halt_on_error=1:print_stacktrace=1"
    proc = subprocess.run([str(exe)], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.rstrip().endswith(" 0 failures"), proc.stdout
