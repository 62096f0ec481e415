/* typetable.c - see typetable.h. */

#include <Python.h>
#include <stdint.h>
#include "typetable.h"

#define HW_TYPETABLE_MIN 256

static inline size_t
slot_of(PyTypeObject *tp, Py_ssize_t capacity)
{
    /* Type objects are at least 16-byte aligned; Fibonacci hashing spreads
       the remaining bits. */
    uint64_t h = ((uint64_t)(uintptr_t)tp >> 4) * 0x9E3779B97F4A7C15ULL;
    return (size_t)(h >> 32) & (size_t)(capacity - 1);
}

int
hw_typetable_init(hw_typetable *t)
{
    t->slots = PyMem_RawCalloc(HW_TYPETABLE_MIN, sizeof(hw_typestat));
    if (t->slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    t->capacity = HW_TYPETABLE_MIN;
    t->used = 0;
    t->last = NULL;
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
        hw_typestat *e = &t->slots[i];
        if (e->type == NULL) {
            continue;
        }
        size_t j = slot_of(e->type, newcap);
        while (slots[j].type != NULL) {
            j = (j + 1) & (size_t)(newcap - 1);
        }
        slots[j] = *e;
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
    size_t mask = (size_t)(t->capacity - 1);
    for (size_t j = slot_of(tp, t->capacity); t->slots[j].type != NULL; j = (j + 1) & mask) {
        if (t->slots[j].type == tp) {
            return &t->slots[j];
        }
    }
    return NULL;
}

hw_typestat *
hw_typetable_get(hw_typetable *t, PyTypeObject *tp)
{
    if (t->last != NULL && t->last->type == tp) {
        return t->last;
    }
    size_t mask = (size_t)(t->capacity - 1);
    size_t j = slot_of(tp, t->capacity);
    for (;;) {
        hw_typestat *e = &t->slots[j];
        if (e->type == tp) {
            t->last = e;
            return e;
        }
        if (e->type == NULL) {
            break;
        }
        j = (j + 1) & mask;
    }
    /* Not found: insert, keeping the table at most half full. */
    if ((t->used + 1) * 2 > t->capacity) {
        if (grow(t) < 0) {
            return NULL;
        }
        mask = (size_t)(t->capacity - 1);
        j = slot_of(tp, t->capacity);
        while (t->slots[j].type != NULL) {
            j = (j + 1) & mask;
        }
    }
    hw_typestat *e = &t->slots[j];
    e->type = (PyTypeObject *)Py_NewRef((PyObject *)tp);
    e->count = 0;
    e->bytes = 0;
    e->order = t->used++;
    hw_sizer_for_type(tp, &e->sizer);
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
