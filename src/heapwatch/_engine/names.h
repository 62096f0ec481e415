/* names.h - naming the edges of the graph on live objects.
 *
 * tp_traverse reports referents without saying how they are held.  The
 * names come from the holder itself: the key of a dict value, the index
 * of a list item, the attribute of an instance (inline values, __dict__,
 * __slots__ and C members), the local variable of a suspended generator,
 * the closure variable of a function, the named slots of modules, types,
 * functions, methods, cells and frames.
 *
 * Only the edges of the path tree are named (graph.h: label_kind/label of
 * a node name the edge from its parent), and lazily: a holder is looked
 * at once, when the first of its children needs a name.  That is the
 * invariant of hw_label_children: after it, every child c of p in the
 * path tree has label_kind[c] set (HW_LABEL_NONE only when p holds c in a
 * way nothing names, e.g. a C struct field without a member descriptor).
 *
 * Must run while the graph's addresses are still the live objects: in the
 * same C call as the build, with no Python code run since (graphbuild.h).
 * Runs no Python code itself; it may allocate (strings, and for frames
 * and generators the frame locals mapping CPython creates on request), so
 * the caller keeps automatic garbage collection off.
 */
#ifndef HW_NAMES_H
#define HW_NAMES_H

#include <Python.h>
#include "graph.h"

/* Names the path-tree edges out of node p.  `done` is a bitset of n_nodes
   bits the caller owns (zeroed at first): holders already named.  Returns
   0, or -1 with an exception set (out of memory). */
int hw_label_children(hw_graph *g, hw_node p, uint8_t *done);

/* Same, for every node in the graph that is a parent in the path tree:
   what a snapshot file stores.  0 or -1. */
int hw_label_all(hw_graph *g);

/* Same, for the edges on the paths of the nodes flagged HW_TARGET only:
   what why() and retention() report.  0 or -1. */
int hw_label_targets(hw_graph *g);

/* Text of a dict key as an edge name: a str as itself (at most 80
   characters), an int in decimal, anything else as "<typename>" (contents
   of other objects are not shown).  New reference, or NULL. */
PyObject *hw_key_text(PyObject *key);

#endif
