"""objgraph's API, backed by heapwatch's C census and reference graph.

``import heapwatch.objgraph as objgraph`` is meant as a drop-in replacement
for objgraph 3.7: the functions below take the same arguments, with the
same defaults, and give the same results and the same printed text as
objgraph's.  Counting the whole heap (no ``objects=`` and no ``filter=``)
is done in C by :func:`heapwatch.census`, and :func:`at` is a C walk too;
with ``objects=`` or ``filter=``, and in the functions that return objects
or ids, the work is done in Python with objgraph's semantics.

Covered:

* :func:`count`, :func:`typestats`, :func:`most_common_types`,
  :func:`show_most_common_types`
* :func:`growth`, :func:`show_growth` (objgraph's contract: the increase
  over the *peak* count seen so far, kept in ``peak_stats``; this differs
  from :func:`heapwatch.growth`, which reports true deltas)
* :func:`get_new_ids`, :func:`at`, :func:`at_addrs`, :func:`by_type`,
  :func:`get_leaking_objects`
* :func:`find_backref_chain`, :func:`find_ref_chain`,
  :func:`show_backrefs`, :func:`show_refs`, :func:`show_chain`,
  :func:`is_proper_module` (the predicate objgraph's recipes pass to
  :func:`find_backref_chain`)
* ``IS_INTERACTIVE``: true when imported in a notebook (an IPython shell
  that is not a terminal) with the graphviz package installed; while it is
  true, the show_* functions called without ``filename`` or ``output``
  return a ``graphviz.Source`` of the graph instead of writing files or
  starting a viewer.  Set it to force or stop that, as with objgraph.
* objgraph's metadata names (``__version__``, ``__date__``, ``__author__``,
  ``__copyright__``, ``__license__``), with heapwatch's values.

Like objgraph, :func:`growth`, :func:`show_growth`, :func:`get_new_ids`,
:func:`get_leaking_objects` and the chain and graph functions run a full
``gc.collect()`` first.

The chain and graph functions build heapwatch's reference graph of the
heap once per call (where objgraph scans the heap with
``gc.get_referrers()`` once per object it visits), then walk it breadth
first as objgraph does, calling ``predicate`` / ``filter`` / ``highlight``
on the live objects.  The graph is the heap at the start of the call:
objects that die meanwhile are left out, and a chain is checked link by
link on the live objects before it is returned.  The containers these
functions make for themselves (and ``objs``, ``extra_ignore`` and
show_chain()'s chains) are left out of the graph.  The drawings differ
from objgraph's on purpose: object contents are not shown (a node shows
its type, and the name of a module, class or function; objgraph shows a
repr), unless ``reprs=True`` is passed (a heapwatch keyword); edges carry
heapwatch's names (``.attr``, ``['key']``, ``[3]``...) where the graph's
path tree names them; a referent held twice is drawn once; DOT and image
files are created with mode 0600.

Differences, all on error paths: a ``limit`` that objgraph would fail to
slice with (a string, a float...) raises a TypeError naming ``limit``, and
an unknown ``sortby`` in :func:`get_new_ids` raises KeyError, both before
any state (``peak_stats``, ``_state``) is touched, where objgraph fails
after updating it; the chain and graph functions check their arguments
before looking at the heap (a predicate that is not callable, a
``max_depth`` that is not an int...); with ``IS_INTERACTIVE`` set and no
graphviz package, show_* raise ImportError before looking at the heap,
where objgraph fails with NameError after drawing; :func:`is_proper_module`
is false for a module whose ``__name__`` is unhashable, where objgraph's
raises TypeError.  And objgraph's own temporaries are
not counted: its count() sees the closure cell it makes for itself, which
this one does not make.
"""

from __future__ import annotations

# The modules, by concern.  A module's underscored names are its own: what
# several of them use lives in a private module (_common, _heap) under a
# plain name, which each user binds to its own underscored alias.
#
#   counting  counts by type, growth, new ids, objects by type or address
#   chains    chains of references, and is_proper_module
#   drawing   the DOT text of show_backrefs, show_refs and show_chain
#   viewer    where a drawing goes: output, files, viewers, graphviz.Source
#   _heap     the reference graph the chains and drawings walk
#   _common   type names, argument checks, types of filters and files

from heapwatch import __version__ as __version__
from heapwatch.objgraph.chains import find_backref_chain, find_ref_chain, is_proper_module
from heapwatch.objgraph.counting import (
    at,
    at_addrs,
    by_type,
    count,
    get_leaking_objects,
    get_new_ids,
    growth,
    most_common_types,
    show_growth,
    show_most_common_types,
    typestats,
)
from heapwatch.objgraph.drawing import show_backrefs, show_chain, show_refs
from heapwatch.objgraph.viewer import in_notebook as _in_notebook

# objgraph's metadata names, with this package's own values.  __version__
# is heapwatch's; __date__ is the release date of that version, when it has
# one (set it with the version at release time).
__date__ = "unreleased"
__author__ = "the heapwatch contributors"
__copyright__ = ("Copyright (c) the heapwatch contributors; "
                 "heapwatch compatibility layer for objgraph 3.7's API")
__license__ = "MIT"

__all__ = [
    "at",
    "at_addrs",
    "by_type",
    "count",
    "find_backref_chain",
    "find_ref_chain",
    "get_leaking_objects",
    "get_new_ids",
    "growth",
    "is_proper_module",
    "most_common_types",
    "show_backrefs",
    "show_chain",
    "show_growth",
    "show_most_common_types",
    "show_refs",
    "typestats",
]


# Decided once, at import, as objgraph does.  The show_* functions read it
# from this module at each call, so that setting it here takes effect.
IS_INTERACTIVE: bool = _in_notebook()
