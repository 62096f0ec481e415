"""heapwatch.objgraph's chain and graph functions against objgraph 3.7.0.

find_backref_chain / find_ref_chain are compared with objgraph's on heaps
built so that the shortest chain is unique: both must return the same
objects.  Results are turned into id lists at once (a result list holds the
chain's objects, and would be one more referrer for the other side's
search).  show_refs / show_backrefs / show_chain are checked for what they
draw, for DOT that Graphviz accepts, and for what they leave out: object
contents and their own temporaries.
"""

from __future__ import annotations

import builtins
import gc
import inspect
import io
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import objgraph as real
import pytest

import heapwatch.dot
import heapwatch.objgraph as mine
import heapwatch.objgraph.viewer

HAVE_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAVE_DOT, reason="Graphviz's dot is not installed")

SECRET = "hw-secret-" + "7f3a9c"  # built at run time: not an interned constant of this file

CHAIN_FUNCTIONS = ["find_backref_chain", "find_ref_chain"]
SHOW_FUNCTIONS = ["show_backrefs", "show_refs"]
NEW = CHAIN_FUNCTIONS + SHOW_FUNCTIONS + ["show_chain", "is_proper_module"]

# What `from heapwatch.objgraph import *` gives once the chain functions are
# in (tests/test_objgraph.py's COVERED, plus these).
COVERED = sorted([
    "at", "at_addrs", "by_type", "count", "get_leaking_objects", "get_new_ids", "growth",
    "most_common_types", "show_growth", "show_most_common_types", "typestats",
] + NEW)


# ---- the test's own types and heaps ----------------------------------------


class ChainObj:
    """Instances are tracked and have a __dict__."""


class Finalized:
    def __del__(self) -> None:
        pass


class Holder:
    def __init__(self, value: object) -> None:
        self.value = value


@pytest.fixture
def module() -> Iterator[Any]:
    """A module in sys.modules (a "proper module" for objgraph), removed
    afterwards; its globals are what the tests hang objects on."""
    name = "hw_chain_test_mod"
    m = types.ModuleType(name)
    sys.modules[name] = m
    try:
        yield m
    finally:
        del sys.modules[name]
        m.__dict__.clear()


def ids(chain: list[Any]) -> list[int]:
    return [id(o) for o in chain]


def links_hold(chain: list[Any]) -> bool:
    """Every object of the chain refers to the next."""
    return all(any(r is b for r in gc.get_referents(a)) for a, b in zip(chain, chain[1:]))


def both(call: Callable[[Any], list[Any]]) -> tuple[list[int], list[int]]:
    """The chain objgraph finds, then heapwatch's, as id lists."""
    theirs = ids(call(real))
    ours = ids(call(mine))
    return theirs, ours


def make_closure(value: object) -> Callable[[], object]:
    def reader() -> object:
        return value

    return reader


# ---- the module's surface -------------------------------------------------


def test_all_lists_the_chain_functions() -> None:
    assert sorted(mine.__all__) == COVERED
    namespace: dict[str, Any] = {}
    exec("from heapwatch.objgraph import *", namespace)
    assert sorted(k for k in namespace if not k.startswith("__")) == COVERED


@pytest.mark.parametrize("name", CHAIN_FUNCTIONS)
def test_chain_signatures_match_objgraph(name: str) -> None:
    ours = inspect.signature(getattr(mine, name)).parameters
    theirs = inspect.signature(getattr(real, name)).parameters
    assert list(ours) == list(theirs)
    for p, q in zip(ours.values(), theirs.values()):
        assert (p.kind, p.default) == (q.kind, q.default), p.name


@pytest.mark.parametrize("name", SHOW_FUNCTIONS)
def test_show_signatures_match_objgraph_plus_reprs(name: str) -> None:
    ours = list(inspect.signature(getattr(mine, name)).parameters.values())
    theirs = list(inspect.signature(getattr(real, name)).parameters.values())
    assert [p.name for p in ours] == [p.name for p in theirs] + ["reprs"]
    for p, q in zip(ours, theirs):
        assert (p.kind, p.default) == (q.kind, q.default), p.name
    assert ours[-1].kind is inspect.Parameter.KEYWORD_ONLY and ours[-1].default is False


def test_show_chain_signature() -> None:
    ours = inspect.signature(mine.show_chain).parameters
    theirs = inspect.signature(real.show_chain).parameters
    assert [(p.name, p.kind) for p in ours.values()] == [(p.name, p.kind) for p in theirs.values()]


class ClaimsToBeAModule:
    """Not a module, but isinstance() believes its __class__."""

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        return types.ModuleType

    def __init__(self, name: str) -> None:
        self.__name__ = name


def test_is_proper_module_matches_objgraph(module: Any,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    unimported = types.ModuleType("hw_not_imported")
    renamed = types.ModuleType("hw_renamed")
    monkeypatch.setitem(sys.modules, "hw_renamed_alias", renamed)
    replaced = types.ModuleType(module.__name__)  # sys.modules has the other one
    nameless = types.ModuleType("hw_nameless")
    del nameless.__name__
    claims = ClaimsToBeAModule("hw_claims")
    monkeypatch.setitem(sys.modules, "hw_claims", claims)
    cases = [(types, True), (sys, True), (module, True), (claims, True), (unimported, False),
             (renamed, False), (replaced, False), (nameless, False), ([], False),
             (None, False), ("types", False), (types.__dict__, False)]
    for obj, expected in cases:
        assert real.is_proper_module(obj) is expected, obj
        assert mine.is_proper_module(obj) is expected, obj
    # objgraph fails on a __name__ sys.modules cannot be searched for.
    odd = types.ModuleType("hw_odd")
    odd.__name__ = ["hw_odd"]  # type: ignore[assignment]
    with pytest.raises(TypeError):
        real.is_proper_module(odd)
    assert mine.is_proper_module(odd) is False


# ---- chains against objgraph ------------------------------------------------


def test_backref_chain_module_global_dict_list(module: Any,
                                              quiet_gc: None) -> None:
    obj = ChainObj()
    inner = [obj]
    module.HOLD = {"k": inner}
    theirs, ours = both(lambda lib: lib.find_backref_chain(obj, lib.is_proper_module))
    assert ours == theirs
    assert ours == ids([module, module.__dict__, module.HOLD, inner, obj])


def test_ref_chain_module_global_dict_list(module: Any, quiet_gc: None) -> None:
    obj = ChainObj()
    module.HOLD = {"k": [obj]}
    theirs, ours = both(lambda lib: lib.find_ref_chain(module, lambda o: o is obj))
    assert ours == theirs
    assert ours == ids([module, module.__dict__, module.HOLD, module.HOLD["k"], obj])


def test_chains_through_a_class_attribute(module: Any, quiet_gc: None) -> None:
    obj = ChainObj()
    cls: Any = type("Keeper", (), {"ATTR": [obj]})
    module.Keeper = cls
    theirs, ours = both(lambda lib: lib.find_backref_chain(obj, lambda o: o is cls))
    assert ours == theirs
    assert ours == ids([cls, class_dict(cls), cls.ATTR, obj])
    theirs, ours = both(lambda lib: lib.find_ref_chain(cls, lambda o: o is obj))
    assert ours == theirs and len(ours) == 4


def class_dict(cls: type) -> dict[str, Any]:
    """The real dict behind a class's mappingproxy (what the type refers to)."""
    for r in gc.get_referents(cls):
        if type(r) is dict and "ATTR" in r:
            return r
    raise AssertionError("no class dict")


def test_chains_through_a_closure(module: Any, quiet_gc: None) -> None:
    obj = ChainObj()
    reader = make_closure([obj])
    module.reader = reader
    theirs, ours = both(lambda lib: lib.find_backref_chain(obj, lambda o: o is reader))
    assert ours == theirs
    closure = reader.__closure__
    assert closure is not None
    assert ours == ids([reader, closure, closure[0], closure[0].cell_contents, obj])
    theirs, ours = both(lambda lib: lib.find_backref_chain(obj, lib.is_proper_module))
    assert ours == theirs and len(ours) == 7  # module, its dict, function, tuple, cell, list, obj
    theirs, ours = both(lambda lib: lib.find_ref_chain(reader, lambda o: o is obj))
    assert ours == theirs and len(ours) == 5


def test_instance_attribute_chain(module: Any, quiet_gc: None) -> None:
    obj = ChainObj()
    module.holder = Holder(obj)
    theirs, ours = both(lambda lib: lib.find_backref_chain(obj, lib.is_proper_module))
    assert ours == theirs
    assert len(ours) in (3, 4)  # inline values (3.13: no __dict__ object) or a dict


def test_no_chain_gives_the_object_alone(module: Any, quiet_gc: None) -> None:
    obj = ChainObj()
    lonely = [obj]
    for lib in (real, mine):
        assert ids(lib.find_backref_chain(obj, lib.is_proper_module)) == [id(obj)]
        assert ids(lib.find_ref_chain(obj, lambda o: o is lonely)) == [id(obj)]
    # The object itself accepted: a chain of one, without a search.
    assert ids(mine.find_backref_chain(obj, lambda o: o is obj)) == [id(obj)]
    assert ids(mine.find_ref_chain(obj, lambda o: o is obj)) == [id(obj)]


def test_max_depth_limits_the_search(module: Any, quiet_gc: None) -> None:
    obj = ChainObj()
    module.HOLD = {"k": [obj]}
    for depth in range(0, 6):
        theirs, ours = both(lambda lib: lib.find_backref_chain(obj, lib.is_proper_module,
                                                               max_depth=depth))
        assert ours == theirs
        assert len(ours) == (5 if depth >= 4 else 1)


def test_extra_ignore_goes_around(module: Any, quiet_gc: None) -> None:
    obj = ChainObj()
    short = [obj]
    module.SHORT = short
    module.LONG = {"k": [obj]}
    theirs, ours = both(lambda lib: lib.find_backref_chain(obj, lib.is_proper_module))
    assert ours == theirs and len(ours) == 4
    theirs, ours = both(lambda lib: lib.find_backref_chain(
        obj, lib.is_proper_module, extra_ignore=[id(short)]))
    assert ours == theirs and len(ours) == 5 and id(short) not in ours


def test_own_temporaries_are_not_holders(quiet_gc: None) -> None:
    # Any list is accepted: the nearest must be the caller's, not one the
    # search made (objgraph's ignores its own the same way).
    obj = ChainObj()
    mylist = [obj]
    theirs, ours = both(lambda lib: lib.find_backref_chain(obj, lambda o: type(o) is list))
    assert ours == theirs == ids([mylist, obj])
    # Nothing else holds it (the call's argument tuples are not holders):
    # no tuple on the way.  (Not through both(): the lambda's closure would
    # be one.)
    for lib in (real, mine):
        chain = lib.find_backref_chain(obj, is_tuple, extra_ignore=(id(mylist),))
        assert ids(chain) == [id(obj)], lib
        del chain


def is_tuple(o: object) -> bool:
    return type(o) is tuple


def test_untracked_containers_are_searched_too(module: Any,
                                               quiet_gc: None) -> None:
    # A str held by a tuple of atoms: the collector does not track the tuple,
    # so gc.get_referrers() (objgraph) cannot see it; the graph does.
    text = "".join(["untracked-", "holder"])
    module.PAIR = (text, 1)
    gc.collect()
    assert not gc.is_tracked(module.PAIR)
    assert ids(real.find_backref_chain(text, real.is_proper_module)) == [id(text)]
    chain = mine.find_backref_chain(text, mine.is_proper_module)
    assert ids(chain) == ids([module, module.__dict__, module.PAIR, text])
    assert links_hold(chain)
    chain = mine.find_ref_chain(module, lambda o: o is text)
    assert ids(chain) == ids([module, module.__dict__, module.PAIR, text])


def test_chain_is_checked_on_the_live_heap(module: Any, quiet_gc: None) -> None:
    """The predicate changes the heap after the graph is built: the short
    path it knew no longer exists, and the chain returned is the one that
    still holds."""
    obj = ChainObj()
    module.SHORT = [obj]
    module.LONG = {"k": [obj]}
    calls = []

    def predicate(o: object) -> bool:
        calls.append(1)
        if o is obj and hasattr(module, "SHORT"):
            del module.SHORT
        return mine.is_proper_module(o)

    chain = mine.find_backref_chain(obj, predicate)
    assert ids(chain) == ids([module, module.__dict__, module.LONG, module.LONG["k"], obj])
    assert links_hold(chain)


def test_chains_in_a_big_heap_are_quick(module: Any) -> None:
    bulk = [[ChainObj() for _ in range(10)] for _ in range(5000)]
    obj = ChainObj()
    module.HOLD = {"k": [obj]}
    chain = mine.find_backref_chain(obj, mine.is_proper_module)
    assert len(chain) == 5
    del bulk


@pytest.mark.parametrize("func", CHAIN_FUNCTIONS)
def test_chain_argument_errors(func: str) -> None:
    f = getattr(mine, func)
    with pytest.raises(TypeError, match=rf"{func}\(\): predicate must be callable"):
        f(ChainObj(), None)
    with pytest.raises(TypeError, match=rf"{func}\(\): max_depth must be an int, not str"):
        f(ChainObj(), bool, max_depth="3")
    with pytest.raises(TypeError, match=rf"{func}\(\): max_depth must be an int, not bool"):
        f(ChainObj(), bool, max_depth=True)
    with pytest.raises(TypeError, match=rf"{func}\(\): extra_ignore must be an iterable"):
        f(ChainObj(), bool, extra_ignore=5)


def test_predicate_errors_propagate() -> None:
    def boom(o: object) -> bool:
        raise LookupError("from the predicate")

    with pytest.raises(LookupError, match="from the predicate"):
        mine.find_backref_chain(ChainObj(), boom)


# ---- show_refs / show_backrefs: what is drawn --------------------------------

NODE = re.compile(r"^  (\w+) \[label=\"([^\"]*)\"", re.M)
EDGE = re.compile(r"^  (\w+) -> (\w+)(?: \[label=\"((?:[^\"\\]|\\.)*)\")?", re.M)


def draw(func: Callable[..., Any], objs: Any, max_depth: int = 3, filter: Any = None,
         too_many: int = 10, highlight: Any = None, extra_info: Any = None,
         refcounts: bool = False, shortnames: bool = True, extra_node_attrs: Any = None,
         reprs: bool = False) -> str:
    """The DOT text func draws.  Every argument is passed by name: with
    **kw, the call's positional arguments would be in a tuple on this
    frame's stack, one more referrer of objs in the drawing."""
    out = io.StringIO()
    if reprs:
        assert func(objs, max_depth, (), filter, too_many, highlight, None, extra_info,
                    refcounts, shortnames, out, extra_node_attrs, reprs=True) is None
    else:
        assert func(objs, max_depth, (), filter, too_many, highlight, None, extra_info,
                    refcounts, shortnames, out, extra_node_attrs) is None
    return out.getvalue()


def draw_chains(*chains: list[Any], backrefs: bool = True) -> str:
    out = io.StringIO()
    assert mine.show_chain(*chains, backrefs=backrefs, output=out) is None
    return out.getvalue()


def labels(text: str) -> dict[str, str]:
    """{node id: label} (line breaks as newlines)."""
    return {n: label.replace("\\n", "\n") for n, label in NODE.findall(text)}


def holders_of(obj: object, n: int) -> list[list[object]]:
    # Here, not in the test: a comprehension naming a test's local would
    # make it a closure cell of the test, one more referrer of obj.
    return [[obj] for _ in range(n)]


def edges(text: str) -> list[tuple[str, str, str]]:
    return EDGE.findall(text)


def dot_accepts(text: str) -> None:
    if HAVE_DOT:
        done = subprocess.run(["dot", "-Tsvg"], input=text.encode(), capture_output=True,
                              check=False)
        assert done.returncode == 0, done.stderr.decode()
        assert b"<svg" in done.stdout


def test_show_backrefs_draws_the_holders_with_edge_names(module: Any,
                                                         quiet_gc: None) -> None:
    obj = ChainObj()
    module.HOLD = {"k": [obj]}
    text = draw(mine.show_backrefs, obj, max_depth=5)
    dot_accepts(text)
    names = labels(text)
    assert sorted(names.values()) == ["ChainObj", "dict", "dict", "list",
                                      "module\nhw_chain_test_mod"]
    named = {e[2] for e in edges(text)}
    assert {"[0]", "['k']", ".HOLD"} <= named
    # The module is drawn but not gone past (everything imports it...).
    module_node = next(n for n, label in names.items() if label.startswith("module"))
    assert not any(head == module_node for _, head, _ in edges(text))
    # The object asked about stands out.
    assert re.search(r"\[label=\"ChainObj\"[^\]]*fontcolor=\"red\"", text)


def test_show_backrefs_goes_past_modules_not_in_sys_modules(module: Any,
                                                            quiet_gc: None) -> None:
    # A module that was never imported is not a root: what holds it is drawn.
    obj = ChainObj()
    loose = types.ModuleType("hw_loose")
    loose.HOLD = obj  # type: ignore[attr-defined]
    module.LOOSE = loose
    text = draw(mine.show_backrefs, obj, max_depth=6)
    assert "module\nhw_loose" in labels(text).values()
    assert "module\nhw_chain_test_mod" in labels(text).values()


def test_show_backrefs_leaves_out_its_own_containers(quiet_gc: None) -> None:
    # One holder, mylist; and draw()'s argument, as a variable (not drawn).
    # objs, given as a list or a tuple, is left out as objgraph does.
    obj = ChainObj()
    mylist = [obj]
    for wrap in (None, list, tuple):
        text = draw(mine.show_backrefs, obj if wrap is None else wrap([obj]), max_depth=1)
        assert sorted(labels(text).values()) == ["ChainObj", "list"], wrap
        assert len(edges(text)) == 1
    del mylist


def test_show_refs_draws_referents(quiet_gc: None) -> None:
    holder = Holder([1, 2])
    text = draw(mine.show_refs, holder, max_depth=2)
    dot_accepts(text)
    got = sorted(labels(text).values())
    assert "Holder" in got and "list" in got
    assert any(e[2] == ".value" for e in edges(text)) or any(e[2] == "['value']"
                                                             for e in edges(text))
    assert "[0]" in {e[2] for e in edges(text)}


def test_contents_are_not_shown_by_default(quiet_gc: None) -> None:
    secret = "".join([SECRET, "-payload"])
    holder = Holder(secret)
    box = {"k": secret, 7: [secret]}
    for text in (draw(mine.show_refs, holder, max_depth=3),
                 draw(mine.show_refs, box, max_depth=3),
                 draw(mine.show_backrefs, secret, max_depth=2)):
        assert SECRET not in text
        dot_accepts(text)
    # objgraph shows reprs: the difference is on purpose.
    assert SECRET in draw(real.show_refs, holder, max_depth=3)
    # reprs=True (a heapwatch keyword) shows them.
    assert SECRET in draw(mine.show_refs, holder, max_depth=3, reprs=True)


def test_shortnames_and_refcounts(quiet_gc: None) -> None:
    obj = ChainObj()
    mylist = [obj]
    assert list(labels(draw(mine.show_backrefs, obj, max_depth=0)).values()) == ["ChainObj"]
    text = draw(mine.show_backrefs, obj, max_depth=0, shortnames=False)
    assert list(labels(text).values()) == [f"{__name__}.ChainObj"]
    # Three references: this frame's variable, the list, draw()'s argument.
    text = draw(mine.show_backrefs, obj, max_depth=0, refcounts=True)
    assert list(labels(text).values()) == ["ChainObj [3]"]
    text = draw(mine.show_refs, [obj], max_depth=0, refcounts=True)
    assert list(labels(text).values()) == ["ChainObj [3]"]  # the list passed, not obj
    text = draw(mine.show_refs, mylist, max_depth=0, refcounts=True)
    assert list(labels(text).values()) == ["ChainObj [2]"]
    del mylist


def test_callbacks(quiet_gc: None) -> None:
    obj = ChainObj()
    holders = holders_of(obj, 3)
    first, second = id(holders[0]), id(holders[1])
    text = draw(mine.show_backrefs, obj, max_depth=1,
                filter=lambda o: id(o) != first,
                highlight=lambda o: id(o) == second,
                extra_info=lambda o: f"len={len(o)}" if type(o) is list else "me",
                extra_node_attrs=lambda o: {"URL": "u", "tooltip": None})
    dot_accepts(text)
    got = labels(text)
    assert sorted(got.values()) == ["ChainObj\nme", "list\nlen=1", "list\nlen=1"]
    assert text.count('URL="u"') == 3 and "tooltip" not in text
    assert text.count('fillcolor="0.58 ') == 1  # highlighted
    with pytest.raises(ValueError, match="attribute name"):
        draw(mine.show_backrefs, obj, max_depth=0, extra_node_attrs=lambda o: {"a b": 1})


def test_too_many_referrers_are_counted(quiet_gc: None) -> None:
    obj = ChainObj()
    holders = holders_of(obj, 15)
    text = draw(mine.show_backrefs, obj, max_depth=1, too_many=10)
    assert sorted(labels(text).values()).count("list") == 10
    assert '"5 more backreferences"' in text
    text = draw(mine.show_refs, holders, max_depth=0)
    assert len(labels(text)) == 15
    dot_accepts(text)


def test_finalizers_are_marked(quiet_gc: None) -> None:
    obj = Finalized()
    assert "(has __del__)" in draw(mine.show_refs, obj, max_depth=0)


def test_show_chain_draws_only_the_chain(module: Any, quiet_gc: None) -> None:
    obj = ChainObj()
    module.HOLD = {"k": [obj]}
    module.OTHER = [obj]  # another holder, not on the chain below
    chain = mine.find_backref_chain(obj, lambda o: o is module.HOLD)
    assert len(chain) == 3
    text = draw_chains(chain)
    assert sorted(labels(text).values()) == ["ChainObj", "dict", "list"]
    assert len(edges(text)) == 2
    text = draw_chains(chain, backrefs=False)
    assert sorted(labels(text).values()) == ["ChainObj", "dict", "list"]
    dot_accepts(text)
    # Two chains, one empty (left out, as objgraph does).
    text = draw_chains(chain, [], [module.OTHER, obj])
    assert sorted(labels(text).values()) == ["ChainObj", "dict", "list", "list"]


# ---- output -----------------------------------------------------------------


def mode(path: str | Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_dot_file_is_private(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    obj = ChainObj()
    target = tmp_path / "graph.dot"
    target.write_text("old")
    target.chmod(0o644)
    old = os.umask(0)
    try:
        assert mine.show_refs(obj, filename=str(target)) is None
    finally:
        os.umask(old)
    assert mode(target) == 0o600
    assert target.read_text().startswith("digraph ObjectGraph {")
    assert f"Graph written to {target} (" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graph.dot"]


@needs_dot
def test_image_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    obj = ChainObj()
    target = tmp_path / "graph.svg"
    monkey_tmp = tmp_path / "t"
    monkey_tmp.mkdir()
    old = tempfile.tempdir
    tempfile.tempdir = str(monkey_tmp)
    try:
        mine.show_backrefs([obj], filename=target)
    finally:
        tempfile.tempdir = old
    assert "<svg" in target.read_text() and mode(target) == 0o600
    out = capsys.readouterr().out
    assert f"Image generated as {target}" in out
    (dot_file,) = monkey_tmp.iterdir()  # objgraph too leaves the .dot behind
    assert dot_file.name.startswith("objgraph-") and mode(dot_file) == 0o600


def test_no_filename_makes_a_png_or_says_why(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name: None if name == "xdot" else real_which(name))
    mine.show_refs(ChainObj())
    out = capsys.readouterr().out
    files = sorted(p.name for p in tmp_path.iterdir())
    if HAVE_DOT:
        assert "generating a png instead" in out and "Image generated as" in out
        assert [f[-4:] for f in files] == [".dot", ".png"]
        assert all(mode(tmp_path / f) == 0o600 for f in files)
    else:
        assert "not found, not doing anything else" in out


def test_graphviz_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(shutil, "which", lambda name: None)
    mine.show_refs(ChainObj(), filename=str(tmp_path / "x.png"))
    assert "Image renderer (dot) not found" in capsys.readouterr().out
    assert not (tmp_path / "x.png").exists()
    with pytest.raises(heapwatch.dot.GraphvizError, match="Graphviz"):
        heapwatch.dot.render("digraph g {}", str(tmp_path / "y.png"))


def test_no_filename_starts_xdot_when_installed(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[tuple[list[str], dict[str, Any]]] = []

    class Viewer:
        def __init__(self, args: list[str], **kw: Any) -> None:
            started.append((args, kw))

        def poll(self) -> None:
            return None  # still running

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(subprocess, "Popen", Viewer)
    monkeypatch.setattr(heapwatch.objgraph.viewer, "_VIEWERS", [])
    assert mine.show_refs(ChainObj()) is None
    (dot_file,) = tmp_path.iterdir()
    assert [args for args, _ in started] == [["xdot", str(dot_file)]]
    assert re.fullmatch(rf"Graph written to {re.escape(str(dot_file))} \(\d+ nodes\)\n"
                        r"Spawning graph viewer \(xdot\)\n", capsys.readouterr().out)
    viewers = heapwatch.objgraph.viewer._VIEWERS
    assert viewers and isinstance(viewers[0], Viewer)


class FakeGraphviz(types.ModuleType):
    """Stands for the graphviz package: Source() returns what it was given."""

    def __init__(self) -> None:
        super().__init__("graphviz")

    def Source(self, text: str) -> tuple[str, str]:  # noqa: N802 (graphviz's name)
        return ("Source", text)


class Shell:
    """get_ipython()'s result, named as IPython's shells are."""


def shell_named(name: str) -> Callable[[], object]:
    return lambda: type(name, (Shell,), {})()


def no_viewers(name: str, *args: Any, **kw: Any) -> None:
    raise AssertionError("nothing may be started")


def test_is_interactive_returns_a_graphviz_source(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """objgraph's IS_INTERACTIVE: no filename and no output give the graph as
    a graphviz.Source (shown inline by a notebook); no file, no viewer, no
    text printed, even with xdot and dot installed."""
    obj = ChainObj()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(subprocess, "Popen", no_viewers)
    monkeypatch.setitem(sys.modules, "graphviz", FakeGraphviz())
    assert mine.IS_INTERACTIVE is False  # not in a notebook
    monkeypatch.setattr(mine, "IS_INTERACTIVE", True)
    for result in (mine.show_refs(obj), mine.show_backrefs([obj]), mine.show_chain([obj])):
        kind, text = result
        assert kind == "Source" and text.startswith("digraph ObjectGraph {")
        assert "ChainObj" in text
    assert capsys.readouterr().out == "" and list(tmp_path.iterdir()) == []
    # output= and filename= still win, as in objgraph.
    out = io.StringIO()
    assert mine.show_refs(obj, output=out) is None and out.getvalue().startswith("digraph")
    assert mine.show_refs(obj, filename=str(tmp_path / "g.dot")) is None
    assert (tmp_path / "g.dot").read_text().startswith("digraph")
    # Set but graphviz missing: a clear error before the heap is looked at.
    monkeypatch.setitem(sys.modules, "graphviz", None)
    with pytest.raises(ImportError, match=r"show_refs\(\): .*IS_INTERACTIVE is set"):
        mine.show_refs(obj)


def test_is_interactive_false_is_honoured_in_a_notebook(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # A notebook shell and graphviz, but the flag says no: files, as objgraph.
    monkeypatch.setattr(builtins, "get_ipython", shell_named("ZMQInteractiveShell"),
                        raising=False)
    monkeypatch.setitem(sys.modules, "graphviz", FakeGraphviz())
    monkeypatch.setattr(mine, "IS_INTERACTIVE", False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert mine.show_refs(ChainObj()) is None
    assert "not found, not doing anything else" in capsys.readouterr().out
    assert [p.suffix for p in tmp_path.iterdir()] == [".dot"]


def test_is_interactive_detection(monkeypatch: pytest.MonkeyPatch) -> None:
    """As objgraph decides: an IPython shell that is not a terminal one, and
    the graphviz package."""
    monkeypatch.delattr(builtins, "get_ipython", raising=False)
    monkeypatch.setitem(sys.modules, "graphviz", FakeGraphviz())
    assert heapwatch.objgraph.viewer.in_notebook() is False
    for name, inline in [("ZMQInteractiveShell", True), ("TerminalInteractiveShell", False),
                         ("PyDevTerminalInteractiveShell", False), ("Shell", True)]:
        monkeypatch.setattr(builtins, "get_ipython", shell_named(name), raising=False)
        assert heapwatch.objgraph.viewer.in_notebook() is inline, name
    monkeypatch.setitem(sys.modules, "graphviz", None)
    assert heapwatch.objgraph.viewer.in_notebook() is False

    def broken() -> object:
        raise RuntimeError("no shell")

    monkeypatch.setattr(builtins, "get_ipython", broken, raising=False)
    assert heapwatch.objgraph.viewer.in_notebook() is False


IMPORT_IN_A_SHELL = """
import builtins, sys, types
sys.modules["graphviz"] = types.ModuleType("graphviz")
builtins.get_ipython = type(sys.argv[1], (), {})
import objgraph, heapwatch.objgraph
print(objgraph.IS_INTERACTIVE, heapwatch.objgraph.IS_INTERACTIVE)
"""


@pytest.mark.parametrize("shell, expected", [("ZMQInteractiveShell", "True True"),
                                             ("TerminalInteractiveShell", "False False")])
def test_is_interactive_is_set_at_import_as_objgraph_does(shell: str, expected: str) -> None:
    done = subprocess.run([sys.executable, "-c", IMPORT_IN_A_SHELL, shell], capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
                          timeout=120, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, expected + "\n", "")


def test_show_argument_errors(tmp_path: Path) -> None:
    obj = ChainObj()
    with pytest.raises(ValueError, match="Cannot specify both output and filename"):
        mine.show_refs(obj, filename=str(tmp_path / "a.dot"), output=io.StringIO())
    with pytest.raises(TypeError, match=r"show_backrefs\(\): max_depth must be an int"):
        mine.show_backrefs(obj, max_depth=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"show_refs\(\): too_many must be an int"):
        mine.show_refs(obj, too_many="10", output=io.StringIO())  # type: ignore[arg-type]
    for name in ("filter", "highlight", "extra_info", "extra_node_attrs"):
        bad: dict[str, Any] = {name: 3}
        with pytest.raises(TypeError, match=rf"{name} must be callable"):
            mine.show_refs(obj, output=io.StringIO(), **bad)
    with pytest.raises(TypeError, match="output must have a write"):
        mine.show_refs(obj, output=object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="extension"):
        mine.show_refs(obj, filename=str(tmp_path / "graph"))
    with pytest.raises(TypeError, match="extra_ignore"):
        mine.show_refs(obj, extra_ignore=3, output=io.StringIO())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-empty chain"):
        mine.show_chain([], output=io.StringIO())
    with pytest.raises(ValueError, match="non-empty chain"):
        mine.show_chain()
    with pytest.raises(TypeError, match="unexpected keyword argument 'max_depth'"):
        mine.show_chain([obj], max_depth=3)
    with pytest.raises(TypeError, match="unexpected keyword argument 'nope'"):
        mine.show_chain([obj], nope=1)
    with pytest.raises(TypeError, match="chains"):
        mine.show_chain("abc")
    assert list(tmp_path.iterdir()) == []
