/* retention.c - retention groups.  See retention.h. */

#include <stdlib.h>
#include <string.h>
#include "bigmem.h"
#include "csr.h"
#include "hashing.h"
#include "retention.h"

static int
shapes_reindex(hw_shapes *s, uint32_t cap)
{
    uint32_t *index = calloc(cap, sizeof(uint32_t));
    if (index == NULL) {
        return -1;
    }
    for (uint32_t i = 0; i < s->n; i++) {
        hw_idtab_put(index, cap, hw_hash_u32x4(s->parent[i], s->kind[i], s->value[i], s->type[i]),
                     i);
    }
    free(s->index);
    s->index = index;
    s->index_cap = cap;
    return 0;
}

/* The id of the shape (parent, kind, value, type), interned.  HW_NONE when
   out of memory. */
static uint32_t
intern(hw_shapes *s, uint32_t parent, uint8_t kind, uint32_t value, uint32_t type)
{
    if (hw_over_load((uint64_t)s->n + 1, s->index_cap, 1, 2)) {
        if (s->index_cap > UINT32_MAX / 4
            || shapes_reindex(s, s->index_cap ? s->index_cap * 2 : 1024) < 0) {
            return HW_NONE;
        }
    }
    size_t j = hw_slot(hw_hash_u32x4(parent, kind, value, type), s->index_cap);
    while (s->index[j] != 0) {
        uint32_t i = s->index[j] - 1;
        if (s->parent[i] == parent && s->kind[i] == kind && s->value[i] == value
            && s->type[i] == type) {
            return i;
        }
        j = hw_probe_next(j, s->index_cap);
    }
    if (s->n == s->cap) {
        uint32_t cap = s->cap ? s->cap * 2 : 256;
        uint32_t *p = realloc(s->parent, (size_t)cap * sizeof(uint32_t));
        if (p) s->parent = p;
        uint8_t *k = realloc(s->kind, (size_t)cap);
        if (k) s->kind = k;
        uint32_t *v = realloc(s->value, (size_t)cap * sizeof(uint32_t));
        if (v) s->value = v;
        uint32_t *t = realloc(s->type, (size_t)cap * sizeof(uint32_t));
        if (t) s->type = t;
        if (!p || !k || !v || !t) {
            return HW_NONE;
        }
        s->cap = cap;
    }
    uint32_t id = s->n++;
    s->parent[id] = parent;
    s->kind[id] = kind;
    s->value[id] = value;
    s->type[id] = type;
    s->index[j] = id + 1;
    return id;
}

void
hw_shapes_clear(hw_shapes *s)
{
    free(s->parent);
    free(s->kind);
    free(s->value);
    free(s->type);
    free(s->index);
    memset(s, 0, sizeof(*s));
}

/* Is the edge into node d the __dict__ slot of its holder (so d's keys
   are attribute names)? */
static int
is_attribute_dict(const hw_graph *g, hw_node d)
{
    if (g->label_kind[d] != HW_LABEL_FIELD || g->label[d] >= g->strings.n) {
        return 0;
    }
    return strcmp(g->strings.s[g->label[d]], "__dict__") == 0;
}

/* The name a shape keeps for the edge into v. */
static uint32_t
kept_value(const hw_graph *g, hw_node v)
{
    switch (g->label_kind[v]) {
    case HW_LABEL_ATTR:
    case HW_LABEL_LOCAL:
    case HW_LABEL_CLOSURE:
    case HW_LABEL_FIELD:
        return g->label[v];
    case HW_LABEL_KEY:
        return is_attribute_dict(g, g->parent[v]) ? g->label[v] : HW_NONE;
    default:
        return HW_NONE;
    }
}

uint32_t
hw_shape_of(const hw_graph *g, hw_node v, hw_shapes *shapes, uint32_t *memo)
{
    /* Climb to the first node whose shape is known (or a path-tree root),
       then come down computing each shape from its parent's.  The chain
       is kept in a local stack grown on the heap: paths can be long. */
    hw_node *stack = NULL;
    size_t n = 0, cap = 0;
    hw_node x = v;
    while (memo[x] == 0) {
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            hw_node *ns = realloc(stack, cap * sizeof(hw_node));
            if (ns == NULL) {
                free(stack);
                return HW_NONE;
            }
            stack = ns;
        }
        stack[n++] = x;
        if (g->parent[x] == HW_NONE) {
            break;
        }
        x = g->parent[x];
    }
    while (n > 0) {
        hw_node y = stack[--n];
        hw_node p = g->parent[y];
        uint32_t id;
        if (p == HW_NONE) {
            uint8_t kind;
            uint32_t value = HW_NONE;
            if (g->root_of[y] != HW_NONE) {
                kind = HW_SHAPE_NAMED;
                value = g->root_label[g->root_of[y]];
            }
            else if (g->flags[y] & HW_HELD) {
                kind = HW_SHAPE_HELD;
            }
            else {
                kind = HW_SHAPE_UNREACHED;
            }
            id = intern(shapes, HW_NONE, kind, value, g->type[y]);
        }
        else {
            id = intern(shapes, memo[p] - 1, g->label_kind[y], kept_value(g, y), g->type[y]);
        }
        if (id == HW_NONE) {
            free(stack);
            return HW_NONE;
        }
        memo[y] = id + 1;
    }
    free(stack);
    return memo[v] - 1;
}

static int
cmp_group(const void *a, const void *b)
{
    const hw_group *x = a, *y = b;
    if (x->count != y->count) {
        return x->count > y->count ? -1 : 1;
    }
    if (x->bytes != y->bytes) {
        return x->bytes > y->bytes ? -1 : 1;
    }
    return x->example < y->example ? -1 : (x->example > y->example);
}

static int
cmp_group_retained(const void *a, const void *b)
{
    const hw_group *x = a, *y = b;
    if (x->retained != y->retained) {
        return x->retained > y->retained ? -1 : 1;
    }
    return x->example < y->example ? -1 : (x->example > y->example);
}

void
hw_groups_sort_by_retained(hw_group *groups, uint32_t n_groups)
{
    if (n_groups > 1) {
        qsort(groups, n_groups, sizeof(hw_group), cmp_group_retained);
    }
}

/* Group retained sizes: a member counts its retained size unless another
   member of its group dominates it (its subtree is already counted).  One
   iterative depth-first pass over the dominator tree keeps, per group,
   how many members are open on the current tree path. */
int
hw_group_retained(const hw_graph *g, const uint32_t *idom, const uint64_t *retained,
                  const uint32_t *group_of, uint32_t bias, hw_group *groups,
                  uint32_t n_groups)
{
    uint32_t n = g->n_nodes;
    /* The dominator tree's children lists (csr.h), keyed by parent: the
       nodes and the virtual root n. */
    uint32_t *off = hw_big_alloc((size_t)n + 2, sizeof(uint32_t));
    uint32_t *kids = hw_big_alloc((size_t)n + 1, sizeof(uint32_t));
    uint32_t *open = hw_big_alloc((size_t)n_groups + 1, sizeof(uint32_t));
    /* Each node is pushed once to enter and at most once to leave. */
    uint64_t *stack = hw_big_alloc(((size_t)n + 2) * 2, sizeof(uint64_t));
    int rc = -1;
    if (!off || !kids || !open || !stack) {
        goto done;
    }
    for (hw_node v = 0; v < n; v++) {
        if (idom[v] != HW_NONE) {
            hw_csr_count(off, idom[v]);
        }
        else if (group_of[v] - bias < n_groups) {
            groups[group_of[v] - bias].retained += retained[v];  /* unreached: alone */
        }
    }
    hw_csr_starts(off, n + 1);
    for (hw_node v = 0; v < n; v++) {
        if (idom[v] != HW_NONE) {
            kids[hw_csr_next(off, idom[v])] = v;
        }
    }
    hw_csr_finish(off, n + 1);
    /* Stack entries: (node << 1) for entering a node, (node << 1) | 1 for
       leaving it; the virtual root n is entered first. */
    size_t sp = 0;
    stack[sp++] = (uint64_t)n << 1;
    while (sp > 0) {
        uint64_t top = stack[--sp];
        hw_node v = (hw_node)(top >> 1);
        if (top & 1) {
            open[group_of[v] - bias]--;
            continue;
        }
        if (v < n && group_of[v] - bias < n_groups) {
            uint32_t gi = group_of[v] - bias;
            if (open[gi] == 0) {
                uint64_t sum = groups[gi].retained + retained[v];
                groups[gi].retained = sum < retained[v] ? UINT64_MAX : sum;
            }
            open[gi]++;
            stack[sp++] = ((uint64_t)v << 1) | 1;
        }
        for (uint32_t k = off[v]; k < off[v + 1]; k++) {
            stack[sp++] = (uint64_t)kids[k] << 1;
        }
    }
    rc = 0;
done:
    hw_big_free(off);
    hw_big_free(kids);
    hw_big_free(open);
    hw_big_free(stack);
    return rc;
}

int
hw_retention(const hw_graph *g, const hw_node *targets, uint32_t n_targets,
             const uint32_t *idom, const uint64_t *retained,
             hw_shapes *shapes, hw_group **groups_out, uint32_t *n_groups)
{
    uint32_t n = g->n_nodes;
    /* Both per-node arrays start zeroed, and only the pages of the nodes
       on the targets' paths are ever touched: memo holds shape ids + 1,
       group_of group numbers + 1 (0: not a target). */
    uint32_t *memo = hw_big_alloc((size_t)n + 1, sizeof(uint32_t));
    uint32_t *group_of_shape = NULL;
    uint32_t *group_of = hw_big_alloc((size_t)n + 1, sizeof(uint32_t));
    hw_group *groups = NULL;
    uint32_t ng = 0, capg = 0, cap_groups = 0;
    int failed = 0;
    if (memo == NULL || group_of == NULL) {
        failed = -1;
        goto done;
    }
    for (uint32_t i = 0; i < n_targets; i++) {
        hw_node v = targets[i];
        if (v >= n || group_of[v] != 0) {
            continue;           /* out of range, or a repeat */
        }
        uint32_t s = hw_shape_of(g, v, shapes, memo);
        if (s == HW_NONE) {
            failed = -1;
            goto done;
        }
        /* group_of_shape grows with the shape table. */
        if (group_of_shape == NULL || s >= capg) {
            uint32_t cap = shapes->cap > s ? shapes->cap : s + 1;
            uint32_t *ns = realloc(group_of_shape, (size_t)cap * sizeof(uint32_t));
            if (ns == NULL) {
                failed = -1;
                goto done;
            }
            memset(ns + capg, 0xff, (size_t)(cap - capg) * sizeof(uint32_t));
            group_of_shape = ns;
            capg = cap;
        }
        uint32_t gi = group_of_shape[s];
        if (gi == HW_NONE) {
            if (ng == cap_groups) {
                cap_groups = cap_groups ? cap_groups * 2 : 16;
                hw_group *ngs = realloc(groups, (size_t)cap_groups * sizeof(hw_group));
                if (ngs == NULL) {
                    failed = -1;
                    goto done;
                }
                groups = ngs;
            }
            gi = group_of_shape[s] = ng++;
            groups[gi] = (hw_group){s, 0, 0, 0, v};
        }
        groups[gi].count++;
        groups[gi].bytes += g->size[v];
        group_of[v] = gi + 1;
    }
    if (idom != NULL && retained != NULL && ng > 0
        && hw_group_retained(g, idom, retained, group_of, 1, groups, ng) < 0) {
        failed = -1;
        goto done;
    }
    if (ng > 1) {
        qsort(groups, ng, sizeof(hw_group), cmp_group);
    }
done:
    hw_big_free(memo);
    hw_big_free(group_of);
    free(group_of_shape);
    if (failed) {
        free(groups);
        return failed;
    }
    *groups_out = groups;
    *n_groups = ng;
    return 0;
}
