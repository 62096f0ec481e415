"""Build of heapwatch's C engine.

Build switches come from the environment (read at build time):

  HEAPWATCH_SANITIZE=1   AddressSanitizer + UndefinedBehaviorSanitizer
  HEAPWATCH_DEBUG=1      -O0 -g with assertions on
  HEAPWATCH_WERROR=1     warnings are errors (the Makefile sets it)
"""

import glob
import os

import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


def _flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")


cflags = ["-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter",
          "-Wno-missing-field-initializers", "-fno-strict-aliasing"]
ldflags = []
undef = []
if _flag("HEAPWATCH_WERROR"):
    cflags.append("-Werror")
macros = []
if _flag("HEAPWATCH_DEBUG") or _flag("HEAPWATCH_SANITIZE"):
    cflags += ["-O0", "-g3"]
    undef.append("NDEBUG")
    # Every large array from malloc, so that ASan and valgrind see each
    # block (bigmem.h).
    macros.append(("HW_BIGMEM_PLAIN", "1"))
if _flag("HEAPWATCH_SANITIZE"):
    san = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined",
           "-fno-omit-frame-pointer"]
    cflags += san
    ldflags += san

variant = "-".join(n for n in ("SANITIZE", "DEBUG") if _flag("HEAPWATCH_" + n)) or "release"


class BuildExt(build_ext):
    """Object files of each variant and Python in their own directory, so a
    sanitizer build never reuses a release object (or the reverse)."""

    def finalize_options(self) -> None:
        super().finalize_options()
        # The linked .so goes to a build/lib dir shared by all variants:
        # always relink, or a debug build could ship the sanitizer .so.
        self.force = True
        self.build_temp = os.path.join(
            "build", "temp-%s-%d.%d" % ((variant,) + sys.version_info[:2]))


setup(
    cmdclass={"build_ext": BuildExt},
    ext_modules=[
        Extension(
            "heapwatch._engine",
            sources=sorted(glob.glob("src/heapwatch/_engine/*.c")),
            include_dirs=["src/heapwatch/_engine"],
            extra_compile_args=cflags,
            extra_link_args=ldflags,
            undef_macros=undef,
            define_macros=macros,
        )
    ],
)
