/* graphbuild.c - the live graph build.  See graphbuild.h. */

#include <Python.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bigmem.h"
#include "census.h"
#include "graphbuild.h"
#include "shallow.h"
#include "walk.h"

double
hw_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The index rebuilt with `cap` slots; 0, or -1 with an exception set
   (no duplicates can occur: each object is added once). */
static int
index_build(hw_graph *g, uint32_t cap)
{
    if (hw_graph_index_sized(g, cap) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static int
index_grow(hw_graph *g)
{
    if (g->index_cap > UINT32_MAX / 4) {
        PyErr_SetString(PyExc_MemoryError, "heap too large for a graph");
        return -1;
    }
    return index_build(g, g->index_cap ? g->index_cap * 2 : 1u << 16);
}

/* Room for one more node in every per-node array. */
static int
reserve_node(hw_build *b)
{
    hw_graph *g = b->g;
    if (g->n_nodes >= HW_MAX_NODES) {
        PyErr_SetString(PyExc_MemoryError, "heap too large for a graph");
        return -1;
    }
    if (g->n_nodes + 1 >= b->cap_nodes) {
        uint32_t cap = b->cap_nodes ? (b->cap_nodes > UINT32_MAX / 2 ? UINT32_MAX : b->cap_nodes * 2)
                                    : 1u << 16;
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
            PyErr_NoMemory();
            return -1;
        }
        b->cap_nodes = cap;
    }
    if (!b->no_index && (uint64_t)(g->n_nodes + 1) * 4 > (uint64_t)g->index_cap * 3
        && index_grow(g) < 0) {
        return -1;
    }
    return 0;
}

static int
is_immortal(PyObject *op)
{
#if PY_VERSION_HEX >= 0x030C0000
    return _Py_IsImmortal(op);
#else
    (void)op;
    return 0;
#endif
}

/* Scratch flags, cleared by mark_held. */
#define HW_ISTYPE 0x40          /* a type object (the type table may hold it) */
#define HW_LEAF   0x20          /* no referents to visit (str, int, float, an
                                   untracked object without tp_traverse): pass 2
                                   passes it by without reading the object */

/* Appends op as a new node (its address not yet in the index).  Returns
   the node, or HW_NONE with an exception set. */
static hw_node
add_node(hw_build *b, PyObject *op)
{
    if (reserve_node(b) < 0) {
        return HW_NONE;
    }
    hw_graph *g = b->g;
    hw_typestat *e = hw_typetable_get(&b->types, Py_TYPE(op));
    if (e == NULL) {
        return HW_NONE;
    }
    hw_node v = g->n_nodes++;
    g->addr[v] = (uint64_t)(uintptr_t)op;
    g->type[v] = (uint32_t)e->order;
    g->flags[v] = 0;
    Py_ssize_t refs = Py_REFCNT(op);
    b->refcnt[v] = refs >= (Py_ssize_t)UINT32_MAX || is_immortal(op) ? UINT32_MAX : (uint32_t)refs;
    if (PyType_Check(op)) {
        g->flags[v] |= HW_ISTYPE;
    }
    if (Py_TYPE(op)->tp_traverse == NULL || !PyObject_IS_GC(op)) {
        g->flags[v] |= HW_LEAF;
    }
    g->size[v] = (uint64_t)hw_shallow_size(op, &e->sizer);
    if (!b->no_index) {
        uint32_t j = hw_addr_slot(g->addr[v], g->index_cap);
        while (g->index[j] != 0) {
            j = (j + 1) & (g->index_cap - 1);
        }
        g->index[j] = v + 1;
    }
    if (e->sizer.kind == HW_SIZE_DEFER) {
        if (b->n_deferred == b->cap_deferred) {
            Py_ssize_t cap = b->cap_deferred ? b->cap_deferred * 2 : 64;
            hw_node *nodes = PyMem_RawRealloc(b->deferred_node, (size_t)cap * sizeof(hw_node));
            if (nodes) b->deferred_node = nodes;
            PyObject **objs = PyMem_RawRealloc(b->deferred_obj, (size_t)cap * sizeof(PyObject *));
            if (objs) b->deferred_obj = objs;
            if (!nodes || !objs) {
                PyErr_NoMemory();
                return HW_NONE;
            }
            b->cap_deferred = cap;
        }
        b->deferred_node[b->n_deferred] = v;
        b->deferred_obj[b->n_deferred++] = Py_NewRef(op);
    }
    return v;
}

/* The node of op, added if new; HW_NONE with an exception set on error,
   or HW_NONE without one for an excluded object. */
static hw_node
node_of(hw_build *b, PyObject *op)
{
    hw_node v = hw_graph_find(b->g, (uint64_t)(uintptr_t)op);
    if (v != HW_NONE) {
        return v;
    }
    /* Not a node yet.  A live object reachable from a live one has a
       reference count of at least one; zero means freed memory that a
       faulty traverse reports (gh-122695, see census.c): ignored, and
       never touched again. */
    if (Py_REFCNT(op) <= 0 || hw_ptrset_contains(&b->exclude, op)) {
        return HW_NONE;
    }
    return add_node(b, op);
}

static int
visit_tracked(PyObject *op, void *arg)
{
    hw_build *b = (hw_build *)arg;
    if (Py_REFCNT(op) <= 0) {
        return 0;
    }
    if (hw_ptrset_contains(&b->exclude, op)) {
        return 0;
    }
    hw_node v = add_node(b, op);
    if (v == HW_NONE) {
        return -1;
    }
    /* The count add_node took includes the walk's own reference. */
    if (b->refcnt[v] != UINT32_MAX) {
        b->refcnt[v] -= (uint32_t)b->walk_refs;
    }
    return 0;
}

/* Appends the edge to w.  0, or -1 with an exception set. */
static int
append_edge(hw_build *b, hw_node w)
{
    hw_graph *g = b->g;
    if (g->n_edges == b->cap_edges) {
        if (b->cap_edges >= UINT32_MAX - 1) {
            PyErr_SetString(PyExc_MemoryError, "heap too large for a graph (2^32 edges)");
            return -1;
        }
        uint64_t cap = b->cap_edges ? b->cap_edges * 2 : 1u << 18;
        if (cap > UINT32_MAX - 1) {
            cap = UINT32_MAX - 1;
        }
        uint32_t *adj = hw_big_resize(g->out_adj, cap, sizeof(uint32_t));
        if (adj == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        g->out_adj = adj;
        b->cap_edges = cap;
    }
    g->out_adj[g->n_edges++] = w;
    return 0;
}

/* Pass 2 runs in batches.  A lookup costs two cache misses (the hash slot,
   then the node's address to compare), one after the other; looking up
   one referent at a time, the build waits for memory most of its time.
   So the referents of up to BATCH_SOURCES nodes are collected first (the
   visitor only stores pointers) and resolved in order, each lookup
   prefetching those a few places ahead: the result is exactly that of
   resolving each referent as tp_traverse reports it.  (Prefetching a
   whole batch at once evicts the first slots before they are used.) */
#define BATCH_SOURCES 256
#define BATCH_REFS 8192

typedef struct {
    PyObject **ref;
    size_t n, cap;
} refbuf;

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
   to compare, or for an empty slot the object itself, which add_node
   reads (PREFETCH_NODE ahead, when the slot has arrived). */
#define PREFETCH_SLOT 16
#define PREFETCH_NODE 8

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

/* Pass 2 (see graphbuild.h): the edges of every node, n_nodes growing as
   referents are discovered.  Returns 0, or -1 with an exception set. */
static int
build_edges(hw_build *b)
{
    hw_graph *g = b->g;
    refbuf rb = {NULL, 0, 0};
    uint32_t count[BATCH_SOURCES];
    int rc = 0;
    hw_node v = 0;
    while (v < g->n_nodes && rc == 0) {
        hw_node first = v;
        int k = 0;
        rb.n = 0;
        while (v < g->n_nodes && k < BATCH_SOURCES && rb.n < BATCH_REFS) {
            size_t before = rb.n;
            PyObject *op = (PyObject *)(uintptr_t)g->addr[v];
            if (!(g->flags[v] & HW_LEAF) && !hw_broken_traverse(op)
                && Py_TYPE(op)->tp_traverse(op, collect_ref, &rb) != 0) {
                if (!PyErr_Occurred()) {
                    PyErr_SetString(PyExc_RuntimeError, "tp_traverse failed");
                }
                rc = -1;
                break;
            }
            count[k++] = (uint32_t)(rb.n - before);
            v++;
        }
        if (rc < 0) {
            break;
        }
        for (size_t q = 0; q < rb.n && q < PREFETCH_SLOT; q++) {
            prefetch_slot(g, rb.ref[q]);
        }
        size_t i = 0;
        for (int s = 0; s < k && rc == 0; s++) {
            g->out_off[first + (hw_node)s] = g->n_edges;
            for (uint32_t c = 0; c < count[s]; c++) {
                if (i + PREFETCH_SLOT < rb.n) {
                    prefetch_slot(g, rb.ref[i + PREFETCH_SLOT]);
                }
                if (i + PREFETCH_NODE < rb.n) {
                    prefetch_node(g, rb.ref[i + PREFETCH_NODE]);
                }
                hw_node w = node_of(b, rb.ref[i++]);
                if (w == HW_NONE) {
                    if (PyErr_Occurred()) {
                        rc = -1;
                        break;
                    }
                    continue;
                }
                if (append_edge(b, w) < 0) {
                    rc = -1;
                    break;
                }
            }
        }
    }
    free(rb.ref);
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
            refs = is_immortal(op) ? UINT32_MAX : (uint64_t)Py_REFCNT(op);
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

int
hw_build_run(hw_build *b, PyObject *roots, PyObject *const *exclude,
             Py_ssize_t n_exclude)
{
    memset(b, 0, sizeof(*b));
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
    if (hw_typetable_init(&b->types) < 0) {
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
    if (index_build(g, hw_graph_index_capacity(guess < (1u << 30) ? (uint32_t)guess
                                                                   : (1u << 30))) < 0) {
        return -1;
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

uint32_t
hw_build_type_index(hw_build *b, PyTypeObject *tp)
{
    hw_typestat *e = hw_typetable_find(&b->types, tp);
    return e ? (uint32_t)e->order : HW_NONE;
}

int
hw_build_finish(hw_build *b)
{
    for (Py_ssize_t i = 0; i < b->n_deferred; i++) {
        Py_ssize_t n = hw_size_deferred(b->deferred_obj[i]);
        if (b->g != NULL) {
            b->g->size[b->deferred_node[i]] = (uint64_t)n;
        }
    }
    hw_build_clear(b);
    return 0;
}

void
hw_build_clear(hw_build *b)
{
    for (Py_ssize_t i = b->n_deferred; i > 0; i--) {
        Py_DECREF(b->deferred_obj[i - 1]);
    }
    PyMem_RawFree(b->deferred_obj);
    PyMem_RawFree(b->deferred_node);
    hw_big_free(b->refcnt);
    b->refcnt = NULL;
    b->deferred_obj = NULL;
    b->deferred_node = NULL;
    b->n_deferred = b->cap_deferred = 0;
    hw_ptrset_clear(&b->exclude);
    hw_typetable_clear(&b->types);
    if (b->gc_disabled) {
        b->gc_disabled = 0;
        if (b->gc_was_enabled) {
            PyGC_Enable();
        }
    }
}
