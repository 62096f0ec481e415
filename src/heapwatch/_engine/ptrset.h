/* ptrset.h - a set of object addresses, for "count each object once".
 *
 * Open addressing on raw memory (PyMem_Raw*), at most half full; NULL is
 * the empty slot, so NULL is never stored.  It holds no references: it is
 * only valid while the objects it names cannot die, i.e. during one walk.
 */
#ifndef HW_PTRSET_H
#define HW_PTRSET_H

#include <Python.h>

typedef struct {
    void **slots;
    Py_ssize_t capacity;        /* power of two, or 0 before first use */
    Py_ssize_t used;
} hw_ptrset;

/* Adds p.  Returns 1 if it was new, 0 if already present, -1 with
   MemoryError set. */
int hw_ptrset_add(hw_ptrset *s, void *p);

/* 1 if p is in the set, else 0. */
int hw_ptrset_contains(const hw_ptrset *s, const void *p);

/* Frees the storage; the set is empty and reusable afterwards. */
void hw_ptrset_clear(hw_ptrset *s);

#endif
