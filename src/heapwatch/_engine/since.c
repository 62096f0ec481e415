/* since.c - objects made since a mark.  See since.h.
 *
 * The mark is one array of addresses sorted in place (8 bytes per tracked
 * object, no hashing); a later query walks the GC lists once and looks each
 * object of a chosen type up by binary search.  Type names are resolved
 * once per type, after the walk: the visitors only collect pointers, as
 * walk.h requires (no Python code, no GC allocation during the walk).
 */

#include <Python.h>
#include <stdlib.h>
#include <string.h>
#include "since.h"
#include "walk.h"

typedef struct {
    uintptr_t *a;
    Py_ssize_t n, cap;
} addrvec;

static int
vec_push(addrvec *v, uintptr_t x)
{
    if (v->n == v->cap) {
        Py_ssize_t cap = v->cap ? v->cap * 2 : 4096;
        uintptr_t *a = PyMem_RawRealloc(v->a, (size_t)cap * sizeof(uintptr_t));
        if (a == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        v->a = a;
        v->cap = cap;
    }
    v->a[v->n++] = x;
    return 0;
}

static int
visit_mark(PyObject *op, void *arg)
{
    return vec_push((addrvec *)arg, (uintptr_t)op);
}

static int
cmp_addr(const void *x, const void *y)
{
    uintptr_t a = *(const uintptr_t *)x, b = *(const uintptr_t *)y;
    return a < b ? -1 : a > b;
}

PyObject *
hw_since_mark(void)
{
    addrvec v = {0};
    PyObject *result = NULL;
    if (hw_walk(visit_mark, &v) < 0) {
        goto done;
    }
    if (v.n > 1) {
        qsort(v.a, (size_t)v.n, sizeof(uintptr_t), cmp_addr);
    }
    result = PyBytes_FromStringAndSize((const char *)v.a,
                                       v.n * (Py_ssize_t)sizeof(uintptr_t));
done:
    PyMem_RawFree(v.a);
    return result;
}

typedef struct {
    const uintptr_t *mark;
    Py_ssize_t n_mark;
    addrvec found;              /* objects not in the mark, any type */
} newscan;

static int
in_mark(const newscan *s, uintptr_t x)
{
    Py_ssize_t lo = 0, hi = s->n_mark;
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (s->mark[mid] < x) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    return lo < s->n_mark && s->mark[lo] == x;
}

static int
visit_new(PyObject *op, void *arg)
{
    newscan *s = (newscan *)arg;
    if (in_mark(s, (uintptr_t)op)) {
        return 0;
    }
    /* A borrowed pointer: automatic collection stays off until the list
       below holds it, and nothing else can free it. */
    return vec_push(&s->found, (uintptr_t)op);
}

/* 1 if tp's __name__ is one of names, 0 if not, -1 on error.  For a heap
   type __name__ is ht_name; for a static type the part of tp_name after
   the last dot (what type.__name__ returns). */
static int
type_named(PyTypeObject *tp, PyObject *names)
{
    PyObject *name;
    if (PyType_HasFeature(tp, Py_TPFLAGS_HEAPTYPE)) {
        name = Py_NewRef(((PyHeapTypeObject *)tp)->ht_name);
    }
    else {
        const char *dot = strrchr(tp->tp_name, '.');
        name = PyUnicode_FromString(dot ? dot + 1 : tp->tp_name);
        if (name == NULL) {
            return -1;
        }
    }
    int r = 0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(names) && r == 0; i++) {
        PyObject *want = PyTuple_GET_ITEM(names, i);
        /* Both exact str: the comparison runs no Python code. */
        r = PyUnicode_CheckExact(name) && PyUnicode_Compare(name, want) == 0;
    }
    Py_DECREF(name);
    return r;
}

PyObject *
hw_since_new(PyObject *mark, PyObject *names)
{
    if (!PyBytes_Check(mark) || PyBytes_GET_SIZE(mark) % sizeof(uintptr_t) != 0) {
        PyErr_SetString(PyExc_TypeError, "mark must be the bytes since_mark() returned");
        return NULL;
    }
    if (!PyTuple_Check(names)) {
        PyErr_SetString(PyExc_TypeError, "names must be a tuple of str");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(names); i++) {
        if (!PyUnicode_CheckExact(PyTuple_GET_ITEM(names, i))) {
            PyErr_SetString(PyExc_TypeError, "names must be a tuple of str");
            return NULL;
        }
    }
    newscan s = {(const uintptr_t *)PyBytes_AS_STRING(mark),
                 PyBytes_GET_SIZE(mark) / (Py_ssize_t)sizeof(uintptr_t), {0}};
    for (Py_ssize_t i = 1; i < s.n_mark; i++) {
        if (s.mark[i - 1] > s.mark[i]) {
            PyErr_SetString(PyExc_ValueError, "mark is not sorted");
            return NULL;
        }
    }
    PyObject *result = NULL;
    PyTypeObject *last = NULL;
    int last_match = 0;
    int gc_was_enabled = PyGC_Disable();
    if (hw_walk(visit_new, &s) < 0) {
        goto done;
    }
    result = PyList_New(0);
    for (Py_ssize_t i = 0; result != NULL && i < s.found.n; i++) {
        PyObject *op = (PyObject *)s.found.a[i];
        /* Objects of one type tend to come in runs: one name check each. */
        if (Py_TYPE(op) != last) {
            last = Py_TYPE(op);
            last_match = type_named(last, names);
            if (last_match < 0) {
                Py_CLEAR(result);
                break;
            }
        }
        if (last_match && PyList_Append(result, op) < 0) {
            Py_CLEAR(result);
        }
    }
done:
    if (gc_was_enabled) {
        PyGC_Enable();
    }
    PyMem_RawFree(s.found.a);
    return result;
}
