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
 * Then, still on the live heap: the targets and the quiet nodes are
 * flagged, the path tree is computed (graph.h) and its edges named
 * (names.h), and the short reprs are kept if asked.  From the start of
 * the walk to the end of hw_build_graph no Python code runs and automatic
 * collection is off, so the addresses in the graph are the live objects
 * (names.h and the reprs rely on it); after it, the graph no longer
 * describes live objects: it holds no reference to any.
 */
#ifndef HW_GRAPHBUILD_H
#define HW_GRAPHBUILD_H

#include <Python.h>
#include "graph.h"
#include "shallow.h"

/* Which nodes are flagged HW_TARGET. */
enum hw_targets {
    HW_TARGETS_NONE = 0,
    HW_TARGETS_TYPE,            /* every node of exactly target_type */
    HW_TARGETS_NAMES,           /* every node of a type target_names select
                                   (graphquery.h, hw_type_name_matches) */
    HW_TARGETS_OBJECTS,         /* target_objects that are nodes */
};

/* Which path-tree edges are named (names.h). */
enum hw_labels {
    HW_LABELS_TARGETS = 0,      /* those on the paths of the targets */
    HW_LABELS_ALL,              /* every one (what a snapshot file keeps) */
    HW_LABELS_NONE,
};

/* What to build: graph()'s arguments, as C values.  Every pointer is
   borrowed for the duration of the call. */
typedef struct {
    PyObject *roots;                    /* list of (label str, object) tuples:
                                           the named roots, in order */
    PyObject *const *exclude;           /* objects never made nodes (besides
                                           roots and its tuples) */
    Py_ssize_t n_exclude;
    enum hw_targets targets;
    PyTypeObject *target_type;
    const char *const *target_names;    /* UTF-8 */
    PyObject *const *target_objects;
    Py_ssize_t n_targets;               /* names or objects */
    PyObject *const *quiet;             /* HW_QUIET: their edges into the
                                           targets are not followed */
    Py_ssize_t n_quiet;
    enum hw_labels labels;
    int reprs;                          /* keep the repr of every str, bytes,
                                           int and float (80 characters at
                                           most, made by the builtin type's
                                           own C repr) */
    int threads;                        /* 1: resolve pass 2's referents on a
                                           thread of its own, 0: not, -1:
                                           decide (a second thread for heaps
                                           of 100,000 tracked objects and
                                           more, when the process may run on
                                           two CPUs); the graph is the same */
    const hw_sizeofs *sizeofs;          /* shallow.h */
    const uint64_t *memory;             /* HW_MEMORY_FIELDS figures of the
                                           process's memory, read before the
                                           build (hw_memory_read), or NULL:
                                           copied into the graph */
} hw_build_spec;

/* The steps of a build, timed (Graph.info["build_seconds"]): the walk of
   pass 1, the edges of pass 2, the rest of the build proper (type names,
   index, held from outside), the path tree, the names of its edges. */
enum { HW_STEP_WALK, HW_STEP_EDGES, HW_STEP_INDEX_HELD, HW_STEP_PATHS, HW_STEP_NAMES,
       HW_BUILD_STEPS };

typedef struct {
    hw_graph *g;
    uint32_t *reprs;                    /* node -> strtab id of its repr, or
                                           HW_NONE; NULL unless spec->reprs */
    double seconds[HW_BUILD_STEPS];
} hw_built;

/* A monotonic clock in seconds. */
double hw_seconds(void);

/* Builds the graph spec describes (see above).  Returns 0 with *out set
   (the caller owns g, and reprs, a bigmem.h block), or -1 with an
   exception set and nothing to free.  Automatic collection is restored
   either way.  The caller holds hw_enter's guard (module.h). */
int hw_build_graph(const hw_build_spec *spec, hw_built *out);

#endif
