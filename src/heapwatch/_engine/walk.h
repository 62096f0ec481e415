/* walk.h - visit every object the cyclic garbage collector tracks.
 *
 * This is the one stage that depends on how CPython keeps its GC lists.
 * On 3.12 and later it is PyUnstable_GC_VisitObjects (public API).  On 3.11
 * it walks the generation lists directly, through internal headers pinned
 * to 3.11 and checked at import (hw_walk_init); if the check fails it falls
 * back to gc.get_objects(), which is correct but costs a list.
 *
 * The set of objects visited is exactly what gc.get_objects() returns:
 * generations 0..2, in list order, not the permanent generation that
 * gc.freeze() fills.
 *
 * Contract for visitors: they run with the GIL held and must neither run
 * Python code nor allocate GC-tracked objects (either could start a
 * collection or change the lists under the walk).  INCREF and plain
 * memory allocation are fine.  Return 0 to go on, 1 to stop early (not
 * an error), -1 to stop with an exception set.
 */
#ifndef HW_WALK_H
#define HW_WALK_H

#include <Python.h>

typedef int (*hw_visitfn)(PyObject *op, void *arg);

/* Checks that the pinned layout matches the running interpreter (a
   mismatch selects the fallback) and prepares the fallback.  Returns 0,
   or -1 with an exception set. */
int hw_walk_init(void);

/* 1 when the direct walk is in use, 0 for the gc.get_objects() fallback. */
int hw_walk_is_direct(void);

/* For tests: force the gc.get_objects() fallback (0) or ask for the direct
   walk back (1).  Returns 0, or -1 if the direct walk is not available. */
int hw_walk_set_direct(int direct);

/* The references the walk itself holds on the object being visited: 1
   when a visitor sees a reference count one higher than the program's
   (PyUnstable_GC_VisitObjects holds one; so does the fallback's list), 0
   for the 3.11 direct walk. */
int hw_walk_extra_refs(void);

/* Visits every tracked object.  Automatic collection is off for the
   duration and restored afterwards.  Returns 0, or -1 with an exception
   set (a visitor failed, or the fallback could not build its list). */
int hw_walk(hw_visitfn visit, void *arg);

/* 1 for an object whose tp_traverse must not be called, because this
   interpreter's traverse of it reports freed objects: the _asyncio module
   on CPython 3.12.0 to 3.12.5 (gh-122695).  Every walk that goes on from
   the tracked objects to their referents (census.c's include_untracked,
   graphbuild.c's pass 2) checks this before calling tp_traverse.  Runs no
   Python code. */
int hw_broken_traverse(PyObject *op);

#endif
