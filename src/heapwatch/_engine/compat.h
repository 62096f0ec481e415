/* compat.h - the private CPython names heapwatch uses, in one place.
 *
 * Three files may name CPython internals: walk.c and attrs.c, which read
 * private layouts through the internal headers (pinned and checked at
 * import, see walk.h and attrs.h), and this header.  Everything else uses
 * the public API, and the few private functions it needs through the hw_
 * wrappers below; tests/test_source_lint.py rejects any other identifier
 * starting with "_Py" in the engine and in fuzz/.
 *
 * Each wrapper says why the public API does not do, and where the name is
 * declared on each supported version (3.11 to 3.13).  All are functions
 * libpython exports; none is a structure layout.  When one goes away in a
 * new CPython, this is the file to change, and the build fails here first.
 */
#ifndef HW_COMPAT_H
#define HW_COMPAT_H

#include <Python.h>
#include <stdint.h>
#include <stdio.h>

#if PY_VERSION_HEX < 0x030C0000
#  include "structmember.h"
#endif

/* type's attribute `name` found along its MRO, without calling descriptors
   or __getattr__ (so no Python code runs) and without allocating: the
   lookup type.__getattribute__ starts with.  PyObject_GetAttr on the type
   would bind and could run a metaclass's Python code.  Borrowed reference,
   or NULL without an exception.  cpython/object.h on 3.11 to 3.13. */
static inline PyObject *
hw_type_lookup(PyTypeObject *type, PyObject *name)
{
    return _PyType_Lookup(type, name);
}

/* dict.__sizeof__ of d without the method call (which would allocate an
   int).  cpython/dictobject.h on 3.11 and 3.12; 3.13 still exports it but
   declares it only in an internal header, hence the declaration here. */
#if PY_VERSION_HEX >= 0x030D0000
PyAPI_FUNC(Py_ssize_t) _PyDict_SizeOf(PyDictObject *);
#endif

static inline Py_ssize_t
hw_dict_sizeof(PyObject *d)
{
    return _PyDict_SizeOf((PyDictObject *)d);
}

/* 1 for an immortal object (3.12+): its reference count is a marker, not
   a count.  3.11 has no immortal objects.  object.h on 3.12 and 3.13 (a
   static inline function there). */
static inline int
hw_is_immortal(PyObject *op)
{
#if PY_VERSION_HEX >= 0x030C0000
    return _Py_IsImmortal(op);
#else
    (void)op;
    return 0;
#endif
}

/* The number of bits of abs(v), v an int: to refuse the decimal repr of a
   huge int (quadratic, and limited by sys.set_int_max_str_digits) without
   computing it.  int.bit_length() would be a method call making an int.
   -1 only if the count overflows (never, in practice).
   cpython/longobject.h on 3.11 to 3.13. */
static inline int64_t
hw_long_bits(PyObject *v)
{
    return (int64_t)_PyLong_NumBits(v);
}

/* PyMemberDef types of the members names.c reads.  3.12 renamed T_OBJECT_EX
   to Py_T_OBJECT_EX and kept T_OBJECT (a member that may be NULL, read as
   None) only as _Py_T_OBJECT in descrobject.h; 3.11 has both in
   structmember.h.  Members with Py_RELATIVE_OFFSET (3.12+) are offsets
   from the end of the base type's layout. */
#if PY_VERSION_HEX < 0x030C0000
#  define HW_T_OBJECT T_OBJECT
#  define HW_T_OBJECT_EX T_OBJECT_EX
#  define HW_RELATIVE_OFFSET 0
#else
#  define HW_T_OBJECT _Py_T_OBJECT
#  define HW_T_OBJECT_EX Py_T_OBJECT_EX
#  define HW_RELATIVE_OFFSET Py_RELATIVE_OFFSET
#endif

/* pymalloc's statistics as text (what sys._debugmallocstats() prints to
   stderr), written to out; returns 0 when pymalloc is not the object
   allocator and nothing was written.  Exported by libpython 3.11 to 3.13
   but declared only in an internal header (pycore_pymem.h on 3.11,
   pycore_obmalloc.h from 3.12).  It exists only in builds with pymalloc:
   without it, HW_HAVE_PYMALLOC_STATS is 0 and there is nothing to read. */
#ifdef WITH_PYMALLOC
#  define HW_HAVE_PYMALLOC_STATS 1
PyAPI_FUNC(int) _PyObject_DebugMallocStats(FILE *out);

static inline int
hw_pymalloc_stats(FILE *out)
{
    return _PyObject_DebugMallocStats(out);
}
#else
#  define HW_HAVE_PYMALLOC_STATS 0
#endif

#endif
