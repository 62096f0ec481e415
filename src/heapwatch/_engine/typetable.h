/* typetable.h - per-type counters keyed by type object.
 *
 * An open-addressing hash table from PyTypeObject* to counters, plus the
 * order in which types were first seen (so results can list types the way
 * a dict filled from gc.get_objects() would).  Memory is O(number of
 * types): the census never stores anything per object.
 *
 * Invariants: capacity is a power of two and the table is at most half
 * full, so a probe always ends at an empty slot.  Every stored type holds a
 * strong reference (taken with a plain INCREF, which never allocates) so
 * that a type cannot die between the walk and the naming of the results.
 * The storage is raw memory (PyMem_Raw*), invisible to the GC and safe to
 * grow in the middle of a walk.
 */
#ifndef HW_TYPETABLE_H
#define HW_TYPETABLE_H

#include <Python.h>
#include "shallow.h"

typedef struct {
    PyTypeObject *type;         /* strong; NULL marks an empty slot */
    Py_ssize_t count;
    Py_ssize_t bytes;
    Py_ssize_t order;           /* index of first sighting */
    hw_sizer sizer;
} hw_typestat;

typedef struct {
    hw_typestat *slots;
    Py_ssize_t capacity;        /* power of two */
    Py_ssize_t used;
    hw_typestat *last;          /* one-entry cache; reset when slots move */
    const hw_sizeofs *sizeofs;  /* for each new type's sizer; the caller's,
                                   alive as long as the table */
} hw_typetable;

/* 0 on success, -1 with MemoryError set. */
int hw_typetable_init(hw_typetable *t, const hw_sizeofs *sizeofs);

/* Drops the references and frees the slots; safe on a zeroed table. */
void hw_typetable_clear(hw_typetable *t);

/* Finds or adds the entry for tp.  NULL with MemoryError set on failure.
   The pointer is valid until the next insertion. */
hw_typestat *hw_typetable_get(hw_typetable *t, PyTypeObject *tp);

/* The entry for tp, or NULL if there is none (never inserts). */
hw_typestat *hw_typetable_find(const hw_typetable *t, PyTypeObject *tp);

/* The used entries, in order of first sighting, as a new raw array the
   caller frees with PyMem_RawFree; *n receives their number.  The entries
   are copies: their type references stay owned by the table. */
hw_typestat *hw_typetable_ordered(const hw_typetable *t, Py_ssize_t *n);

#endif
