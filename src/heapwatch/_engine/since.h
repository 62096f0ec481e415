/* since.h - tell the objects made after a moment from those that existed.
 *
 * hw_since_mark records the address of every tracked object, sorted; later,
 * hw_since_new returns the tracked objects of chosen types whose address is
 * not in the record.  An object freed after the mark whose memory was
 * reused by a new object of the same address counts as old: the result can
 * miss new objects, never invent them.  Neither runs Python code.
 */
#ifndef HW_SINCE_H
#define HW_SINCE_H

#include <Python.h>
#include <stdint.h>

/* The sorted addresses of every tracked object, as a bytes object of
   native uintptr_t.  New reference, or NULL with an exception set. */
PyObject *hw_since_mark(void);

/* A new list of the tracked objects whose type's __name__ is in `names`
   (a tuple of str) and whose address is not in `mark` (what hw_since_mark
   returned).  NULL with an exception set on failure. */
PyObject *hw_since_new(PyObject *mark, PyObject *names);

#endif
