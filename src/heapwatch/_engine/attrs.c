/* attrs.c - inline instance attributes.  See attrs.h. */

#ifndef Py_BUILD_CORE
#  define Py_BUILD_CORE 1
#endif
#include <Python.h>
#include "internal/pycore_dict.h"
#include "internal/pycore_object.h"
#include "internal/pycore_frame.h"
#include "attrs.h"

static int available = 0;
static int frames_available = 0;

/* The values array of obj when it holds obj's attributes (no dict yet),
   else NULL; *keys receives the class's shared keys. */
static PyDictValues *
inline_values(PyObject *obj, PyDictKeysObject **keys)
{
    PyTypeObject *tp = Py_TYPE(obj);
    if (!(tp->tp_flags & Py_TPFLAGS_HEAPTYPE)) {
        return NULL;
    }
    PyDictKeysObject *k = ((PyHeapTypeObject *)tp)->ht_cached_keys;
    if (k == NULL || k->dk_kind != DICT_KEYS_SPLIT) {
        return NULL;
    }
    PyDictValues *values = NULL;
#if PY_VERSION_HEX >= 0x030D0000
    if (!(tp->tp_flags & Py_TPFLAGS_INLINE_VALUES)) {
        return NULL;
    }
    values = _PyObject_InlineValues(obj);
    if (!values->valid) {
        return NULL;
    }
#elif PY_VERSION_HEX >= 0x030C0000
    if (!(tp->tp_flags & Py_TPFLAGS_MANAGED_DICT)) {
        return NULL;
    }
    PyDictOrValues dorv = *_PyObject_DictOrValuesPointer(obj);
    if (!_PyDictOrValues_IsValues(dorv)) {
        return NULL;
    }
    values = _PyDictOrValues_GetValues(dorv);
#else
    if (!(tp->tp_flags & Py_TPFLAGS_MANAGED_DICT)) {
        return NULL;
    }
    values = *_PyObject_ValuesPointer(obj);
#endif
    *keys = k;
    return values;
}

static int
visit_attrs(PyObject *obj, hw_attrfn fn, void *arg)
{
    PyDictKeysObject *keys = NULL;
    PyDictValues *values = inline_values(obj, &keys);
    if (values == NULL) {
        return 0;
    }
    PyDictUnicodeEntry *entries = DK_UNICODE_ENTRIES(keys);
    Py_ssize_t n = keys->dk_nentries;
#if PY_VERSION_HEX >= 0x030D0000
    /* 3.13: the shared keys may have grown past what this instance's
       inline array holds (CPython's traverse stops at its capacity). */
    if (n > values->capacity) {
        n = values->capacity;
    }
#endif
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *value = values->values[i];
        PyObject *name = entries[i].me_key;
        if (value != NULL && name != NULL && PyUnicode_Check(name)) {
            int r = fn(name, value, arg);
            if (r != 0) {
                return r;
            }
        }
    }
    return 0;
}

int
hw_inline_attrs(PyObject *obj, hw_attrfn fn, void *arg)
{
    return available ? visit_attrs(obj, fn, arg) : 0;
}

static PyCodeObject *
frame_code(_PyInterpreterFrame *f)
{
#if PY_VERSION_HEX >= 0x030D0000
    return _PyFrame_GetCode(f);
#else
    return f->f_code;
#endif
}

static int
visit_frame_locals(PyObject *obj, hw_attrfn fn, void *arg)
{
    _PyInterpreterFrame *f = NULL;
    if (PyFrame_Check(obj)) {
        f = ((PyFrameObject *)obj)->f_frame;
    }
    else if (PyGen_Check(obj) || PyCoro_CheckExact(obj) || PyAsyncGen_CheckExact(obj)) {
        /* The three share the generator head (cpython/genobject.h). */
        PyGenObject *gen = (PyGenObject *)obj;
        if (gen->gi_frame_state >= FRAME_CLEARED) {
            return 0;
        }
        f = (_PyInterpreterFrame *)gen->gi_iframe;
    }
    if (f == NULL || _PyFrame_IsIncomplete(f)) {
        return 0;
    }
    PyCodeObject *co = frame_code(f);
    if (co == NULL || !PyCode_Check(co) || !PyTuple_Check(co->co_localsplusnames)
        || PyTuple_GET_SIZE(co->co_localsplusnames) < co->co_nlocalsplus) {
        return 0;
    }
    PyObject **locals = _PyFrame_GetLocalsArray(f);
    for (int i = 0; i < co->co_nlocalsplus; i++) {
        PyObject *name = PyTuple_GET_ITEM(co->co_localsplusnames, i);
        if (locals[i] != NULL && PyUnicode_Check(name)) {
            int r = fn(name, locals[i], arg);
            if (r != 0) {
                return r;
            }
        }
    }
    return 0;
}

int
hw_frame_locals(PyObject *obj, hw_attrfn fn, void *arg)
{
    return frames_available ? visit_frame_locals(obj, fn, arg) : 0;
}

PyObject *
hw_existing_dict(PyObject *obj)
{
    PyTypeObject *tp = Py_TYPE(obj);
    PyObject *dict = NULL;
    if (tp->tp_flags & Py_TPFLAGS_MANAGED_DICT) {
        if (!available) {
            return NULL;
        }
#if PY_VERSION_HEX >= 0x030D0000
        dict = (PyObject *)_PyObject_GetManagedDict(obj);
#elif PY_VERSION_HEX >= 0x030C0000
        PyDictOrValues dorv = *_PyObject_DictOrValuesPointer(obj);
        dict = _PyDictOrValues_IsValues(dorv) ? NULL : dorv.dict;
#else
        dict = *_PyObject_ManagedDictPointer(obj);
#endif
    }
    else if (tp->tp_dictoffset > 0) {
        dict = *(PyObject **)((char *)obj + tp->tp_dictoffset);
    }
    return (dict != NULL && PyDict_Check(dict)) ? dict : NULL;
}

int
hw_attrs_available(void)
{
    return available;
}

/* ---- the layout check ------------------------------------------------ */

typedef struct {
    PyObject *expect[2];
    int seen, good;
} probe_state;

static int
probe_visit(PyObject *name, PyObject *value, void *arg)
{
    probe_state *p = (probe_state *)arg;
    static const char *names[2] = {"hw_probe_a", "hw_probe_b"};
    if (p->seen < 2 && value == p->expect[p->seen]
        && PyUnicode_CompareWithASCIIString(name, names[p->seen]) == 0) {
        p->good++;
    }
    p->seen++;
    return 0;
}

/* Generator locals in order: a, b, hw_probe_a, hw_probe_b. */
static int
frame_probe_visit(PyObject *name, PyObject *value, void *arg)
{
    probe_state *p = (probe_state *)arg;
    static const char *names[4] = {"a", "b", "hw_probe_a", "hw_probe_b"};
    if (p->seen < 4 && value == p->expect[p->seen % 2]
        && PyUnicode_CompareWithASCIIString(name, names[p->seen]) == 0 && p->seen >= 2) {
        p->good++;
    }
    p->seen++;
    return 0;
}

int
hw_attrs_init(void)
{
    /* A class whose instances keep two known attributes inline; reading
       them back in order, by name and identity, validates the layout. */
    PyObject *ns = PyDict_New();
    if (ns == NULL) {
        return -1;
    }
    PyObject *result = PyRun_String(
        "class HwProbe:\n"
        "    def __init__(self, a, b):\n"
        "        self.hw_probe_a = a\n"
        "        self.hw_probe_b = b\n"
        "def hw_probe_gen(a, b):\n"
        "    hw_probe_a = a\n"
        "    hw_probe_b = b\n"
        "    yield\n",
        Py_file_input, ns, ns);
    if (result == NULL) {
        Py_DECREF(ns);
        return -1;
    }
    Py_DECREF(result);
    PyObject *cls = PyDict_GetItemString(ns, "HwProbe");     /* borrowed */
    PyObject *a = PyList_New(0), *b = PyList_New(0);
    PyObject *inst = (cls && a && b)
        ? PyObject_CallFunctionObjArgs(cls, a, b, NULL) : NULL;
    int rc = -1;
    if (inst != NULL) {
        probe_state p = {{a, b}, 0, 0};
        visit_attrs(inst, probe_visit, &p);
        available = (p.seen == 2 && p.good == 2);
        rc = 0;
    }
    /* A suspended generator: its locals are the arguments a, b, then
       hw_probe_a, hw_probe_b (the same objects). */
    PyObject *genf = inst ? PyDict_GetItemString(ns, "hw_probe_gen") : NULL;
    PyObject *gen = genf ? PyObject_CallFunctionObjArgs(genf, a, b, NULL) : NULL;
    PyObject *first = gen ? PyIter_Next(gen) : NULL;
    if (first != NULL) {
        probe_state p = {{a, b}, 0, 0};
        visit_frame_locals(gen, frame_probe_visit, &p);
        frames_available = (p.seen == 4 && p.good == 2);
    }
    else if (inst != NULL) {
        rc = -1;
    }
    Py_XDECREF(first);
    Py_XDECREF(gen);
    Py_XDECREF(inst);
    Py_XDECREF(a);
    Py_XDECREF(b);
    Py_DECREF(ns);
    return rc;
}
