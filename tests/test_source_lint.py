"""Source lint for the C engine: pairs that must match, and the layering
rules the README promises (msgspec does the same for its C core)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENGINE = ROOT / "src" / "heapwatch" / "_engine"
SOURCES = sorted(ENGINE.glob("*.c"))
# All the C of the project: the engine, the fuzz harness, the C unit tests.
ALL_C = sorted([*ENGINE.glob("*.[ch]"), *(ROOT / "fuzz").glob("*.[ch]"),
                *(ROOT / "tests" / "c").glob("*.[ch]")])

# Comments, string and character literals (in one alternation, so that
# whichever starts first wins: a "/*" inside a string is a string).
COMMENT_OR_LITERAL = re.compile(
    r"""/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'""", re.S)


def code_only(text: str) -> str:
    """The C text without its comments and literals (newlines kept, so
    line numbers still match)."""
    def blank(m: re.Match[str]) -> str:
        s = m.group(0)
        return "\n" * s.count("\n") + (" " if s[0] == "/" else s[0] * 2)
    return COMMENT_OR_LITERAL.sub(blank, text)

# A function definition in CPython style: return type on its own line, the
# name at column 0, the body from "{" at column 0 to "}" at column 0.
FUNC = re.compile(r"^([A-Za-z_]\w*)\(([^)]*)\)\s*\n\{\n(.*?)^\}", re.M | re.S)


def functions() -> list[tuple[str, str, str]]:
    out = []
    for path in SOURCES:
        text = path.read_text()
        for m in FUNC.finditer(text):
            out.append((path.name, m.group(1), m.group(3)))
    return out


def test_sources_found() -> None:
    names = {p.name for p in SOURCES}
    assert {"module.c", "walk.c", "census.c", "shallow.c"} <= names
    assert len(functions()) > 30


def test_gc_disable_enable_pairs() -> None:
    # Per file: the graph build turns collection off in hw_build_run and
    # back on in hw_build_clear, which every caller must reach.
    for path in SOURCES:
        text = path.read_text()
        disables = text.count("PyGC_Disable()")
        enables = text.count("PyGC_Enable()")
        assert disables == enables, f"{path.name}: {disables} disable vs {enables} enable"


def test_deferred_sizing_flag_pairs() -> None:
    for fname, func, body in functions():
        assert body.count("in_deferred_sizing++") == body.count("in_deferred_sizing--"), func


@pytest.mark.parametrize("alloc, free", [
    ("PyMem_RawCalloc", "PyMem_RawFree"),
    ("PyMem_RawMalloc", "PyMem_RawFree"),
    ("PyMem_Malloc", "PyMem_Free"),
    ("PyMem_Calloc", "PyMem_Free"),
])
def test_every_allocating_file_frees(alloc: str, free: str) -> None:
    for path in SOURCES:
        text = path.read_text()
        if alloc + "(" in text:
            assert free + "(" in text, f"{path.name} uses {alloc} but never {free}"


def test_no_recursion_in_engine() -> None:
    """Never recurse over the heap: no engine function calls itself."""
    for fname, func, body in functions():
        assert not re.search(r"\b%s\s*\(" % re.escape(func), body), f"{fname}:{func} recurses"


def test_internal_headers_only_in_walk_and_attrs() -> None:
    for path in SOURCES + sorted(ENGINE.glob("*.h")):
        text = path.read_text()
        uses_internal = "internal/pycore" in text or "Py_BUILD_CORE" in text
        if path.name == "walk.c":
            assert uses_internal
            assert "HW_PY311" in text, "internal headers must stay pinned to 3.11"
        elif path.name == "attrs.c":
            # Inline attribute values and frame locals: read through the
            # internal layout, checked against a probe at import.
            assert uses_internal
            assert "hw_attrs_init" in text and "available = " in text
        else:
            assert not uses_internal, f"{path.name} reaches into CPython internals"


def test_module_c_only_binds() -> None:
    text = (ENGINE / "module.c").read_text()
    assert "hw_walk(" not in text and "tp_traverse" not in text
    assert "PySys_Audit(\"heapwatch.census\"" in text
    assert "Py_mod_exec" in text, "multi-phase init"


# The files that may name CPython internals (see compat.h).
PRIVATE_NAMES_ALLOWED = {"walk.c", "attrs.c", "compat.h"}
# An identifier that starts with "_Py" (or "_PY"): CPython's private names.
# Public names never do (Py_TYPE, PyObject_GC_Track, PyUnstable_...); a
# public macro that expands to a private name is not matched, since the
# text is checked before preprocessing.
PRIVATE_NAME = re.compile(r"(?<![A-Za-z0-9_])_P[yY][A-Za-z0-9_]*")


def test_code_only_strips_comments_and_literals() -> None:
    text = 'a /* _PyX "q" */ b // _PyY\nc "_PyZ /*" d \'"\' e _Py_real'
    code = code_only(text)
    assert PRIVATE_NAME.findall(code) == ["_Py_real"]
    assert code.count("\n") == 1 and "d" in code and "e" in code


def test_private_cpython_names_only_in_the_agreed_files() -> None:
    """_Py names live in walk.c, attrs.c and compat.h (which wraps each in an
    hw_ function); comments and messages may mention them."""
    found = []
    for path in ALL_C:
        if path.name in PRIVATE_NAMES_ALLOWED and path.parent == ENGINE:
            continue
        code = code_only(path.read_text())
        for lineno, line in enumerate(code.splitlines(), 1):
            for name in PRIVATE_NAME.findall(line):
                found.append(f"{path.relative_to(ROOT)}:{lineno}: {name}")
    assert not found, "private CPython names outside walk.c/attrs.c/compat.h:\n" + \
        "\n".join(found)
    # compat.h exists to wrap them: it has some, and hw_ wrappers.
    compat = code_only((ENGINE / "compat.h").read_text())
    assert PRIVATE_NAME.search(compat) and "static inline" in compat


def test_broken_traverse_check_lives_with_the_walk() -> None:
    defined = [p.name for p in SOURCES if re.search(r"^hw_broken_traverse\(", p.read_text(), re.M)]
    assert defined == ["walk.c"]
    assert "hw_broken_traverse" in (ENGINE / "walk.h").read_text()


# A file-scope variable holding a Python object: `static PyObject *name;`,
# `PyTypeObject *name = NULL;` (function definitions put the name on the
# next line, CPython style, so they do not match).
PY_GLOBAL = re.compile(
    r"^(?:static\s+)?(?:const\s+)?Py\w*Object\s*\*\s*(?:const\s+)?\w+\s*(?:=[^;]*)?;", re.M)


def test_no_python_objects_in_c_globals() -> None:
    """Types, interned strings and the baseline live in the module state
    (module.h), so that each module object has its own."""
    for path in sorted(ENGINE.glob("*.[ch]")):
        code = code_only(path.read_text())
        assert not PY_GLOBAL.findall(code), f"{path.name}: {PY_GLOBAL.findall(code)}"


def test_graphobject_c_only_binds() -> None:
    """graphobject.c parses arguments, calls C and builds Python results: the
    build is graphbuild.c's, the queries graphquery.c's."""
    code = code_only((ENGINE / "graphobject.c").read_text())
    for algorithm in ("qsort(", "hw_dominators(", "hw_retained_sizes(", "hw_graph_paths(",
                      "hw_label_", "hw_group_retained(", "hw_typetable_", "hw_walk(",
                      "tp_repr", "strcmp(g"):
        assert algorithm not in code, f"graphobject.c does {algorithm!r} itself"
    assert "hw_build_graph(" in code and "hw_query_" in code


@pytest.mark.parametrize("func", ["hw_graph_py", "hw_load_py"])
def test_one_exit_path(func: str) -> None:
    bodies = [body for fname, name, body in functions() if name == func]
    assert len(bodies) == 1
    code = code_only(bodies[0])
    assert len(re.findall(r"\breturn\b", code)) == 1, f"{func}: more than one return"
    assert "done:" in code
