"""Where a drawing goes, by objgraph's rules: to a file object, to a .dot
file, as a graphviz.Source (in a notebook), or to a temporary .dot file
then an image, or a viewer (xdot).  And objgraph's test for a notebook,
which sets heapwatch.objgraph.IS_INTERACTIVE at import.
"""

from __future__ import annotations

import builtins
import importlib
import os
import shutil
import subprocess
import tempfile
from typing import Any

from heapwatch import dot as _dot
from heapwatch.objgraph._common import Writer as _Writer


def in_notebook() -> bool:
    """objgraph's test for IS_INTERACTIVE: an IPython shell that shows
    images inline (not a terminal one), and the graphviz package to make
    them."""
    get_ipython = getattr(builtins, "get_ipython", None)
    if get_ipython is None:
        return False
    # Any failure means "not a notebook": importing heapwatch.objgraph must
    # not fail because of the shell it runs in.
    try:
        if "TerminalInteractiveShell" in type(get_ipython()).__name__:
            return False
        importlib.import_module("graphviz")
    except Exception:
        return False
    return True


# Viewers started by show_*: kept so that they are not reported as
# still running when their Popen object is collected.
_VIEWERS: list[subprocess.Popen[bytes]] = []


def graphviz_package(func: str) -> Any:
    """The graphviz package, for a show_* call that returns its graph as a
    graphviz.Source because IS_INTERACTIVE is set."""
    try:
        return importlib.import_module("graphviz")
    except ImportError as e:
        raise ImportError(
            f"{func}(): heapwatch.objgraph.IS_INTERACTIVE is set, and the graphviz package "
            f"it needs cannot be imported ({e}); pass filename= or output=, or install graphviz"
        ) from e


def present(text: str, objects: int, filename: str | None, output: _Writer | None,
            inline: Any) -> Any:
    """objgraph's output rules: to output, to a .dot file, a graphviz.Source
    (inline: the graphviz package), or a temporary .dot file then an image
    (filename), a viewer (xdot) or a .png beside it."""
    if output:
        output.write(text)
        return None
    if filename and os.path.splitext(filename)[1].lower() in (".dot", ".gv"):
        _dot.render(text, filename)
        print(f"Graph written to {filename} ({objects} nodes)")
        return None
    if inline is not None:
        return inline.Source(text)
    fd, dot_file = tempfile.mkstemp(prefix="objgraph-", suffix=".dot")  # mode 0600
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"Graph written to {dot_file} ({objects} nodes)")
    if not filename and shutil.which("xdot"):
        print("Spawning graph viewer (xdot)")
        _VIEWERS[:] = [p for p in _VIEWERS if p.poll() is None]
        _VIEWERS.append(subprocess.Popen(["xdot", dot_file], close_fds=True,
                                         stdin=subprocess.DEVNULL, start_new_session=True))
        return None
    if _dot.graphviz_program() is None:
        if filename:
            print("Image renderer (dot) not found, not doing anything else")
        else:
            print("Graph viewer (xdot) and image renderer (dot) not found,"
                  " not doing anything else")
        return None
    if not filename:
        print("Graph viewer (xdot) not found, generating a png instead")
        filename = dot_file[: -len(".dot")] + ".png"
    try:
        _dot.render(text, filename)
    except _dot.GraphvizError as e:
        print(e)
        return None
    print(f"Image generated as {filename}")
    return None


def check_filename(filename: object, func: str) -> str | None:
    if not filename:
        return None
    if not isinstance(filename, (str, os.PathLike)):
        raise TypeError(
            f"{func}(): filename must be a str or a path, not {type(filename).__name__}")
    path = os.fspath(filename)
    if not isinstance(path, str):
        raise TypeError(f"{func}(): filename must be a str or a path, not bytes")
    if _dot.image_format(path) is None:
        raise ValueError(
            f"{func}(): cannot tell the format of {path!r} from its extension: use .dot, "
            "or an image format Graphviz knows (.svg, .png, .pdf...)")
    return path

