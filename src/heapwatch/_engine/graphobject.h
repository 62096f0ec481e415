/* graphobject.h - the Python face of the reference graph: heapwatch._engine
 * functions graph() and load(), and the Graph type.  Bindings only: the
 * build is graphbuild.c's (names.c names the edges), the questions a
 * Graph answers are graphquery.c's (retention.c groups, dominators.c
 * dominates), the file is snapfile.c's, the structure graph.c's. */
#ifndef HW_GRAPHOBJECT_H
#define HW_GRAPHOBJECT_H

#include <Python.h>
#include "module.h"

/* The module-level functions this file defines, NULL-terminated. */
extern PyMethodDef hw_graph_methods[];

/* Makes the Graph type into st and adds it to the module.  0, or -1 with
   an exception set. */
int hw_graphobject_init(PyObject *module, hw_state *st);

#endif
