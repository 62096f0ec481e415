/* module.c - heapwatch._engine: the bindings.  Argument parsing, audit
 * events, module state (module.h) and conversion of results; the
 * algorithms live in walk.c, census.c, shallow.c, typetable.c, ptrset.c
 * and dominators.c (graphobject.c binds the graph and its captures).
 */

#include <Python.h>
#include "bigmem.h"
#include "census.h"
#include "censusobject.h"
#include "csr.h"
#include "dominators.h"
#include "graph.h"
#include "graphobject.h"
#include "memstats.h"
#include "module.h"
#include "shallow.h"
#include "since.h"
#include "walk.h"

_Thread_local int hw_walk_depth = 0;

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

/* obj as a node number below n, into *out: TypeError when it is not an
   int, ValueError when out of range; what[i] names it in the message.
   Runs no Python code. */
static int
parse_node(PyObject *obj, uint32_t n, const char *what, Py_ssize_t i,
           uint32_t *out)
{
    if (!PyLong_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s[%zd]: a node must be an int, not %.100s",
                     what, i, Py_TYPE(obj)->tp_name);
        return -1;
    }
    int overflow;
    long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (v == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (overflow || v < 0 || v >= (long long)n) {
        PyErr_Format(PyExc_ValueError, "%s[%zd]: node out of range(%u)",
                     what, i, (unsigned)n);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
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
    static char *kwlist[] = {"include_untracked", "fullnames", "_skip", NULL};
    PyObject *untracked_obj = NULL, *fullnames_obj = NULL, *skip_types = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|$OOO!:census", kwlist,
                                     &untracked_obj, &fullnames_obj,
                                     &PyTuple_Type, &skip_types)) {
        return NULL;
    }
    /* _skip: types left out of the result (heapwatch's own bookkeeping,
       which must never show as growth). */
    for (Py_ssize_t i = 0; skip_types != NULL && i < PyTuple_GET_SIZE(skip_types); i++) {
        if (!PyType_Check(PyTuple_GET_ITEM(skip_types, i))) {
            PyErr_SetString(PyExc_TypeError, "_skip must be a tuple of types");
            return NULL;
        }
    }
    int include_untracked = parse_flag(untracked_obj, "include_untracked");
    if (include_untracked < 0) {
        return NULL;
    }
    int fullnames = parse_flag(fullnames_obj, "fullnames");
    if (fullnames < 0) {
        return NULL;
    }
    hw_state *st = hw_state_of_module(module);
    if (hw_enter("census") < 0) {
        return NULL;
    }
    if (PySys_Audit("heapwatch.census", "O",
                    include_untracked ? Py_True : Py_False) < 0) {
        hw_leave();
        return NULL;
    }
    PyTypeObject *skip[1] = {st->census_type};
    hw_census c;
    PyObject *result = NULL;
    hw_typestat *ordered = NULL;
    int r = hw_census_run(&c, &st->sizeofs, include_untracked, skip, 1);
    hw_leave();
    if (r < 0) {
        goto done;
    }
    Py_ssize_t n;
    ordered = hw_typetable_ordered(&c.types, &n);
    if (ordered == NULL) {
        goto done;
    }
    if (skip_types != NULL) {
        Py_ssize_t kept = 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            int drop = 0;
            for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(skip_types); j++) {
                drop |= (PyObject *)ordered[i].type == PyTuple_GET_ITEM(skip_types, j);
            }
            if (!drop) {
                ordered[kept++] = ordered[i];
            }
        }
        n = kept;
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

PyDoc_STRVAR(since_mark_doc,
"since_mark() -> bytes\n\n"
"The sorted addresses of every tracked object (since.h), for since_new.\n"
"Raises the audit event 'heapwatch.census'.");

static PyObject *
hw_since_mark_py(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    if (hw_enter("since_mark") < 0) {
        return NULL;
    }
    PyObject *result = NULL;
    if (PySys_Audit("heapwatch.census", "O", Py_False) == 0) {
        result = hw_since_mark();
    }
    hw_leave();
    return result;
}

PyDoc_STRVAR(since_new_doc,
"since_new(mark, names) -> list\n\n"
"The tracked objects whose type's __name__ is in names (a tuple of str)\n"
"and whose address is not in mark: objects made since the mark (an\n"
"address reused by a new object counts as old).");

static PyObject *
hw_since_new_py(PyObject *module, PyObject *args)
{
    PyObject *mark, *names;
    if (!PyArg_ParseTuple(args, "OO:since_new", &mark, &names)) {
        return NULL;
    }
    if (hw_enter("since_new") < 0) {
        return NULL;
    }
    PyObject *result = hw_since_new(mark, names);
    hw_leave();
    return result;
}

PyDoc_STRVAR(swap_baseline_doc,
"swap_baseline(census_or_None) -> previous\n\n"
"Store the census growth() compares against and return the one it replaces,\n"
"in one step under the GIL (safe from threads and from __del__).");

static PyObject *
hw_swap_baseline_py(PyObject *module, PyObject *arg)
{
    hw_state *st = hw_state_of_module(module);
    if (arg != Py_None && !Py_IS_TYPE(arg, st->census_type)) {
        PyErr_Format(PyExc_TypeError, "expected a Census or None, not %.100s",
                     Py_TYPE(arg)->tp_name);
        return NULL;
    }
    PyObject *old = st->baseline ? st->baseline : Py_NewRef(Py_None);
    st->baseline = Py_NewRef(arg);
    return old;
}

PyDoc_STRVAR(census_of_doc,
"census_of(rows, /, include_untracked, fullnames) -> Census\n\n"
"A Census of (name, count, bytes) rows, in order of first sighting: what a\n"
"snapshot's per-type counts become, so that Snapshot.census() is the same\n"
"type as census().");

static PyObject *
hw_census_of_py(PyObject *module, PyObject *args)
{
    PyObject *rows;
    int include_untracked, fullnames;
    if (!PyArg_ParseTuple(args, "Opp:census_of", &rows, &include_untracked, &fullnames)) {
        return NULL;
    }
    return hw_censusobject_from_rows(hw_state_of_module(module), rows, include_untracked,
                                     fullnames);
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

/* These test graphs come from Python lists: a bound far below HW_MAX_NODES
   keeps a mistyped n from asking for gigabytes. */
#define TEST_GRAPH_MAX_NODES (1 << 24)

/* The graph of a _dominators() or _retained() call: node count, edges
   [(source, target), ...] as CSR (csr.h) with each node's successors in
   the order given, the transpose, and the roots (in root_node).  NULL
   with an exception set on bad arguments or out of memory.  The graph owns every
   array it points to (bigmem.h blocks, as graph.c frees them). */
static hw_graph *
graph_from_args(PyObject *n_obj, PyObject *edges_obj, PyObject *roots_obj)
{
    if (!PyLong_Check(n_obj)) {
        PyErr_Format(PyExc_TypeError, "n must be an int, not %.100s",
                     Py_TYPE(n_obj)->tp_name);
        return NULL;
    }
    int overflow;
    long long n_ll = PyLong_AsLongLongAndOverflow(n_obj, &overflow);
    if (n_ll == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (overflow || n_ll < 0 || n_ll > TEST_GRAPH_MAX_NODES) {
        PyErr_Format(PyExc_ValueError, "n must be between 0 and %d",
                     TEST_GRAPH_MAX_NODES);
        return NULL;
    }
    uint32_t n = (uint32_t)n_ll;
    PyObject *edges = PySequence_Fast(edges_obj, "edges must be a sequence");
    if (edges == NULL) {
        return NULL;
    }
    PyObject *roots = PySequence_Fast(roots_obj, "roots must be a sequence");
    if (roots == NULL) {
        Py_DECREF(edges);
        return NULL;
    }
    hw_graph *g = hw_graph_new();
    uint32_t *pairs = NULL;
    Py_ssize_t m = PySequence_Fast_GET_SIZE(edges);
    Py_ssize_t n_roots = PySequence_Fast_GET_SIZE(roots);
    if (g == NULL) {
        PyErr_NoMemory();
        goto error;
    }
    if ((size_t)m >= UINT32_MAX || (size_t)n_roots >= UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "too many edges or roots");
        goto error;
    }
    g->n_nodes = n;
    g->n_edges = (uint32_t)m;
    g->n_roots = (uint32_t)n_roots;
    pairs = PyMem_RawMalloc(((size_t)m + 1) * 2 * sizeof(uint32_t));
    g->out_off = hw_big_alloc((size_t)n + 1, sizeof(uint32_t));
    g->out_adj = hw_big_alloc((size_t)m + 1, sizeof(uint32_t));
    g->root_node = hw_big_alloc((size_t)n_roots + 1, sizeof(uint32_t));
    if (pairs == NULL || g->out_off == NULL || g->out_adj == NULL
        || g->root_node == NULL) {
        PyErr_NoMemory();
        goto error;
    }
    /* No Python code runs from here to the end of the loops (items are
       checked to be tuples and ints, whose reading calls none), so the
       sequences cannot change under them. */
    for (Py_ssize_t i = 0; i < m; i++) {
        PyObject *edge = PySequence_Fast_GET_ITEM(edges, i);
        if (!PyTuple_Check(edge) || PyTuple_GET_SIZE(edge) != 2) {
            PyErr_Format(PyExc_TypeError,
                         "edges[%zd] must be a (source, target) tuple, not %.100s",
                         i, Py_TYPE(edge)->tp_name);
            goto error;
        }
        for (int j = 0; j < 2; j++) {
            if (parse_node(PyTuple_GET_ITEM(edge, j), n, "edges", i,
                           &pairs[2 * i + j]) < 0) {
                goto error;
            }
        }
    }
    for (Py_ssize_t i = 0; i < n_roots; i++) {
        if (parse_node(PySequence_Fast_GET_ITEM(roots, i), n, "roots", i,
                       &g->root_node[i]) < 0) {
            goto error;
        }
    }
    hw_csr_from_pairs(n, pairs, (size_t)m, g->out_off, g->out_adj);
    if (hw_graph_transpose(g) < 0) {
        PyErr_NoMemory();
        goto error;
    }
    PyMem_RawFree(pairs);
    Py_DECREF(edges);
    Py_DECREF(roots);
    return g;
error:
    PyMem_RawFree(pairs);
    hw_graph_free(g);
    Py_DECREF(edges);
    Py_DECREF(roots);
    return NULL;
}

/* The immediate dominators of g (an array of g->n_nodes, to free with
   PyMem_RawFree), or NULL with an exception set. */
static uint32_t *
graph_idom(const hw_graph *g)
{
    uint32_t *idom = PyMem_RawMalloc(((size_t)g->n_nodes + 1) * sizeof(uint32_t));
    if (idom == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = hw_dominators(g->n_nodes, g->out_off, g->out_adj, g->in_off,
                       g->in_adj, g->root_node, g->n_roots, idom);
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        PyMem_RawFree(idom);
        PyErr_NoMemory();
        return NULL;
    }
    return idom;
}

PyDoc_STRVAR(dominators_doc,
"_dominators(n, edges, roots) -> list\n\n"
"For tests: the immediate dominator of each of the nodes 0 .. n-1 of the\n"
"graph with these (source, target) edges, from a virtual root with an edge\n"
"to each of roots: -1 when it is the virtual root, None for the nodes it\n"
"does not reach.  n is at most 2**24.");

static PyObject *
hw_dominators_py(PyObject *module, PyObject *args)
{
    PyObject *n_obj, *edges, *roots;
    if (!PyArg_ParseTuple(args, "OOO:_dominators", &n_obj, &edges, &roots)) {
        return NULL;
    }
    hw_graph *g = graph_from_args(n_obj, edges, roots);
    if (g == NULL) {
        return NULL;
    }
    uint32_t *idom = graph_idom(g);
    PyObject *result = idom ? PyList_New(g->n_nodes) : NULL;
    for (uint32_t v = 0; result != NULL && v < g->n_nodes; v++) {
        PyObject *item;
        if (idom[v] == HW_NONE) {
            item = Py_NewRef(Py_None);
        }
        else if (idom[v] == g->n_nodes) {
            item = PyLong_FromLong(-1);
        }
        else {
            item = PyLong_FromUnsignedLong(idom[v]);
        }
        if (item == NULL) {
            Py_CLEAR(result);
            break;
        }
        PyList_SET_ITEM(result, v, item);
    }
    PyMem_RawFree(idom);
    hw_graph_free(g);
    return result;
}

PyDoc_STRVAR(retained_doc,
"_retained(n, edges, roots, sizes) -> list[int]\n\n"
"For tests: the retained size of each node of the graph _dominators()\n"
"takes, given each node's own size (an int from 0 to 2**64-1): the sum of\n"
"the sizes of the nodes it dominates, itself included, at most 2**64-1.");

static PyObject *
hw_retained_py(PyObject *module, PyObject *args)
{
    PyObject *n_obj, *edges, *roots, *sizes_obj;
    if (!PyArg_ParseTuple(args, "OOOO:_retained", &n_obj, &edges, &roots,
                          &sizes_obj)) {
        return NULL;
    }
    hw_graph *g = graph_from_args(n_obj, edges, roots);
    if (g == NULL) {
        return NULL;
    }
    uint32_t n = g->n_nodes;
    uint32_t *idom = NULL;
    uint64_t *retained = NULL;
    PyObject *result = NULL;
    PyObject *sizes = PySequence_Fast(sizes_obj, "sizes must be a sequence");
    if (sizes == NULL) {
        goto done;
    }
    if (PySequence_Fast_GET_SIZE(sizes) != (Py_ssize_t)n) {
        PyErr_Format(PyExc_ValueError, "sizes has %zd items, not n = %u",
                     PySequence_Fast_GET_SIZE(sizes), (unsigned)n);
        goto done;
    }
    g->size = hw_big_alloc((size_t)n + 1, sizeof(uint64_t));
    retained = PyMem_RawMalloc(((size_t)n + 1) * sizeof(uint64_t));
    if (g->size == NULL || retained == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (uint32_t v = 0; v < n; v++) {
        PyObject *obj = PySequence_Fast_GET_ITEM(sizes, v);
        if (!PyLong_Check(obj)) {
            PyErr_Format(PyExc_TypeError, "sizes[%u] must be an int, not %.100s",
                         (unsigned)v, Py_TYPE(obj)->tp_name);
            goto done;
        }
        g->size[v] = PyLong_AsUnsignedLongLong(obj);
        if (g->size[v] == (unsigned long long)-1 && PyErr_Occurred()) {
            if (PyErr_ExceptionMatches(PyExc_OverflowError)) {
                PyErr_Format(PyExc_ValueError,
                             "sizes[%u] is not between 0 and 2**64-1", (unsigned)v);
            }
            goto done;
        }
    }
    idom = graph_idom(g);
    if (idom == NULL) {
        goto done;
    }
    if (hw_retained_sizes(n, idom, g->size, retained) < 0) {
        PyErr_NoMemory();
        goto done;
    }
    result = PyList_New(n);
    for (uint32_t v = 0; result != NULL && v < n; v++) {
        PyObject *item = PyLong_FromUnsignedLongLong(retained[v]);
        if (item == NULL) {
            Py_CLEAR(result);
            break;
        }
        PyList_SET_ITEM(result, v, item);
    }
done:
    Py_XDECREF(sizes);
    PyMem_RawFree(idom);
    PyMem_RawFree(retained);
    hw_graph_free(g);
    return result;
}

PyDoc_STRVAR(memstats_doc,
"memstats(text=None, /) -> (allocator, arenas, allocated, available,\n"
"                            unused_pools, malloc_free)\n\n"
"The free memory the allocators keep (memstats.h), in bytes: pymalloc's\n"
"arena bytes, bytes in allocated blocks, in available blocks and in unused\n"
"pools (all 0 unless allocator is 'pymalloc'; 'malloc' means pymalloc is\n"
"not the object allocator, 'mimalloc' that 3.13 runs mimalloc), and\n"
"mallinfo2().fordblks (0 without glibc 2.33+).  Runs no Python code.\n"
"For the tests, text is parsed as pymalloc's statistics instead (the\n"
"malloc figure is then 0).  RuntimeError if the statistics cannot be read.");

static PyObject *
hw_memstats_py(PyObject *module, PyObject *args)
{
    static const char *const allocators[] = {
        [HW_ALLOC_OTHER] = "malloc",
        [HW_ALLOC_PYMALLOC] = "pymalloc",
        [HW_ALLOC_MIMALLOC] = "mimalloc",
    };
    PyObject *arg = Py_None;
    const char *text = NULL;
    Py_ssize_t len = 0;
    if (!PyArg_ParseTuple(args, "|O:memstats", &arg)) {
        return NULL;
    }
    if (arg != Py_None) {
        if (!PyUnicode_Check(arg)) {
            PyErr_Format(PyExc_TypeError, "text must be a str or None, not %.100s",
                         Py_TYPE(arg)->tp_name);
            return NULL;
        }
        text = PyUnicode_AsUTF8AndSize(arg, &len);
        if (text == NULL) {
            return NULL;
        }
    }
    hw_memstats m = {0};
    int r = text != NULL ? hw_memstats_parse(text, (size_t)len, 1, &m)
                         : hw_memstats_read(&m);
    if (r < 0) {
        return NULL;
    }
    return Py_BuildValue("(sKKKKK)", allocators[m.allocator],
                         (unsigned long long)m.pymalloc_arenas,
                         (unsigned long long)m.pymalloc_allocated,
                         (unsigned long long)m.pymalloc_available,
                         (unsigned long long)m.pymalloc_unused_pools,
                         (unsigned long long)m.malloc_free);
}

static PyMethodDef hw_methods[] = {
    {"census", (PyCFunction)(void (*)(void))hw_census_py,
     METH_VARARGS | METH_KEYWORDS, census_doc},
    {"_bare_walk", hw_bare_walk_py, METH_NOARGS, bare_walk_doc},
    {"since_mark", hw_since_mark_py, METH_NOARGS, since_mark_doc},
    {"since_new", hw_since_new_py, METH_VARARGS, since_new_doc},
    {"at", hw_at_py, METH_O, at_doc},
    {"swap_baseline", hw_swap_baseline_py, METH_O, swap_baseline_doc},
    {"census_of", hw_census_of_py, METH_VARARGS, census_of_doc},
    {"_walk_is_direct", hw_walk_is_direct_py, METH_NOARGS,
     "_walk_is_direct() -> bool: False when the 3.11 layout check failed and "
     "the walk goes through gc.get_objects()."},
    {"_set_walk_direct", hw_set_walk_direct_py, METH_O,
     "_set_walk_direct(flag): for tests, switch between the direct walk and "
     "the gc.get_objects() fallback."},
    {"_dominators", hw_dominators_py, METH_VARARGS, dominators_doc},
    {"_retained", hw_retained_py, METH_VARARGS, retained_doc},
    {"memstats", hw_memstats_py, METH_VARARGS, memstats_doc},
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
    hw_state *st = hw_state_of_module(module);
    if (hw_shallow_init(&st->sizeofs) < 0 || hw_walk_init() < 0) {
        return -1;
    }
    if (hw_censusobject_init_types(module, st) < 0) {
        return -1;
    }
    if (PyModule_AddFunctions(module, hw_graph_methods) < 0
        || hw_graphobject_init(module, st) < 0) {
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

/* The module is in a cycle with each type made from it (the type holds
   the module, the state holds the type): the collector frees them
   together once nothing else refers to either.  The baseline is a Census,
   not a GC object, so the collector cannot see that it holds the Census
   type; while the state is its only owner, that reference is the module's
   own and is reported here as such (otherwise a module with a baseline
   would keep itself alive).  A baseline someone else also holds is not
   reported: it keeps the type, and the module, alive. */
static int
hw_traverse(PyObject *module, visitproc visit, void *arg)
{
    hw_state *st = hw_state_of_module(module);
    Py_VISIT(st->census_type);
    Py_VISIT(st->typestats_type);
    Py_VISIT(st->growthrow_type);
    Py_VISIT(st->graph_type);
    if (st->baseline != NULL && Py_REFCNT(st->baseline) == 1) {
        Py_VISIT(Py_TYPE(st->baseline));
    }
    return 0;
}

static int
hw_clear(PyObject *module)
{
    hw_state *st = hw_state_of_module(module);
    Py_CLEAR(st->baseline);
    Py_CLEAR(st->census_type);
    Py_CLEAR(st->typestats_type);
    Py_CLEAR(st->growthrow_type);
    Py_CLEAR(st->graph_type);
    Py_CLEAR(st->module_name_attr);
    hw_shallow_clear(&st->sizeofs);
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
