/* graphbuild.c - the live graph build.  See graphbuild.h. */

#include <Python.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __linux__
#  define HW_HAVE_PTHREAD 1
#  include <pthread.h>
#  include <sched.h>
#  include <signal.h>
#endif
#include "bigmem.h"
#include "compat.h"
#include "graphbuild.h"
#include "graphquery.h"
#include "names.h"
#include "ptrset.h"
#include "shallow.h"
#include "typetable.h"
#include "walk.h"

struct hw_pipeline;             /* pass 2's two stages (see "pass 2" below) */

/* The state of one build, from build_run to build_clear. */
typedef struct {
    hw_graph *g;
    hw_typetable types;         /* type -> index (its `order`); strong refs */
    hw_ptrset exclude;          /* objects never made nodes */
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
    /* Pass 2: nodes made before it (described when traversed), the
       pipeline, threads as asked (-1: automatic), and why the last step
       that cannot raise (no GIL) failed. */
    uint32_t n_before_pass2;
    struct hw_pipeline *pipe;
    int threads;
    const char *error;
    /* Seconds spent (hw_seconds): the walk of pass 1, the edges of pass 2,
       and the rest (type names, index, held from outside). */
    double t_walk, t_edges, t_rest;
} hw_build;

double
hw_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- nodes ----------------------------------------------------------------
 *
 * A node is made in two halves.  node_append gives it an id: its address,
 * its reference count and its index slot.  It reads nothing of the object
 * but the reference count and never calls into Python, so pass 2's
 * resolver thread may run it; its failures are left in b->error.
 * node_describe fills in what needs the object and the interpreter: type,
 * flags, shallow size (a C __sizeof__ makes an int).  It runs on the thread
 * holding the GIL, and sets a Python exception when it fails. */

#define NO_MEMORY "out of memory building the graph"
#define TOO_LARGE "heap too large for a graph"

/* Makes b->error the Python exception; returns -1. */
static int
raise_build_error(hw_build *b)
{
    PyErr_SetString(PyExc_MemoryError, b->error ? b->error : NO_MEMORY);
    return -1;
}

static int
fail(hw_build *b, const char *why)
{
    b->error = why;
    return -1;
}

/* The index rebuilt with `cap` slots (cap 0: too large); 0, or -1 with an
   exception set.  No duplicates can occur: each object is added once. */
static int
index_build(hw_graph *g, uint32_t cap)
{
    if (cap == 0 || hw_graph_index_sized(g, cap) < 0) {
        PyErr_SetString(PyExc_MemoryError, cap == 0 ? TOO_LARGE : NO_MEMORY);
        return -1;
    }
    return 0;
}

/* The index doubled.  0, or -1 (b->error). */
static int
index_grow(hw_build *b)
{
    hw_graph *g = b->g;
    if (g->index_cap > UINT32_MAX / 4) {
        return fail(b, TOO_LARGE);
    }
    if (hw_graph_index_sized(g, g->index_cap ? g->index_cap * 2 : 1u << 16) < 0) {
        return fail(b, NO_MEMORY);
    }
    return 0;
}

/* Gives every per-node array room for cap nodes.  0, or -1 (b->error). */
static int
grow_nodes(hw_build *b, uint32_t cap)
{
    hw_graph *g = b->g;
    uint64_t *addr = hw_big_resize(g->addr, cap, sizeof(uint64_t));
    if (addr) g->addr = addr;
    uint32_t *type = hw_big_resize(g->type, cap, sizeof(uint32_t));
    if (type) g->type = type;
    uint64_t *size = hw_big_resize(g->size, cap, sizeof(uint64_t));
    if (size) g->size = size;
    uint8_t *flags = hw_big_resize(g->flags, cap, 1);
    if (flags) g->flags = flags;
    uint32_t *off = hw_big_resize(g->out_off, (size_t)cap + 1, sizeof(uint32_t));
    if (off) g->out_off = off;
    uint32_t *rc = hw_big_resize(b->refcnt, cap, sizeof(uint32_t));
    if (rc) b->refcnt = rc;
    if (!addr || !type || !size || !flags || !off || !rc) {
        return fail(b, NO_MEMORY);
    }
    b->cap_nodes = cap;
    return 0;
}

static void pipeline_lock_arrays(hw_build *b);
static void pipeline_unlock_arrays(hw_build *b);

/* Room for one more node in every per-node array and in the index.
   0, or -1 (b->error). */
static int
reserve_node(hw_build *b)
{
    hw_graph *g = b->g;
    if (g->n_nodes >= HW_MAX_NODES) {
        return fail(b, TOO_LARGE);
    }
    if (g->n_nodes + 1 >= b->cap_nodes) {
        uint32_t cap = b->cap_nodes ? (b->cap_nodes > UINT32_MAX / 2 ? UINT32_MAX : b->cap_nodes * 2)
                                    : 1u << 16;
        /* The arrays may move: not while the traverser reads them. */
        pipeline_lock_arrays(b);
        int r = grow_nodes(b, cap);
        pipeline_unlock_arrays(b);
        if (r < 0) {
            return -1;
        }
    }
    if (!b->no_index
        && hw_over_load((uint64_t)g->n_nodes + 1, g->index_cap, HW_INDEX_LOAD_NUM,
                        HW_INDEX_LOAD_DEN)
        && index_grow(b) < 0) {
        return -1;
    }
    return 0;
}

/* Scratch flags, cleared by mark_held. */
#define HW_ISTYPE 0x40          /* a type object (the type table may hold it) */
#define HW_LEAF   0x20          /* no referents to visit (str, int, float, an
                                   untracked object without tp_traverse): pass 2
                                   passes it by without traversing it */

/* Appends op as a new node (its address not yet in the index).  The node,
   or HW_NONE (b->error). */
static hw_node
node_append(hw_build *b, PyObject *op)
{
    if (reserve_node(b) < 0) {
        return HW_NONE;
    }
    hw_graph *g = b->g;
    hw_node v = g->n_nodes++;
    g->addr[v] = (uint64_t)(uintptr_t)op;
    Py_ssize_t refs = Py_REFCNT(op);
    b->refcnt[v] = refs >= (Py_ssize_t)UINT32_MAX || hw_is_immortal(op) ? UINT32_MAX
                                                                       : (uint32_t)refs;
    if (!b->no_index) {
        hw_idtab_put(g->index, g->index_cap, hw_hash_addr(g->addr[v]), v);
    }
    return v;
}

/* The object half of node v (see above).  0, or -1 with an exception set. */
static int
node_describe(hw_build *b, hw_node v, PyObject *op)
{
    hw_graph *g = b->g;
    hw_typestat *e = hw_typetable_get(&b->types, Py_TYPE(op));
    if (e == NULL) {
        return -1;
    }
    g->type[v] = (uint32_t)e->order;
    if (PyType_Check(op)) {
        g->flags[v] |= HW_ISTYPE;
    }
    if (Py_TYPE(op)->tp_traverse == NULL || !PyObject_IS_GC(op)) {
        g->flags[v] |= HW_LEAF;
    }
    g->size[v] = (uint64_t)hw_shallow_size(op, &e->sizer);
    return 0;
}

/* Is op a node to be?  A live object reachable from a live one has a
   reference count of at least one; zero means freed memory that a faulty
   traverse reports (gh-122695, see census.c): ignored, and never touched
   again.  Excluded objects are never nodes. */
static int
may_be_node(hw_build *b, PyObject *op)
{
    return Py_REFCNT(op) > 0 && !hw_ptrset_contains(&b->exclude, op);
}

/* The node of op, appended if new (the roots, before pass 2); HW_NONE
   with an exception set on error, or HW_NONE without one for an object
   that is no node. */
static hw_node
node_of(hw_build *b, PyObject *op)
{
    hw_node v = hw_graph_find(b->g, (uint64_t)(uintptr_t)op);
    if (v != HW_NONE || !may_be_node(b, op)) {
        return v;
    }
    v = node_append(b, op);
    if (v == HW_NONE) {
        raise_build_error(b);
    }
    return v;
}

/* Pass 1 only appends: the walk is a chase along the GC lists, and what
   node_describe reads of the object is read again, while it is in the
   cache, when pass 2 traverses it. */
static int
visit_tracked(PyObject *op, void *arg)
{
    hw_build *b = (hw_build *)arg;
    if (!may_be_node(b, op)) {
        return 0;
    }
    hw_node v = node_append(b, op);
    if (v == HW_NONE) {
        return raise_build_error(b);
    }
    /* The count node_append took includes the walk's own reference. */
    if (b->refcnt[v] != UINT32_MAX) {
        b->refcnt[v] -= (uint32_t)b->walk_refs;
    }
    return 0;
}

/* Appends the edge to w.  0, or -1 (b->error). */
static int
append_edge(hw_build *b, hw_node w)
{
    hw_graph *g = b->g;
    if (g->n_edges == b->cap_edges) {
        if (b->cap_edges >= UINT32_MAX - 1) {
            return fail(b, "heap too large for a graph (2^32 edges)");
        }
        uint64_t cap = b->cap_edges ? b->cap_edges * 2 : 1u << 18;
        if (cap > UINT32_MAX - 1) {
            cap = UINT32_MAX - 1;
        }
        uint32_t *adj = hw_big_resize(g->out_adj, cap, sizeof(uint32_t));
        if (adj == NULL) {
            return fail(b, NO_MEMORY);
        }
        g->out_adj = adj;
        b->cap_edges = cap;
    }
    g->out_adj[g->n_edges++] = w;
    return 0;
}

/* ---- pass 2 ---------------------------------------------------------------
 *
 * Pass 2 runs in batches of up to BATCH_SOURCES consecutive nodes.  The
 * traverser (the thread holding the GIL, the only one that calls into
 * objects) describes every node (node_describe) and collects the referents
 * its tp_traverse reports; the resolver turns each batch's referents into
 * node ids, appending the new ones, and records the edges.  Resolving
 * costs two cache misses a referent (the hash slot, then the node's address
 * to compare), one after the other, so the resolver prefetches those a few
 * referents ahead; the result is exactly that of resolving each referent
 * as tp_traverse reports it.  (Prefetching a whole batch at once evicts
 * the first slots before they are used.)
 *
 * On a big heap with a second CPU the resolver is a thread of its own and
 * the two stages overlap (a ring of RING batches between them); otherwise
 * the traverser resolves each batch itself.  Either way batches are
 * resolved in order, so the graph is the same.  The resolver touches only
 * heapwatch's own arrays and reads reference counts: no Python API, no
 * reference changes.  Shared state and who may touch it:
 *   - the ring, `filled`, `resolved`, `published`, `stop`, `failed`: under mu;
 *   - nodes [0, published): the traverser may read addr and write type,
 *     size, flags; nodes past it belong to the resolver;
 *   - the per-node arrays move only when the resolver grows them, holding
 *     `arrays`, which the traverser holds while it describes nodes or
 *     fills a batch;
 *   - index, out_off, out_adj, refcnt of new nodes: the resolver's alone.
 */
#define BATCH_SOURCES 4096
#define BATCH_REFS 32768
#define RING 4
/* Heaps with fewer tracked objects are built on one thread. */
#define PIPELINE_MIN_TRACKED 100000

typedef struct {
    PyObject **ref;
    size_t n, cap;
} refbuf;

typedef struct {
    hw_node first;                  /* sources first .. first + k - 1 */
    uint32_t k;
    uint32_t count[BATCH_SOURCES];  /* referents of each, in rb */
    refbuf rb;
} batch;

struct hw_pipeline {
    hw_build *b;
    batch ring[RING];
    uint32_t filled, resolved;      /* batches handed over, batches done */
    uint32_t published;             /* nodes the traverser may read */
    int stop, failed;
    int threaded;
#ifdef HW_HAVE_PTHREAD
    pthread_t thread;
    pthread_mutex_t mu, arrays;
    pthread_cond_t work, done;
#endif
};

static void
pipeline_lock_arrays(hw_build *b)
{
#ifdef HW_HAVE_PTHREAD
    if (b->pipe != NULL && b->pipe->threaded) {
        pthread_mutex_lock(&b->pipe->arrays);
    }
#else
    (void)b;
#endif
}

static void
pipeline_unlock_arrays(hw_build *b)
{
#ifdef HW_HAVE_PTHREAD
    if (b->pipe != NULL && b->pipe->threaded) {
        pthread_mutex_unlock(&b->pipe->arrays);
    }
#else
    (void)b;
#endif
}

static int
collect_ref(PyObject *op, void *arg)
{
    refbuf *rb = (refbuf *)arg;
    if (op == NULL) {
        return 0;
    }
    if (rb->n == rb->cap) {
        size_t cap = rb->cap ? rb->cap * 2 : BATCH_REFS;
        PyObject **ref = realloc(rb->ref, cap * sizeof(PyObject *));
        if (ref == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        rb->ref = ref;
        rb->cap = cap;
    }
    rb->ref[rb->n++] = op;
    return 0;
}

/* Prefetches for the lookup of ref[i] a few lookups ahead: its hash slot
   (PREFETCH_SLOT ahead), then what the slot points to: the node's address
   to compare, or for an empty slot the object itself, whose reference
   count node_append reads (PREFETCH_NODE ahead, when the slot has
   arrived).  The traverser prefetches the objects PREFETCH_OBJECT nodes
   ahead of its cursor. */
#define PREFETCH_SLOT 32
#define PREFETCH_NODE 16
#define PREFETCH_OBJECT 4

static inline void
prefetch_slot(const hw_graph *g, PyObject *op)
{
    __builtin_prefetch(&g->index[hw_addr_slot((uint64_t)(uintptr_t)op, g->index_cap)]);
}

static inline void
prefetch_node(const hw_graph *g, PyObject *op)
{
    uint32_t id = g->index[hw_addr_slot((uint64_t)(uintptr_t)op, g->index_cap)];
    if (id != 0) {
        __builtin_prefetch(&g->addr[id - 1]);
    }
    else {
        __builtin_prefetch(op);
    }
}

/* The resolver's work on one batch.  0, or -1 (b->error). */
static int
resolve(hw_build *b, const batch *bt)
{
    hw_graph *g = b->g;
    const refbuf *rb = &bt->rb;
    for (size_t q = 0; q < rb->n && q < PREFETCH_SLOT; q++) {
        prefetch_slot(g, rb->ref[q]);
    }
    size_t i = 0;
    for (uint32_t s = 0; s < bt->k; s++) {
        g->out_off[bt->first + s] = g->n_edges;
        for (uint32_t c = 0; c < bt->count[s]; c++) {
            if (i + PREFETCH_SLOT < rb->n) {
                prefetch_slot(g, rb->ref[i + PREFETCH_SLOT]);
            }
            if (i + PREFETCH_NODE < rb->n) {
                prefetch_node(g, rb->ref[i + PREFETCH_NODE]);
            }
            PyObject *op = rb->ref[i++];
            hw_node w = hw_graph_find(g, (uint64_t)(uintptr_t)op);
            if (w == HW_NONE) {
                if (!may_be_node(b, op)) {
                    continue;
                }
                w = node_append(b, op);
                if (w == HW_NONE) {
                    return -1;
                }
            }
            if (append_edge(b, w) < 0) {
                return -1;
            }
        }
    }
    return 0;
}

/* The traverser's work on one batch: nodes v .. n - 1 (fewer if the batch
   fills).  The nodes made before pass 2 are described here, just before
   their traversal; the resolver's have been described already.  Returns
   the next node, or HW_NONE with an exception set. */
static hw_node
fill_batch(hw_build *b, batch *bt, hw_node v, hw_node n)
{
    hw_graph *g = b->g;
    bt->first = v;
    bt->k = 0;
    bt->rb.n = 0;
    while (v < n && bt->k < BATCH_SOURCES && bt->rb.n < BATCH_REFS) {
        hw_node ahead = v + PREFETCH_OBJECT;
        if (ahead < n && (ahead < b->n_before_pass2 || !(g->flags[ahead] & HW_LEAF))) {
            __builtin_prefetch((void *)(uintptr_t)g->addr[ahead]);
        }
        PyObject *op = (PyObject *)(uintptr_t)g->addr[v];
        if (v < b->n_before_pass2 && node_describe(b, v, op) < 0) {
            return HW_NONE;
        }
        size_t before = bt->rb.n;
        if (!(g->flags[v] & HW_LEAF)
            && !(PyModule_CheckExact(op) && hw_broken_traverse(op))
            && Py_TYPE(op)->tp_traverse(op, collect_ref, &bt->rb) != 0) {
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_RuntimeError, "tp_traverse failed");
            }
            return HW_NONE;
        }
        bt->count[bt->k++] = (uint32_t)(bt->rb.n - before);
        v++;
    }
    return v;
}

/* The traverser's other work: describes nodes d .. n - 1 (the resolver
   made them).  0, or -1 with an exception set. */
static int
describe_nodes(hw_build *b, hw_node d, hw_node n)
{
    hw_graph *g = b->g;
    for (; d < n; d++) {
        if (d + PREFETCH_OBJECT < n) {
            __builtin_prefetch((void *)(uintptr_t)g->addr[d + PREFETCH_OBJECT]);
        }
        if (node_describe(b, d, (PyObject *)(uintptr_t)g->addr[d]) < 0) {
            return -1;
        }
    }
    return 0;
}

#ifdef HW_HAVE_PTHREAD
static void *
resolver_main(void *arg)
{
    struct hw_pipeline *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->resolved == p->filled && !p->stop) {
            pthread_cond_wait(&p->work, &p->mu);
        }
        if (p->resolved == p->filled) {
            break;              /* stopped, and nothing left */
        }
        batch *bt = &p->ring[p->resolved % RING];
        pthread_mutex_unlock(&p->mu);
        int r = resolve(p->b, bt);
        pthread_mutex_lock(&p->mu);
        if (r < 0) {
            p->failed = 1;
            pthread_cond_signal(&p->done);
            break;
        }
        p->resolved++;
        p->published = p->b->g->n_nodes;
        pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static int
online_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        return CPU_COUNT(&set);
    }
    return 1;
}

/* Starts the resolver thread, with every signal blocked in it (Python
   handles signals on the main thread).  0, or -1: run on one thread. */
static int
pipeline_start(struct hw_pipeline *p)
{
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        return -1;
    }
    if (pthread_mutex_init(&p->arrays, NULL) != 0) {
        goto no_arrays;
    }
    if (pthread_cond_init(&p->work, NULL) != 0) {
        goto no_work;
    }
    if (pthread_cond_init(&p->done, NULL) != 0) {
        goto no_done;
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int r = pthread_create(&p->thread, NULL, resolver_main, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r == 0) {
        p->threaded = 1;
        return 0;
    }
    pthread_cond_destroy(&p->done);
no_done:
    pthread_cond_destroy(&p->work);
no_work:
    pthread_mutex_destroy(&p->arrays);
no_arrays:
    pthread_mutex_destroy(&p->mu);
    return -1;
}

/* Stops the resolver after what it has been handed, and waits for it. */
static void
pipeline_join(struct hw_pipeline *p)
{
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    p->threaded = 0;
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->arrays);
    pthread_mutex_destroy(&p->mu);
}
#endif

/* The traverser's loop, on one thread or two.  Two cursors: nodes before
   d are described, nodes before v (v <= d) traversed and handed over in
   batches.  New nodes are described as soon as the resolver publishes
   them, in chunks between batches, rather than when v reaches them: the
   resolver has referents to work on meanwhile.  The loop ends when both
   cursors meet the published node count with every batch resolved, i.e.
   when the resolver has no referent left to add a node for.  0, or -1
   with an exception set (after a resolver failure, once it has stopped). */
#define DESCRIBE_CHUNK 4096

static int
traverse_all(hw_build *b, struct hw_pipeline *p)
{
    hw_node v = 0, d = b->n_before_pass2;
    for (;;) {
        hw_node n;
        int can_fill;
        batch *bt;
#ifdef HW_HAVE_PTHREAD
        if (p->threaded) {
            pthread_mutex_lock(&p->mu);
            int finished;
            for (;;) {
                /* Sleep only with nothing to describe and no batch to fill. */
                can_fill = v < d && p->filled - p->resolved < RING;
                finished = v == p->published && d == p->published && p->resolved == p->filled;
                if (p->failed || d < p->published || can_fill || finished) {
                    break;
                }
                pthread_cond_wait(&p->done, &p->mu);
            }
            int failed = p->failed;
            n = p->published;
            bt = &p->ring[p->filled % RING];
            pthread_mutex_unlock(&p->mu);
            if (failed) {
                return raise_build_error(b);
            }
            if (finished) {
                return 0;
            }
        }
        else
#endif
        {
            n = b->g->n_nodes;
            if (v == n) {
                return 0;       /* d == n: described up to n before */
            }
            can_fill = 1;
            bt = &p->ring[0];
        }
        pipeline_lock_arrays(b);
        hw_node e = n - d > DESCRIBE_CHUNK ? d + DESCRIBE_CHUNK : n;
        int rc = describe_nodes(b, d, e);
        d = e;
        hw_node next = v;
        if (rc == 0 && can_fill && v < d) {
            next = fill_batch(b, bt, v, d);
            rc = next == HW_NONE ? -1 : 0;
        }
        pipeline_unlock_arrays(b);
        if (rc < 0) {
            return -1;
        }
        if (next == v) {
            continue;           /* described only */
        }
        v = next;
#ifdef HW_HAVE_PTHREAD
        if (p->threaded) {
            pthread_mutex_lock(&p->mu);
            p->filled++;
            pthread_cond_signal(&p->work);
            pthread_mutex_unlock(&p->mu);
            continue;
        }
#endif
        if (resolve(b, bt) < 0) {
            return raise_build_error(b);
        }
    }
}

/* Pass 2 (see graphbuild.h): the edges of every node, n_nodes growing as
   referents are discovered.  Returns 0, or -1 with an exception set. */
static int
build_edges(hw_build *b)
{
    hw_graph *g = b->g;
    struct hw_pipeline *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    p->b = b;
    b->pipe = p;
    b->n_before_pass2 = g->n_nodes;
    p->published = g->n_nodes;
#ifdef HW_HAVE_PTHREAD
    if (b->threads > 0 || (b->threads < 0 && g->n_tracked >= PIPELINE_MIN_TRACKED
                           && online_cpus() > 1)) {
        (void)pipeline_start(p);
    }
#endif
    int rc = traverse_all(b, p);
#ifdef HW_HAVE_PTHREAD
    if (p->threaded) {
        pipeline_join(p);
    }
#endif
    b->pipe = NULL;
    for (int i = 0; i < RING; i++) {
        free(p->ring[i].rb.ref);
    }
    free(p);
    if (rc == 0) {
        g->out_off[g->n_nodes] = g->n_edges;
    }
    return rc;
}

/* A type's name, "module.qualname" ("qualname" for builtins), computed
   without running Python code: heap types from __module__ in their dict
   and ht_qualname, static types from tp_name. */
static int
type_fullname(PyTypeObject *tp, hw_strtab *t, uint32_t *out)
{
    const char *mod = NULL, *name = tp->tp_name;
    Py_ssize_t modlen = 0, namelen = (Py_ssize_t)strlen(name);
    if (tp->tp_flags & Py_TPFLAGS_HEAPTYPE) {
        PyHeapTypeObject *ht = (PyHeapTypeObject *)tp;
        if (ht->ht_qualname && PyUnicode_Check(ht->ht_qualname)) {
            name = PyUnicode_AsUTF8AndSize(ht->ht_qualname, &namelen);
        }
        PyObject *m = tp->tp_dict ? PyDict_GetItemString(tp->tp_dict, "__module__") : NULL;
        if (m && PyUnicode_Check(m)) {
            mod = PyUnicode_AsUTF8AndSize(m, &modlen);
        }
        if (name == NULL || (m && PyUnicode_Check(m) && mod == NULL)) {
            PyErr_Clear();
            name = tp->tp_name;
            namelen = (Py_ssize_t)strlen(name);
            mod = NULL;
        }
    }
    if (mod != NULL && strcmp(mod, "builtins") == 0) {
        mod = NULL;
    }
    size_t len = (size_t)namelen + (mod ? (size_t)modlen + 1 : 0);
    char *buf = malloc(len + 1);
    if (buf == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    if (mod) {
        memcpy(buf, mod, (size_t)modlen);
        buf[modlen] = '.';
        memcpy(buf + modlen + 1, name, (size_t)namelen);
    }
    else {
        memcpy(buf, name, (size_t)namelen);
    }
    uint32_t id = hw_strtab_add(t, buf, len);
    if (id == UINT32_MAX) {
        /* an embedded NUL: keep the C name */
        id = hw_strtab_add(t, tp->tp_name, strlen(tp->tp_name));
    }
    free(buf);
    if (id == UINT32_MAX) {
        PyErr_NoMemory();
        return -1;
    }
    *out = id;
    return 0;
}

static int
name_types(hw_build *b)
{
    hw_graph *g = b->g;
    Py_ssize_t n;
    hw_typestat *ordered = hw_typetable_ordered(&b->types, &n);
    if (ordered == NULL) {
        return -1;
    }
    g->n_types = (uint32_t)n;
    g->type_name = hw_big_alloc((size_t)n + 1, sizeof(uint32_t));
    int r = 0;
    if (g->type_name == NULL) {
        PyErr_NoMemory();
        r = -1;
    }
    for (Py_ssize_t i = 0; i < n && r == 0; i++) {
        r = type_fullname(ordered[i].type, &g->strings, &g->type_name[i]);
    }
    PyMem_RawFree(ordered);
    return r;
}


/* Marks HW_HELD: reference count above the edges in.  The counts were
   taken before the build's own references, except for type objects: the
   type table takes one when it first sees an instance, which may be
   before or after the type's own node; those few are read again.
   Immortal objects (3.12+) are never held from outside: their count
   means nothing. */
static int
mark_held(hw_build *b)
{
    hw_graph *g = b->g;
    uint32_t *in = hw_big_alloc((size_t)g->n_nodes + 1, sizeof(uint32_t));
    if (in == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (uint32_t e = 0; e < g->n_edges; e++) {
        in[g->out_adj[e]]++;
    }
    for (hw_node v = 0; v < g->n_nodes; v++) {
        uint64_t refs = b->refcnt[v];
        if (g->flags[v] & HW_ISTYPE) {
            PyObject *op = (PyObject *)(uintptr_t)g->addr[v];
            refs = hw_is_immortal(op) ? UINT32_MAX : (uint64_t)Py_REFCNT(op);
            if (hw_typetable_find(&b->types, (PyTypeObject *)op) != NULL) {
                refs--;
            }
        }
        g->flags[v] &= (uint8_t)~(HW_ISTYPE | HW_LEAF);
        if (refs != UINT32_MAX && refs > in[v]) {
            g->flags[v] |= HW_HELD;
        }
    }
    hw_big_free(in);
    return 0;
}

/* Gives back the growth slack of the per-node and edge arrays (a failed
   shrink keeps the larger block, which is fine). */
static void
trim(hw_build *b)
{
    hw_graph *g = b->g;
    size_t n = (size_t)g->n_nodes + 1;
    void *p;
    if ((p = hw_big_resize(g->addr, n, sizeof(uint64_t)))) g->addr = p;
    if ((p = hw_big_resize(g->type, n, sizeof(uint32_t)))) g->type = p;
    if ((p = hw_big_resize(g->size, n, sizeof(uint64_t)))) g->size = p;
    if ((p = hw_big_resize(g->flags, n, 1))) g->flags = p;
    if ((p = hw_big_resize(g->out_off, n, sizeof(uint32_t)))) g->out_off = p;
    if ((p = hw_big_resize(g->out_adj, (size_t)g->n_edges + 1, sizeof(uint32_t)))) g->out_adj = p;
    b->cap_nodes = (uint32_t)n;
    b->cap_edges = g->n_edges + 1;
}

/* Passes 1 and 2 and the held-from-outside marks, into a new graph b->g
   (graphbuild.h).  roots: the named roots (the list and its tuples are
   excluded from the graph, and so are the objects in `exclude`).  Turns
   automatic garbage collection off until build_clear.  Returns 0, or -1
   with an exception set; build_clear must be called in both cases. */
static int
build_run(hw_build *b, const hw_sizeofs *sizeofs, PyObject *roots,
          PyObject *const *exclude, Py_ssize_t n_exclude, int threads)
{
    memset(b, 0, sizeof(*b));
    b->threads = threads;
    if (!PyList_CheckExact(roots)) {
        PyErr_SetString(PyExc_TypeError, "roots must be a list of (str, object) tuples");
        return -1;
    }
    Py_ssize_t nroots = PyList_GET_SIZE(roots);
    for (Py_ssize_t i = 0; i < nroots; i++) {
        PyObject *t = PyList_GET_ITEM(roots, i);
        if (!PyTuple_CheckExact(t) || PyTuple_GET_SIZE(t) != 2
            || !PyUnicode_Check(PyTuple_GET_ITEM(t, 0))) {
            PyErr_SetString(PyExc_TypeError, "roots must be a list of (str, object) tuples");
            return -1;
        }
        if (PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(t, 0), NULL) == NULL) {
            return -1;
        }
    }
    b->g = hw_graph_new();
    if (b->g == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    hw_graph *g = b->g;
    snprintf(g->python_version, sizeof(g->python_version), "%d.%d.%d",
             PY_MAJOR_VERSION, PY_MINOR_VERSION, PY_MICRO_VERSION);
    g->pointer_size = (uint32_t)sizeof(void *);
    g->created = (double)time(NULL);
    if (hw_typetable_init(&b->types, sizeofs) < 0) {
        return -1;
    }
    /* The exclusion set: the roots list, its tuples, and `exclude`. */
    if (hw_ptrset_add(&b->exclude, roots) < 0) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < nroots; i++) {
        if (hw_ptrset_add(&b->exclude, PyList_GET_ITEM(roots, i)) < 0) {
            return -1;
        }
    }
    for (Py_ssize_t i = 0; i < n_exclude; i++) {
        if (hw_ptrset_add(&b->exclude, exclude[i]) < 0) {
            return -1;
        }
    }
    b->gc_was_enabled = PyGC_Disable();
    b->gc_disabled = 1;

    /* Pass 1: the tracked objects.  The walk visits each once, so no lookup
       is needed: the index is built afterwards in one go, sized for the
       untracked objects pass 2 usually adds (about twice as many), instead
       of being rehashed at every doubling.  Like the final index it is at
       most three quarters full (reserve_node doubles it past that), so
       when the guess holds it is the final index too. */
    double t0 = hw_seconds();
    b->walk_refs = hw_walk_extra_refs();
    b->no_index = 1;
    int walked = hw_walk(visit_tracked, b);
    b->no_index = 0;
    if (walked < 0) {
        return -1;
    }
    g->n_tracked = g->n_nodes;
    uint64_t guess = 3 * (uint64_t)g->n_tracked + 1;
    uint32_t want = guess < (1u << 30) ? (uint32_t)guess : (1u << 30);
    if (index_build(g, hw_graph_index_capacity(want)) < 0) {
        return -1;
    }
    /* The per-node arrays too, so that pass 2 rarely has to move them
       (pages past the nodes made are never touched; trim() gives them
       back). */
    if (want > b->cap_nodes && grow_nodes(b, want) < 0) {
        return raise_build_error(b);
    }

    /* The named roots: their objects become nodes if the walk did not
       reach them (an untracked str held by a module global, say). */
    g->root_node = hw_big_alloc((size_t)nroots + 1, sizeof(hw_node));
    g->root_label = hw_big_alloc((size_t)nroots + 1, sizeof(uint32_t));
    if (g->root_node == NULL || g->root_label == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < nroots; i++) {
        PyObject *t = PyList_GET_ITEM(roots, i);
        PyObject *obj = PyTuple_GET_ITEM(t, 1);
        Py_ssize_t len;
        const char *label = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(t, 0), &len);
        hw_node v = node_of(b, obj);
        if (v == HW_NONE) {
            if (PyErr_Occurred()) {
                return -1;
            }
            continue;           /* an excluded object: not a root */
        }
        uint32_t id = hw_strtab_add(&g->strings, label, (size_t)len);
        if (id == UINT32_MAX) {
            id = hw_strtab_add(&g->strings, "?", 1);
            if (id == UINT32_MAX) {
                PyErr_NoMemory();
                return -1;
            }
        }
        g->root_node[g->n_roots] = v;
        g->root_label[g->n_roots++] = id;
        g->flags[v] |= HW_NAMED;
    }

    /* Pass 2: the edges.  n_nodes grows while this runs. */
    double t1 = hw_seconds();
    b->t_walk = t1 - t0;
    if (build_edges(b) < 0) {
        return -1;
    }
    double t2 = hw_seconds();
    b->t_edges = t2 - t1;
    trim(b);

    if (name_types(b) < 0) {
        return -1;
    }
    /* When pass 2 added fewer nodes than guessed, the index is larger than
       graph.h's memory bound allows: rebuilt to size. */
    uint32_t cap = hw_graph_index_capacity(g->n_nodes);
    if (cap != 0 && cap < g->index_cap && index_build(g, cap) < 0) {
        return -1;
    }
    if (mark_held(b) < 0) {
        return -1;
    }
    b->t_rest = hw_seconds() - t2;
    return 0;
}

/* The type index of tp in the graph, or HW_NONE if no node has it. */
static uint32_t
build_type_index(hw_build *b, PyTypeObject *tp)
{
    hw_typestat *e = hw_typetable_find(&b->types, tp);
    return e ? (uint32_t)e->order : HW_NONE;
}

/* Drops every reference of the build, restores automatic collection.
   Releases everything but b->g (the caller's); safe after errors. */
static void
build_clear(hw_build *b)
{
    hw_big_free(b->refcnt);
    b->refcnt = NULL;
    hw_ptrset_clear(&b->exclude);
    hw_typetable_clear(&b->types);
    if (b->gc_disabled) {
        b->gc_disabled = 0;
        if (b->gc_was_enabled) {
            PyGC_Enable();
        }
    }
}

/* ---- the whole build ------------------------------------------------------ */

/* Flags the targets (HW_TARGET) and the quiet nodes (HW_QUIET) spec
   names; objects that are no node are passed over.  0, or -1 out of
   memory (MemoryError set). */
static int
mark_targets(hw_build *b, const hw_build_spec *spec)
{
    hw_graph *g = b->g;
    switch (spec->targets) {
    case HW_TARGETS_NAMES: {
        uint8_t *match = hw_query_match_types(g, spec->target_names, (size_t)spec->n_targets);
        if (match == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        for (hw_node v = 0; v < g->n_nodes; v++) {
            if (match[g->type[v]]) {
                g->flags[v] |= HW_TARGET;
            }
        }
        free(match);
        break;
    }
    case HW_TARGETS_TYPE: {
        uint32_t t = build_type_index(b, spec->target_type);
        for (hw_node v = 0; t != HW_NONE && v < g->n_nodes; v++) {
            if (g->type[v] == t) {
                g->flags[v] |= HW_TARGET;
            }
        }
        break;
    }
    case HW_TARGETS_OBJECTS:
        for (Py_ssize_t i = 0; i < spec->n_targets; i++) {
            hw_node v = hw_graph_find(g, (uint64_t)(uintptr_t)spec->target_objects[i]);
            if (v != HW_NONE) {
                g->flags[v] |= HW_TARGET;
            }
        }
        break;
    case HW_TARGETS_NONE:
        break;
    }
    for (Py_ssize_t i = 0; i < spec->n_quiet; i++) {
        hw_node v = hw_graph_find(g, (uint64_t)(uintptr_t)spec->quiet[i]);
        if (v != HW_NONE) {
            g->flags[v] |= HW_QUIET;
        }
    }
    return 0;
}

/* The repr of a str, bytes, int or float, at most about 80 characters,
   computed by the builtin type's own C repr (no Python code runs: these
   are the only contents a snapshot stores, and only when asked); None for
   any other object.  New reference, or NULL with an exception set. */
static PyObject *
short_repr(PyObject *op)
{
    PyTypeObject *tp = Py_TYPE(op);
    if (tp == &PyUnicode_Type) {
        return hw_key_text(op);
    }
    if (tp == &PyBytes_Type) {
        Py_ssize_t n = PyBytes_GET_SIZE(op);
        PyObject *b = PyBytes_FromStringAndSize(PyBytes_AS_STRING(op), n > 80 ? 80 : n);
        PyObject *r = b ? PyBytes_Type.tp_repr(b) : NULL;
        Py_XDECREF(b);
        if (r != NULL && n > 80) {
            Py_SETREF(r, PyUnicode_FromFormat("%U...", r));
        }
        return r;
    }
    if (tp == &PyLong_Type) {
        int64_t bits = hw_long_bits(op);
        if (bits > 256) {
            return PyUnicode_FromFormat("<int of %lld bits>", (long long)bits);
        }
        return PyLong_Type.tp_repr(op);
    }
    if (tp == &PyFloat_Type) {
        return PyFloat_Type.tp_repr(op);
    }
    Py_RETURN_NONE;
}

/* Per node, the strtab id of its short repr, or HW_NONE (no repr, or one
   that cannot be stored: an embedded NUL, or no memory).  A bigmem.h
   block, or NULL with an exception set. */
static uint32_t *
collect_reprs(hw_graph *g)
{
    uint32_t *reprs = hw_big_alloc((size_t)g->n_nodes + 1, sizeof(uint32_t));
    if (reprs == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    for (hw_node v = 0; v < g->n_nodes; v++) {
        reprs[v] = HW_NONE;
        PyObject *r = short_repr((PyObject *)(uintptr_t)g->addr[v]);
        if (r == NULL) {
            hw_big_free(reprs);
            return NULL;
        }
        if (r != Py_None) {
            Py_ssize_t len;
            const char *s = PyUnicode_AsUTF8AndSize(r, &len);
            if (s == NULL) {
                PyErr_Clear();
            }
            else {
                reprs[v] = hw_strtab_add(&g->strings, s, (size_t)len);
            }
        }
        Py_DECREF(r);
    }
    return reprs;
}

int
hw_build_graph(const hw_build_spec *spec, hw_built *out)
{
    hw_build b;
    memset(out, 0, sizeof(*out));
    int r = build_run(&b, spec->sizeofs, spec->roots, spec->exclude, spec->n_exclude,
                      spec->threads);
    if (r == 0) {
        r = mark_targets(&b, spec);
    }
    double t0 = hw_seconds();
    if (r == 0 && hw_graph_paths(b.g) < 0) {
        PyErr_NoMemory();
        r = -1;
    }
    double t1 = hw_seconds();
    if (r == 0) {
        r = spec->labels == HW_LABELS_TARGETS ? hw_label_targets(b.g)
            : spec->labels == HW_LABELS_ALL ? hw_label_all(b.g) : 0;
    }
    double t2 = hw_seconds();
    if (r == 0 && spec->reprs) {
        out->reprs = collect_reprs(b.g);
        r = out->reprs != NULL ? 0 : -1;
    }
    /* From here Python code may run (the build's references are dropped):
       the graph stops describing live objects. */
    build_clear(&b);
    if (r < 0) {
        hw_graph_free(b.g);
        hw_big_free(out->reprs);
        out->reprs = NULL;
        return -1;
    }
    if (spec->memory != NULL) {
        memcpy(b.g->memory, spec->memory, sizeof(b.g->memory));
        b.g->has_memory = 1;
    }
    out->g = b.g;
    out->seconds[HW_STEP_WALK] = b.t_walk;
    out->seconds[HW_STEP_EDGES] = b.t_edges;
    out->seconds[HW_STEP_INDEX_HELD] = b.t_rest;
    out->seconds[HW_STEP_PATHS] = t1 - t0;
    out->seconds[HW_STEP_NAMES] = t2 - t1;
    return 0;
}
