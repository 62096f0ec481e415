/* dominators.h - immediate dominators and retained sizes of a graph.
 *
 * The graph is given by its CSR arrays (graph.h): n nodes, successors
 * out_adj[out_off[v] .. out_off[v+1]), predecessors likewise in in_off /
 * in_adj.  A virtual root (numbered n) has an edge to each of roots[0 ..
 * n_roots) in that order.  Node d dominates v when every path from the
 * virtual root to v goes through d; idom[v] is the closest strict dominator
 * of v: n (the virtual root) for nodes only the virtual root dominates, and
 * HW_NONE for nodes the virtual root does not reach.
 *
 * The retained size of v is the total size of the nodes v dominates,
 * itself included: what freeing v would free.  Iterative algorithms only
 * (no recursion: graphs have millions of nodes and deep chains).
 */
#ifndef HW_DOMINATORS_H
#define HW_DOMINATORS_H

#include <stdint.h>

/* Fills idom[0 .. n).  roots may repeat nodes and may be empty.  Returns
   0, or -1 when out of memory (idom is then unspecified). */
int hw_dominators(uint32_t n,
                  const uint32_t *out_off, const uint32_t *out_adj,
                  const uint32_t *in_off, const uint32_t *in_adj,
                  const uint32_t *roots, uint32_t n_roots,
                  uint32_t *idom);

/* Fills retained[0 .. n) from idom (as hw_dominators gives it) and the
   shallow sizes: retained[v] = size[v] + the retained sizes of the nodes
   whose idom is v.  Unreached nodes (idom HW_NONE) retain their own size.
   Returns 0, or -1 when out of memory. */
int hw_retained_sizes(uint32_t n, const uint32_t *idom, const uint64_t *size,
                      uint64_t *retained);

#endif
