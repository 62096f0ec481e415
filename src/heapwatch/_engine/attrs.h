/* attrs.h - the attributes an instance keeps without a __dict__ object.
 *
 * Since 3.11, instances of most Python classes store their attributes as
 * "inline values": an array of values laid out in the order of keys the
 * class shares among its instances; tp_traverse visits the values, and a
 * __dict__ exists only once something asks for it.  Naming the edge from
 * such an instance to one of its values needs those shared keys.  Asking
 * for __dict__ would create a dict per instance (on a heap of a million
 * model instances, a hundred megabytes), so this file reads the layout
 * through CPython's internal headers, like walk.c; it is the only file that
 * does, besides walk.c on 3.11.
 *
 * hw_attrs_init checks the reading against a probe instance with known
 * attributes; on any mismatch inline values are reported as absent and
 * the edges they make stay unnamed (never a wrong name, never a crash).
 */
#ifndef HW_ATTRS_H
#define HW_ATTRS_H

#include <Python.h>

/* Calls fn(name, value, arg) for each attribute obj keeps inline (name a
   borrowed str), in key order, while fn returns 0; returns fn's nonzero
   result, or 0.  Does nothing (returns 0) when obj has no inline values
   (its attributes are in a __dict__, which tp_traverse reports as a dict
   of its own) or when the layout check failed.  Runs no Python code and
   allocates nothing. */
typedef int (*hw_attrfn)(PyObject *name, PyObject *value, void *arg);
int hw_inline_attrs(PyObject *obj, hw_attrfn fn, void *arg);

/* Calls fn(name, value, arg) for each bound local variable (cells
   included, as the cell object) of a frame object, or of the suspended
   frame of a generator, coroutine or async generator.  Reads the frame
   without side effects: PyFrame_GetLocals() would update the frame's
   locals dict (3.11, 3.12) and could free objects or run a mapping's
   __setitem__.  Returns fn's nonzero result, or 0; does nothing for other
   objects, cleared frames, or when the layout check failed. */
int hw_frame_locals(PyObject *obj, hw_attrfn fn, void *arg);

/* obj's __dict__ if it already exists, else NULL; never creates one.
   Borrowed reference. */
PyObject *hw_existing_dict(PyObject *obj);

/* Checks the layout; 0 (whatever the outcome), or -1 with an exception
   set if the probe itself could not be made. */
int hw_attrs_init(void);

/* 1 when inline values are read, 0 when the check disabled it. */
int hw_attrs_available(void);

#endif
