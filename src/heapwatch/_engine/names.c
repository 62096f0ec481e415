/* names.c - naming path-tree edges on live objects.  See names.h. */

#include <Python.h>
#include <string.h>
#include "attrs.h"
#include "compat.h"
#include "names.h"

/* One holder being named: its node, the graph, and the children still to
   name.  A holder is read item by item (dict values, attributes...), and
   most of its items are not path-tree children of it; with only a few
   children to name (the usual case: one path goes through the holder),
   an item is matched against their addresses instead of being looked up
   in the address index, and a dict key's text is made only for a match. */
#define FEW_CHILDREN 8

typedef struct {
    hw_graph *g;
    hw_node p;
    uint32_t n_want;            /* unnamed path-tree children of p (edges) */
    hw_node want[FEW_CHILDREN]; /* the first of them, when n_want is few */
    uint64_t want_addr[FEW_CHILDREN];
} holder;

/* The unnamed path-tree child of the holder whose object is value, or
   HW_NONE. */
static hw_node
wanted(const holder *L, PyObject *value)
{
    if (value == NULL) {
        return HW_NONE;
    }
    const hw_graph *g = L->g;
    uint64_t a = (uint64_t)(uintptr_t)value;
    if (L->n_want <= FEW_CHILDREN) {
        for (uint32_t i = 0; i < L->n_want; i++) {
            if (L->want_addr[i] == a && g->label_kind[L->want[i]] == HW_LABEL_NONE) {
                return L->want[i];
            }
        }
        return HW_NONE;
    }
    hw_node c = hw_graph_find(g, a);
    if (c == HW_NONE || g->parent[c] != L->p || g->label_kind[c] != HW_LABEL_NONE) {
        return HW_NONE;
    }
    return c;
}

/* Labels child c (HW_NONE: nothing to do).  The first name found wins: a
   list holding x twice names x by its first index.  text may be NULL for
   kinds without a string. */
static int
name_node(holder *L, hw_node c, int kind, const char *text, Py_ssize_t len,
          uint32_t index)
{
    if (c == HW_NONE) {
        return 0;
    }
    hw_graph *g = L->g;
    uint32_t v = index;
    if (text != NULL) {
        v = hw_strtab_add(&g->strings, text, (size_t)len);
        if (v == UINT32_MAX) {
            /* A name with an embedded NUL cannot be stored: leave the
               edge unnamed rather than fail. */
            if (memchr(text, '\0', (size_t)len) != NULL) {
                return 0;
            }
            PyErr_NoMemory();
            return -1;
        }
    }
    g->label_kind[c] = (uint8_t)kind;
    g->label[c] = v;
    return 0;
}

/* Labels the child of L->p whose object is `value`, if it is one and has
   no label yet. */
static int
name_child(holder *L, PyObject *value, int kind, const char *text,
           Py_ssize_t len, uint32_t index)
{
    return name_node(L, wanted(L, value), kind, text, len, index);
}

static int
name_child_cstr(holder *L, PyObject *value, int kind, const char *text)
{
    return name_child(L, value, kind, text, (Py_ssize_t)strlen(text), 0);
}

/* A str object as the name: its UTF-8 (computing it allocates, runs no
   Python code).  Strings that cannot be encoded stay unnamed. */
static int
name_child_str(holder *L, PyObject *value, int kind, PyObject *name)
{
    hw_node c = wanted(L, value);
    if (c == HW_NONE) {
        return 0;
    }
    Py_ssize_t len;
    const char *s = PyUnicode_AsUTF8AndSize(name, &len);
    if (s == NULL) {
        PyErr_Clear();
        return 0;
    }
    return name_node(L, c, kind, s, len, 0);
}

PyObject *
hw_key_text(PyObject *key)
{
    if (PyUnicode_Check(key)) {
        Py_ssize_t n = PyUnicode_GET_LENGTH(key);
        PyObject *s = PyUnicode_Substring(key, 0, n > 80 ? 80 : n);
        if (s == NULL) {
            return NULL;
        }
        /* str's own repr, called directly: a str subclass's __repr__ (Python
           code) is not run. */
        PyObject *r = PyUnicode_Type.tp_repr(s);
        Py_DECREF(s);
        if (r != NULL && n > 80) {
            Py_SETREF(r, PyUnicode_FromFormat("%U...", r));
        }
        return r;
    }
    if (PyLong_CheckExact(key) || PyBool_Check(key)) {
        /* Big ints: decimal conversion is quadratic, and over 4300 digits
           refused (sys.set_int_max_str_digits); their size says enough. */
        int64_t bits = hw_long_bits(key);
        if (bits > 256) {
            return PyUnicode_FromFormat("<int of %lld bits>", (long long)bits);
        }
        return PyBool_Check(key) ? PyObject_Str(key) : PyLong_Type.tp_repr(key);
    }
    if (key == Py_None) {
        return PyUnicode_FromString("None");
    }
    return PyUnicode_FromFormat("<%s>", Py_TYPE(key)->tp_name);
}

/* ---- per-kind holders ------------------------------------------------- */

static int
name_dict(holder *L, PyObject *d)
{
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(d, &pos, &key, &value)) {
        if (wanted(L, value) != HW_NONE) {
            PyObject *text = hw_key_text(key);
            if (text == NULL) {
                return -1;
            }
            int r = name_child_str(L, value, HW_LABEL_KEY, text);
            Py_DECREF(text);
            if (r < 0) {
                return -1;
            }
        }
        if (name_child(L, key, HW_LABEL_DICTKEY, NULL, 0, 0) < 0) {
            return -1;
        }
    }
    return 0;
}

static int
name_items(holder *L, PyObject *const *items, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        if (name_child(L, items[i], HW_LABEL_INDEX, NULL, 0, (uint32_t)(i > UINT32_MAX - 1 ? UINT32_MAX - 1 : i)) < 0) {
            return -1;
        }
    }
    return 0;
}

static int
frame_local(PyObject *name, PyObject *value, void *arg)
{
    return name_child_str((holder *)arg, value, HW_LABEL_LOCAL, name) < 0 ? -1 : 0;
}

static int
name_frame(holder *L, PyFrameObject *f)
{
    PyObject *back = (PyObject *)PyFrame_GetBack(f);
    PyObject *code = (PyObject *)PyFrame_GetCode(f);
    PyObject *globals = PyFrame_GetGlobals(f);
    PyObject *builtins = PyFrame_GetBuiltins(f);
    int r = 0;
    if (name_child_cstr(L, back, HW_LABEL_FIELD, "f_back") < 0
        || name_child_cstr(L, code, HW_LABEL_FIELD, "f_code") < 0
        || name_child_cstr(L, globals, HW_LABEL_FIELD, "f_globals") < 0
        || name_child_cstr(L, builtins, HW_LABEL_FIELD, "f_builtins") < 0) {
        r = -1;
    }
    Py_XDECREF(back);
    Py_XDECREF(code);
    Py_XDECREF(globals);
    Py_XDECREF(builtins);
    if (r == 0 && hw_frame_locals((PyObject *)f, frame_local, L) < 0) {
        r = -1;
    }
    return r;
}

static int
name_function(holder *L, PyFunctionObject *fn)
{
    static const struct { size_t off; const char *name; } fields[] = {
        {offsetof(PyFunctionObject, func_globals), "__globals__"},
        {offsetof(PyFunctionObject, func_builtins), "__builtins__"},
        {offsetof(PyFunctionObject, func_name), "__name__"},
        {offsetof(PyFunctionObject, func_qualname), "__qualname__"},
        {offsetof(PyFunctionObject, func_code), "__code__"},
        {offsetof(PyFunctionObject, func_defaults), "__defaults__"},
        {offsetof(PyFunctionObject, func_kwdefaults), "__kwdefaults__"},
        {offsetof(PyFunctionObject, func_closure), "__closure__"},
        {offsetof(PyFunctionObject, func_doc), "__doc__"},
        {offsetof(PyFunctionObject, func_dict), "__dict__"},
        {offsetof(PyFunctionObject, func_module), "__module__"},
        {offsetof(PyFunctionObject, func_annotations), "__annotations__"},
#if PY_VERSION_HEX >= 0x030C0000
        {offsetof(PyFunctionObject, func_typeparams), "__type_params__"},
#endif
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        PyObject *v = *(PyObject **)((char *)fn + fields[i].off);
        if (name_child_cstr(L, v, HW_LABEL_FIELD, fields[i].name) < 0) {
            return -1;
        }
    }
    return 0;
}

/* The closure tuple of a function: its cells are named by the code's
   free variables. */
static int
name_closure(holder *L, PyObject *closure, PyFunctionObject *fn)
{
    PyObject *freevars = PyCode_GetFreevars((PyCodeObject *)fn->func_code);
    if (freevars == NULL) {
        PyErr_Clear();
        return 0;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(closure);
    int r = 0;
    for (Py_ssize_t i = 0; i < n && i < PyTuple_GET_SIZE(freevars) && r == 0; i++) {
        PyObject *name = PyTuple_GET_ITEM(freevars, i);
        if (PyUnicode_Check(name)) {
            r = name_child_str(L, PyTuple_GET_ITEM(closure, i), HW_LABEL_CLOSURE, name);
        }
    }
    Py_DECREF(freevars);
    return r;
}

static int
name_type(holder *L, PyTypeObject *tp)
{
    PyObject *dict;
#if PY_VERSION_HEX >= 0x030C0000
    dict = PyType_GetDict(tp);
#else
    dict = Py_XNewRef(tp->tp_dict);
#endif
    int r = name_child_cstr(L, dict, HW_LABEL_FIELD, "__dict__");
    Py_XDECREF(dict);
    if (r < 0
        || name_child_cstr(L, tp->tp_mro, HW_LABEL_FIELD, "__mro__") < 0
        || name_child_cstr(L, tp->tp_bases, HW_LABEL_FIELD, "__bases__") < 0
        || name_child_cstr(L, (PyObject *)tp->tp_base, HW_LABEL_FIELD, "__base__") < 0) {
        return -1;
    }
    if (tp->tp_flags & Py_TPFLAGS_HEAPTYPE) {
        PyHeapTypeObject *ht = (PyHeapTypeObject *)tp;
        if (name_child_cstr(L, ht->ht_name, HW_LABEL_FIELD, "__name__") < 0
            || name_child_cstr(L, ht->ht_qualname, HW_LABEL_FIELD, "__qualname__") < 0
            || name_child_cstr(L, ht->ht_slots, HW_LABEL_FIELD, "__slots__") < 0
            || name_child_cstr(L, ht->ht_module, HW_LABEL_FIELD, "__module__") < 0) {
            return -1;
        }
    }
    return 0;
}

/* Object fields described by member descriptors (__slots__ of Python
   classes, and C types' T_OBJECT members), over the whole MRO. */
static int
name_members(holder *L, PyObject *op)
{
    PyObject *mro = Py_TYPE(op)->tp_mro;
    if (mro == NULL || !PyTuple_Check(mro)) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(mro); i++) {
        PyTypeObject *base = (PyTypeObject *)PyTuple_GET_ITEM(mro, i);
        if (!PyType_Check(base) || base->tp_members == NULL) {
            continue;
        }
        for (PyMemberDef *m = base->tp_members; m->name != NULL; m++) {
            if ((m->type != HW_T_OBJECT && m->type != HW_T_OBJECT_EX)
                || (m->flags & HW_RELATIVE_OFFSET) || m->offset <= 0
                || m->offset > Py_TYPE(op)->tp_basicsize - (Py_ssize_t)sizeof(PyObject *)) {
                continue;
            }
            PyObject *v = *(PyObject **)((char *)op + m->offset);
            if (name_child_cstr(L, v, HW_LABEL_ATTR, m->name) < 0) {
                return -1;
            }
        }
    }
    return 0;
}

static int
inline_attr(PyObject *name, PyObject *value, void *arg)
{
    return name_child_str((holder *)arg, value, HW_LABEL_ATTR, name) < 0 ? -1 : 0;
}

static int
name_exception(holder *L, PyObject *op)
{
    PyBaseExceptionObject *e = (PyBaseExceptionObject *)op;
    if (name_child_cstr(L, e->args, HW_LABEL_FIELD, "args") < 0
        || name_child_cstr(L, e->traceback, HW_LABEL_FIELD, "__traceback__") < 0
        || name_child_cstr(L, e->context, HW_LABEL_FIELD, "__context__") < 0
        || name_child_cstr(L, e->cause, HW_LABEL_FIELD, "__cause__") < 0
        || name_child_cstr(L, e->dict, HW_LABEL_FIELD, "__dict__") < 0) {
        return -1;
    }
    return 0;
}

/* The holder's parent in the path tree and the edge into it, when the
   parent is a function holding it as __closure__. */
static PyFunctionObject *
closure_owner(hw_graph *g, hw_node p, PyObject *op)
{
    hw_node up = g->parent[p];
    if (up == HW_NONE) {
        return NULL;
    }
    PyObject *f = (PyObject *)(uintptr_t)g->addr[up];
    if (PyFunction_Check(f) && ((PyFunctionObject *)f)->func_closure == op) {
        return (PyFunctionObject *)f;
    }
    return NULL;
}

static int
name_holder(holder *L, PyObject *op)
{
    PyTypeObject *tp = Py_TYPE(op);
    if (PyDict_Check(op)) {
        return name_dict(L, op);
    }
    if (PyList_Check(op)) {
        return name_items(L, ((PyListObject *)op)->ob_item, PyList_GET_SIZE(op));
    }
    if (PyTuple_Check(op)) {
        PyFunctionObject *fn = closure_owner(L->g, L->p, op);
        if (fn != NULL && name_closure(L, op, fn) < 0) {
            return -1;
        }
        return name_items(L, ((PyTupleObject *)op)->ob_item, PyTuple_GET_SIZE(op));
    }
    if (PyAnySet_Check(op)) {
        /* Every referent of a set is a member. */
        hw_graph *g = L->g;
        for (uint32_t e = g->out_off[L->p]; e < g->out_off[L->p + 1]; e++) {
            hw_node c = g->out_adj[e];
            if (g->parent[c] == L->p && g->label_kind[c] == HW_LABEL_NONE) {
                g->label_kind[c] = HW_LABEL_MEMBER;
            }
        }
        return 0;
    }
    if (PyModule_Check(op)) {
        return name_child_cstr(L, PyModule_GetDict(op), HW_LABEL_FIELD, "__dict__");
    }
    if (PyType_Check(op)) {
        if (name_type(L, (PyTypeObject *)op) < 0) {
            return -1;
        }
    }
    else if (PyFunction_Check(op)) {
        return name_function(L, (PyFunctionObject *)op);
    }
    else if (PyCell_Check(op)) {
        return name_child_cstr(L, PyCell_GET(op), HW_LABEL_FIELD, "cell_contents");
    }
    else if (PyMethod_Check(op)) {
        if (name_child_cstr(L, PyMethod_GET_FUNCTION(op), HW_LABEL_FIELD, "__func__") < 0
            || name_child_cstr(L, PyMethod_GET_SELF(op), HW_LABEL_FIELD, "__self__") < 0) {
            return -1;
        }
    }
    else if (PyCFunction_Check(op)) {
        if (name_child_cstr(L, PyCFunction_GET_SELF(op), HW_LABEL_FIELD, "__self__") < 0) {
            return -1;
        }
    }
    else if (PyFrame_Check(op)) {
        return name_frame(L, (PyFrameObject *)op);
    }
    else if (PyGen_Check(op) || PyCoro_CheckExact(op) || PyAsyncGen_CheckExact(op)) {
        /* The suspended frame's local variables. */
        if (hw_frame_locals(op, frame_local, L) < 0) {
            return -1;
        }
    }
    else if (PyExceptionInstance_Check(op)) {
        if (name_exception(L, op) < 0) {
            return -1;
        }
    }
    /* Instances (and anything else): attributes kept inline, the __dict__,
       member slots, and the class a heap-type instance refers to. */
    if (hw_inline_attrs(op, inline_attr, L) < 0
        || name_child_cstr(L, hw_existing_dict(op), HW_LABEL_FIELD, "__dict__") < 0
        || name_members(L, op) < 0) {
        return -1;
    }
    if (tp->tp_flags & Py_TPFLAGS_HEAPTYPE) {
        return name_child_cstr(L, (PyObject *)tp, HW_LABEL_FIELD, "__class__");
    }
    return 0;
}

int
hw_label_children(hw_graph *g, hw_node p, uint8_t *done)
{
    if (done[p >> 3] & (1u << (p & 7))) {
        return 0;
    }
    done[p >> 3] |= (uint8_t)(1u << (p & 7));
    holder L;
    L.g = g;
    L.p = p;
    L.n_want = 0;
    for (uint32_t e = g->out_off[p]; e < g->out_off[p + 1]; e++) {
        hw_node c = g->out_adj[e];
        if (g->parent[c] == p && g->label_kind[c] == HW_LABEL_NONE) {
            if (L.n_want < FEW_CHILDREN) {
                L.want[L.n_want] = c;
                L.want_addr[L.n_want] = g->addr[c];
            }
            L.n_want++;
        }
    }
    if (L.n_want == 0) {
        return 0;               /* nothing of p to name: not even read */
    }
    return name_holder(&L, (PyObject *)(uintptr_t)g->addr[p]);
}

/* Names what `one` selects, with the bitset of holders already named. */
static int
label_with(hw_graph *g, int (*one)(hw_graph *, hw_node, uint8_t *))
{
    uint8_t *done = PyMem_RawCalloc(((size_t)g->n_nodes + 8) / 8, 1);
    if (done == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    int r = 0;
    for (hw_node v = 0; v < g->n_nodes && r == 0; v++) {
        r = one(g, v, done);
    }
    PyMem_RawFree(done);
    return r;
}

/* Every path-tree edge: the edge into v, if not named yet. */
static int
label_edge_into(hw_graph *g, hw_node v, uint8_t *done)
{
    hw_node p = g->parent[v];
    if (p != HW_NONE && g->label_kind[v] == HW_LABEL_NONE) {
        return hw_label_children(g, p, done);
    }
    return 0;
}

/* The edges on the path of target v, from v up to the first holder named
   already: above it, everything was named when that holder was reached. */
static int
label_path_of_target(hw_graph *g, hw_node v, uint8_t *done)
{
    if (!(g->flags[v] & HW_TARGET)) {
        return 0;
    }
    for (hw_node x = v; g->parent[x] != HW_NONE; x = g->parent[x]) {
        hw_node p = g->parent[x];
        if (done[p >> 3] & (1u << (p & 7))) {
            break;
        }
        if (hw_label_children(g, p, done) < 0) {
            return -1;
        }
    }
    return 0;
}

int
hw_label_all(hw_graph *g)
{
    return label_with(g, label_edge_into);
}

int
hw_label_targets(hw_graph *g)
{
    return label_with(g, label_path_of_target);
}
