/* domtree.h - the dominator tree cut down to a size a person can look at.
 *
 * A heap's dominator tree has a node per object; a picture of it (the
 * report's icicle) can show a few thousand.  hw_domtree keeps the k
 * objects that retain the most, and sums up everything else that hangs
 * directly below a kept object (or below the virtual root, or nowhere:
 * unreachable garbage) by type: "5,120 FirstModel, 3.1 MiB retained"
 * under the list that holds them.
 *
 * The invariant that makes the cut a tree: an object's immediate
 * dominator retains at least what it retains (retained[idom[v]] =
 * size[idom[v]] + the retained sizes of its dominator children), so the
 * k largest are closed under idom except for ties with zero-sized
 * dominators; those ancestors are added too.  Every kept node's parent is
 * then kept (or is the virtual root, or HW_NONE), every "rest" row's
 * members are disjoint subtrees, and a parent's retained size is at least
 * the sum of its children's rows: the tree can be drawn with sizes that
 * add up ("total" branch values).
 *
 * No Python here; reads the graph and the dominators' arrays only.
 */
#ifndef HW_DOMTREE_H
#define HW_DOMTREE_H

#include <stddef.h>
#include <stdint.h>
#include "graph.h"

/* One row of the cut tree.  A kept object: node = its id, count 1,
   retained = its retained size.  A rest row: node = HW_NONE, the objects
   of one type whose immediate dominator is `parent`, count of them and
   the sum of their retained sizes.  parent: a kept node's id, n_nodes for
   the virtual root (the object is held by roots only), or HW_NONE
   (unreachable from the roots: garbage not collected yet). */
typedef struct {
    hw_node node;
    uint32_t parent;
    uint32_t type;
    uint64_t count;
    uint64_t retained;
} hw_domrow;

/* The cut tree of g (n_nodes nodes) from idom and retained
   (hw_query_dominators): the kept objects first, largest retained first
   (ties by id; added ancestors after them), then the rest rows, each
   group of one parent in order of first appearance.  k = 0 keeps none
   (every row is a rest row of the virtual root or of the garbage).
   0 with *rows (free) and *n_rows set, or -1 when out of memory. */
int hw_domtree(const hw_graph *g, const uint32_t *idom, const uint64_t *retained,
               size_t k, hw_domrow **rows, size_t *n_rows);

#endif
