/* module.h - the state of heapwatch._engine, and the guard of its heap walks.
 *
 * Everything Python the module keeps lives in its state (PEP 489 and 573):
 * the types it defines, the baseline census of growth(), the interned
 * names its bindings look up.  Each module object made from the extension
 * has a state of its own: multi-phase init (Py_mod_exec) runs hw_exec
 * again for a second module object, whether it comes from
 * importlib.util.module_from_spec() on the same spec or from a fresh import
 * after the first was removed from sys.modules, and its functions then
 * make instances of its own types.  No C global holds a Python object.
 * What is global is plain C: the walk depth of each thread (below), and
 * facts about the running interpreter that are the same for every module
 * object (walk.c's choice of walk, attrs.c's layout checks).
 *
 * Reaching the state: from a module function, through its module argument
 * (hw_state_of_module); from a method, through the type of self
 * (hw_state_of_type, which finds the module with PyType_GetModuleByDef).
 * An instance keeps its type alive and the type its module, so an object
 * outlives the module object that made it and still finds its state.
 *
 * Lifetime: hw_traverse visits every type in the state, hw_clear and
 * hw_free (module.c) drop every reference, so a module object that is no
 * longer referenced is collected with its types.
 */
#ifndef HW_MODULE_H
#define HW_MODULE_H

#include <Python.h>
#include "shallow.h"

typedef struct {
    PyTypeObject *census_type;
    PyTypeObject *typestats_type;   /* structseq (count, bytes) */
    PyTypeObject *growthrow_type;   /* structseq (name, count, delta, bytes_delta) */
    PyTypeObject *graph_type;
    PyObject *baseline;             /* last census taken by growth(), or NULL;
                                       a Census, not a GC object */
    PyObject *module_name_attr;     /* interned "__module__" */
    hw_sizeofs sizeofs;             /* interned "__sizeof__" and the builtin
                                       __sizeof__ descriptors (shallow.h) */
} hw_state;

extern PyModuleDef hw_moduledef;

static inline hw_state *
hw_state_of_module(PyObject *module)
{
    return (hw_state *)PyModule_GetState(module);
}

/* The state of the module that defined tp (one of the module's own types,
   or a subclass of one).  NULL with TypeError set otherwise. */
static inline hw_state *
hw_state_of_type(PyTypeObject *tp)
{
    PyObject *module = PyType_GetModuleByDef(tp, &hw_moduledef);
    return module ? (hw_state *)PyModule_GetState(module) : NULL;
}

/* Every entry point that walks the heap (census, graph build) runs between
   hw_enter and hw_leave.  The walk itself runs no Python code, but an audit
   hook, a finalizer run by the build's own DECREFs or a C __sizeof__ of an
   extension could start a second walk from inside the first on the same
   thread; it is refused rather than nested.  Other threads are not
   refused: each walk holds the GIL from start to end.  The depth is per
   thread and shared by every module object: a walk of one must not nest in
   a walk of another either.  hw_enter returns 0, or -1 with RuntimeError
   set. */
extern _Thread_local int hw_walk_depth;

static inline int
hw_enter(const char *what)
{
    if (hw_walk_depth > 0) {
        PyErr_Format(PyExc_RuntimeError,
                     "heapwatch: %s() called from inside another census or graph "
                     "build on this thread (an audit hook, a finalizer or a "
                     "__sizeof__); heap walks do not nest", what);
        return -1;
    }
    hw_walk_depth++;
    return 0;
}

static inline void
hw_leave(void)
{
    hw_walk_depth--;
}

#endif
