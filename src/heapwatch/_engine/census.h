/* census.h - count every GC-tracked object by type, with shallow bytes.
 *
 * One walk over the GC lists (walk.h); per object, one type-table lookup
 * and one size computation (shallow.h, which never runs Python code).
 * Extra memory is O(number of types), except with include_untracked: the
 * set of untracked objects already counted is O(objects concerned).
 *
 * With include_untracked, every object that tp_traverse of a counted
 * object reports and that the GC does not track (str, int, float, bytes,
 * untracked tuples and dicts...) is counted once; untracked containers are
 * traversed in turn, through an explicit stack, never by recursion.  This is
 * the closure gc.get_referents() would compute.  Objects of the types in
 * `skip` are neither counted nor entered (heapwatch's own results).
 *
 * Postcondition of hw_census_run (on success): c->types holds one entry
 * per type seen, with count and bytes; totals are their sums; no Python
 * code ran.
 */
#ifndef HW_CENSUS_H
#define HW_CENSUS_H

#include <Python.h>
#include "typetable.h"
#include "ptrset.h"

#define HW_CENSUS_MAX_SKIP 4

typedef struct {
    PyObject **items;           /* borrowed pointers */
    Py_ssize_t n, cap;
} hw_objstack;

typedef struct {
    hw_typetable types;
    Py_ssize_t total_count;
    Py_ssize_t total_bytes;
    int include_untracked;
    PyTypeObject *skip[HW_CENSUS_MAX_SKIP];
    int nskip;
    hw_objstack pending;        /* untracked containers still to traverse
                                   (borrowed pointers) */
    hw_ptrset seen;             /* untracked objects already counted */
} hw_census;

/* Runs a census into *c (which it initialises), sizing objects with
   sizeofs (shallow.h).  Returns 0, or -1 with an exception set; in both
   cases hw_census_clear must be called. */
int hw_census_run(hw_census *c, const hw_sizeofs *sizeofs, int include_untracked,
                  PyTypeObject *const *skip, int nskip);

void hw_census_clear(hw_census *c);

/* The limit the census is measured against: the same walk, doing nothing
   but counting.  Returns the number of objects visited, or -1. */
Py_ssize_t hw_bare_walk(void);

/* The tracked object at this address, as a new reference, or NULL (no
   exception) if no tracked object lives there.  -1 on error via *err. */
PyObject *hw_tracked_at(uintptr_t addr, int *err);

#endif
