/* graphquery.c - questions asked of a built graph.  See graphquery.h.
 * No Python here: plain arrays, malloc and bigmem.h. */

#include <stdlib.h>
#include <string.h>
#include "bigmem.h"
#include "dominators.h"
#include "graphquery.h"

/* ---- selecting nodes ------------------------------------------------------ */

int
hw_type_name_matches(const char *tn, const char *name)
{
    if (strcmp(tn, name) == 0) {
        return 1;
    }
    if (strchr(name, '.') != NULL) {
        return 0;
    }
    const char *dot = strrchr(tn, '.');
    return dot != NULL && strcmp(dot + 1, name) == 0;
}

uint8_t *
hw_query_match_types(const hw_graph *g, const char *const *names, size_t n_names)
{
    uint8_t *match = calloc((size_t)g->n_types + 1, 1);
    if (match == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < n_names; i++) {
        for (uint32_t t = 0; t < g->n_types; t++) {
            match[t] |= (uint8_t)hw_type_name_matches(g->strings.s[g->type_name[t]], names[i]);
        }
    }
    return match;
}

/* The selections below are usually a small part of the graph, so none
   takes n_nodes entries at once (a mapping of its own, and a huge page
   cleared on first touch): hw_query_nodes counts before it allocates, and
   new_since's list starts small and doubles (malloc).
   The loops read the graph's arrays through local pointers: the stores
   into the list could otherwise alias them (the engine is built with
   -fno-strict-aliasing), and each would be read back from g at every
   node.  They run over every node, and are memory bound. */

typedef struct {
    hw_node *a;
    uint32_t n, cap;
} nodelist;

static int
nodelist_grow(nodelist *l)
{
    uint32_t cap = l->cap ? (l->cap > UINT32_MAX / 2 ? UINT32_MAX : l->cap * 2) : 1024;
    hw_node *a = realloc(l->a, (size_t)cap * sizeof(hw_node));
    if (a == NULL) {
        return -1;
    }
    l->a = a;
    l->cap = cap;
    return 0;
}

static inline int
nodelist_push(nodelist *l, hw_node v)
{
    if (l->n == l->cap && nodelist_grow(l) < 0) {
        return -1;
    }
    l->a[l->n++] = v;
    return 0;
}

/* The list as a result: its array (never NULL), *n set; NULL when out of
   memory. */
static hw_node *
nodelist_done(nodelist *l, uint32_t *n)
{
    if (l->a == NULL && nodelist_grow(l) < 0) {
        return NULL;
    }
    *n = l->n;
    return l->a;
}

/* Whether node v is selected: of a type type_match marks (all types when
   it is NULL), and carrying `flag` (any node when it is 0). */
static inline int
selected(const uint32_t *type, const uint8_t *flags, const uint8_t *type_match,
         uint8_t flag, hw_node v)
{
    return (type_match == NULL || type_match[type[v]]) && (flag == 0 || (flags[v] & flag));
}

hw_node *
hw_query_nodes(const hw_graph *g, const uint8_t *type_match, uint8_t flag, uint32_t *n)
{
    const uint32_t *type = g->type;
    const uint8_t *flags = g->flags;
    uint32_t n_nodes = g->n_nodes;
    /* Two passes over the arrays, both branch-free: count, then fill an
       array of exactly that size, writing each node at the next free index
       and advancing the index past the selected ones only (the loop stops
       once all are written, so no write goes past the end).  Measured
       faster than one pass pushing onto a growing list, which branches on
       every node; the +1 keeps malloc's size nonzero. */
    uint32_t count = 0;
    for (hw_node v = 0; v < n_nodes; v++) {
        count += selected(type, flags, type_match, flag, v);
    }
    hw_node *out = malloc(((size_t)count + 1) * sizeof(hw_node));
    if (out == NULL) {
        return NULL;
    }
    uint32_t k = 0;
    for (hw_node v = 0; v < n_nodes && k < count; v++) {
        out[k] = v;
        k += selected(type, flags, type_match, flag, v);
    }
    *n = count;
    return out;
}

hw_node *
hw_query_new_since(const hw_graph *g, const hw_graph *old, const uint8_t *type_match,
                   uint32_t *n)
{
    const uint32_t *type = g->type;
    uint32_t n_nodes = g->n_nodes;
    nodelist l = {NULL, 0, 0};
    for (hw_node v = 0; v < n_nodes; v++) {
        if (!type_match[type[v]]) {
            continue;
        }
        hw_node w = hw_graph_find(old, g->addr[v]);
        if (w != HW_NONE && strcmp(old->strings.s[old->type_name[old->type[w]]],
                                   g->strings.s[g->type_name[type[v]]]) == 0) {
            continue;
        }
        if (nodelist_push(&l, v) < 0) {
            free(l.a);
            return NULL;
        }
    }
    return nodelist_done(&l, n);
}

/* ---- per type ------------------------------------------------------------- */

int
hw_query_type_totals(const hw_graph *g, uint64_t **count_out, uint64_t **bytes_out)
{
    /* Two arrays rather than one of structs: the loop is a chain of
       read-modify-writes, one per node, and plain indexing keeps each
       address one instruction away from the type it comes from. */
    uint64_t *count = calloc((size_t)g->n_types + 1, sizeof(uint64_t));
    uint64_t *bytes = calloc((size_t)g->n_types + 1, sizeof(uint64_t));
    if (count == NULL || bytes == NULL) {
        free(count);
        free(bytes);
        return -1;
    }
    const uint32_t *type = g->type;
    const uint64_t *size = g->size;
    for (hw_node v = 0, n_nodes = g->n_nodes; v < n_nodes; v++) {
        count[type[v]]++;
        bytes[type[v]] += size[v];
    }
    *count_out = count;
    *bytes_out = bytes;
    return 0;
}

hw_group *
hw_query_retained_by_type(const hw_graph *g, const uint32_t *idom, const uint64_t *retained)
{
    hw_group *groups = calloc((size_t)g->n_types + 1, sizeof(hw_group));
    if (groups == NULL) {
        return NULL;
    }
    const uint32_t *type = g->type;
    const uint64_t *size = g->size;
    for (hw_node v = 0, n_nodes = g->n_nodes; v < n_nodes; v++) {
        groups[type[v]].count++;
        groups[type[v]].bytes += size[v];
    }
    for (uint32_t t = 0; t < g->n_types; t++) {
        groups[t].shape = t;
    }
    /* A node's group is its type: group_of = type, bias 0. */
    if (hw_group_retained(g, idom, retained, g->type, 0, groups, g->n_types) < 0) {
        free(groups);
        return NULL;
    }
    return groups;
}

/* ---- dominators ----------------------------------------------------------- */

int
hw_query_dominators(const hw_graph *g, uint32_t **idom_out, uint64_t **retained_out)
{
    uint32_t n = g->n_nodes;
    /* The virtual root's edges: every named root (repeats are harmless),
       then every node held from outside. */
    uint32_t *roots = hw_big_alloc((size_t)n + g->n_roots + 1, sizeof(uint32_t));
    uint32_t *idom = hw_big_alloc((size_t)n + 1, sizeof(uint32_t));
    uint64_t *retained = hw_big_alloc((size_t)n + 1, sizeof(uint64_t));
    int rc = -1;
    if (roots == NULL || idom == NULL || retained == NULL) {
        goto done;
    }
    uint32_t nr = 0;
    for (uint32_t r = 0; r < g->n_roots; r++) {
        roots[nr++] = g->root_node[r];
    }
    for (hw_node v = 0; v < n; v++) {
        if (g->flags[v] & HW_HELD) {
            roots[nr++] = v;
        }
    }
    rc = hw_dominators(n, g->out_off, g->out_adj, g->in_off, g->in_adj, roots, nr, idom);
    if (rc == 0) {
        rc = hw_retained_sizes(n, idom, g->size, retained);
    }
done:
    hw_big_free(roots);
    if (rc < 0) {
        hw_big_free(idom);
        hw_big_free(retained);
        return -1;
    }
    *idom_out = idom;
    *retained_out = retained;
    return 0;
}

/* The keys of the one sort in progress (see graphquery.h). */
static const uint64_t *sort_retained;

static int
cmp_retained(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    if (sort_retained[x] != sort_retained[y]) {
        return sort_retained[x] > sort_retained[y] ? -1 : 1;
    }
    return x < y ? -1 : (x > y);
}

uint32_t *
hw_query_top_retained(const uint64_t *retained, uint32_t n, size_t k, size_t *have_out)
{
    /* A small k keeps a sorted array of the best so far in one pass
       (O(n k)); a large one sorts every node (O(n log n)).  Invariant of
       the pass: best[0 .. have) are the largest of the nodes seen,
       largest first, ties by id (a later node never displaces an equal
       one, since ids only grow). */
    if (k > n) {
        k = n;
    }
    size_t have = 0;
    uint32_t *best;
    if (k > 64) {
        best = hw_big_alloc((size_t)n + 1, sizeof(uint32_t));
        if (best == NULL) {
            return NULL;
        }
        for (hw_node v = 0; v < n; v++) {
            best[v] = v;
        }
        sort_retained = retained;
        qsort(best, n, sizeof(uint32_t), cmp_retained);
        sort_retained = NULL;
        have = k;
    }
    else {
        best = hw_big_alloc(k + 1, sizeof(uint32_t));
        if (best == NULL) {
            return NULL;
        }
        for (hw_node v = 0; v < n && k > 0; v++) {
            uint64_t r = retained[v];
            if (have == k && r <= retained[best[k - 1]]) {
                continue;
            }
            size_t pos = have < k ? have++ : k - 1;
            while (pos > 0 && retained[best[pos - 1]] < r) {
                best[pos] = best[pos - 1];
                pos--;
            }
            best[pos] = v;
        }
    }
    *have_out = have;
    return best;
}

/* ---- memory --------------------------------------------------------------- */

void
hw_query_memory(const hw_graph *g, int has_dominators, size_t *graph_bytes,
                size_t *analysis_bytes)
{
    size_t n = g->n_nodes, e = g->n_edges;
    /* Per node: addr 8, type 4, size 8, flags 1, out_off 4, in_off 4; per
       edge: out_adj 4, in_adj 4; the index's 4-byte slots.  The path tree
       adds parent, root_of and label 4 each and label_kind 1; dominators,
       idom 4 and retained 8. */
    *graph_bytes = n * (8 + 4 + 8 + 1 + 4 + 4) + (size_t)g->index_cap * 4 + e * 8;
    *analysis_bytes = (g->parent ? n * 13 : 0) + (has_dominators ? n * 12 : 0);
}
