/* domtree.c - the dominator tree cut down to a size a person can look at
 * (see domtree.h). */

#include <stdlib.h>
#include <string.h>
#include "bigmem.h"
#include "domtree.h"
#include "hashing.h"

/* ---- the k largest ---------------------------------------------------------- */

/* Is a before b in the order of the result: larger retained first, then
   smaller id? */
static int
before(const uint64_t *retained, hw_node a, hw_node b)
{
    return retained[a] > retained[b] || (retained[a] == retained[b] && a < b);
}

/* A binary heap of at most k node ids whose top (heap[0]) is the last of
   them in the result's order: a node that is not before the top cannot
   be among the k largest of those seen.  One pass, O(n log k), and
   O(n) in practice (most nodes fail the first comparison). */
static void
sift_down(hw_node *heap, size_t have, size_t i, const uint64_t *retained)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, last = i;
        if (l < have && before(retained, heap[last], heap[l])) {
            last = l;
        }
        if (r < have && before(retained, heap[last], heap[r])) {
            last = r;
        }
        if (last == i) {
            return;
        }
        hw_node t = heap[i];
        heap[i] = heap[last];
        heap[last] = t;
        i = last;
    }
}

static void
sift_up(hw_node *heap, size_t i, const uint64_t *retained)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(retained, heap[p], heap[i])) {
            return;
        }
        hw_node t = heap[i];
        heap[i] = heap[p];
        heap[p] = t;
        i = p;
    }
}

static const uint64_t *sort_retained;   /* qsort has no context argument */

static int
cmp_before(const void *a, const void *b)
{
    hw_node x = *(const hw_node *)a, y = *(const hw_node *)b;
    return before(sort_retained, x, y) ? -1 : before(sort_retained, y, x) ? 1 : 0;
}

/* ---- the rest, by parent and type ------------------------------------------ */

typedef struct {
    hw_domrow *rows;
    size_t n, cap;
    uint32_t *slots;            /* row index + 1 of the rest rows; 0 empty */
    size_t n_slots;
    size_t first_rest;          /* rows before it are kept objects */
} builder;

static int
push_row(builder *b, hw_domrow row)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        hw_domrow *rows = realloc(b->rows, cap * sizeof(hw_domrow));
        if (rows == NULL) {
            return -1;
        }
        b->rows = rows;
        b->cap = cap;
    }
    b->rows[b->n++] = row;
    return 0;
}

static uint32_t
rest_hash(uint32_t parent, uint32_t type)
{
    return hw_hash_u32x4(parent, type, 0, 0);
}

/* Adds an object to the rest row of (parent, type), made on first need. */
static int
add_rest(builder *b, uint32_t parent, uint32_t type, uint64_t retained)
{
    size_t n_rest = b->n - b->first_rest;
    if (hw_over_load(n_rest + 1, b->n_slots, 1, 2)) {
        size_t cap = b->n_slots ? b->n_slots * 2 : 1024;
        uint32_t *slots = calloc(cap, sizeof(uint32_t));
        if (slots == NULL) {
            return -1;
        }
        for (size_t i = b->first_rest; i < b->n; i++) {
            hw_idtab_put(slots, cap, rest_hash(b->rows[i].parent, b->rows[i].type),
                         (uint32_t)(i - b->first_rest));
        }
        free(b->slots);
        b->slots = slots;
        b->n_slots = cap;
    }
    uint32_t h = rest_hash(parent, type);
    for (size_t j = hw_slot(h, b->n_slots); b->slots[j] != 0; j = hw_probe_next(j, b->n_slots)) {
        hw_domrow *r = &b->rows[b->first_rest + b->slots[j] - 1];
        if (r->parent == parent && r->type == type) {
            r->count++;
            r->retained += retained;
            return 0;
        }
    }
    hw_domrow row = {HW_NONE, parent, type, 1, retained};
    if (push_row(b, row) < 0) {
        return -1;
    }
    hw_idtab_put(b->slots, b->n_slots, h, (uint32_t)(n_rest));
    return 0;
}

/* ---- the cut ---------------------------------------------------------------- */

int
hw_domtree(const hw_graph *g, const uint32_t *idom, const uint64_t *retained,
           size_t k, hw_domrow **rows_out, size_t *n_out)
{
    hw_node n = g->n_nodes;
    if (k > n) {
        k = n;
    }
    builder b = {0};
    hw_node *heap = malloc((k ? k : 1) * sizeof(hw_node));
    uint8_t *kept = hw_big_alloc((size_t)n + 1, 1);
    if (heap == NULL || kept == NULL) {
        goto fail;
    }
    memset(kept, 0, (size_t)n + 1);

    size_t have = 0;
    for (hw_node v = 0; v < n && k > 0; v++) {
        if (have < k) {
            heap[have] = v;
            sift_up(heap, have++, retained);
        }
        else if (before(retained, v, heap[0])) {
            heap[0] = v;
            sift_down(heap, have, 0, retained);
        }
    }
    sort_retained = retained;
    qsort(heap, have, sizeof(hw_node), cmp_before);
    sort_retained = NULL;
    for (size_t i = 0; i < have; i++) {
        kept[heap[i]] = 1;
        hw_domrow row = {heap[i], idom[heap[i]], g->type[heap[i]], 1, retained[heap[i]]};
        if (push_row(&b, row) < 0) {
            goto fail;
        }
    }
    /* Close the kept set under idom (the ties domtree.h speaks of). */
    for (size_t i = 0; i < have; i++) {
        for (uint32_t u = idom[heap[i]]; u < n && !kept[u]; u = idom[u]) {
            kept[u] = 1;
            hw_domrow row = {u, idom[u], g->type[u], 1, retained[u]};
            if (push_row(&b, row) < 0) {
                goto fail;
            }
        }
    }
    b.first_rest = b.n;
    for (hw_node v = 0; v < n; v++) {
        uint32_t p = idom[v];
        if (kept[v] || (p != HW_NONE && p != n && !kept[p])) {
            continue;   /* kept, or inside a rest member's subtree */
        }
        if (add_rest(&b, p, g->type[v], retained[v]) < 0) {
            goto fail;
        }
    }
    free(heap);
    hw_big_free(kept);
    free(b.slots);
    *rows_out = b.rows;
    *n_out = b.n;
    return 0;

fail:
    free(heap);
    hw_big_free(kept);
    free(b.slots);
    free(b.rows);
    return -1;
}
