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

#include <string.h>
#include "walk.h"

/* Facts about the interpreter, the same for every module object: set by
   hw_walk_init under the GIL (and by tests through hw_walk_set_direct);
   protected by the GIL. */
static int walk_direct = 0;
static int walk_direct_available = 0;

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

/* gc.get_objects(): the list of every tracked object but itself.  The
   function is the gc module's own C function, found in its method table
   rather than in its namespace (tests and tools replace gc.get_objects;
   the walk must see what the collector tracks), and called directly: a
   function object made for the call would be a tracked object of its own
   in the list.  Looked up at each call rather than kept in a C global: the
   fallback is rare, and the lookup is nothing next to the list.
   hw_walk_init imported gc.  New reference, or NULL with an exception
   set.  (The signatures of METH_FASTCALL functions, as the C API documents
   them; their names are public only from 3.13.) */
typedef PyObject *(*fastcall_fn)(PyObject *, PyObject *const *, Py_ssize_t);
typedef PyObject *(*fastcall_kw_fn)(PyObject *, PyObject *const *, Py_ssize_t, PyObject *);

static PyObject *
gc_objects_list(void)
{
    PyObject *name = PyUnicode_FromString("gc");
    if (name == NULL) {
        return NULL;
    }
    PyObject *gcmod = PyImport_GetModule(name);
    Py_DECREF(name);
    if (gcmod == NULL && !PyErr_Occurred()) {
        gcmod = PyImport_ImportModule("gc");    /* removed from sys.modules */
    }
    if (gcmod == NULL) {
        return NULL;
    }
    PyModuleDef *def = PyModule_GetDef(gcmod);
    PyMethodDef *ml = def != NULL ? def->m_methods : NULL;
    while (ml != NULL && ml->ml_name != NULL && strcmp(ml->ml_name, "get_objects") != 0) {
        ml++;
    }
    int flags = ml != NULL && ml->ml_name != NULL
        ? ml->ml_flags & (METH_VARARGS | METH_FASTCALL | METH_NOARGS | METH_O | METH_KEYWORDS)
        : -1;
    PyObject *objs = NULL;
    if (flags == (METH_FASTCALL | METH_KEYWORDS)) {      /* 3.11 to 3.13 */
        objs = ((fastcall_kw_fn)(void (*)(void))ml->ml_meth)(gcmod, NULL, 0, NULL);
    }
    else if (flags == METH_FASTCALL) {
        objs = ((fastcall_fn)(void (*)(void))ml->ml_meth)(gcmod, NULL, 0);
    }
    else if (flags == METH_NOARGS) {
        objs = ml->ml_meth(gcmod, NULL);
    }
    else {
        PyErr_Clear();
        PyErr_SetString(PyExc_RuntimeError, "heapwatch: gc.get_objects unavailable");
    }
    Py_DECREF(gcmod);
    if (objs != NULL && !PyList_CheckExact(objs)) {
        PyErr_SetString(PyExc_RuntimeError, "heapwatch: gc.get_objects() is not a list");
        Py_CLEAR(objs);
    }
    return objs;
}

/* Fallback: the same objects, in the same order, through gc.get_objects(). */
static int
walk_fallback(hw_visitfn visit, void *arg)
{
    PyObject *objs = gc_objects_list();
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
    /* The fallback finds gc in sys.modules. */
    PyObject *gcmod = PyImport_ImportModule("gc");
    if (gcmod == NULL) {
        return -1;
    }
    Py_DECREF(gcmod);
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

/* CPython 3.12.0 to 3.12.5 (gh-122695): the _asyncio module's traverse
   walks a free list of freed objects.  The walks that enter referents
   already ignore freed memory (a reference count of zero); the module is
   not entered at all, which is also what the pure-Python reference (which
   cannot use gc.get_referents on it safely) does.  Py_Version is the
   running interpreter's, not the headers': a module built on 3.12.6 may
   run on 3.12.4. */
int
hw_broken_traverse(PyObject *op)
{
    if (Py_Version < 0x030C0000 || Py_Version >= 0x030C0600 || !PyModule_CheckExact(op)) {
        return 0;
    }
    PyModuleDef *def = PyModule_GetDef(op);
    if (def == NULL) {
        PyErr_Clear();
        return 0;
    }
    return def->m_name != NULL && strcmp(def->m_name, "_asyncio") == 0;
}
