"""Build of heapwatch's C engine.

Build switches come from the environment (read at build time):

  HEAPWATCH_SANITIZE=1   AddressSanitizer + UndefinedBehaviorSanitizer
  HEAPWATCH_DEBUG=1      -O0 -g with assertions on
  HEAPWATCH_WERROR=1     warnings are errors (the Makefile sets it)
"""

import glob
import os

from setuptools import Extension, setup


def _flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")


cflags = ["-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter",
          "-Wno-missing-field-initializers", "-fno-strict-aliasing"]
ldflags = []
undef = []
if _flag("HEAPWATCH_WERROR"):
    cflags.append("-Werror")
if _flag("HEAPWATCH_DEBUG") or _flag("HEAPWATCH_SANITIZE"):
    cflags += ["-O0", "-g3"]
    undef.append("NDEBUG")
if _flag("HEAPWATCH_SANITIZE"):
    san = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined",
           "-fno-omit-frame-pointer"]
    cflags += san
    ldflags += san

setup(
    ext_modules=[
        Extension(
            "heapwatch._engine",
            sources=sorted(glob.glob("src/heapwatch/_engine/*.c")),
            include_dirs=["src/heapwatch/_engine"],
            extra_compile_args=cflags,
            extra_link_args=ldflags,
            undef_macros=undef,
        )
    ],
)
