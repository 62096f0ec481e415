/* shallow.h - the shallow size of an object, as sys.getsizeof() reports it.
 *
 * sys.getsizeof(o) is type(o).__sizeof__(o) plus the memory CPython keeps
 * in front of the object (the GC header, and on 3.11+ the managed
 * dict/weakref pointers).  Calling __sizeof__ through Python for every
 * object would cost more than the walk itself, so the method is resolved
 * once per type into a kind:
 *
 *   HW_SIZE_PLAIN   object.__sizeof__: basicsize + itemsize * ob_size
 *   HW_SIZE_LIST    list.__sizeof__: basicsize + allocated * sizeof(ptr)
 *   HW_SIZE_DICT    dict.__sizeof__: _PyDict_SizeOf (an exported symbol)
 *   HW_SIZE_CFUNC   any other C method taking no arguments: called directly
 *                   (it allocates an int, never a GC object, runs no Python)
 *   HW_SIZE_DEFER   anything else (a __sizeof__ written in Python): must not
 *                   run during the walk, so the census keeps the object and
 *                   asks after the walk (hw_size_deferred)
 *
 * The kinds are exact: for every object they give what sys.getsizeof gives,
 * which the tests check on every test heap.  If a C __sizeof__ fails, the
 * plain size is used and the error is cleared: a census never fails for
 * one object.
 */
#ifndef HW_SHALLOW_H
#define HW_SHALLOW_H

#include <Python.h>

enum hw_sizekind {
    HW_SIZE_PLAIN = 0,
    HW_SIZE_LIST,
    HW_SIZE_DICT,
    HW_SIZE_CFUNC,
    HW_SIZE_DEFER,
};

typedef struct {
    enum hw_sizekind kind;
    Py_ssize_t preheader;       /* bytes CPython keeps before the object */
    PyCFunction cfunc;          /* HW_SIZE_CFUNC only */
    int static_types_bare;      /* 3.13+, type objects: static ones have no
                                   preheader in sys.getsizeof */
} hw_sizer;

/* Resolves once per interpreter the descriptors that select the fast kinds.
   Returns 0, or -1 with an exception set. */
int hw_shallow_init(void);

/* Classifies a type.  Must not run Python code: uses the MRO lookup only. */
void hw_sizer_for_type(PyTypeObject *tp, hw_sizer *out);

/* Size of one object under its type's sizer; never runs Python code, never
   fails (kind HW_SIZE_DEFER gives the plain size). */
Py_ssize_t hw_shallow_size(PyObject *op, const hw_sizer *s);

/* Size of an object whose type's __sizeof__ is not C: runs Python code.
   Falls back to the plain size if the method fails or misbehaves. */
Py_ssize_t hw_size_deferred(PyObject *op);

#endif
