/* graphquery.h - questions asked of a built graph, in plain C.
 *
 * What the methods of heapwatch._engine.Graph compute, apart from turning
 * the answers into Python values (graphobject.c): which types a name
 * selects, which nodes have a type or a flag, per-type totals, the nodes
 * that are new since an earlier graph, the dominator tree from the
 * graph's roots and every retained size, the largest retained sizes, and
 * what the graph holds in memory.
 *
 * No Python here.  A graph never changes once built (the referrer arrays
 * are made once, by the caller, before anything that needs them), so
 * every function only reads it and may run without the GIL while other
 * threads read the same graph; the exception is hw_query_top_retained
 * (see there).  Arrays returned are the caller's, to free with free() or
 * hw_big_free() as each function says.  Every function returns NULL or
 * -1 only when out of memory.
 */
#ifndef HW_GRAPHQUERY_H
#define HW_GRAPHQUERY_H

#include <stddef.h>
#include <stdint.h>
#include "graph.h"
#include "retention.h"

/* Does the type name tn ("module.qualname", as graphs store them) match
   name: equal, or, for a name without a dot, equal to tn's last part
   ("Model" matches "app.models.Model" and "other.Model")? */
int hw_type_name_matches(const char *tn, const char *name);

/* Which of g's types the names select (hw_type_name_matches, any of
   them): n_types + 1 flags, 1 for a selected type (free). */
uint8_t *hw_query_match_types(const hw_graph *g, const char *const *names, size_t n_names);

/* The nodes whose type is selected (type_match NULL: every type) and whose
   flags have `flag` set (one HW_* flag; 0: any flags), in increasing id
   order; *n receives their number (free). */
hw_node *hw_query_nodes(const hw_graph *g, const uint8_t *type_match, uint8_t flag,
                        uint32_t *n);

/* The nodes of a selected type whose object is not in `old`: no node of
   old at the same address with the same type name.  An address reused by
   an object of the same type counts as old: the result can miss, never
   invent.  In increasing id order, *n set (free). */
hw_node *hw_query_new_since(const hw_graph *g, const hw_graph *old,
                            const uint8_t *type_match, uint32_t *n);

/* Per type t: the number of its nodes, (*count)[t], and the sum of their
   shallow sizes, (*bytes)[t]; n_types + 1 entries each (free both).  0,
   or -1. */
int hw_query_type_totals(const hw_graph *g, uint64_t **count, uint64_t **bytes);

/* Per type t, in groups[t]: count and bytes as above, shape = t, and
   retained: the size of the union of the dominator subtrees of the
   type's nodes (retention.h, hw_group_retained); n_types + 1 groups
   (free). */
hw_group *hw_query_retained_by_type(const hw_graph *g, const uint32_t *idom,
                                    const uint64_t *retained);

/* The dominator tree of g from a virtual root whose edges go to the named
   roots, then to the nodes held from outside (the order only affects
   speed), and the retained size of every node (dominators.h).  g needs
   its referrer arrays (hw_graph_transpose).  0 with *idom and *retained
   set (n_nodes + 1 entries each, hw_big_free), or -1. */
int hw_query_dominators(const hw_graph *g, uint32_t **idom, uint64_t **retained);

/* The k nodes (at most n) with the largest retained sizes, largest first,
   ties by increasing id; *have receives their number (hw_big_free).  Not
   reentrant: qsort has no context argument, so the sort's keys are in a
   static of graphquery.c during the call; the caller serializes calls
   (graphobject.c holds the GIL). */
uint32_t *hw_query_top_retained(const uint64_t *retained, uint32_t n, size_t k, size_t *have);

/* The memory g holds in bytes (graph.h's accounting): the graph itself
   (per node and per edge, the referrer arrays counted whether made yet or
   not, and the address index), and what its analyses add (the path tree;
   the dominators when has_dominators). */
void hw_query_memory(const hw_graph *g, int has_dominators, size_t *graph_bytes,
                     size_t *analysis_bytes);

#endif
