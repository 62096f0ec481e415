"""The large-array allocator (src/heapwatch/_engine/bigmem.c), built by gcc
with tests/c/test_bigmem.c: as the release extension builds it (large
blocks on huge-page mappings of their own) and with ASan (every block from
calloc, as the sanitizer and debug builds of the extension have it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENGINE = ROOT / "src" / "heapwatch" / "_engine"
SOURCES = [str(ROOT / "tests" / "c" / "test_bigmem.c"), str(ENGINE / "bigmem.c")]
CFLAGS = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-g", "-I", str(ENGINE)]

pytestmark = [
    pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed"),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mappings are Linux only"),
]


def run(tmp_path: Path, name: str, flags: list[str], args: list[str]) -> str:
    exe = tmp_path / name
    build = subprocess.run(["gcc", *CFLAGS, *flags, *SOURCES, "-o", str(exe)],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stdout + build.stderr
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=1:allocator_may_return_null=1"
    proc = subprocess.run([str(exe), *args], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_mapped_blocks(tmp_path: Path) -> None:
    out = run(tmp_path, "bigmem_maps", ["-O2"], ["--maps"])
    assert "0 failures" in out


def test_plain_blocks_under_asan(tmp_path: Path) -> None:
    out = run(tmp_path, "bigmem_asan", ["-O1", "-fsanitize=address,undefined",
                                        "-fno-sanitize-recover=undefined"], [])
    assert "0 failures" in out
