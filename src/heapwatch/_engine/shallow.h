/* shallow.h - the shallow size of an object, from C alone.
 *
 * sys.getsizeof(o) is type(o).__sizeof__(o) plus the memory CPython keeps
 * in front of the object (the GC header, and on 3.11+ the managed
 * dict/weakref pointers).  A census must never run Python code of the
 * application (a MagicMock records every call, a DataFrame's __sizeof__
 * walks its data), so __sizeof__ is honoured only where it is a C function
 * that belongs to the object's layout:
 *
 *   The first __sizeof__ along the MRO that is a C method (a method
 *   descriptor taking no arguments, or only its defining class) whose owner, the type that defined it,
 *   is a base of the object's type.  A definition that is Python code, or
 *   a C method borrowed by an unrelated class (`__sizeof__ =
 *   dict.__sizeof__` on a class that is no dict), is passed over and the
 *   search goes on along the MRO; object.__sizeof__ ends it.
 *
 * The chosen method is resolved once per type into a kind:
 *
 *   HW_SIZE_PLAIN   object.__sizeof__: basicsize + itemsize * ob_size
 *   HW_SIZE_LIST    list.__sizeof__: basicsize + allocated * sizeof(ptr)
 *   HW_SIZE_DICT    dict.__sizeof__: _PyDict_SizeOf (an exported symbol)
 *   HW_SIZE_CFUNC   any other C method taking no arguments: called directly
 *                   (it allocates an int, never a GC object, runs no Python)
 *
 * So for builtin types and classes that do not override __sizeof__ the size
 * is what sys.getsizeof gives (the tests check it on every test heap); for a
 * class whose __sizeof__ is Python code it is what sys.getsizeof would give
 * without that override.  If a C __sizeof__ fails, the plain size is used
 * and the error is cleared: a census never fails for one object.
 */
#ifndef HW_SHALLOW_H
#define HW_SHALLOW_H

#include <Python.h>

enum hw_sizekind {
    HW_SIZE_PLAIN = 0,
    HW_SIZE_LIST,
    HW_SIZE_DICT,
    HW_SIZE_CFUNC,
};

typedef struct {
    enum hw_sizekind kind;
    Py_ssize_t preheader;       /* bytes CPython keeps before the object */
    PyCFunction cfunc;          /* HW_SIZE_CFUNC only */
    PyTypeObject *defcls;       /* its defining class if METH_METHOD, else NULL */
    int static_types_bare;      /* 3.13+, type objects: static ones have no
                                   preheader in sys.getsizeof */
} hw_sizer;

/* What hw_sizer_for_type looks up and compares against; each module object
   keeps one in its state (module.h). */
typedef struct {
    PyObject *name;             /* interned "__sizeof__", strong */
    /* object.__sizeof__, list.__sizeof__ and dict.__sizeof__, borrowed:
       static types and their descriptors live as long as the process.
       Only compared, never called. */
    PyObject *object_sizeof;
    PyObject *list_sizeof;
    PyObject *dict_sizeof;
} hw_sizeofs;

/* Fills *s.  Returns 0, or -1 with an exception set (then hw_shallow_clear
   releases what was taken). */
int hw_shallow_init(hw_sizeofs *s);

/* Drops the reference to the name; safe on a zeroed or cleared *s. */
void hw_shallow_clear(hw_sizeofs *s);

/* Classifies a type.  Must not run Python code: uses the MRO lookup only. */
void hw_sizer_for_type(const hw_sizeofs *s, PyTypeObject *tp, hw_sizer *out);

/* Size of one object under its type's sizer; never runs Python code, never
   fails. */
Py_ssize_t hw_shallow_size(PyObject *op, const hw_sizer *s);

#endif
