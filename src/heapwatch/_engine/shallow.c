/* shallow.c - per-object shallow sizes.  See shallow.h. */

#include "pyver.h"
#include <Python.h>
#include "compat.h"
#include "shallow.h"

int
hw_shallow_init(hw_sizeofs *s)
{
    s->name = PyUnicode_InternFromString("__sizeof__");
    if (s->name == NULL) {
        return -1;
    }
    s->object_sizeof = hw_type_lookup(&PyBaseObject_Type, s->name);
    s->list_sizeof = hw_type_lookup(&PyList_Type, s->name);
    s->dict_sizeof = hw_type_lookup(&PyDict_Type, s->name);
    if (s->object_sizeof == NULL || s->list_sizeof == NULL || s->dict_sizeof == NULL) {
        PyErr_SetString(PyExc_RuntimeError,
                        "heapwatch: builtin __sizeof__ methods not found");
        return -1;
    }
    return 0;
}

void
hw_shallow_clear(hw_sizeofs *s)
{
    Py_CLEAR(s->name);
    s->object_sizeof = NULL;
    s->list_sizeof = NULL;
    s->dict_sizeof = NULL;
}

static Py_ssize_t
preheader_size(PyTypeObject *tp)
{
    Py_ssize_t n = 0;
    /* PyGC_Head is private, but has been two words since 3.8 on every
       platform; walk.c asserts it on 3.11 and the tests compare every size
       with sys.getsizeof. */
    if (PyType_IS_GC(tp)) {
        n += 2 * sizeof(void *);
    }
#if HW_PY312_PLUS
    if (PyType_HasFeature(tp, Py_TPFLAGS_PREHEADER)) {
        n += 2 * sizeof(PyObject *);
    }
#elif HW_PY311
    if (PyType_HasFeature(tp, Py_TPFLAGS_MANAGED_DICT)) {
        n += 2 * sizeof(PyObject *);
    }
#endif
    return n;
}

/* A C __sizeof__ that may size an instance of tp: a method descriptor
   (always C) taking no arguments, defined by a base of tp, so the function
   reads the layout it was written for. */
static int
is_own_c_sizeof(PyTypeObject *tp, PyObject *descr)
{
    if (!Py_IS_TYPE(descr, &PyMethodDescr_Type)) {
        return 0;
    }
    PyMethodDescrObject *md = (PyMethodDescrObject *)descr;
    int flags = md->d_method->ml_flags & (METH_VARARGS | METH_FASTCALL | METH_NOARGS
                                         | METH_O | METH_KEYWORDS | METH_METHOD);
    return (flags == METH_NOARGS || flags == (METH_METHOD | METH_FASTCALL | METH_KEYWORDS))
           && PyType_IsSubtype(tp, PyDescr_TYPE(md));
}

/* The first own C __sizeof__ along tp's MRO (see shallow.h).  Each base's
   lookup gives the first definition in that base's own MRO, so trying the
   bases in tp's MRO order skips exactly the definitions that fail the test.
   Returns NULL when only object.__sizeof__ or nothing qualifies. */
static PyObject *
own_c_sizeof(const hw_sizeofs *s, PyTypeObject *tp)
{
    PyObject *mro = tp->tp_mro;
    if (mro == NULL || !PyTuple_Check(mro)) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(mro); i++) {
        PyObject *base = PyTuple_GET_ITEM(mro, i);
        if (!PyType_Check(base)) {
            continue;
        }
        /* The MRO lookup (compat.h): no Python code, no allocation. */
        PyObject *descr = hw_type_lookup((PyTypeObject *)base, s->name);
        if (descr == NULL || descr == s->object_sizeof) {
            return NULL;
        }
        if (is_own_c_sizeof(tp, descr)) {
            return descr;
        }
    }
    return NULL;
}

void
hw_sizer_for_type(const hw_sizeofs *s, PyTypeObject *tp, hw_sizer *out)
{
    out->preheader = preheader_size(tp);
    out->cfunc = NULL;
    out->defcls = NULL;
#if PY_MINOR_VERSION >= 13
    /* From 3.13 sys.getsizeof leaves out the preheader of static types,
       which are not allocated with one.  Only exact instances of `type`
       are checked, as sys.getsizeof does. */
    out->static_types_bare = (tp == &PyType_Type);
#else
    out->static_types_bare = 0;
#endif
    PyObject *descr = own_c_sizeof(s, tp);
    if (descr == NULL) {
        out->kind = HW_SIZE_PLAIN;
    }
    else if (descr == s->list_sizeof) {
        out->kind = HW_SIZE_LIST;
    }
    else if (descr == s->dict_sizeof) {
        out->kind = HW_SIZE_DICT;
    }
    else {
        PyMethodDescrObject *md = (PyMethodDescrObject *)descr;
        out->kind = HW_SIZE_CFUNC;
        out->cfunc = md->d_method->ml_meth;
        /* METH_METHOD: the function also takes its defining class. */
        out->defcls = (md->d_method->ml_flags & METH_METHOD) ? PyDescr_TYPE(md) : NULL;
    }
}

static inline Py_ssize_t
plain_size(PyObject *op)
{
    PyTypeObject *tp = Py_TYPE(op);
    Py_ssize_t n = tp->tp_basicsize;
    if (tp->tp_itemsize > 0) {
        n += Py_SIZE(op) * tp->tp_itemsize;
    }
    return n;
}

Py_ssize_t
hw_shallow_size(PyObject *op, const hw_sizer *s)
{
    Py_ssize_t n;
    switch (s->kind) {
    case HW_SIZE_LIST:
        n = Py_TYPE(op)->tp_basicsize
            + ((PyListObject *)op)->allocated * (Py_ssize_t)sizeof(void *);
        break;
    case HW_SIZE_DICT:
        n = hw_dict_sizeof(op);
        break;
    case HW_SIZE_CFUNC: {
        PyObject *r = s->defcls != NULL
            ? ((PyCMethod)(void (*)(void))s->cfunc)(op, s->defcls, NULL, 0, NULL)
            : s->cfunc(op, NULL);
        n = -1;
        if (r != NULL) {
            n = PyLong_AsSsize_t(r);
            Py_DECREF(r);
        }
        if (n < 0) {
            PyErr_Clear();
            n = plain_size(op);
        }
        break;
    }
    default:
        n = plain_size(op);
        break;
    }
    if (s->static_types_bare
        && !PyType_HasFeature((PyTypeObject *)op, Py_TPFLAGS_HEAPTYPE)) {
        return n;
    }
    return n + s->preheader;
}
