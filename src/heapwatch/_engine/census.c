/* census.c - the census algorithm.  See census.h. */

#include <Python.h>
#include <string.h>
#include "census.h"
#include "walk.h"

/* ---- the pending stack (raw memory, borrowed pointers) -------------- */

/* Room for one more item: 0, or -1 with MemoryError set. */
static int
stack_reserve(hw_objstack *s)
{
    if (s->n == s->cap) {
        Py_ssize_t cap = s->cap ? s->cap * 2 : 256;
        PyObject **items = PyMem_RawRealloc(s->items, (size_t)cap * sizeof(PyObject *));
        if (items == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        s->items = items;
        s->cap = cap;
    }
    return 0;
}

/* The pending stack holds borrowed pointers: everything on it is reachable
   from the tracked object being visited, and no Python code runs (so
   nothing dies) until it is drained. */
static int
ptrstack_push(hw_objstack *s, PyObject *op)
{
    if (stack_reserve(s) < 0) {
        return -1;
    }
    s->items[s->n++] = op;
    return 0;
}

static void
ptrstack_clear(hw_objstack *s)
{
    PyMem_RawFree(s->items);
    s->items = NULL;
    s->n = 0;
    s->cap = 0;
}

/* ---- counting ------------------------------------------------------- */

static inline int
is_skipped(const hw_census *c, PyTypeObject *tp)
{
    for (int i = 0; i < c->nskip; i++) {
        if (c->skip[i] == tp) {
            return 1;
        }
    }
    return 0;
}

static inline int
count_object(hw_census *c, PyObject *op)
{
    hw_typestat *e = hw_typetable_get(&c->types, Py_TYPE(op));
    if (e == NULL) {
        return -1;
    }
    e->count++;
    c->total_count++;
    Py_ssize_t n = hw_shallow_size(op, &e->sizer);
    e->bytes += n;
    c->total_bytes += n;
    return 0;
}

/* tp_traverse visitor for include_untracked: counts each object the GC does
   not track, once, and queues the untracked containers among them. */
static int
visit_untracked(PyObject *op, void *arg)
{
    hw_census *c = (hw_census *)arg;
    /* A live object reachable from a live container has a reference count
       of at least one.  Zero means freed memory that a faulty tp_traverse
       reports: CPython 3.12 before 3.12.6 visits the _asyncio module's
       free list of FutureIter objects (gh-122695).  Such memory is neither
       counted nor entered, and never INCREF'd (a DECREF back to zero would
       free it twice and loop the free list, hanging the next collection). */
    if (op == NULL || Py_REFCNT(op) <= 0 || PyObject_GC_IsTracked(op)
        || is_skipped(c, Py_TYPE(op))) {
        return 0;
    }
    int added = hw_ptrset_add(&c->seen, op);
    if (added <= 0) {
        return added;           /* 0: seen before; -1: out of memory */
    }
    if (count_object(c, op) < 0) {
        return -1;
    }
    if (PyObject_IS_GC(op)) {
        return ptrstack_push(&c->pending, op);
    }
    return 0;
}

static int
traverse_closure(hw_census *c, PyObject *op)
{
    if (hw_broken_traverse(op)) {
        return 0;
    }
    traverseproc trav = Py_TYPE(op)->tp_traverse;
    if (trav != NULL && trav(op, visit_untracked, c) != 0) {
        return -1;
    }
    /* Invariant: everything on `pending` is counted, in `seen`, and not
       yet traversed.  The stack only grows by objects not seen before, so
       this ends after at most |untracked objects| iterations. */
    while (c->pending.n > 0) {
        PyObject *u = c->pending.items[--c->pending.n];
        trav = Py_TYPE(u)->tp_traverse;
        if (trav != NULL && trav(u, visit_untracked, c) != 0) {
            return -1;
        }
    }
    return 0;
}

static int
visit_tracked(PyObject *op, void *arg)
{
    hw_census *c = (hw_census *)arg;
    if (count_object(c, op) < 0) {
        return -1;
    }
    if (c->include_untracked) {
        return traverse_closure(c, op);
    }
    return 0;
}

int
hw_census_run(hw_census *c, const hw_sizeofs *sizeofs, int include_untracked,
              PyTypeObject *const *skip, int nskip)
{
    memset(c, 0, sizeof(*c));
    if (hw_typetable_init(&c->types, sizeofs) < 0) {
        return -1;
    }
    c->include_untracked = include_untracked;
    if (nskip > HW_CENSUS_MAX_SKIP) {
        nskip = HW_CENSUS_MAX_SKIP;
    }
    for (int i = 0; i < nskip; i++) {
        c->skip[i] = skip[i];
    }
    c->nskip = nskip;

    if (hw_walk(visit_tracked, c) < 0) {
        return -1;
    }
    hw_ptrset_clear(&c->seen);
    return 0;
}

void
hw_census_clear(hw_census *c)
{
    ptrstack_clear(&c->pending);
    hw_ptrset_clear(&c->seen);
    hw_typetable_clear(&c->types);
}

/* ---- the limit, and lookups by address ------------------------------ */

static int
visit_count_only(PyObject *op, void *arg)
{
    (void)op;
    (*(Py_ssize_t *)arg)++;
    return 0;
}

Py_ssize_t
hw_bare_walk(void)
{
    Py_ssize_t n = 0;
    if (hw_walk(visit_count_only, &n) < 0) {
        return -1;
    }
    return n;
}

typedef struct {
    uintptr_t addr;
    PyObject *found;
} at_search;

static int
visit_find(PyObject *op, void *arg)
{
    at_search *s = (at_search *)arg;
    if ((uintptr_t)op == s->addr) {
        s->found = Py_NewRef(op);
        return 1;
    }
    return 0;
}

PyObject *
hw_tracked_at(uintptr_t addr, int *err)
{
    at_search s = {addr, NULL};
    *err = 0;
    if (hw_walk(visit_find, &s) < 0) {
        Py_XDECREF(s.found);
        *err = 1;
        return NULL;
    }
    return s.found;
}
