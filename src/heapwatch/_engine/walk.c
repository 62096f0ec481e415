/* walk.c - the GC list walk.  See walk.h for the contract. */

#include "pyver.h"

#if HW_PY311
/* The 3.11 generation lists live in PyInterpreterState, whose layout is
   only in the internal headers.  Nothing else in heapwatch includes them. */
#  ifndef Py_BUILD_CORE
#    define Py_BUILD_CORE 1
#  endif
#  include <Python.h>
#  include "internal/pycore_gc.h"
#  include "internal/pycore_interp.h"
#else
#  include <Python.h>
#endif

#include "walk.h"

/* Set by hw_walk_init under the GIL (and by tests through
   hw_walk_set_direct); protected by the GIL. */
static int walk_direct = 0;
static int walk_direct_available = 0;
/* gc.get_objects, for the fallback; a strong reference kept for the life
   of the process (heapwatch does not support sub-interpreters). */
static PyObject *gc_get_objects = NULL;

#if HW_PY311

_Static_assert(sizeof(PyGC_Head) == 2 * sizeof(void *),
               "shallow.c assumes a two-word GC header");

/* Each generation list is circular and doubly linked through PyGC_Head,
   which sits right before the object.  Outside a collection the low bits
   of _gc_next are zero; during one (when a gc.callbacks callback or a
   finalizer calls us) the generation lists are still well formed, only
   the collector's private "unreachable" list carries flags, and we never
   walk it. */
static int
walk_lists(hw_visitfn visit, void *arg)
{
    PyInterpreterState *interp = PyInterpreterState_Get();
    struct _gc_runtime_state *gcstate = &interp->gc;
    for (int i = 0; i < NUM_GENERATIONS; i++) {
        PyGC_Head *head = &gcstate->generations[i].head;
        PyGC_Head *gc = (PyGC_Head *)head->_gc_next;
        while (gc != head) {
            /* Read the successor first: a visitor may not unlink the
               current object, but being strict costs nothing. */
            PyGC_Head *next = (PyGC_Head *)gc->_gc_next;
            int r = visit((PyObject *)(gc + 1), arg);
            if (r != 0) {
                return r < 0 ? -1 : 0;
            }
            gc = next;
        }
    }
    return 0;
}

static int
layout_matches(void)
{
    PyInterpreterState *interp = PyInterpreterState_Get();
    struct _gc_runtime_state *gcstate = &interp->gc;
    if (gcstate->generation0 != &gcstate->generations[0].head) {
        return 0;
    }
    /* Thresholds as the gc module reports them must sit where we think. */
    PyObject *gcmod = PyImport_ImportModule("gc");
    if (gcmod == NULL) {
        PyErr_Clear();
        return 0;
    }
    PyObject *th = PyObject_CallMethod(gcmod, "get_threshold", NULL);
    Py_DECREF(gcmod);
    if (th == NULL) {
        PyErr_Clear();
        return 0;
    }
    int ok = PyTuple_Check(th) && PyTuple_GET_SIZE(th) == NUM_GENERATIONS;
    for (int i = 0; ok && i < NUM_GENERATIONS; i++) {
        long v = PyLong_AsLong(PyTuple_GET_ITEM(th, i));
        if (v == -1 && PyErr_Occurred()) {
            PyErr_Clear();
            ok = 0;
        }
        else if (v != gcstate->generations[i].threshold) {
            ok = 0;
        }
    }
    Py_DECREF(th);
    /* Every list head must close its ring. */
    for (int i = 0; ok && i < NUM_GENERATIONS; i++) {
        PyGC_Head *head = &gcstate->generations[i].head;
        PyGC_Head *first = (PyGC_Head *)head->_gc_next;
        if (first == NULL || ((first->_gc_prev & _PyGC_PREV_MASK) != (uintptr_t)head)) {
            ok = 0;
        }
    }
    return ok;
}

#elif HW_PY312_PLUS

typedef struct {
    hw_visitfn visit;
    void *arg;
    int failed;
} visit_adapter;

static int
visit_public(PyObject *op, void *arg)
{
    visit_adapter *a = (visit_adapter *)arg;
    int r = a->visit(op, a->arg);
    if (r < 0) {
        a->failed = 1;
    }
    return r == 0;              /* 0 stops PyUnstable_GC_VisitObjects */
}

#endif

/* Fallback: the same objects, in the same order, through gc.get_objects().
   The list it returns excludes itself. */
static int
walk_fallback(hw_visitfn visit, void *arg)
{
    if (gc_get_objects == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "heapwatch: gc.get_objects unavailable");
        return -1;
    }
    PyObject *objs = PyObject_CallNoArgs(gc_get_objects);
    if (objs == NULL) {
        return -1;
    }
    int rc = 0;
    int was_enabled = PyGC_Disable();
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(objs); i++) {
        int r = visit(PyList_GET_ITEM(objs, i), arg);
        if (r != 0) {
            rc = r < 0 ? -1 : 0;
            break;
        }
    }
    if (was_enabled) {
        PyGC_Enable();
    }
    Py_DECREF(objs);
    return rc;
}

int
hw_walk_init(void)
{
    if (gc_get_objects == NULL) {
        PyObject *gcmod = PyImport_ImportModule("gc");
        if (gcmod == NULL) {
            return -1;
        }
        gc_get_objects = PyObject_GetAttrString(gcmod, "get_objects");
        Py_DECREF(gcmod);
        if (gc_get_objects == NULL) {
            return -1;
        }
    }
#if HW_PY311
    walk_direct_available = layout_matches();
#elif HW_PY312_PLUS
    walk_direct_available = 1;
#endif
    walk_direct = walk_direct_available;
    return 0;
}

int
hw_walk_set_direct(int direct)
{
    if (direct && !walk_direct_available) {
        return -1;
    }
    walk_direct = direct;
    return 0;
}

int
hw_walk_is_direct(void)
{
    return walk_direct;
}

int
hw_walk_extra_refs(void)
{
#if HW_PY311
    return walk_direct ? 0 : 1;
#else
    return 1;
#endif
}

int
hw_walk(hw_visitfn visit, void *arg)
{
    if (!walk_direct) {
        return walk_fallback(visit, arg);
    }
#if HW_PY311
    int was_enabled = PyGC_Disable();
    int rc = walk_lists(visit, arg);
    if (was_enabled) {
        PyGC_Enable();
    }
    return rc;
#elif HW_PY312_PLUS
    /* PyUnstable_GC_VisitObjects switches automatic collection off for
       the walk and holds a reference to each object while it is visited. */
    visit_adapter a = {visit, arg, 0};
    PyUnstable_GC_VisitObjects(visit_public, &a);
    return a.failed ? -1 : 0;
#else
    return walk_fallback(visit, arg);
#endif
}
