/* sample_graphs.h - small graphs built by hand, for make_seeds.c (the
 * fuzzing corpus) and test_snapfile.c (round trips).  Static functions
 * only: include it from one .c file per program.
 *
 * Each sample exercises a different part of the format: no nodes at all,
 * nodes without edges, a module-like heap with named roots, labels and
 * reprs, a path tree reached from HW_HELD nodes only, multi-edges and
 * self-loops, non-ASCII strings, and a larger pseudo-random graph.
 */
#ifndef HW_SAMPLE_GRAPHS_H
#define HW_SAMPLE_GRAPHS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bigmem.h"
#include "csr.h"
#include "graph.h"

#define SAMPLE_COUNT 6

static void *
sg_zalloc(size_t count, size_t size)
{
    void *p = hw_big_alloc(count + 1, size);
    if (p == NULL) {
        abort();
    }
    return p;
}

static uint32_t
sg_str(hw_graph *g, const char *s)
{
    uint32_t id = hw_strtab_add(&g->strings, s, strlen(s));
    if (id == UINT32_MAX) {
        abort();
    }
    return id;
}

/* A graph with zeroed arrays for these counts and a fixed header. */
static hw_graph *
sg_alloc(uint32_t n, uint32_t n_types, uint32_t n_edges, uint32_t n_roots)
{
    hw_graph *g = hw_graph_new();
    if (g == NULL) {
        abort();
    }
    strcpy(g->python_version, "3.11.9");
    g->pointer_size = 8;
    g->created = 1718000000.25;
    g->n_nodes = n;
    g->n_tracked = n;
    g->n_types = n_types;
    g->n_edges = n_edges;
    g->n_roots = n_roots;
    g->type_name = sg_zalloc(n_types, sizeof(uint32_t));
    g->addr = sg_zalloc(n, sizeof(uint64_t));
    g->type = sg_zalloc(n, sizeof(uint32_t));
    g->size = sg_zalloc(n, sizeof(uint64_t));
    g->flags = sg_zalloc(n, 1);
    g->out_off = sg_zalloc((size_t)n + 1, sizeof(uint32_t));
    g->out_adj = sg_zalloc(n_edges, sizeof(uint32_t));
    g->root_node = sg_zalloc(n_roots, sizeof(hw_node));
    g->root_label = sg_zalloc(n_roots, sizeof(uint32_t));
    for (uint32_t v = 0; v < n; v++) {
        g->addr[v] = 0x7f0000001000ULL + 48 * (uint64_t)v;
        g->size[v] = 16 + 8 * (uint64_t)(v % 7);
    }
    return g;
}

/* Fills out_off/out_adj (zeroed) from edges given as (source, target)
   pairs (g->n_edges of them), each node's edges in the order given. */
static void
sg_edges(hw_graph *g, const uint32_t (*pairs)[2])
{
    hw_csr_from_pairs(g->n_nodes, &pairs[0][0], g->n_edges, g->out_off, g->out_adj);
}

/* A graph of n nodes whose out-degrees (below max_deg) and targets come
   from a fixed LCG started at seed; types, roots and strings are left to
   the caller. */
static hw_graph *
sg_random(uint32_t n, uint32_t max_deg, uint64_t seed, uint32_t n_types, uint32_t n_roots)
{
    uint32_t n_edges = 0;
    uint32_t (*edges)[2] = sg_zalloc((size_t)n * max_deg, sizeof(*edges));
    uint64_t x = seed;
    for (uint32_t v = 0; v < n; v++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        uint32_t deg = (uint32_t)(x >> 60) % max_deg;
        for (uint32_t k = 0; k < deg; k++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            edges[n_edges][0] = v;
            edges[n_edges][1] = (uint32_t)(x >> 33) % n;
            n_edges++;
        }
    }
    hw_graph *g = sg_alloc(n, n_types, n_edges, n_roots);
    sg_edges(g, (const uint32_t (*)[2])edges);
    hw_big_free(edges);
    return g;
}

static void
sg_root(hw_graph *g, uint32_t r, hw_node v, const char *label)
{
    g->root_node[r] = v;
    g->root_label[r] = sg_str(g, label);
    g->flags[v] |= HW_NAMED;
}

/* Computes the path tree and names every edge of it: a kind per node in
   turn, a string or an index where the kind takes one. */
static void
sg_paths(hw_graph *g, uint32_t first_string)
{
    if (hw_graph_paths(g) < 0) {
        abort();
    }
    for (uint32_t v = 0; v < g->n_nodes; v++) {
        if (g->parent[v] == HW_NONE) {
            continue;
        }
        uint8_t kind = (uint8_t)(1 + v % (HW_LABEL__COUNT - 1));
        g->label_kind[v] = kind;
        switch (kind) {
        case HW_LABEL_ATTR: case HW_LABEL_KEY: case HW_LABEL_LOCAL:
        case HW_LABEL_CLOSURE: case HW_LABEL_FIELD:
            g->label[v] = first_string + v % (g->strings.n - first_string);
            break;
        case HW_LABEL_INDEX:
            g->label[v] = v * 3;
            break;
        default:
            g->label[v] = 0;
        }
    }
}

static uint32_t *
sg_reprs(hw_graph *g, uint32_t first_string)
{
    uint32_t *reprs = sg_zalloc(g->n_nodes, sizeof(uint32_t));
    for (uint32_t v = 0; v < g->n_nodes; v++) {
        reprs[v] = v % 3 == 1 ? HW_NONE : first_string + v % (g->strings.n - first_string);
    }
    return reprs;
}

/* Sample `which` (0 .. SAMPLE_COUNT-1); *reprs gets its reprs or NULL. */
static hw_graph *
sample_graph(int which, uint32_t **reprs, const char **name)
{
    hw_graph *g;
    *reprs = NULL;
    switch (which) {
    case 0:
        /* Nothing at all: every section empty. */
        *name = "empty";
        g = sg_alloc(0, 0, 0, 0);
        strcpy(g->python_version, "");
        g->pointer_size = 4;
        g->created = 0.0;
        return g;

    case 1: {
        /* Nodes, no edges, no roots; one held, one untracked. */
        *name = "no-edges";
        g = sg_alloc(3, 2, 0, 0);
        g->type_name[0] = sg_str(g, "builtins.object");
        g->type_name[1] = sg_str(g, "builtins.int");
        g->type[2] = 1;
        g->n_tracked = 2;
        g->flags[1] = HW_HELD;
        return g;
    }

    case 2:
    case 3: {
        /* A module-like heap: 0 the __main__ dict (named root), 1 a list,
           2 a Foo, 3 its __dict__, 4 and 5 strs (untracked), 6 a tuple
           held from C, 7 garbage in a cycle with itself. */
        static const uint32_t edges[][2] = {
            {0, 1}, {0, 2}, {0, 5},
            {1, 2}, {1, 2}, {1, 4},
            {2, 3},
            {3, 4}, {3, 5}, {3, 1},
            {6, 4}, {6, 6},
            {7, 7},
        };
        *name = which == 2 ? "module" : "module-no-reprs";
        g = sg_alloc(8, 5, 13, 2);
        g->type_name[0] = sg_str(g, "builtins.dict");
        g->type_name[1] = sg_str(g, "builtins.list");
        g->type_name[2] = sg_str(g, "__main__.Foo");
        g->type_name[3] = sg_str(g, "builtins.str");
        g->type_name[4] = sg_str(g, "builtins.tuple");
        static const uint32_t types[8] = {0, 1, 2, 0, 3, 3, 4, 1};
        memcpy(g->type, types, sizeof(types));
        g->n_tracked = 4;
        sg_edges(g, edges);
        sg_root(g, 0, 0, "module __main__");
        sg_root(g, 1, 2, "thread 1 frame main local foo");
        g->flags[6] |= HW_HELD;
        uint32_t first = g->strings.n;
        sg_str(g, "cache");
        sg_str(g, "'name'");
        sg_str(g, "__dict__");
        sg_str(g, "<Foo object at 0x7f0000001060>");
        if (which == 2) {
            sg_paths(g, first);
            *reprs = sg_reprs(g, first);
            /* The memory section (version 2). */
            static const uint64_t memory[HW_MEMORY_FIELDS] = {
                41 << 20, 3 << 20, 1 << 19, 5 << 20, 8 << 20,
            };
            memcpy(g->memory, memory, sizeof(memory));
            g->has_memory = 1;
        }
        else {
            /* Paths without labels (as hw_graph_paths leaves them). */
            if (hw_graph_paths(g) < 0) {
                abort();
            }
        }
        return g;
    }

    case 4: {
        /* Held roots only, non-ASCII strings, 32-bit pointers, a Python
           version with a suffix. */
        static const uint32_t edges[][2] = {
            {0, 1}, {1, 2}, {2, 0}, {2, 3}, {3, 3}, {4, 0},
        };
        *name = "held-unicode";
        g = sg_alloc(5, 2, 6, 0);
        strcpy(g->python_version, "3.13.0rc2+");
        g->pointer_size = 4;
        g->created = -1.5;
        g->type_name[0] = sg_str(g, "caf\xc3\xa9.Cr\xc3\xa8me");
        g->type_name[1] = sg_str(g, "\xe6\x97\xa5\xe6\x9c\xac.\xf0\x9f\x90\x8d");
        g->type[1] = 1;
        g->type[3] = 1;
        g->n_tracked = 3;
        g->flags[0] = HW_HELD;
        g->flags[4] = HW_HELD;
        sg_edges(g, edges);
        uint32_t first = g->strings.n;
        sg_str(g, "");
        sg_str(g, "\xce\xbb");
        sg_paths(g, first);
        *reprs = sg_reprs(g, first);
        return g;
    }

    default: {
        /* Pseudo-random (a fixed LCG): 48 nodes, 3 out-edges each on
           average, 4 named roots, every 5th node held. */
        *name = "random";
        uint32_t n = 48;
        g = sg_random(n, 6, 12345, 6, 4);
        for (uint32_t t = 0; t < 6; t++) {
            char name_buf[32];
            snprintf(name_buf, sizeof(name_buf), "mod%u.Type%u", (unsigned)(t % 2), (unsigned)t);
            g->type_name[t] = sg_str(g, name_buf);
        }
        for (uint32_t v = 0; v < n; v++) {
            g->type[v] = v % 6;
            g->addr[v] = 0x5500000000ULL + 0x40ULL * ((v * 37) % n);
            if (v % 5 == 4) {
                g->flags[v] |= HW_HELD;
            }
        }
        g->n_tracked = 40;
        sg_root(g, 0, 3, "module a");
        sg_root(g, 1, 17, "module b");
        sg_root(g, 2, 3, "thread 7 frame f local x");
        sg_root(g, 3, 30, "thread 7 frame g local y");
        uint32_t first = g->strings.n;
        sg_str(g, "attr");
        sg_str(g, "'key'");
        sg_str(g, "<object>");
        sg_str(g, "[1, 2, 3]");
        sg_paths(g, first);
        *reprs = sg_reprs(g, first);
        return g;
    }
    }
}

#endif
