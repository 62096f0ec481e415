/* typetable.c - see typetable.h. */

#include <Python.h>
#include <stdint.h>
#include "hashing.h"
#include "typetable.h"

#define HW_TYPETABLE_MIN 256

/* The slot of tp in slots (cap of them): tp's entry, or the empty slot
   where the probe for it ends.  (A census looks up a type per object:
   the entry is tested first, it is nearly always there.) */
static inline size_t
find_slot(const hw_typestat *slots, size_t cap, const PyTypeObject *tp)
{
    size_t j = hw_slot(hw_hash_ptr(tp), cap);
    while (slots[j].type != tp && slots[j].type != NULL) {
        j = hw_probe_next(j, cap);
    }
    return j;
}

int
hw_typetable_init(hw_typetable *t, const hw_sizeofs *sizeofs)
{
    t->slots = PyMem_RawCalloc(HW_TYPETABLE_MIN, sizeof(hw_typestat));
    if (t->slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    t->capacity = HW_TYPETABLE_MIN;
    t->used = 0;
    t->last = NULL;
    t->sizeofs = sizeofs;
    return 0;
}

void
hw_typetable_clear(hw_typetable *t)
{
    if (t->slots != NULL) {
        for (Py_ssize_t i = 0; i < t->capacity; i++) {
            Py_XDECREF(t->slots[i].type);
        }
        PyMem_RawFree(t->slots);
    }
    t->slots = NULL;
    t->capacity = 0;
    t->used = 0;
    t->last = NULL;
}

static int
grow(hw_typetable *t)
{
    Py_ssize_t newcap = t->capacity * 2;
    hw_typestat *slots = PyMem_RawCalloc((size_t)newcap, sizeof(hw_typestat));
    if (slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < t->capacity; i++) {
        const hw_typestat *e = &t->slots[i];
        if (e->type != NULL) {
            slots[find_slot(slots, (size_t)newcap, e->type)] = *e;
        }
    }
    PyMem_RawFree(t->slots);
    t->slots = slots;
    t->capacity = newcap;
    t->last = NULL;
    return 0;
}

hw_typestat *
hw_typetable_find(const hw_typetable *t, PyTypeObject *tp)
{
    if (t->capacity == 0) {
        return NULL;
    }
    hw_typestat *e = &t->slots[find_slot(t->slots, (size_t)t->capacity, tp)];
    return e->type != NULL ? e : NULL;
}

hw_typestat *
hw_typetable_get(hw_typetable *t, PyTypeObject *tp)
{
    if (t->last != NULL && t->last->type == tp) {
        return t->last;
    }
    hw_typestat *e = &t->slots[find_slot(t->slots, (size_t)t->capacity, tp)];
    if (e->type == tp) {
        t->last = e;
        return e;
    }
    /* Not found: insert, keeping the table at most half full. */
    if (hw_over_load((uint64_t)t->used + 1, (uint64_t)t->capacity, 1, 2)) {
        if (grow(t) < 0) {
            return NULL;
        }
        e = &t->slots[find_slot(t->slots, (size_t)t->capacity, tp)];
    }
    e->type = (PyTypeObject *)Py_NewRef((PyObject *)tp);
    e->count = 0;
    e->bytes = 0;
    e->order = t->used++;
    hw_sizer_for_type(t->sizeofs, tp, &e->sizer);
    t->last = e;
    return e;
}

hw_typestat *
hw_typetable_ordered(const hw_typetable *t, Py_ssize_t *n)
{
    hw_typestat *out = PyMem_RawMalloc(sizeof(hw_typestat) * (size_t)(t->used ? t->used : 1));
    if (out == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < t->capacity; i++) {
        const hw_typestat *e = &t->slots[i];
        if (e->type != NULL) {
            out[e->order] = *e;
        }
    }
    *n = t->used;
    return out;
}
