"""The Python layer's layout rules, checked on the source.

A module's underscored names are its own: another heapwatch module uses
only names without a leading underscore (a private *module*, such as
heapwatch._explain, may be imported; its private names may not).  The C
engine's Python-visible functions follow the same rule: those the Python
layer calls have plain names, and the underscored ones are test hooks.
"""

from __future__ import annotations

import ast
import pathlib

SRC = pathlib.Path(__file__).resolve().parent.parent / "src" / "heapwatch"


def _module_name(path: pathlib.Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def cross_module_private_uses(source: str, me: str, filename: str) -> list[str]:
    """`from heapwatch.x import _y`, and `m._y` where m names an imported
    heapwatch module, in the source of module `me`."""
    tree = ast.parse(source, filename)
    modules: dict[str, str] = {}   # local name -> heapwatch module it is bound to
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and node.module.split(".")[0] == "heapwatch":
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                if _private(alias.name) and full not in _SUBMODULES:
                    found.append(f"{filename}:{node.lineno} from {node.module} import {alias.name}")
                if full in _SUBMODULES:
                    modules[alias.asname or alias.name] = full
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "heapwatch" and alias.asname:
                    modules[alias.asname] = alias.name
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id in modules and modules[node.value.id] != me \
                and _private(node.attr):
            found.append(f"{filename}:{node.lineno} {node.value.id}.{node.attr}")
    return found


def _submodules() -> set[str]:
    names = {_module_name(p) for p in SRC.rglob("*.py")}
    names |= {"heapwatch._engine"}
    return names


_SUBMODULES = _submodules()


def test_no_module_uses_another_modules_private_names() -> None:
    found = [use for p in sorted(SRC.rglob("*.py"))
             for use in cross_module_private_uses(p.read_text(), _module_name(p),
                                                  str(p.relative_to(SRC)))]
    assert found == []


def test_the_checker_finds_what_it_looks_for() -> None:
    # The rule above is only as good as this check: it must see both forms,
    # and leave a module's own private names alone.
    source = ("from heapwatch._explain import _short, Snapshot\n"
              "from heapwatch import _engine\n"
              "import heapwatch._explain as ex\n"
              "_engine._since_mark()\n"
              "_engine.census()\n"
              "ex._graph()\n")
    assert cross_module_private_uses(source, "heapwatch.dot", "dot.py") == [
        "dot.py:1 from heapwatch._explain import _short",
        "dot.py:4 _engine._since_mark",
        "dot.py:6 ex._graph",
    ]
    assert cross_module_private_uses(source, "heapwatch._explain", "_explain.py") == [
        "_explain.py:1 from heapwatch._explain import _short",
        "_explain.py:4 _engine._since_mark",
    ]


def test_django_settings_are_read_through_the_schema() -> None:
    # conf.SCHEMA is the one place a key's default, type and range are
    # written; elsewhere a key appears only as setting(cfg, "KEY") (which
    # validates and falls back to the default), or compared against.
    from heapwatch.django.conf import SCHEMA

    found = []
    for path in sorted((SRC / "django").rglob("*.py")):
        if path.name == "conf.py":
            continue
        tree = ast.parse(path.read_text(), str(path))
        allowed = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id == "setting" and len(node.args) == 2:
                allowed.add(id(node.args[1]))
            elif isinstance(node, ast.Compare):
                allowed.update(id(c) for c in node.comparators)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in SCHEMA and id(node) not in allowed:
                found.append(f"{path.name}:{node.lineno} {node.value}")
    assert found == []
