/* graphbuild.h - build the reference graph of the live heap.
 *
 * Pass 1 walks the GC lists (walk.h) and numbers every tracked object;
 * pass 2 calls tp_traverse on each node in turn, resolving referents to
 * node ids and appending the objects not seen yet (untracked ones, and
 * tracked ones outside the walk such as gc.freeze()'s) as new nodes, which
 * the same loop traverses when it reaches them.  Invariant of pass 2: the
 * nodes before the resolver's cursor have all their out-edges recorded,
 * the nodes after it have none; it ends when the traverser's cursor meets
 * the end with nothing left to resolve, after visiting each node once.
 * The resolver may be a second thread (graphbuild.c says what each side
 * may touch); nodes are numbered the same either way.  No recursion, no
 * Python code, no INCREF of a referent (gh-122695: a referent reported by
 * a faulty traverse may be freed memory; those with a zero reference count
 * are ignored).
 *
 * Then the roots held from outside: a node whose reference count exceeds
 * the number of edges into it (the references heapwatch itself holds
 * discounted) is held by something the graph does not contain.  The
 * referrer arrays (in_off/in_adj) are not built here: hw_graph_transpose
 * makes them when something needs them (dominators, referrers).
 *
 * Between hw_build_run and hw_build_finish no Python code may run, so the
 * addresses in the graph are the live objects (names.h relies on it); the
 * caller keeps automatic collection off until hw_build_finish.
 */
#ifndef HW_GRAPHBUILD_H
#define HW_GRAPHBUILD_H

#include <Python.h>
#include "graph.h"
#include "typetable.h"
#include "ptrset.h"

struct hw_pipeline;

typedef struct {
    hw_graph *g;
    hw_typetable types;         /* type -> index (its `order`); strong refs */
    hw_ptrset exclude;          /* objects never made nodes */
    /* Objects whose __sizeof__ is Python code: node ids and strong
       references, sized by hw_build_finish. */
    /* Per node, taken when the node is added (its object is in the cache
       then): the reference count, saturated at UINT32_MAX, before any
       reference of the build's own.  Read back by the held-from-outside
       test instead of touching every object a second time. */
    uint32_t *refcnt;
    int walk_refs;              /* hw_walk_extra_refs() for pass 1 */
    int no_index;               /* pass 1: nodes are not indexed yet */
    uint32_t cap_nodes;         /* room in the per-node arrays */
    uint64_t cap_edges;
    int gc_was_enabled;
    int gc_disabled;
    /* Pass 2: nodes made before it (described when traversed), the pipeline
       (graphbuild.c), threads as asked (-1: automatic), and why the last
       step that cannot raise (no GIL) failed. */
    uint32_t n_before_pass2;
    struct hw_pipeline *pipe;
    int threads;
    const char *error;
    /* Seconds spent (hw_seconds): the walk of pass 1, the edges of pass 2,
       and the rest (type names, index, held from outside). */
    double t_walk, t_edges, t_rest;
} hw_build;

/* A monotonic clock in seconds, for the step timings of Graph.info. */
double hw_seconds(void);

/* Builds into a new graph b->g.  roots: a list of (label str, object)
   tuples, the named roots in order (the list and its tuples are excluded
   from the graph, and so are the objects in `exclude`).  threads: 1 to
   resolve pass 2's referents on a thread of its own, 0 not to, -1 to
   decide (a second thread for heaps of 100,000 tracked objects and more,
   when the process may run on two CPUs); the graph is the same.  Turns
   automatic garbage collection off until hw_build_finish.  Returns 0, or
   -1 with an exception set; hw_build_clear must be called in both cases. */
int hw_build_run(hw_build *b, PyObject *roots, PyObject *const *exclude,
                 Py_ssize_t n_exclude, int threads);

/* The type index of tp in the graph, or HW_NONE if no node has it. */
uint32_t hw_build_type_index(hw_build *b, PyTypeObject *tp);

/* Drops every reference, restores automatic collection.  After it the graph no longer
   describes live objects.  0, or -1 with an exception set. */
int hw_build_finish(hw_build *b);

/* Releases everything but b->g (the caller owns it); safe after errors. */
void hw_build_clear(hw_build *b);

#endif
