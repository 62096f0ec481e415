/* graphobject.h - the Python face of the reference graph: heapwatch._engine
 * functions graph(), and the Graph type (bindings only; the algorithms are
 * in graph.c, graphbuild.c, names.c, retention.c, dominators.c and
 * snapfile.c). */
#ifndef HW_GRAPHOBJECT_H
#define HW_GRAPHOBJECT_H

#include <Python.h>

/* The module-level functions this file defines, NULL-terminated. */
extern PyMethodDef hw_graph_methods[];

/* Adds the Graph type to the module.  0, or -1 with an exception set. */
int hw_graphobject_init(PyObject *module);

#endif
