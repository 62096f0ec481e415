/* graph.c - the graph's own operations: memory, transpose, address index,
 * shortest-path tree.  See graph.h.  No Python here. */

#include <stdlib.h>
#include "bigmem.h"
#include "csr.h"
#include "graph.h"

hw_graph *
hw_graph_new(void)
{
    return calloc(1, sizeof(hw_graph));
}

void
hw_graph_free(hw_graph *g)
{
    if (g == NULL) {
        return;
    }
    hw_strtab_clear(&g->strings);
    hw_big_free(g->type_name);
    hw_big_free(g->addr);
    hw_big_free(g->type);
    hw_big_free(g->size);
    hw_big_free(g->flags);
    hw_big_free(g->out_off);
    hw_big_free(g->out_adj);
    hw_big_free(g->in_off);
    hw_big_free(g->in_adj);
    hw_big_free(g->root_node);
    hw_big_free(g->root_label);
    hw_big_free(g->index);
    hw_big_free(g->parent);
    hw_big_free(g->root_of);
    hw_big_free(g->label_kind);
    hw_big_free(g->label);
    free(g);
}

int
hw_graph_transpose(hw_graph *g)
{
    uint32_t n = g->n_nodes;
    hw_big_free(g->in_off);
    hw_big_free(g->in_adj);
    g->in_off = NULL;
    g->in_adj = NULL;
    uint32_t *in_off = hw_big_alloc((size_t)n + 1, sizeof(uint32_t));
    uint32_t *in_adj = hw_big_alloc((size_t)g->n_edges + 1, sizeof(uint32_t));
    if (in_off == NULL || in_adj == NULL) {
        hw_big_free(in_off);
        hw_big_free(in_adj);
        return -1;
    }
    /* The edges sorted by target (csr.h), visited by source in increasing
       order: the sort is stable, so each node's referrers come out
       sorted. */
    for (uint32_t e = 0; e < g->n_edges; e++) {
        hw_csr_count(in_off, g->out_adj[e]);
    }
    hw_csr_starts(in_off, n);
    for (uint32_t v = 0; v < n; v++) {
        for (uint32_t e = g->out_off[v]; e < g->out_off[v + 1]; e++) {
            in_adj[hw_csr_next(in_off, g->out_adj[e])] = v;
        }
    }
    hw_csr_finish(in_off, n);
    g->in_off = in_off;
    g->in_adj = in_adj;
    return 0;
}

uint32_t
hw_graph_index_capacity(uint32_t n)
{
    return (uint32_t)hw_capacity((uint64_t)n + 1, 16, (uint64_t)1 << 31,
                                 HW_INDEX_LOAD_NUM, HW_INDEX_LOAD_DEN);
}

int
hw_graph_index_sized(hw_graph *g, uint32_t cap)
{
    uint32_t *index = hw_big_alloc(cap, sizeof(uint32_t));
    if (index == NULL) {
        return -1;
    }
    /* Inserts land on random slots: the slots of the nodes a block ahead
       are prefetched while this one is inserted. */
    const uint32_t ahead = 64;
    for (uint32_t v = 0; v < g->n_nodes && v < ahead; v++) {
        __builtin_prefetch(&index[hw_addr_slot(g->addr[v], cap)], 1);
    }
    for (uint32_t v = 0; v < g->n_nodes; v++) {
        if (v + ahead < g->n_nodes) {
            __builtin_prefetch(&index[hw_addr_slot(g->addr[v + ahead], cap)], 1);
        }
        /* hw_idtab_put, with a check for a second node at the address. */
        size_t j = hw_addr_slot(g->addr[v], cap);
        while (index[j] != 0) {
            if (g->addr[index[j] - 1] == g->addr[v]) {
                hw_big_free(index);
                return -2;
            }
            j = hw_probe_next(j, cap);
        }
        index[j] = v + 1;
    }
    hw_big_free(g->index);
    g->index = index;
    g->index_cap = cap;
    return 0;
}

int
hw_graph_index(hw_graph *g)
{
    uint32_t cap = hw_graph_index_capacity(g->n_nodes);
    return cap == 0 ? -1 : hw_graph_index_sized(g, cap);
}

int
hw_graph_paths(hw_graph *g)
{
    uint32_t n = g->n_nodes;
    hw_big_free(g->parent);
    hw_big_free(g->root_of);
    hw_big_free(g->label_kind);
    hw_big_free(g->label);
    g->parent = hw_big_alloc((size_t)n + 1, sizeof(hw_node));
    g->root_of = hw_big_alloc((size_t)n + 1, sizeof(uint32_t));
    g->label_kind = hw_big_alloc((size_t)n + 1, 1);
    g->label = hw_big_alloc((size_t)n + 1, sizeof(uint32_t));
    /* The queue: every node enters it at most once. */
    hw_node *queue = hw_big_alloc((size_t)n + 1, sizeof(hw_node));
    uint8_t *seen = hw_big_alloc((size_t)n + 1, 1);
    if (!g->parent || !g->root_of || !g->label_kind || !g->label || !queue || !seen) {
        hw_big_free(queue);
        hw_big_free(seen);
        return -1;
    }
    for (uint32_t v = 0; v < n; v++) {
        g->parent[v] = HW_NONE;
        g->root_of[v] = HW_NONE;
    }
    uint32_t head = 0, tail = 0;
    /* Two breadth-first phases over one queue.  Invariant: a node is marked
       seen when it is queued, with its parent and root already final, so
       its path is a shortest one among paths from the roots of the phase
       that reached it; phase 1 (named roots) reaches first everything it
       can, so a path from a named root is preferred to any path from a
       node merely held from outside. */
    for (int phase = 0; phase < 2; phase++) {
        if (phase == 0) {
            for (uint32_t r = 0; r < g->n_roots; r++) {
                hw_node v = g->root_node[r];
                if (v < n && !seen[v]) {
                    seen[v] = 1;
                    g->root_of[v] = r;
                    queue[tail++] = v;
                }
            }
        }
        else {
            for (hw_node v = 0; v < n; v++) {
                if ((g->flags[v] & HW_HELD) && !(g->flags[v] & HW_TARGET) && !seen[v]) {
                    seen[v] = 1;
                    queue[tail++] = v;
                }
            }
        }
        while (head < tail) {
            hw_node v = queue[head++];
            int quiet = (g->flags[v] & HW_QUIET) != 0;
            for (uint32_t e = g->out_off[v]; e < g->out_off[v + 1]; e++) {
                hw_node w = g->out_adj[e];
                if (!seen[w] && !(quiet && (g->flags[w] & HW_TARGET))) {
                    seen[w] = 1;
                    g->parent[w] = v;
                    g->root_of[w] = g->root_of[v];
                    queue[tail++] = w;
                }
            }
        }
    }
    hw_big_free(queue);
    hw_big_free(seen);
    return 0;
}
