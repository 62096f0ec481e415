/* graphobject.c - see graphobject.h.
 *
 * Bindings only: each function parses its arguments, calls the C that
 * does the work (graphbuild.c builds, graphquery.c answers, snapfile.c
 * reads and writes, retention.c groups, capture.c forks the child that
 * builds and writes in the background) and makes Python values of the
 * answer.  What needs the interpreter stays here: argument and error
 * conversion, and releasing the GIL around the long computations.
 *
 * A Graph owns an hw_graph and, once asked, its dominator tree.  It holds
 * no Python object (the graph is plain arrays), so it is not a GC type and
 * never appears in a graph or census taken later.  Its type is in the
 * state of the module that made it (module.h).
 */

#include <Python.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "attrs.h"
#include "bigmem.h"
#include "capture.h"
#include "domtree.h"
#include "graph.h"
#include "graphbuild.h"
#include "graphobject.h"
#include "graphquery.h"
#include "memstats.h"
#include "module.h"
#include "retention.h"
#include "snapfile.h"

typedef struct {
    PyObject_HEAD
    hw_graph *g;
    uint32_t *reprs;            /* node -> string id, or NULL */
    uint32_t *idom;             /* NULL until dominators() */
    uint64_t *retained;
    /* Seconds per step of the build (graphbuild.h); all 0 for a graph read
       from a file. */
    double steps[HW_BUILD_STEPS];
} GraphObject;

static const char *const step_names[HW_BUILD_STEPS] = {
    [HW_STEP_WALK] = "walk",
    [HW_STEP_EDGES] = "edges",
    [HW_STEP_INDEX_HELD] = "index_held",
    [HW_STEP_PATHS] = "paths",
    [HW_STEP_NAMES] = "names",
};

static const char *const label_kind_names[HW_LABEL__COUNT] = {
    "none", "attr", "key", "index", "member", "dictkey", "local", "closure", "field",
};

/* A new Graph of the module whose state is st, owning g and reprs (freed
   here on failure). */
static PyObject *
wrap_graph(hw_state *st, hw_graph *g, uint32_t *reprs)
{
    GraphObject *self = PyObject_New(GraphObject, st->graph_type);
    if (self == NULL) {
        hw_graph_free(g);
        hw_big_free(reprs);
        return NULL;
    }
    self->g = g;
    self->reprs = reprs;
    self->idom = NULL;
    self->retained = NULL;
    memset(self->steps, 0, sizeof(self->steps));
    return (PyObject *)self;
}

static void
graph_dealloc(GraphObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    hw_graph_free(self->g);
    hw_big_free(self->reprs);
    hw_big_free(self->idom);
    hw_big_free(self->retained);
    PyObject_Free(self);
    Py_DECREF(tp);
}

/* ---- arguments and results ---------------------------------------------- */

static int
parse_node(GraphObject *self, PyObject *obj, hw_node *out)
{
    if (!PyLong_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "node must be an int, not %.100s",
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    unsigned long v = PyLong_AsUnsignedLong(obj);
    if (v == (unsigned long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        v = ULONG_MAX;
    }
    if (v >= self->g->n_nodes) {
        PyErr_Format(PyExc_IndexError, "no node %R in a graph of %u nodes",
                     obj, self->g->n_nodes);
        return -1;
    }
    *out = (hw_node)v;
    return 0;
}

static PyObject *
str_of(const hw_graph *g, uint32_t id)
{
    if (id >= g->strings.n) {
        Py_RETURN_NONE;
    }
    return PyUnicode_DecodeUTF8(g->strings.s[id], g->strings.len[id], "replace");
}

static PyObject *
type_name_of(const hw_graph *g, hw_node v)
{
    return str_of(g, g->type_name[g->type[v]]);
}

/* The label of the edge into v, as a Python value: str, int or None. */
static PyObject *
label_value(const hw_graph *g, hw_node v)
{
    switch (g->label_kind[v]) {
    case HW_LABEL_INDEX:
        return PyLong_FromUnsignedLong(g->label[v]);
    case HW_LABEL_ATTR:
    case HW_LABEL_KEY:
    case HW_LABEL_LOCAL:
    case HW_LABEL_CLOSURE:
    case HW_LABEL_FIELD:
        return str_of(g, g->label[v]);
    default:
        Py_RETURN_NONE;
    }
}

/* The UTF-8 texts of a type name (a str) or of a tuple of them, for
   graphquery.h: a PyMem array of pointers borrowed from the strs (valid
   while `names` lives), *n set.  NULL with an exception set: TypeError for
   an item that is not a str. */
static const char **
type_names_arg(PyObject *names, Py_ssize_t *n)
{
    PyObject *one[1] = {names};
    PyObject *const *items = one;
    *n = 1;
    if (PyTuple_Check(names)) {
        items = &PyTuple_GET_ITEM(names, 0);
        *n = PyTuple_GET_SIZE(names);
    }
    const char **texts = PyMem_Malloc(((size_t)*n + 1) * sizeof(char *));
    if (texts == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < *n; i++) {
        texts[i] = PyUnicode_Check(items[i]) ? PyUnicode_AsUTF8(items[i]) : NULL;
        if (texts[i] == NULL) {
            PyMem_Free(texts);
            if (!PyErr_Occurred()) {
                PyErr_Format(PyExc_TypeError, "a type name must be a str, not %.100s",
                             Py_TYPE(items[i])->tp_name);
            }
            return NULL;
        }
    }
    return texts;
}

/* The types of g that a name or a tuple of names selects (graphquery.h):
   n_types + 1 flags, to free; NULL with an exception set. */
static uint8_t *
match_types_arg(const hw_graph *g, PyObject *names)
{
    Py_ssize_t n;
    const char **texts = type_names_arg(names, &n);
    if (texts == NULL) {
        return NULL;
    }
    uint8_t *match = hw_query_match_types(g, texts, (size_t)n);
    PyMem_Free(texts);
    if (match == NULL) {
        PyErr_NoMemory();
    }
    return match;
}

/* adj[from .. to) as a list of ints. */
static PyObject *
node_list(const uint32_t *adj, uint32_t from, uint32_t to)
{
    PyObject *list = PyList_New((Py_ssize_t)(to - from));
    if (list == NULL) {
        return NULL;
    }
    for (uint32_t e = from; e < to; e++) {
        PyObject *x = PyLong_FromUnsignedLong(adj[e]);
        if (x == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)(e - from), x);
    }
    return list;
}

/* A node list from graphquery.h (NULL: it ran out of memory) as a list
   of ints; the array is freed. */
static PyObject *
node_list_of(hw_node *nodes, uint32_t n)
{
    if (nodes == NULL) {
        return PyErr_NoMemory();
    }
    PyObject *list = node_list(nodes, 0, n);
    free(nodes);
    return list;
}

/* Appends item (a new reference, or NULL after an error) to list; on
   failure clears *list.  Returns 0 or -1. */
static int
append_new(PyObject **list, PyObject *item)
{
    if (item == NULL || PyList_Append(*list, item) < 0) {
        Py_XDECREF(item);
        Py_CLEAR(*list);
        return -1;
    }
    Py_DECREF(item);
    return 0;
}

/* ---- building ----------------------------------------------------------- */

PyDoc_STRVAR(graph_doc,
"graph(roots, *, exclude=(), targets=None, labels='targets') -> Graph\n\n"
"Build the reference graph of the heap: every object the garbage collector\n"
"tracks and the untracked objects they refer to, with the shortest path\n"
"to each from a root.  roots is a list of (label, object) tuples: the named\n"
"roots, in the order paths prefer them (objects held from outside the graph\n"
"are roots too, after them).  The objects in exclude (and the roots list\n"
"itself) are left out.  targets, a type, a tuple of type names ('Model' or\n"
"'app.models.Model') or a list of objects, marks the\n"
"nodes to explain (quiet, a tuple of containers, e.g. the caller's\n"
"namespace: their references to targets are not followed); labels is\n"
"'targets' (name the edges on their paths),\n"
"'all' (every path-tree edge, for a snapshot file) or 'none'.  reprs=True\n"
"keeps the repr (80 characters at most) of every str, bytes, int and float:\n"
"contents are not kept otherwise.  threads: None (a second thread resolves\n"
"references on big heaps when two CPUs are available), True or False; the\n"
"graph is the same.  memory=True records the process's memory figures\n"
"(RSS, the allocators' free and used bytes), read before the build, in the\n"
"graph (info['memory'], saved with it).  Raises the audit event\n"
"'heapwatch.graph' with argument reprs.");

/* The objects the build never makes nodes, as hw_build_spec takes them:
   the items of the tuple excl, and the binding's own temporaries (excl
   itself, and a and b unless NULL), which would otherwise show as holders.
   (No Python code runs in the build, so they cannot change under it.)
   PyMem_Free the array; NULL with MemoryError. */
static PyObject **
exclusion(PyObject *excl, PyObject *a, PyObject *b, Py_ssize_t *n)
{
    Py_ssize_t nx = PyTuple_GET_SIZE(excl);
    PyObject **xs = PyMem_Malloc(((size_t)nx + 3) * sizeof(PyObject *));
    if (xs == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < nx; i++) {
        xs[i] = PyTuple_GET_ITEM(excl, i);
    }
    xs[nx++] = excl;
    if (a != NULL) {
        xs[nx++] = a;
    }
    if (b != NULL) {
        xs[nx++] = b;
    }
    *n = nx;
    return xs;
}

/* The process's memory figures for a graph (memory=True), or -1 when
   they cannot be read: the graph is then built without them (the
   snapshot matters more than its memory section), the reason dropped. */
static int
read_memory(uint64_t memory[HW_MEMORY_FIELDS])
{
    if (hw_memory_read(memory) < 0) {
        PyErr_Clear();
        return -1;
    }
    return 0;
}

static PyObject *
hw_graph_py(PyObject *module, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"roots", "exclude", "targets", "labels", "reprs", "quiet",
                             "threads", "memory", NULL};
    PyObject *roots, *exclude = NULL, *targets = Py_None, *quiet = NULL, *threads_obj = Py_None;
    const char *labels = "targets";
    int want_reprs = 0, want_memory = 0, entered = 0;
    uint64_t memory[HW_MEMORY_FIELDS];
    hw_state *st = hw_state_of_module(module);
    hw_build_spec spec = {.targets = HW_TARGETS_NONE, .threads = -1, .sizeofs = &st->sizeofs};
    hw_built built;
    /* Owned; released at `done`. */
    PyObject *excl = NULL, *targets_list = NULL, *result = NULL;
    PyObject **xs = NULL;
    const char **names = NULL;

    if (hw_enter("graph") < 0) {
        goto done;
    }
    entered = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!|$OOspOOp:graph", kwlist,
                                     &PyList_Type, &roots, &exclude, &targets, &labels,
                                     &want_reprs, &quiet, &threads_obj, &want_memory)) {
        goto done;
    }
    if (threads_obj != Py_None) {
        spec.threads = PyObject_IsTrue(threads_obj);
        if (spec.threads < 0) {
            goto done;
        }
    }
    if (quiet != NULL && !PyTuple_Check(quiet)) {
        PyErr_SetString(PyExc_TypeError, "quiet must be a tuple of objects");
        goto done;
    }
    if (strcmp(labels, "targets") == 0) {
        spec.labels = HW_LABELS_TARGETS;
    }
    else if (strcmp(labels, "all") == 0) {
        spec.labels = HW_LABELS_ALL;
    }
    else if (strcmp(labels, "none") == 0) {
        spec.labels = HW_LABELS_NONE;
    }
    else {
        PyErr_Format(PyExc_ValueError, "labels must be 'targets', 'all' or 'none', not '%s'",
                     labels);
        goto done;
    }
    excl = exclude ? PySequence_Tuple(exclude) : PyTuple_New(0);
    if (excl == NULL) {
        goto done;
    }
    int by_names = PyTuple_Check(targets) && PyTuple_GET_SIZE(targets) > 0
                   && PyUnicode_Check(PyTuple_GET_ITEM(targets, 0));
    if (targets != Py_None && !PyType_Check(targets) && !by_names) {
        targets_list = PySequence_List(targets);
        if (targets_list == NULL) {
            goto done;
        }
    }
    if (PySys_Audit("heapwatch.graph", "O", want_reprs ? Py_True : Py_False) < 0) {
        goto done;
    }
    if (by_names) {
        names = type_names_arg(targets, &spec.n_targets);
        if (names == NULL) {
            goto done;
        }
        spec.targets = HW_TARGETS_NAMES;
        spec.target_names = names;
    }
    else if (PyType_Check(targets)) {
        spec.targets = HW_TARGETS_TYPE;
        spec.target_type = (PyTypeObject *)targets;
    }
    else if (targets_list != NULL) {
        spec.targets = HW_TARGETS_OBJECTS;
        spec.target_objects = PySequence_Fast_ITEMS(targets_list);
        spec.n_targets = PyList_GET_SIZE(targets_list);
    }
    if (quiet != NULL) {
        spec.quiet = PySequence_Fast_ITEMS(quiet);
        spec.n_quiet = PyTuple_GET_SIZE(quiet);
    }
    Py_ssize_t nx;
    xs = exclusion(excl, targets_list, quiet, &nx);
    if (xs == NULL) {
        goto done;
    }
    spec.roots = roots;
    spec.exclude = xs;
    spec.n_exclude = nx;
    spec.reprs = want_reprs;
    if (want_memory && read_memory(memory) == 0) {
        spec.memory = memory;
    }
    if (hw_build_graph(&spec, &built) < 0) {
        goto done;
    }
    result = wrap_graph(st, built.g, built.reprs);
    if (result != NULL) {
        memcpy(((GraphObject *)result)->steps, built.seconds, sizeof(built.seconds));
    }
done:
    PyMem_Free(names);
    PyMem_Free(xs);
    Py_XDECREF(excl);
    Py_XDECREF(targets_list);
    if (entered) {
        hw_leave();
    }
    return result;
}

/* ---- capture ------------------------------------------------------------- */

#define REAPER_CAPSULE "heapwatch._engine.reaper"

static void
reaper_capsule_free(PyObject *capsule)
{
    hw_reaper_release(PyCapsule_GetPointer(capsule, REAPER_CAPSULE));
}

PyDoc_STRVAR(capture_doc,
"capture(path, roots, /, exclude=(), reprs=False, memory=False) -> (pid, report_fd, reaper)\n\n"
"Fork a child that builds the graph of this heap as graph(roots,\n"
"exclude=exclude, labels='all', reprs=reprs, memory=memory) would (the\n"
"memory figures read in this process, before the fork), writes it to path as\n"
"Graph.save() does, and exits (capture.h).  Returns at once, with the\n"
"child's pid, the read end of its report pipe (the caller's to close) and\n"
"the handle capture_state() reads.  Raises the audit event\n"
"'heapwatch.capture' with arguments path, reprs.");

static PyObject *
hw_capture_py(PyObject *module, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"path", "roots", "exclude", "reprs", "memory", NULL};
    PyObject *path_obj, *roots, *exclude = NULL, *path_bytes = NULL, *excl = NULL;
    PyObject *result = NULL;
    PyObject **xs = NULL;
    int want_reprs = 0, want_memory = 0, entered = 0;
    uint64_t memory[HW_MEMORY_FIELDS];
    hw_state *st = hw_state_of_module(module);

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO!|Opp:capture", kwlist, &path_obj,
                                     &PyList_Type, &roots, &exclude, &want_reprs,
                                     &want_memory)) {
        return NULL;
    }
    if (!PyUnicode_FSConverter(path_obj, &path_bytes)) {
        return NULL;
    }
    if (PySys_Audit("heapwatch.capture", "OO", path_obj,
                    want_reprs ? Py_True : Py_False) < 0) {
        goto done;
    }
    if (hw_enter("capture") < 0) {
        goto done;
    }
    entered = 1;
    excl = exclude ? PySequence_Tuple(exclude) : PyTuple_New(0);
    if (excl == NULL) {
        goto done;
    }
    Py_ssize_t nx;
    xs = exclusion(excl, NULL, NULL, &nx);
    if (xs == NULL) {
        goto done;
    }
    hw_build_spec spec = {
        .roots = roots, .exclude = xs, .n_exclude = nx,
        .targets = HW_TARGETS_NONE, .labels = HW_LABELS_ALL, .reprs = want_reprs,
        .threads = 0, .sizeofs = &st->sizeofs,
        /* Read here, in the parent: the child's own RSS is not the
           process's. */
        .memory = want_memory && read_memory(memory) == 0 ? memory : NULL,
    };
    pid_t pid;
    int fd;
    hw_reaper *reaper;
    if (hw_capture_start(&spec, PyBytes_AS_STRING(path_bytes), &pid, &fd, &reaper) < 0) {
        goto done;
    }
    PyObject *capsule = PyCapsule_New(reaper, REAPER_CAPSULE, reaper_capsule_free);
    if (capsule == NULL) {
        /* The child runs on, and its reaper reaps it. */
        hw_reaper_release(reaper);
        close(fd);
        goto done;
    }
    result = Py_BuildValue("(liN)", (long)pid, fd, capsule);
    if (result == NULL) {
        close(fd);
    }
done:
    if (entered) {
        hw_leave();
    }
    PyMem_Free(xs);
    Py_XDECREF(excl);
    Py_XDECREF(path_bytes);
    return result;
}

PyDoc_STRVAR(capture_state_doc,
"capture_state(reaper, /) -> None | (how, value)\n\n"
"None while the capture's child runs; then ('exited', exit code),\n"
"('signaled', signal number), or ('unknown', None) when something else\n"
"reaped it.");

static PyObject *
hw_capture_state_py(PyObject *module, PyObject *capsule)
{
    hw_reaper *r = PyCapsule_GetPointer(capsule, REAPER_CAPSULE);
    if (r == NULL) {
        return NULL;
    }
    int status = 0;
    switch (hw_reaper_poll(r, &status)) {
    case HW_CHILD_RUNNING:
        Py_RETURN_NONE;
    case HW_CHILD_EXITED:
        if (WIFSIGNALED(status)) {
            return Py_BuildValue("(si)", "signaled", WTERMSIG(status));
        }
        return Py_BuildValue("(si)", "exited", WEXITSTATUS(status));
    default:
        return Py_BuildValue("(sO)", "unknown", Py_None);
    }
}

/* ---- files -------------------------------------------------------------- */

/* A path argument as the os module takes one: str, bytes or os.PathLike.
   *fspath (str or bytes) is what errors show and OSError.filename holds;
   *fsbytes is what the system is given. */
static int
snap_path(PyObject *arg, PyObject **fspath, PyObject **fsbytes)
{
    *fsbytes = NULL;
    *fspath = PyOS_FSPath(arg);
    if (*fspath == NULL) {
        return -1;
    }
    if (!PyUnicode_FSConverter(*fspath, fsbytes)) {
        Py_CLEAR(*fspath);
        return -1;
    }
    return 0;
}

/* Raises the exception for a failed hw_snap_load() / hw_snap_save():
   OSError (its errno's subclass) with filename for a system call,
   OSError for a file that is not a regular one,
   ValueError for what the file or graph holds, MemoryError.  Messages
   show the path as a str repr: readable, whatever its bytes. */
static PyObject *
raise_snap_error(const hw_snap_error *e, PyObject *fspath, PyObject *fsbytes)
{
    PyObject *exc = NULL, *text = NULL, *shown = NULL;

    if (e->status == HW_SNAP_ENOMEM) {
        return PyErr_NoMemory();
    }
    if (e->status == HW_SNAP_ESYS && e->msg[0] == '\0') {
        errno = e->errnum;
        return PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, fspath);
    }
    if (e->status == HW_SNAP_ESYS) {
        text = PyUnicode_FromFormat("%s (%s)", strerror(e->errnum), e->msg);
        if (text != NULL) {
            exc = PyObject_CallFunction(PyExc_OSError, "iOO", e->errnum, text, fspath);
        }
        goto raise;
    }
    if (PyUnicode_Check(fspath)) {
        shown = Py_NewRef(fspath);
    }
    else {
        shown = PyUnicode_DecodeFSDefaultAndSize(PyBytes_AS_STRING(fsbytes),
                                                 PyBytes_GET_SIZE(fsbytes));
        if (shown == NULL) {
            return NULL;
        }
    }
    text = PyUnicode_FromFormat("%R: %s", shown, e->msg[0] ? e->msg : "cannot read snapshot");
    if (text == NULL) {
        goto raise;
    }
    /* No errno says "not a regular file": a plain OSError, as shutil's
       SpecialFileError (one with a filename but no errno would print as
       "[Errno None] None: ..."). */
    exc = PyObject_CallOneArg(e->status == HW_SNAP_ENOTREG ? PyExc_OSError : PyExc_ValueError,
                              text);

raise:
    if (exc != NULL) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
    Py_XDECREF(text);
    Py_XDECREF(shown);
    return NULL;
}

PyDoc_STRVAR(load_doc,
"load(path) -> Graph\n\n"
"Read a snapshot file written by Graph.save().  path is a str, bytes or\n"
"os.PathLike.  A file that is not a heapwatch snapshot, truncated or\n"
"corrupt raises ValueError, judged from its first bytes and its size\n"
"before the rest is read.  Only a regular file is read: a directory\n"
"raises IsADirectoryError, a FIFO, device or socket OSError (\"not a\n"
"regular file\"), never opened for reading or blocking.");

static PyObject *
hw_load_py(PyObject *module, PyObject *arg)
{
    PyObject *fspath = NULL, *fsbytes = NULL, *result = NULL;
    uint32_t *reprs = NULL;
    const char *cpath;
    hw_snap_error e;
    hw_graph *g;

    if (snap_path(arg, &fspath, &fsbytes) < 0) {
        goto done;
    }
    cpath = PyBytes_AS_STRING(fsbytes);
    Py_BEGIN_ALLOW_THREADS
    g = hw_snap_load(cpath, &reprs, &e);
    Py_END_ALLOW_THREADS
    if (g == NULL) {
        raise_snap_error(&e, fspath, fsbytes);
        goto done;
    }
    result = wrap_graph(hw_state_of_module(module), g, reprs);
done:
    Py_XDECREF(fspath);
    Py_XDECREF(fsbytes);
    return result;
}

/* ---- Graph methods ------------------------------------------------------ */

static PyObject *
graph_save(GraphObject *self, PyObject *arg)
{
    PyObject *fspath, *fsbytes;
    if (snap_path(arg, &fspath, &fsbytes) < 0) {
        return NULL;
    }
    if (PySys_Audit("heapwatch.snapshot.save", "O", arg) < 0) {
        Py_DECREF(fspath);
        Py_DECREF(fsbytes);
        return NULL;
    }
    const char *cpath = PyBytes_AS_STRING(fsbytes);
    hw_snap_error e;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = hw_snap_save(self->g, self->reprs, cpath, &e);
    Py_END_ALLOW_THREADS
    PyObject *result = rc == 0 ? Py_NewRef(Py_None) : raise_snap_error(&e, fspath, fsbytes);
    Py_DECREF(fspath);
    Py_DECREF(fsbytes);
    return result;
}

static PyObject *
graph_find(GraphObject *self, PyObject *arg)
{
    if (!PyLong_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "address must be an int, not %.100s",
                     Py_TYPE(arg)->tp_name);
        return NULL;
    }
    unsigned long long a = PyLong_AsUnsignedLongLong(arg);
    if (a == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    hw_node v = hw_graph_find(self->g, (uint64_t)a);
    if (v == HW_NONE) {
        Py_RETURN_NONE;
    }
    return PyLong_FromUnsignedLong(v);
}

static PyObject *
graph_node(GraphObject *self, PyObject *arg)
{
    hw_node v;
    if (parse_node(self, arg, &v) < 0) {
        return NULL;
    }
    hw_graph *g = self->g;
    PyObject *name = type_name_of(g, v);
    if (name == NULL) {
        return NULL;
    }
    PyObject *repr = Py_None;
    if (self->reprs != NULL && self->reprs[v] != HW_NONE) {
        repr = str_of(g, self->reprs[v]);
        if (repr == NULL) {
            Py_DECREF(name);
            return NULL;
        }
    }
    else {
        Py_INCREF(repr);
    }
    return Py_BuildValue("(NKKNNN)", name, (unsigned long long)g->addr[v],
                         (unsigned long long)g->size[v],
                         PyBool_FromLong((g->flags[v] & HW_HELD) != 0),
                         PyBool_FromLong(v < g->n_tracked), repr);
}

static PyObject *
graph_referents(GraphObject *self, PyObject *arg)
{
    hw_node v;
    if (parse_node(self, arg, &v) < 0) {
        return NULL;
    }
    return node_list(self->g->out_adj, self->g->out_off[v], self->g->out_off[v + 1]);
}

/* The referrer arrays, made on first need (under the GIL; once made they
   never change, so readers without the GIL are safe). */
static int
ensure_in_edges(GraphObject *self)
{
    if (self->g->in_off == NULL && hw_graph_transpose(self->g) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static PyObject *
graph_referrers(GraphObject *self, PyObject *arg)
{
    hw_node v;
    if (parse_node(self, arg, &v) < 0 || ensure_in_edges(self) < 0) {
        return NULL;
    }
    return node_list(self->g->in_adj, self->g->in_off[v], self->g->in_off[v + 1]);
}

/* (root label or None, held, [(type, address, kind, label), ...]) from the
   root down to v; steps[0] is the root object (kind "root"). */
static PyObject *
graph_path(GraphObject *self, PyObject *arg)
{
    hw_node v;
    if (parse_node(self, arg, &v) < 0) {
        return NULL;
    }
    hw_graph *g = self->g;
    if (g->parent == NULL) {
        Py_RETURN_NONE;
    }
    hw_node top = v;
    Py_ssize_t len = 1;
    while (g->parent[top] != HW_NONE) {
        top = g->parent[top];
        len++;
    }
    int named = g->root_of[top] != HW_NONE;
    int held = (g->flags[top] & HW_HELD) != 0;
    if (!named && !held) {
        Py_RETURN_NONE;         /* unreachable from every root */
    }
    PyObject *steps = PyList_New(len);
    if (steps == NULL) {
        return NULL;
    }
    Py_ssize_t i = len - 1;
    for (hw_node x = v; ; x = g->parent[x], i--) {
        int is_root = g->parent[x] == HW_NONE;
        PyObject *step = Py_BuildValue(
            "(NKsN)", type_name_of(g, x), (unsigned long long)g->addr[x],
            is_root ? "root" : label_kind_names[g->label_kind[x]],
            is_root ? Py_NewRef(Py_None) : label_value(g, x));
        if (step == NULL) {
            Py_DECREF(steps);
            return NULL;
        }
        PyList_SET_ITEM(steps, i, step);
        if (is_root) {
            break;
        }
    }
    PyObject *label = named ? str_of(g, g->root_label[g->root_of[top]]) : Py_NewRef(Py_None);
    if (label == NULL) {
        Py_DECREF(steps);
        return NULL;
    }
    return Py_BuildValue("(NON)", label, held && !named ? Py_True : Py_False, steps);
}

/* The dominator tree and retained sizes, made on first need, without the
   GIL (the graph only is read). */
static int
ensure_dominators(GraphObject *self)
{
    if (self->idom != NULL) {
        return 0;
    }
    if (ensure_in_edges(self) < 0) {
        return -1;
    }
    uint32_t *idom = NULL;
    uint64_t *retained = NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = hw_query_dominators(self->g, &idom, &retained);
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        PyErr_NoMemory();
        return -1;
    }
    if (self->idom != NULL) {
        /* Another thread computed them while the GIL was released. */
        hw_big_free(idom);
        hw_big_free(retained);
        return 0;
    }
    self->idom = idom;
    self->retained = retained;
    return 0;
}

static PyObject *
graph_retained(GraphObject *self, PyObject *arg)
{
    hw_node v;
    if (parse_node(self, arg, &v) < 0 || ensure_dominators(self) < 0) {
        return NULL;
    }
    return PyLong_FromUnsignedLongLong(self->retained[v]);
}

static PyObject *
graph_idom(GraphObject *self, PyObject *arg)
{
    hw_node v;
    if (parse_node(self, arg, &v) < 0 || ensure_dominators(self) < 0) {
        return NULL;
    }
    uint32_t d = self->idom[v];
    if (d == HW_NONE || d == self->g->n_nodes) {
        Py_RETURN_NONE;
    }
    return PyLong_FromUnsignedLong(d);
}

/* top_retainers(n) -> [(node, retained)], largest first. */
static PyObject *
graph_top_retainers(GraphObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"n", NULL};
    Py_ssize_t limit = 10;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|n:top_retainers", kwlist, &limit)) {
        return NULL;
    }
    if (limit < 0) {
        PyErr_SetString(PyExc_ValueError, "n must be >= 0");
        return NULL;
    }
    if (ensure_dominators(self) < 0) {
        return NULL;
    }
    size_t have;
    /* Under the GIL: hw_query_top_retained is not reentrant. */
    uint32_t *best = hw_query_top_retained(self->retained, self->g->n_nodes, (size_t)limit,
                                           &have);
    if (best == NULL) {
        return PyErr_NoMemory();
    }
    PyObject *list = PyList_New((Py_ssize_t)have);
    for (size_t i = 0; list != NULL && i < have; i++) {
        PyObject *t = Py_BuildValue("(kK)", (unsigned long)best[i],
                                    (unsigned long long)self->retained[best[i]]);
        if (t == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, t);
    }
    hw_big_free(best);
    return list;
}

/* The nodes to group: a sequence of node ids, None for the targets
   marked when the graph was built, or "all".  A malloc'd array (*n set),
   or NULL with an exception set. */
static hw_node *
target_array(GraphObject *self, PyObject *nodes, uint32_t *n)
{
    hw_node *out;
    *n = 0;
    int all = PyUnicode_Check(nodes) && PyUnicode_CompareWithASCIIString(nodes, "all") == 0;
    if (nodes == Py_None || all) {
        out = hw_query_nodes(self->g, NULL, all ? 0 : HW_TARGET, n);
        if (out == NULL) {
            PyErr_NoMemory();
        }
        return out;
    }
    if (PyUnicode_Check(nodes)) {
        PyErr_SetString(PyExc_ValueError, "nodes must be a sequence of node ids, None or 'all'");
        return NULL;
    }
    PyObject *seq = PySequence_Fast(nodes, "nodes must be a sequence of node ids");
    if (seq == NULL) {
        return NULL;
    }
    Py_ssize_t len = PySequence_Fast_GET_SIZE(seq);
    out = malloc(((size_t)len + 1) * sizeof(hw_node));
    if (out == NULL) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < len; i++) {
        if (parse_node(self, PySequence_Fast_GET_ITEM(seq, i), &out[i]) < 0) {
            Py_DECREF(seq);
            free(out);
            return NULL;
        }
    }
    *n = (uint32_t)len;
    Py_DECREF(seq);
    return out;
}

static const char *
shape_kind_name(const hw_shapes *s, uint32_t id)
{
    if (s->parent[id] == HW_NONE) {
        return s->kind[id] == HW_SHAPE_NAMED ? "root"
            : s->kind[id] == HW_SHAPE_HELD ? "held" : "unreached";
    }
    return s->kind[id] < HW_LABEL__COUNT ? label_kind_names[s->kind[id]] : "none";
}

/* A shape as [(type, kind, name or None), ...] from its root down. */
static PyObject *
shape_steps(const hw_graph *g, const hw_shapes *s, uint32_t id)
{
    Py_ssize_t len = 0;
    for (uint32_t x = id; x != HW_NONE; x = s->parent[x]) {
        len++;
    }
    PyObject *list = PyList_New(len);
    if (list == NULL) {
        return NULL;
    }
    Py_ssize_t i = len - 1;
    for (uint32_t x = id; x != HW_NONE; x = s->parent[x], i--) {
        PyObject *name = s->value[x] == HW_NONE ? Py_NewRef(Py_None) : str_of(g, s->value[x]);
        PyObject *t = name ? Py_BuildValue("(NsN)", str_of(g, g->type_name[s->type[x]]),
                                           shape_kind_name(s, x), name) : NULL;
        if (t == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, t);
    }
    return list;
}

static PyObject *
graph_retention(GraphObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"nodes", "limit", "retained", "by", NULL};
    PyObject *nodes = Py_None, *limit_obj = Py_None;
    int want_retained = 1;
    const char *by = "count";
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OOps:retention", kwlist,
                                     &nodes, &limit_obj, &want_retained, &by)) {
        return NULL;
    }
    int by_retained = strcmp(by, "retained") == 0;
    if (!by_retained && strcmp(by, "count") != 0) {
        PyErr_Format(PyExc_ValueError, "by must be 'count' or 'retained', not '%s'", by);
        return NULL;
    }
    if (by_retained && !want_retained) {
        PyErr_SetString(PyExc_ValueError, "by='retained' needs retained=True");
        return NULL;
    }
    Py_ssize_t limit = PY_SSIZE_T_MAX;
    if (limit_obj != Py_None) {
        limit = PyLong_AsSsize_t(limit_obj);
        if (limit == -1 && PyErr_Occurred()) {
            return NULL;
        }
        if (limit < 0) {
            PyErr_SetString(PyExc_ValueError, "limit must be None or >= 0");
            return NULL;
        }
    }
    hw_graph *g = self->g;
    if (g->parent == NULL) {
        /* The graph is never changed after it is made (other threads may
           be reading it with the GIL released): no path tree, no groups. */
        PyErr_SetString(PyExc_ValueError, "this graph has no path tree");
        return NULL;
    }
    uint32_t n_targets;
    hw_node *targets = target_array(self, nodes, &n_targets);
    if (targets == NULL) {
        return NULL;
    }
    if (want_retained && ensure_dominators(self) < 0) {
        free(targets);
        return NULL;
    }
    hw_shapes shapes;
    memset(&shapes, 0, sizeof(shapes));
    hw_group *groups = NULL;
    uint32_t ng = 0;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = hw_retention(g, targets, n_targets, want_retained ? self->idom : NULL,
                      want_retained ? self->retained : NULL, &shapes, &groups, &ng);
    if (rc == 0 && by_retained) {
        hw_groups_sort_by_retained(groups, ng);
    }
    Py_END_ALLOW_THREADS
    free(targets);
    if (rc < 0) {
        hw_shapes_clear(&shapes);
        return PyErr_NoMemory();
    }
    Py_ssize_t count = (Py_ssize_t)ng < limit ? (Py_ssize_t)ng : limit;
    PyObject *list = PyList_New(count);
    for (Py_ssize_t i = 0; list != NULL && i < count; i++) {
        hw_group *gr = &groups[i];
        PyObject *steps = shape_steps(g, &shapes, gr->shape);
        PyObject *t = steps ? Py_BuildValue(
            "(KKNkN)", (unsigned long long)gr->count, (unsigned long long)gr->bytes,
            want_retained ? PyLong_FromUnsignedLongLong(gr->retained) : Py_NewRef(Py_None),
            (unsigned long)gr->example, steps) : NULL;
        if (t == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, t);
    }
    free(groups);
    hw_shapes_clear(&shapes);
    return list;
}

/* retained_by_type() -> [(type, count, bytes, retained)] in type order:
   per type, the union of the dominator subtrees of its objects. */
static PyObject *
graph_retained_by_type(GraphObject *self, PyObject *Py_UNUSED(ignored))
{
    if (ensure_dominators(self) < 0) {
        return NULL;
    }
    hw_graph *g = self->g;
    hw_group *groups;
    Py_BEGIN_ALLOW_THREADS
    groups = hw_query_retained_by_type(g, self->idom, self->retained);
    Py_END_ALLOW_THREADS
    if (groups == NULL) {
        return PyErr_NoMemory();
    }
    PyObject *list = PyList_New(0);
    for (uint32_t t = 0; list != NULL && t < g->n_types; t++) {
        if (groups[t].count == 0) {
            continue;
        }
        append_new(&list, Py_BuildValue("(NKKK)", str_of(g, g->type_name[t]),
                                        (unsigned long long)groups[t].count,
                                        (unsigned long long)groups[t].bytes,
                                        (unsigned long long)groups[t].retained));
    }
    free(groups);
    return list;
}

/* domtree(k=2000) -> [(node, parent, type, count, retained)]: the
   dominator tree cut to the k largest retainers plus, below each of them,
   the rest of its dominator children summed up by type (domtree.h).  node
   is None for a rest row; parent is a node, None for the virtual root
   (held by the roots only) or -1 (unreachable: garbage). */
static PyObject *
graph_domtree(GraphObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"k", NULL};
    Py_ssize_t k = 2000;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|n:domtree", kwlist, &k)) {
        return NULL;
    }
    if (k < 0) {
        PyErr_SetString(PyExc_ValueError, "k must be >= 0");
        return NULL;
    }
    if (ensure_dominators(self) < 0) {
        return NULL;
    }
    hw_graph *g = self->g;
    hw_domrow *rows;
    size_t n_rows;
    int rc;
    /* Under the GIL: hw_domtree sorts with a static key, like
       hw_query_top_retained. */
    rc = hw_domtree(g, self->idom, self->retained, (size_t)k, &rows, &n_rows);
    if (rc < 0) {
        return PyErr_NoMemory();
    }
    PyObject *list = PyList_New(0);
    for (size_t i = 0; list != NULL && i < n_rows; i++) {
        const hw_domrow *r = &rows[i];
        PyObject *node = r->node == HW_NONE ? Py_NewRef(Py_None)
                         : PyLong_FromUnsignedLong(r->node);
        PyObject *parent = r->parent == g->n_nodes ? Py_NewRef(Py_None)
                           : r->parent == HW_NONE ? PyLong_FromLong(-1)
                           : PyLong_FromUnsignedLong(r->parent);
        append_new(&list, node == NULL || parent == NULL ? NULL
                   : Py_BuildValue("(OONKK)", node, parent, str_of(g, g->type_name[r->type]),
                                   (unsigned long long)r->count,
                                   (unsigned long long)r->retained));
        Py_XDECREF(node);
        Py_XDECREF(parent);
    }
    free(rows);
    return list;
}

/* census() -> [(type, count, bytes)] in type order (first sighting). */
static PyObject *
graph_census(GraphObject *self, PyObject *Py_UNUSED(ignored))
{
    hw_graph *g = self->g;
    uint64_t *count, *bytes;
    if (hw_query_type_totals(g, &count, &bytes) < 0) {
        return PyErr_NoMemory();
    }
    PyObject *list = PyList_New(0);
    for (uint32_t t = 0; list != NULL && t < g->n_types; t++) {
        if (count[t] == 0) {
            continue;
        }
        append_new(&list, Py_BuildValue("(NKK)", str_of(g, g->type_name[t]),
                                        (unsigned long long)count[t],
                                        (unsigned long long)bytes[t]));
    }
    free(count);
    free(bytes);
    return list;
}

/* nodes_of(type_name) -> [node] */
static PyObject *
graph_nodes_of(GraphObject *self, PyObject *arg)
{
    if (!PyUnicode_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "type name must be a str, not %.100s",
                     Py_TYPE(arg)->tp_name);
        return NULL;
    }
    uint8_t *match = match_types_arg(self->g, arg);
    if (match == NULL) {
        return NULL;
    }
    uint32_t n = 0;
    hw_node *nodes = hw_query_nodes(self->g, match, 0, &n);
    free(match);
    return node_list_of(nodes, n);
}

/* new_since(earlier, type_names) -> [node]: the nodes of these types whose
   object is not in `earlier` (graphquery.h). */
static PyObject *
graph_new_since(GraphObject *self, PyObject *args)
{
    PyObject *other_obj, *names;
    /* A Graph of the same module object (each has its own Graph type). */
    if (!PyArg_ParseTuple(args, "O!O!:new_since", Py_TYPE(self), &other_obj, &PyTuple_Type,
                          &names)) {
        return NULL;
    }
    uint8_t *match = match_types_arg(self->g, names);
    if (match == NULL) {
        return NULL;
    }
    uint32_t n = 0;
    hw_node *nodes = hw_query_new_since(self->g, ((GraphObject *)other_obj)->g, match, &n);
    free(match);
    return node_list_of(nodes, n);
}

static PyObject *
graph_targets(GraphObject *self, PyObject *Py_UNUSED(ignored))
{
    uint32_t n = 0;
    hw_node *nodes = hw_query_nodes(self->g, NULL, HW_TARGET, &n);
    return node_list_of(nodes, n);
}

static Py_ssize_t
graph_len(GraphObject *self)
{
    return (Py_ssize_t)self->g->n_nodes;
}

static PyObject *
graph_get_info(GraphObject *self, void *Py_UNUSED(closure))
{
    hw_graph *g = self->g;
    size_t graph_bytes, extra;
    hw_query_memory(g, self->idom != NULL, &graph_bytes, &extra);
    PyObject *steps = PyDict_New();
    for (int i = 0; steps != NULL && i < HW_BUILD_STEPS; i++) {
        PyObject *t = PyFloat_FromDouble(self->steps[i]);
        if (t == NULL || PyDict_SetItemString(steps, step_names[i], t) < 0) {
            Py_CLEAR(steps);
        }
        Py_XDECREF(t);
    }
    if (steps == NULL) {
        return NULL;
    }
    PyObject *memory;
    if (g->has_memory) {
        memory = Py_BuildValue("{s:K,s:K,s:K,s:K,s:K}",
                               "rss", (unsigned long long)g->memory[HW_MEM_RSS],
                               "pymalloc_free", (unsigned long long)g->memory[HW_MEM_PYMALLOC_FREE],
                               "malloc_free", (unsigned long long)g->memory[HW_MEM_MALLOC_FREE],
                               "pymalloc_used", (unsigned long long)g->memory[HW_MEM_PYMALLOC_USED],
                               "pymalloc_arenas",
                               (unsigned long long)g->memory[HW_MEM_PYMALLOC_ARENAS]);
        if (memory == NULL) {
            Py_DECREF(steps);
            return NULL;
        }
    }
    else {
        memory = Py_NewRef(Py_None);
    }
    return Py_BuildValue("{s:k,s:k,s:k,s:k,s:k,s:s,s:k,s:d,s:n,s:n,s:O,s:N,s:N}",
                         "nodes", (unsigned long)g->n_nodes,
                         "tracked", (unsigned long)g->n_tracked,
                         "edges", (unsigned long)g->n_edges,
                         "types", (unsigned long)g->n_types,
                         "roots", (unsigned long)g->n_roots,
                         "python_version", g->python_version,
                         "pointer_size", (unsigned long)g->pointer_size,
                         "created", g->created,
                         "graph_bytes", (Py_ssize_t)graph_bytes,
                         "analysis_bytes", (Py_ssize_t)extra,
                         "has_reprs", self->reprs ? Py_True : Py_False,
                         "build_seconds", steps,
                         "memory", memory);
}

static PyMethodDef graph_methods[] = {
    {"save", (PyCFunction)graph_save, METH_O,
     "save(path): write a snapshot file (str, bytes or os.PathLike path),\n"
     "created 0600 and replaced atomically: written to a temporary file in\n"
     "the same directory, synced, renamed over path.  A symbolic link at\n"
     "path is replaced by the file (its target is left alone); a directory,\n"
     "FIFO or device there is refused (IsADirectoryError, OSError) and left\n"
     "in place."},
    {"find", (PyCFunction)graph_find, METH_O,
     "find(address) -> node or None: the node of the object with that id()."},
    {"node", (PyCFunction)graph_node, METH_O,
     "node(n) -> (type, address, size, held_from_outside, tracked, repr or None)."},
    {"referents", (PyCFunction)graph_referents, METH_O, "referents(n) -> [node]"},
    {"referrers", (PyCFunction)graph_referrers, METH_O, "referrers(n) -> [node]"},
    {"path", (PyCFunction)graph_path, METH_O,
     "path(n) -> (root label or None, held, [(type, address, kind, label)]) or None."},
    {"retained", (PyCFunction)graph_retained, METH_O,
     "retained(n) -> bytes freed if n were freed (its dominator subtree)."},
    {"idom", (PyCFunction)graph_idom, METH_O,
     "idom(n) -> immediate dominator node, or None (a root, or unreachable)."},
    {"top_retainers", (PyCFunction)(void (*)(void))graph_top_retainers,
     METH_VARARGS | METH_KEYWORDS, "top_retainers(n=10) -> [(node, retained)]"},
    {"retention", (PyCFunction)(void (*)(void))graph_retention,
     METH_VARARGS | METH_KEYWORDS,
     "retention(nodes=None, limit=None, retained=True, by='count') -> "
     "[(count, bytes, retained, example, [(type, kind, name)])]"},
    {"retained_by_type", (PyCFunction)graph_retained_by_type, METH_NOARGS,
     "retained_by_type() -> [(type, count, bytes, retained)]"},
    {"domtree", (PyCFunction)(void (*)(void))graph_domtree, METH_VARARGS | METH_KEYWORDS,
     "domtree(k=2000) -> [(node or None, parent, type, count, retained)]: the\n"
     "dominator tree cut to the k largest retainers, the rest summed by type\n"
     "under each (parent None: the roots; -1: unreachable)."},
    {"census", (PyCFunction)graph_census, METH_NOARGS,
     "census() -> [(type, count, bytes)]"},
    {"nodes_of", (PyCFunction)graph_nodes_of, METH_O,
     "nodes_of(type_name) -> [node]"},
    {"new_since", (PyCFunction)graph_new_since, METH_VARARGS,
     "new_since(earlier, type_names) -> [node]: objects of these types not in earlier."},
    {"targets", (PyCFunction)graph_targets, METH_NOARGS,
     "targets() -> [node]: the nodes marked when the graph was built."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef graph_getset[] = {
    {"info", (getter)graph_get_info, NULL, "counts, versions, memory", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot graph_slots[] = {
    {Py_tp_dealloc, graph_dealloc},
    {Py_tp_methods, graph_methods},
    {Py_tp_getset, graph_getset},
    {Py_sq_length, graph_len},
    {Py_tp_doc, "The reference graph of a heap (heapwatch._engine.graph / load)."},
    {0, NULL},
};

static PyType_Spec graph_spec = {
    .name = "heapwatch._engine.Graph",
    .basicsize = sizeof(GraphObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = graph_slots,
};

static PyObject *
hw_inline_attrs_available_py(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    return PyBool_FromLong(hw_attrs_available());
}

PyMethodDef hw_graph_methods[] = {
    {"_inline_attrs_available", hw_inline_attrs_available_py, METH_NOARGS,
     "_inline_attrs_available() -> bool: False when the inline-values layout "
     "check failed (attributes kept inline are then left unnamed)."},
    {"graph", (PyCFunction)(void (*)(void))hw_graph_py, METH_VARARGS | METH_KEYWORDS, graph_doc},
    {"load", hw_load_py, METH_O, load_doc},
    {"capture", (PyCFunction)(void (*)(void))hw_capture_py,
     METH_VARARGS | METH_KEYWORDS, capture_doc},
    {"capture_state", hw_capture_state_py, METH_O, capture_state_doc},
    {NULL, NULL, 0, NULL},
};

int
hw_graphobject_init(PyObject *module, hw_state *st)
{
    if (hw_attrs_init() < 0) {
        return -1;
    }
    st->graph_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &graph_spec, NULL);
    if (st->graph_type == NULL) {
        return -1;
    }
    return PyModule_AddObjectRef(module, "Graph", (PyObject *)st->graph_type);
}
