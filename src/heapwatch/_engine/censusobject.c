/* censusobject.c - heapwatch.Census, TypeStats and GrowthRow.
   See censusobject.h for why a Census is not a GC object. */

#include <Python.h>
#include <stdlib.h>
#include "censusobject.h"

typedef struct {
    PyObject *name;             /* str, strong */
    Py_ssize_t count;
    Py_ssize_t bytes;
    Py_ssize_t order;           /* first sighting, after merging by name */
} hw_row;

typedef struct {
    PyObject_HEAD
    Py_ssize_t n;
    hw_row *rows;               /* sorted by name, names unique */
    Py_ssize_t *by_order;       /* indices into rows, by first sighting */
    Py_ssize_t total_count;
    Py_ssize_t total_bytes;
    char include_untracked;
    char fullnames;
} CensusObject;

/* ---- naming ---------------------------------------------------------- */

/* type.__name__, or "module.name" the way objgraph's long names are built:
   a __module__ that is missing, falsy or raises gives the short name. */
static PyObject *
type_name(hw_state *st, PyTypeObject *tp, int fullnames)
{
    PyObject *name = PyType_GetName(tp);
    if (name == NULL || !fullnames) {
        return name;
    }
    PyObject *mod = PyObject_GetAttr((PyObject *)tp, st->module_name_attr);
    if (mod == NULL) {
        PyErr_Clear();
        return name;
    }
    int truth = PyObject_IsTrue(mod);
    PyObject *full = NULL;
    if (truth > 0) {
        full = PyUnicode_FromFormat("%S.%U", mod, name);
    }
    Py_DECREF(mod);
    if (truth < 0 || (truth > 0 && full == NULL)) {
        PyErr_Clear();
        return name;
    }
    if (full == NULL) {
        return name;
    }
    Py_DECREF(name);
    return full;
}

/* ---- construction ---------------------------------------------------- */

static int
cmp_rows_by_name(const void *a, const void *b)
{
    /* Both names are exact str objects: the comparison cannot fail. */
    return PyUnicode_Compare(((const hw_row *)a)->name, ((const hw_row *)b)->name);
}

static const hw_row *sort_rows_base;

static int
cmp_index_by_order(const void *a, const void *b)
{
    Py_ssize_t oa = sort_rows_base[*(const Py_ssize_t *)a].order;
    Py_ssize_t ob = sort_rows_base[*(const Py_ssize_t *)b].order;
    return (oa > ob) - (oa < ob);
}

static void
census_dealloc(CensusObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    for (Py_ssize_t i = 0; i < self->n; i++) {
        Py_XDECREF(self->rows[i].name);
    }
    PyMem_Free(self->rows);
    PyMem_Free(self->by_order);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static CensusObject *
census_alloc(hw_state *st, Py_ssize_t n, int include_untracked, int fullnames)
{
    CensusObject *self = PyObject_New(CensusObject, st->census_type);
    if (self == NULL) {
        return NULL;
    }
    self->n = 0;
    self->rows = NULL;
    self->by_order = NULL;
    self->total_count = 0;
    self->total_bytes = 0;
    self->include_untracked = (char)include_untracked;
    self->fullnames = (char)fullnames;
    self->rows = PyMem_Calloc((size_t)(n ? n : 1), sizeof(hw_row));
    if (self->rows == NULL) {
        Py_DECREF(self);
        PyErr_NoMemory();
        return NULL;
    }
    return self;
}

/* rows[0:n] hold a strong name each, in any order, names possibly
   repeated; on success they are sorted by name with names unique and
   by_order is filled.  0, or -1 with an exception set. */
static int
census_finish(CensusObject *self)
{
    hw_row *rows = self->rows;
    /* Types that share a name become one row, as in a dict keyed by name;
       the merged row keeps the earliest sighting. */
    qsort(rows, (size_t)self->n, sizeof(hw_row), cmp_rows_by_name);
    Py_ssize_t w = 0;
    for (Py_ssize_t r = 0; r < self->n; r++) {
        if (w > 0 && PyUnicode_Compare(rows[w - 1].name, rows[r].name) == 0) {
            rows[w - 1].count += rows[r].count;
            rows[w - 1].bytes += rows[r].bytes;
            if (rows[r].order < rows[w - 1].order) {
                rows[w - 1].order = rows[r].order;
            }
            Py_CLEAR(rows[r].name);
        }
        else {
            rows[w++] = rows[r];
        }
    }
    for (Py_ssize_t r = w; r < self->n; r++) {
        rows[r].name = NULL;
    }
    self->n = w;
    self->by_order = PyMem_Malloc(sizeof(Py_ssize_t) * (size_t)(w ? w : 1));
    if (self->by_order == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < w; i++) {
        self->by_order[i] = i;
    }
    /* Protected by the GIL: qsort runs no Python code. */
    sort_rows_base = rows;
    qsort(self->by_order, (size_t)w, sizeof(Py_ssize_t), cmp_index_by_order);
    sort_rows_base = NULL;
    return 0;
}

PyObject *
hw_censusobject_new(hw_state *st, const hw_typestat *stats, Py_ssize_t n,
                    int include_untracked, int fullnames)
{
    CensusObject *self = census_alloc(st, n, include_untracked, fullnames);
    if (self == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *name = type_name(st, stats[i].type, fullnames);
        if (name == NULL) {
            goto error;
        }
        self->rows[i].name = name;
        self->rows[i].count = stats[i].count;
        self->rows[i].bytes = stats[i].bytes;
        self->rows[i].order = stats[i].order;
        self->n = i + 1;
        self->total_count += stats[i].count;
        self->total_bytes += stats[i].bytes;
    }
    if (census_finish(self) < 0) {
        goto error;
    }
    return (PyObject *)self;

error:
    Py_DECREF(self);
    return NULL;
}

PyObject *
hw_censusobject_from_rows(hw_state *st, PyObject *rows, int include_untracked,
                          int fullnames)
{
    PyObject *seq = PySequence_Fast(rows, "rows must be a sequence of (name, count, bytes)");
    if (seq == NULL) {
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    CensusObject *self = census_alloc(st, n, include_untracked, fullnames);
    if (self == NULL) {
        Py_DECREF(seq);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        Py_ssize_t count, bytes;
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 3
            || !PyUnicode_CheckExact(PyTuple_GET_ITEM(item, 0))
            || !PyLong_CheckExact(PyTuple_GET_ITEM(item, 1))
            || !PyLong_CheckExact(PyTuple_GET_ITEM(item, 2))) {
            PyErr_Format(PyExc_TypeError, "row %zd is not a (str, int, int) tuple", i);
            goto error;
        }
        count = PyLong_AsSsize_t(PyTuple_GET_ITEM(item, 1));
        if (count == -1 && PyErr_Occurred()) {
            goto error;
        }
        bytes = PyLong_AsSsize_t(PyTuple_GET_ITEM(item, 2));
        if (bytes == -1 && PyErr_Occurred()) {
            goto error;
        }
        if (count < 0 || bytes < 0
            || count > PY_SSIZE_T_MAX - self->total_count
            || bytes > PY_SSIZE_T_MAX - self->total_bytes) {
            PyErr_Format(PyExc_ValueError, "row %zd: count and bytes must be "
                         "non-negative and their totals fit in a Py_ssize_t", i);
            goto error;
        }
        self->rows[i].name = Py_NewRef(PyTuple_GET_ITEM(item, 0));
        self->rows[i].count = count;
        self->rows[i].bytes = bytes;
        self->rows[i].order = i;
        self->n = i + 1;
        self->total_count += count;
        self->total_bytes += bytes;
    }
    Py_DECREF(seq);
    if (census_finish(self) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;

error:
    Py_DECREF(seq);
    Py_DECREF(self);
    return NULL;
}

/* ---- lookup ---------------------------------------------------------- */

/* Index of the row named `key`, -1 if absent (no exception), -2 on error. */
static Py_ssize_t
find_row(CensusObject *self, PyObject *key)
{
    if (!PyUnicode_Check(key)) {
        return -1;
    }
    Py_ssize_t lo = 0, hi = self->n;
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        int c = PyUnicode_Compare(self->rows[mid].name, key);
        if (c == -1 && PyErr_Occurred()) {
            return -2;
        }
        if (c == 0) {
            return mid;
        }
        if (c < 0) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    return -1;
}

static PyObject *
make_typestats(hw_state *st, const hw_row *row)
{
    PyObject *t = PyStructSequence_New(st->typestats_type);
    if (t == NULL) {
        return NULL;
    }
    PyObject *c = PyLong_FromSsize_t(row->count);
    PyObject *b = PyLong_FromSsize_t(row->bytes);
    if (c == NULL || b == NULL) {
        Py_XDECREF(c);
        Py_XDECREF(b);
        Py_DECREF(t);
        return NULL;
    }
    PyStructSequence_SET_ITEM(t, 0, c);
    PyStructSequence_SET_ITEM(t, 1, b);
    return t;
}

static Py_ssize_t
census_length(CensusObject *self)
{
    return self->n;
}

static PyObject *
census_subscript(CensusObject *self, PyObject *key)
{
    Py_ssize_t i = find_row(self, key);
    if (i == -2) {
        return NULL;
    }
    if (i < 0) {
        PyErr_SetObject(PyExc_KeyError, key);
        return NULL;
    }
    hw_state *st = hw_state_of_type(Py_TYPE(self));
    if (st == NULL) {
        return NULL;
    }
    return make_typestats(st, &self->rows[i]);
}

static int
census_contains(CensusObject *self, PyObject *key)
{
    Py_ssize_t i = find_row(self, key);
    return i == -2 ? -1 : i >= 0;
}

/* ---- iteration and views (lists, in order of first sighting) -------- */

enum view { VIEW_KEYS, VIEW_VALUES, VIEW_ITEMS, VIEW_COUNTS };

static PyObject *
census_view(CensusObject *self, enum view v)
{
    hw_state *st = hw_state_of_type(Py_TYPE(self));
    if (st == NULL) {
        return NULL;
    }
    PyObject *out = (v == VIEW_COUNTS) ? PyDict_New() : PyList_New(self->n);
    if (out == NULL) {
        return NULL;
    }
    for (Py_ssize_t k = 0; k < self->n; k++) {
        const hw_row *row = &self->rows[self->by_order[k]];
        PyObject *item = NULL;
        if (v == VIEW_KEYS) {
            item = Py_NewRef(row->name);
        }
        else if (v == VIEW_VALUES) {
            item = make_typestats(st, row);
        }
        else if (v == VIEW_ITEMS) {
            PyObject *ts = make_typestats(st, row);
            if (ts != NULL) {
                item = PyTuple_Pack(2, row->name, ts);
                Py_DECREF(ts);
            }
        }
        else {
            PyObject *c = PyLong_FromSsize_t(row->count);
            int rc = (c == NULL) ? -1 : PyDict_SetItem(out, row->name, c);
            Py_XDECREF(c);
            if (rc < 0) {
                Py_DECREF(out);
                return NULL;
            }
            continue;
        }
        if (item == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, k, item);
    }
    return out;
}

static PyObject *
census_iter(CensusObject *self)
{
    PyObject *keys = census_view(self, VIEW_KEYS);
    if (keys == NULL) {
        return NULL;
    }
    PyObject *it = PyObject_GetIter(keys);
    Py_DECREF(keys);
    return it;
}

static PyObject *
census_keys(CensusObject *self, PyObject *Py_UNUSED(ignored))
{
    return census_view(self, VIEW_KEYS);
}

static PyObject *
census_values(CensusObject *self, PyObject *Py_UNUSED(ignored))
{
    return census_view(self, VIEW_VALUES);
}

static PyObject *
census_items(CensusObject *self, PyObject *Py_UNUSED(ignored))
{
    return census_view(self, VIEW_ITEMS);
}

static PyObject *
census_counts(CensusObject *self, PyObject *Py_UNUSED(ignored))
{
    return census_view(self, VIEW_COUNTS);
}

static PyObject *
census_get(CensusObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 2) {
        PyErr_Format(PyExc_TypeError,
                     "get expected 1 or 2 arguments, got %zd", nargs);
        return NULL;
    }
    Py_ssize_t i = find_row(self, args[0]);
    if (i == -2) {
        return NULL;
    }
    if (i < 0) {
        return Py_NewRef(nargs == 2 ? args[1] : Py_None);
    }
    hw_state *st = hw_state_of_type(Py_TYPE(self));
    return st ? make_typestats(st, &self->rows[i]) : NULL;
}

/* ---- most_common ----------------------------------------------------- */

static const hw_row *mc_rows;
static int mc_by_bytes;

/* Descending by the key, ties by first sighting: what a stable sort of a
   dict's items by value, reversed, gives. */
static int
cmp_most_common(const void *a, const void *b)
{
    const hw_row *ra = &mc_rows[*(const Py_ssize_t *)a];
    const hw_row *rb = &mc_rows[*(const Py_ssize_t *)b];
    Py_ssize_t ka = mc_by_bytes ? ra->bytes : ra->count;
    Py_ssize_t kb = mc_by_bytes ? rb->bytes : rb->count;
    if (ka != kb) {
        return ka < kb ? 1 : -1;
    }
    return (ra->order > rb->order) - (ra->order < rb->order);
}

/* Parses a limit: None means all; otherwise a non-negative int. */
int
hw_parse_limit(PyObject *obj, Py_ssize_t *out, const char *what)
{
    if (obj == NULL || obj == Py_None) {
        *out = PY_SSIZE_T_MAX;
        return 0;
    }
    if (!PyLong_Check(obj) || PyBool_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int or None, not %.100s",
                     what, Py_TYPE(obj)->tp_name);
        return -1;
    }
    Py_ssize_t v = PyLong_AsSsize_t(obj);
    if (v == -1 && PyErr_Occurred()) {
        if (PyErr_ExceptionMatches(PyExc_OverflowError)) {
            PyErr_Clear();
            PyObject *zero = PyLong_FromLong(0);
            int neg = zero ? PyObject_RichCompareBool(obj, zero, Py_LT) : -1;
            Py_XDECREF(zero);
            if (neg < 0) {
                return -1;
            }
            if (!neg) {
                *out = PY_SSIZE_T_MAX;
                return 0;
            }
            v = -1;
        }
        else {
            return -1;
        }
    }
    if (v < 0) {
        PyErr_Format(PyExc_ValueError, "%s must be >= 0 or None, got %R", what, obj);
        return -1;
    }
    *out = v;
    return 0;
}

/* by="count"|"bytes" -> 0|1, or -1 with an exception set. */
int
hw_parse_by(PyObject *obj)
{
    if (obj == NULL) {
        return 0;
    }
    if (!PyUnicode_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "by must be 'count' or 'bytes', not %.100s",
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    if (PyUnicode_CompareWithASCIIString(obj, "count") == 0) {
        return 0;
    }
    if (PyUnicode_CompareWithASCIIString(obj, "bytes") == 0) {
        return 1;
    }
    PyErr_Format(PyExc_ValueError, "by must be 'count' or 'bytes', got %R", obj);
    return -1;
}

static PyObject *
census_most_common(CensusObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"n", "by", NULL};
    PyObject *nobj = Py_None, *byobj = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O$O:most_common", kwlist,
                                     &nobj, &byobj)) {
        return NULL;
    }
    Py_ssize_t limit;
    if (hw_parse_limit(nobj, &limit, "n") < 0) {
        return NULL;
    }
    int by_bytes = hw_parse_by(byobj);
    if (by_bytes < 0) {
        return NULL;
    }
    hw_state *st = hw_state_of_type(Py_TYPE(self));
    if (st == NULL) {
        return NULL;
    }
    Py_ssize_t *idx = PyMem_Malloc(sizeof(Py_ssize_t) * (size_t)(self->n ? self->n : 1));
    if (idx == NULL) {
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < self->n; i++) {
        idx[i] = i;
    }
    /* Protected by the GIL: the comparator runs no Python code. */
    mc_rows = self->rows;
    mc_by_bytes = by_bytes;
    qsort(idx, (size_t)self->n, sizeof(Py_ssize_t), cmp_most_common);
    mc_rows = NULL;
    Py_ssize_t m = self->n < limit ? self->n : limit;
    PyObject *out = PyList_New(m);
    if (out == NULL) {
        goto done;
    }
    for (Py_ssize_t k = 0; k < m; k++) {
        const hw_row *row = &self->rows[idx[k]];
        PyObject *ts = make_typestats(st, row);
        PyObject *pair = ts ? PyTuple_Pack(2, row->name, ts) : NULL;
        Py_XDECREF(ts);
        if (pair == NULL) {
            Py_CLEAR(out);
            goto done;
        }
        PyList_SET_ITEM(out, k, pair);
    }
done:
    PyMem_Free(idx);
    return out;
}

/* ---- subtraction: later - earlier -> growth rows --------------------- */

typedef struct {
    PyObject *name;             /* borrowed from one of the censuses */
    Py_ssize_t count, delta, bytes_delta, order;
} hw_delta;

static int
cmp_delta(const void *a, const void *b)
{
    const hw_delta *x = a, *y = b;
    if (x->delta != y->delta) {
        return x->delta < y->delta ? 1 : -1;
    }
    if (x->bytes_delta != y->bytes_delta) {
        return x->bytes_delta < y->bytes_delta ? 1 : -1;
    }
    return (x->order > y->order) - (x->order < y->order);
}

static PyObject *
census_subtract(PyObject *a, PyObject *b)
{
    PyObject *mod = PyType_GetModuleByDef(Py_TYPE(a), &hw_moduledef);
    if (mod == NULL) {
        PyErr_Clear();
        Py_RETURN_NOTIMPLEMENTED;
    }
    hw_state *st = PyModule_GetState(mod);
    if (!Py_IS_TYPE(a, st->census_type) || !Py_IS_TYPE(b, st->census_type)) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    CensusObject *later = (CensusObject *)a, *earlier = (CensusObject *)b;
    if (later->fullnames != earlier->fullnames
        || later->include_untracked != earlier->include_untracked) {
        PyErr_SetString(PyExc_ValueError,
                        "cannot subtract censuses taken with different "
                        "fullnames/include_untracked settings");
        return NULL;
    }
    Py_ssize_t cap = later->n + earlier->n;
    hw_delta *d = PyMem_Malloc(sizeof(hw_delta) * (size_t)(cap ? cap : 1));
    if (d == NULL) {
        return PyErr_NoMemory();
    }
    /* Merge join over the two name-sorted row arrays. */
    Py_ssize_t i = 0, j = 0, m = 0;
    while (i < later->n || j < earlier->n) {
        int c;
        if (i == later->n) {
            c = 1;
        }
        else if (j == earlier->n) {
            c = -1;
        }
        else {
            c = PyUnicode_Compare(later->rows[i].name, earlier->rows[j].name);
        }
        hw_delta e;
        if (c < 0) {
            const hw_row *r = &later->rows[i++];
            e = (hw_delta){r->name, r->count, r->count, r->bytes, r->order};
        }
        else if (c > 0) {
            const hw_row *r = &earlier->rows[j++];
            /* Gone types sort after every type still present. */
            e = (hw_delta){r->name, 0, -r->count, -r->bytes, PY_SSIZE_T_MAX};
        }
        else {
            const hw_row *r = &later->rows[i++], *o = &earlier->rows[j++];
            e = (hw_delta){r->name, r->count, r->count - o->count,
                           r->bytes - o->bytes, r->order};
        }
        if (e.delta != 0 || e.bytes_delta != 0) {
            d[m++] = e;
        }
    }
    qsort(d, (size_t)m, sizeof(hw_delta), cmp_delta);
    PyObject *out = PyList_New(m);
    if (out == NULL) {
        goto done;
    }
    for (Py_ssize_t k = 0; k < m; k++) {
        PyObject *row = PyStructSequence_New(st->growthrow_type);
        PyObject *c = PyLong_FromSsize_t(d[k].count);
        PyObject *dl = PyLong_FromSsize_t(d[k].delta);
        PyObject *bd = PyLong_FromSsize_t(d[k].bytes_delta);
        if (row == NULL || c == NULL || dl == NULL || bd == NULL) {
            Py_XDECREF(row);
            Py_XDECREF(c);
            Py_XDECREF(dl);
            Py_XDECREF(bd);
            Py_CLEAR(out);
            goto done;
        }
        PyStructSequence_SET_ITEM(row, 0, Py_NewRef(d[k].name));
        PyStructSequence_SET_ITEM(row, 1, c);
        PyStructSequence_SET_ITEM(row, 2, dl);
        PyStructSequence_SET_ITEM(row, 3, bd);
        PyList_SET_ITEM(out, k, row);
    }
done:
    PyMem_Free(d);
    return out;
}

/* ---- attributes and repr --------------------------------------------- */

static PyObject *
census_get_total_count(CensusObject *self, void *Py_UNUSED(c))
{
    return PyLong_FromSsize_t(self->total_count);
}

static PyObject *
census_get_total_bytes(CensusObject *self, void *Py_UNUSED(c))
{
    return PyLong_FromSsize_t(self->total_bytes);
}

static PyObject *
census_get_include_untracked(CensusObject *self, void *Py_UNUSED(c))
{
    return PyBool_FromLong(self->include_untracked);
}

static PyObject *
census_get_fullnames(CensusObject *self, void *Py_UNUSED(c))
{
    return PyBool_FromLong(self->fullnames);
}

/* Equal as mappings (same names with the same counts and bytes, whatever
   the order of first sighting) and taken with the same settings.  Rows are
   sorted by name, so one pass compares them.  Unhashable, like a dict. */
static PyObject *
census_richcompare(PyObject *a, PyObject *b, int op)
{
    if ((op != Py_EQ && op != Py_NE) || !Py_IS_TYPE(b, Py_TYPE(a))) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    CensusObject *x = (CensusObject *)a, *y = (CensusObject *)b;
    int eq = x->n == y->n && x->fullnames == y->fullnames
             && x->include_untracked == y->include_untracked
             && x->total_count == y->total_count && x->total_bytes == y->total_bytes;
    for (Py_ssize_t i = 0; eq && i < x->n; i++) {
        eq = x->rows[i].count == y->rows[i].count && x->rows[i].bytes == y->rows[i].bytes
             && PyUnicode_Compare(x->rows[i].name, y->rows[i].name) == 0;
    }
    return PyBool_FromLong(op == Py_EQ ? eq : !eq);
}

static PyObject *
census_repr(CensusObject *self)
{
    return PyUnicode_FromFormat("<heapwatch.Census: %zd objects, %zd bytes, %zd types>",
                                self->total_count, self->total_bytes, self->n);
}

static PyObject *
census_reduce(CensusObject *self, PyObject *Py_UNUSED(ignored))
{
    PyErr_SetString(PyExc_TypeError, "heapwatch.Census cannot be pickled");
    return NULL;
}

static PyMethodDef census_methods[] = {
    {"keys", (PyCFunction)census_keys, METH_NOARGS,
     "keys() -> list of type names, in order of first sighting"},
    {"values", (PyCFunction)census_values, METH_NOARGS,
     "values() -> list of TypeStats, in order of first sighting"},
    {"items", (PyCFunction)census_items, METH_NOARGS,
     "items() -> list of (name, TypeStats), in order of first sighting"},
    {"counts", (PyCFunction)census_counts, METH_NOARGS,
     "counts() -> dict of type name to object count (objgraph's typestats)"},
    {"get", (PyCFunction)(void (*)(void))census_get, METH_FASTCALL,
     "get(name, default=None) -> TypeStats or default"},
    {"most_common", (PyCFunction)(void (*)(void))census_most_common,
     METH_VARARGS | METH_KEYWORDS,
     "most_common(n=None, *, by='count') -> list of (name, TypeStats), "
     "largest first, ties in order of first sighting"},
    {"__reduce__", (PyCFunction)census_reduce, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef census_getset[] = {
    {"total_count", (getter)census_get_total_count, NULL, "objects counted", NULL},
    {"total_bytes", (getter)census_get_total_bytes, NULL,
     "sum of their shallow sizes (sys.getsizeof)", NULL},
    {"include_untracked", (getter)census_get_include_untracked, NULL,
     "whether untracked objects were counted", NULL},
    {"fullnames", (getter)census_get_fullnames, NULL,
     "whether names are module-qualified", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot census_slots[] = {
    {Py_tp_dealloc, census_dealloc},
    {Py_tp_repr, census_repr},
    {Py_tp_iter, census_iter},
    {Py_tp_methods, census_methods},
    {Py_tp_getset, census_getset},
    {Py_mp_length, census_length},
    {Py_mp_subscript, census_subscript},
    {Py_sq_contains, census_contains},
    {Py_nb_subtract, census_subtract},
    {Py_tp_richcompare, census_richcompare},
    {Py_tp_doc, "Census() is created by heapwatch.census(); a read-only mapping "
                "from type name to TypeStats(count, bytes). later - earlier gives "
                "a list of GrowthRow."},
    {0, NULL},
};

static PyType_Spec census_spec = {
    .name = "heapwatch.Census",
    .basicsize = sizeof(CensusObject),
    /* Not a GC type on purpose (see censusobject.h); not subclassable, so
       no subclass can add a __dict__ and become one. */
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE
             | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = census_slots,
};

static PyStructSequence_Field typestats_fields[] = {
    {"count", "number of objects"},
    {"bytes", "sum of their shallow sizes, as sys.getsizeof reports them"},
    {NULL, NULL},
};

static PyStructSequence_Desc typestats_desc = {
    "heapwatch.TypeStats", "Objects of one type in a census.", typestats_fields, 2,
};

static PyStructSequence_Field growthrow_fields[] = {
    {"name", "type name"},
    {"count", "objects of the type now"},
    {"delta", "change in that count"},
    {"bytes_delta", "change in their shallow bytes"},
    {NULL, NULL},
};

static PyStructSequence_Desc growthrow_desc = {
    "heapwatch.GrowthRow", "One type's change between two censuses.",
    growthrow_fields, 4,
};

int
hw_censusobject_init_types(PyObject *module, hw_state *st)
{
    st->census_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &census_spec, NULL);
    if (st->census_type == NULL) {
        return -1;
    }
    st->typestats_type = PyStructSequence_NewType(&typestats_desc);
    if (st->typestats_type == NULL) {
        return -1;
    }
    st->growthrow_type = PyStructSequence_NewType(&growthrow_desc);
    if (st->growthrow_type == NULL) {
        return -1;
    }
    st->module_name_attr = PyUnicode_InternFromString("__module__");
    if (st->module_name_attr == NULL) {
        return -1;
    }
    return 0;
}
