/* pyver.h - which CPython we are built for.  Included before Python.h by
   files that must choose headers; it only reads patchlevel.h. */
#ifndef HW_PYVER_H
#define HW_PYVER_H

#include <patchlevel.h>

#define HW_PY311 (PY_MAJOR_VERSION == 3 && PY_MINOR_VERSION == 11)
#define HW_PY312_PLUS (PY_MAJOR_VERSION == 3 && PY_MINOR_VERSION >= 12)

#endif
