/* censusobject.h - the Python face of a census: heapwatch.Census.
 *
 * A Census is immutable and holds no reference that could form a cycle
 * (only str names), so it is not a GC type: it never appears in a later
 * census, which is how heapwatch keeps its own results out of the counts.
 * Its rows are kept twice in C arrays: sorted by name (for lookups and for
 * subtraction) and in order of first sighting (for iteration, which is the
 * order a dict filled from gc.get_objects() would have).
 */
#ifndef HW_CENSUSOBJECT_H
#define HW_CENSUSOBJECT_H

#include <Python.h>
#include "module.h"
#include "typetable.h"

/* Creates the three types into the state.  0 or -1. */
int hw_censusobject_init_types(PyObject *module, hw_state *st);

/* Builds a Census from the ordered per-type stats of a run.  Runs Python
   code (names types).  New reference, or NULL with an exception set. */
PyObject *hw_censusobject_new(hw_state *st, const hw_typestat *stats,
                              Py_ssize_t n, int include_untracked,
                              int fullnames);

/* Builds a Census from a sequence of (name, count, bytes) tuples, in
   order of first sighting (a snapshot's per-type rows); rows sharing a name
   are merged.  Runs no Python code beyond the sequence protocol of `rows`.
   New reference, or NULL with TypeError/ValueError set on a bad row. */
PyObject *hw_censusobject_from_rows(hw_state *st, PyObject *rows,
                                    int include_untracked, int fullnames);

/* Argument helpers shared with module.c.  A limit is None (all) or an
   int >= 0; `by` is "count" (0) or "bytes" (1).  -1 with an exception set
   on bad input. */
int hw_parse_limit(PyObject *obj, Py_ssize_t *out, const char *what);
int hw_parse_by(PyObject *obj);

#endif
