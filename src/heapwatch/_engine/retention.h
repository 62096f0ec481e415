/* retention.h - group objects by the shape of what keeps them alive.
 *
 * The shape of a node's retention path is its path-tree path (graph.h)
 * with the particulars dropped: each step keeps the type of the object and
 * the kind of edge, and the name only where it says *which* reference
 * (attributes, closure and local variables, named slots, keys of a
 * module's, class's or instance's __dict__); list and tuple indices, set
 * members and the keys of other dicts are dropped.  98,327 model
 * instances in one cached list thus make one group, "module m .CACHE
 * [*] -> QuerySet ._result_cache -> list [*] -> FirstModel".
 *
 * Shapes are interned in a table: shape(v) = (shape(parent(v)), edge
 * kind, kept name, type(v)), and a root's shape is (root label or "held
 * from outside", type).  Each node's shape is computed once (memoized, top
 * down along its path), so grouping k targets costs O(the nodes on their
 * paths), not O(k x path length).
 */
#ifndef HW_RETENTION_H
#define HW_RETENTION_H

#include <stdint.h>
#include "graph.h"

/* shape root kinds (the `kind` of a shape without parent) */
#define HW_SHAPE_NAMED 0        /* value: the root label's string id */
#define HW_SHAPE_HELD 1         /* held from outside the graph */
#define HW_SHAPE_UNREACHED 2    /* no path from any root (garbage) */

typedef struct {
    uint32_t n, cap;
    uint32_t *parent;           /* parent shape, HW_NONE for a root shape */
    uint8_t *kind;              /* hw_label_kind of the last edge, or HW_SHAPE_* */
    uint32_t *value;            /* kept name (string id), index, or HW_NONE */
    uint32_t *type;             /* type of the node the step reaches */
    uint32_t *index;            /* hash: ids + 1 */
    uint32_t index_cap;
} hw_shapes;

typedef struct {
    uint32_t shape;
    uint64_t count;
    uint64_t bytes;             /* shallow */
    uint64_t retained;          /* union of the members' dominator subtrees;
                                   0 when no dominators were given */
    hw_node example;            /* the member with the lowest id */
} hw_group;

/* Groups the nodes targets[0 .. n_targets) (repeats are counted once);
   g needs its path tree, and labels on the targets' paths (names.h).
   idom and retained (dominators.h) may be NULL.  On success *groups
   (malloc'd, sorted by count, then bytes, descending) and *n_groups are
   set, and shapes holds every shape they use.  Reads g only, so it may run
   without the GIL while other threads read g.  Returns 0, or -1 when out
   of memory. */
int hw_retention(const hw_graph *g, const hw_node *targets, uint32_t n_targets,
                 const uint32_t *idom, const uint64_t *retained,
                 hw_shapes *shapes, hw_group **groups, uint32_t *n_groups);

/* The shape of one node, computed as hw_retention does (HW_NONE on
   error).  memo is an n_nodes array the caller keeps between calls,
   initially zeroed: memo[v] is v's shape + 1 once known. */
uint32_t hw_shape_of(const hw_graph *g, hw_node v, hw_shapes *shapes,
                     uint32_t *memo);

/* Adds to groups[i].retained the retained size of the members of group i
   that no other member of the same group dominates: the size of the union
   of their dominator subtrees.  v is a member of group group_of[v] - bias
   (unsigned) when that is below n_groups: bias 0 with HW_NONE for "none",
   or bias 1 with 0 for "none".  One iterative pass over the dominator
   tree.  0, or -1 out of memory. */
int hw_group_retained(const hw_graph *g, const uint32_t *idom, const uint64_t *retained,
                      const uint32_t *group_of, uint32_t bias, hw_group *groups,
                      uint32_t n_groups);

/* Sorts groups by retained size, largest first, ties by example (the
   order retention(by="retained") reports). */
void hw_groups_sort_by_retained(hw_group *groups, uint32_t n_groups);

void hw_shapes_clear(hw_shapes *s);

#endif
