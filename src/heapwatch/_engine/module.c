/* module.c - heapwatch._engine: the bindings.  Argument parsing, audit
 * events, module state and conversion of results; the algorithms live in
 * walk.c, census.c, shallow.c, typetable.c and ptrset.c.
 */

#include <Python.h>
#include "census.h"
#include "censusobject.h"
#include "shallow.h"
#include "walk.h"

PyModuleDef hw_moduledef;

static hw_state *
get_state(PyObject *module)
{
    return (hw_state *)PyModule_GetState(module);
}

/* A flag argument: bool or int, as a C int; anything else is a TypeError
   (a string "false" must not silently mean True). */
static int
parse_flag(PyObject *obj, const char *what)
{
    if (obj == NULL) {
        return 0;
    }
    if (!PyLong_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be a bool, not %.100s",
                     what, Py_TYPE(obj)->tp_name);
        return -1;
    }
    return PyObject_IsTrue(obj);
}

PyDoc_STRVAR(census_doc,
"census(*, include_untracked=False, fullnames=False) -> Census\n\n"
"Count every object the garbage collector tracks, by type, with the sum of\n"
"their shallow sizes (sys.getsizeof), in one pass in C.  Automatic garbage\n"
"collection is off during the walk.  Raises the audit event\n"
"'heapwatch.census' with argument include_untracked first.\n\n"
"include_untracked also counts, once each, the objects the collector does\n"
"not track (str, int, float, bytes...) reachable from tracked ones.\n"
"fullnames names types 'module.name' instead of 'name'.");

static PyObject *
hw_census_py(PyObject *module, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"include_untracked", "fullnames", NULL};
    PyObject *untracked_obj = NULL, *fullnames_obj = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|$OO:census", kwlist,
                                     &untracked_obj, &fullnames_obj)) {
        return NULL;
    }
    int include_untracked = parse_flag(untracked_obj, "include_untracked");
    if (include_untracked < 0) {
        return NULL;
    }
    int fullnames = parse_flag(fullnames_obj, "fullnames");
    if (fullnames < 0) {
        return NULL;
    }
    if (PySys_Audit("heapwatch.census", "O",
                    include_untracked ? Py_True : Py_False) < 0) {
        return NULL;
    }
    hw_state *st = get_state(module);
    PyTypeObject *skip[1] = {st->census_type};
    hw_census c;
    PyObject *result = NULL;
    hw_typestat *ordered = NULL;
    if (hw_census_run(&c, include_untracked, skip, 1) < 0) {
        goto done;
    }
    Py_ssize_t n;
    ordered = hw_typetable_ordered(&c.types, &n);
    if (ordered == NULL) {
        goto done;
    }
    result = hw_censusobject_new(st, ordered, n, include_untracked, fullnames);
done:
    PyMem_RawFree(ordered);
    hw_census_clear(&c);
    return result;
}

PyDoc_STRVAR(bare_walk_doc,
"_bare_walk() -> int\n\n"
"Walk the GC lists doing nothing but counting: the speed limit a census is\n"
"measured against.  Raises the audit event 'heapwatch.census'.");

static PyObject *
hw_bare_walk_py(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    if (PySys_Audit("heapwatch.census", "O", Py_False) < 0) {
        return NULL;
    }
    Py_ssize_t n = hw_bare_walk();
    return n < 0 ? NULL : PyLong_FromSsize_t(n);
}

PyDoc_STRVAR(at_doc,
"at(address) -> object or None\n\n"
"The GC-tracked object whose id() is address, or None.  Raises the audit\n"
"event 'heapwatch.census'.");

static PyObject *
hw_at_py(PyObject *module, PyObject *arg)
{
    if (!PyLong_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "address must be an int, not %.100s",
                     Py_TYPE(arg)->tp_name);
        return NULL;
    }
    unsigned long long addr = PyLong_AsUnsignedLongLong(arg);
    if (addr == (unsigned long long)-1 && PyErr_Occurred()) {
        /* Negative or too large: no object lives there. */
        if (!PyErr_ExceptionMatches(PyExc_OverflowError)) {
            return NULL;
        }
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    if (PySys_Audit("heapwatch.census", "O", Py_False) < 0) {
        return NULL;
    }
    int err;
    PyObject *found = hw_tracked_at((uintptr_t)addr, &err);
    if (err) {
        return NULL;
    }
    return found ? found : Py_NewRef(Py_None);
}

PyDoc_STRVAR(swap_baseline_doc,
"_swap_baseline(census_or_None) -> previous\n\n"
"Store the census growth() compares against and return the one it replaces,\n"
"in one step under the GIL (safe from threads and from __del__).");

static PyObject *
hw_swap_baseline_py(PyObject *module, PyObject *arg)
{
    hw_state *st = get_state(module);
    if (arg != Py_None && !Py_IS_TYPE(arg, st->census_type)) {
        PyErr_Format(PyExc_TypeError, "expected a Census or None, not %.100s",
                     Py_TYPE(arg)->tp_name);
        return NULL;
    }
    PyObject *old = st->baseline ? st->baseline : Py_NewRef(Py_None);
    st->baseline = Py_NewRef(arg);
    return old;
}

static PyObject *
hw_walk_is_direct_py(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    return PyBool_FromLong(hw_walk_is_direct());
}

static PyObject *
hw_set_walk_direct_py(PyObject *module, PyObject *arg)
{
    int direct = PyObject_IsTrue(arg);
    if (direct < 0) {
        return NULL;
    }
    if (hw_walk_set_direct(direct) < 0) {
        PyErr_SetString(PyExc_ValueError,
                        "the direct GC walk is not available on this interpreter");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef hw_methods[] = {
    {"census", (PyCFunction)(void (*)(void))hw_census_py,
     METH_VARARGS | METH_KEYWORDS, census_doc},
    {"_bare_walk", hw_bare_walk_py, METH_NOARGS, bare_walk_doc},
    {"at", hw_at_py, METH_O, at_doc},
    {"_swap_baseline", hw_swap_baseline_py, METH_O, swap_baseline_doc},
    {"_walk_is_direct", hw_walk_is_direct_py, METH_NOARGS,
     "_walk_is_direct() -> bool: False when the 3.11 layout check failed and "
     "the walk goes through gc.get_objects()."},
    {"_set_walk_direct", hw_set_walk_direct_py, METH_O,
     "_set_walk_direct(flag): for tests, switch between the direct walk and "
     "the gc.get_objects() fallback."},
    {NULL, NULL, 0, NULL},
};

static int
hw_exec(PyObject *module)
{
#ifdef Py_GIL_DISABLED
    PyErr_SetString(PyExc_ImportError,
                    "heapwatch does not support the free-threaded build of "
                    "CPython yet: use a standard (GIL) build");
    return -1;
#else
    hw_state *st = get_state(module);
    if (hw_shallow_init() < 0 || hw_walk_init() < 0) {
        return -1;
    }
    if (hw_censusobject_init_types(module, st) < 0) {
        return -1;
    }
    if (PyModule_AddObjectRef(module, "Census", (PyObject *)st->census_type) < 0
        || PyModule_AddObjectRef(module, "TypeStats", (PyObject *)st->typestats_type) < 0
        || PyModule_AddObjectRef(module, "GrowthRow", (PyObject *)st->growthrow_type) < 0) {
        return -1;
    }
    return 0;
#endif
}

static int
hw_traverse(PyObject *module, visitproc visit, void *arg)
{
    hw_state *st = get_state(module);
    Py_VISIT(st->census_type);
    Py_VISIT(st->typestats_type);
    Py_VISIT(st->growthrow_type);
    /* st->baseline is a Census: not a GC object, cannot be in a cycle, and
       is left out so that it stays invisible to censuses. */
    return 0;
}

static int
hw_clear(PyObject *module)
{
    hw_state *st = get_state(module);
    Py_CLEAR(st->census_type);
    Py_CLEAR(st->typestats_type);
    Py_CLEAR(st->growthrow_type);
    Py_CLEAR(st->baseline);
    Py_CLEAR(st->module_name_attr);
    return 0;
}

static void
hw_free(void *module)
{
    hw_clear((PyObject *)module);
}

static PyModuleDef_Slot hw_slots[] = {
    {Py_mod_exec, hw_exec},
#if PY_VERSION_HEX >= 0x030C0000
    /* The walk and the cached descriptors are per process. */
    {Py_mod_multiple_interpreters, Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED},
#endif
#if PY_VERSION_HEX >= 0x030D0000
    {Py_mod_gil, Py_MOD_GIL_USED},
#endif
    {0, NULL},
};

PyModuleDef hw_moduledef = {
    PyModuleDef_HEAD_INIT,
    .m_name = "heapwatch._engine",
    .m_doc = "heapwatch's C engine: heap walk and census.",
    .m_size = sizeof(hw_state),
    .m_methods = hw_methods,
    .m_slots = hw_slots,
    .m_traverse = hw_traverse,
    .m_clear = hw_clear,
    .m_free = hw_free,
};

PyMODINIT_FUNC
PyInit__engine(void)
{
    return PyModuleDef_Init(&hw_moduledef);
}
