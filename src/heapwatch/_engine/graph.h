/* graph.h - the heap's reference graph, in compact arrays.
 *
 * Pure C (malloc, no Python objects), so that the same structure is what a
 * live build fills (graphbuild.c), what a snapshot file stores and what the
 * snapshot reader (snapfile.c, fuzzed without an interpreter) rebuilds.
 *
 * Nodes are numbered 0 .. n_nodes-1 (32-bit ids, HW_NONE is "no node").
 * Nodes [0, n_tracked) are the objects the garbage collector tracks, in
 * walk order; the others are objects reached from them that it does not
 * track (str, int, untracked tuples and dicts...), in discovery order.
 *
 * Edges: the referents of v are out_adj[out_off[v] .. out_off[v+1]), in
 * tp_traverse order, one entry per visit (a list holding x twice has two
 * edges to x).  in_off/in_adj is the transpose (the referrers of v), each
 * node's referrers in increasing id order.  Offsets are 32-bit: a graph has
 * fewer than 2^32 edges.
 *
 * Roots, in the order paths prefer them:
 *   - named roots (root_node[i] with label root_label[i], a strtab id):
 *     modules, then the local variables of every thread's running frames;
 *   - nodes with HW_HELD set: held from outside the graph (reference count
 *     larger than the number of edges into them: C globals, C stacks,
 *     extension objects), immortal objects excepted.
 *
 * Path tree (hw_graph_paths): parent[v] is v's predecessor on a shortest
 * path from a named root if any exists, else from a HW_HELD node
 * (HW_NONE for the roots themselves and for unreachable nodes); root_of[v]
 * is the index of the named root the path starts from, or HW_NONE.  The
 * label of the edge parent[v] -> v is (label_kind[v], label[v]).
 *
 * Memory per node: addr 8, type 4, size 8, flags 1, out_off 4, in_off 4,
 * index 5.3 to 10.7 (4-byte slots, a power of two, at most three quarters
 * full) = 40 bytes at most; per edge 8 (out_adj + in_adj).  The path tree
 * adds 13 bytes per node, dominators 12.
 */
#ifndef HW_GRAPH_H
#define HW_GRAPH_H

#include <stddef.h>
#include <stdint.h>
#include "hashing.h"
#include "strtab.h"

/* graph.memory[] */
enum hw_memory_field {
    HW_MEM_RSS,                 /* resident set size */
    HW_MEM_PYMALLOC_FREE,       /* free blocks in used pools + unused pools */
    HW_MEM_MALLOC_FREE,         /* mallinfo2().fordblks */
    HW_MEM_PYMALLOC_USED,       /* blocks in use */
    HW_MEM_PYMALLOC_ARENAS,     /* arenas held */
    HW_MEMORY_FIELDS
};

typedef uint32_t hw_node;
#define HW_NONE UINT32_MAX
#define HW_MAX_NODES (UINT32_MAX - 2)

/* flags[v] */
#define HW_HELD      0x01       /* held from outside the graph */
#define HW_NAMED     0x02       /* the node of at least one named root */
#define HW_TARGET    0x04       /* scratch: member of the set being analysed */
#define HW_QUIET     0x08       /* scratch: its edges into HW_TARGET nodes are
                                   not followed (the caller's namespace holding
                                   the object it asks about) */

/* label_kind[v]: how the edge parent[v] -> v is named.  label[v] is a
   strtab id for the kinds marked (s), an index for (i), unused otherwise. */
enum hw_label_kind {
    HW_LABEL_NONE = 0,          /* not named (yet), or no name found */
    HW_LABEL_ATTR,              /* (s) attribute: instance, class or module */
    HW_LABEL_KEY,               /* (s) dict value under this key (rendered) */
    HW_LABEL_INDEX,             /* (i) list or tuple item */
    HW_LABEL_MEMBER,            /* set or frozenset member */
    HW_LABEL_DICTKEY,           /* a key of the dict (not its value) */
    HW_LABEL_LOCAL,             /* (s) local variable of a frame or generator */
    HW_LABEL_CLOSURE,           /* (s) closure variable (function -> cell) */
    HW_LABEL_FIELD,             /* (s) a named slot of a builtin object:
                                   __dict__, __globals__, __self__... */
    HW_LABEL__COUNT
};

typedef struct {
    /* header facts, as a snapshot file records them */
    char python_version[32];    /* "3.12.1" */
    uint32_t pointer_size;      /* sizeof(void *) where it was built */
    double created;             /* seconds since the epoch */

    uint32_t n_nodes, n_tracked, n_types, n_roots;
    uint32_t n_edges;

    hw_strtab strings;          /* type names, root labels, edge names */

    /* per type: its name (strtab id), "module.qualname" */
    uint32_t *type_name;

    /* per node */
    uint64_t *addr;             /* id() of the object when built */
    uint32_t *type;             /* index into type_name */
    uint64_t *size;             /* shallow size, as sys.getsizeof() */
    uint8_t *flags;
    uint32_t *out_off, *out_adj;    /* n_nodes + 1 offsets; n_edges */
    uint32_t *in_off, *in_adj;

    /* named roots */
    hw_node *root_node;
    uint32_t *root_label;       /* strtab ids */

    /* The process's memory when the graph was built (has_memory 1), in
       bytes, for the split of heapwatch.memory(); the live objects' part
       is the graph's own total size.  Read before the build allocates. */
    int has_memory;
    uint64_t memory[HW_MEMORY_FIELDS];

    /* address -> node (open addressing on addr; ids + 1, 0 = empty) */
    uint32_t *index;
    uint32_t index_cap;

    /* path tree, NULL until computed (or read) */
    hw_node *parent;
    uint32_t *root_of;
    uint8_t *label_kind;
    uint32_t *label;
} hw_graph;

/* A zeroed graph.  NULL when out of memory. */
hw_graph *hw_graph_new(void);

/* Frees the graph and everything it owns; NULL is fine. */
void hw_graph_free(hw_graph *g);

/* Builds in_off/in_adj from out_off/out_adj.  0, or -1 out of memory
   (then both are NULL). */
int hw_graph_transpose(hw_graph *g);

/* The index slot where the search for addr starts (cap a power of two;
   hashing.h). */
static inline uint32_t
hw_addr_slot(uint64_t addr, uint32_t cap)
{
    return (uint32_t)hw_slot(hw_hash_addr(addr), cap);
}

/* The index holds at most three quarters of its slots (hashing.h's load
   rule), so its 4-byte slots cost 5.3 to 10.7 bytes per node. */
#define HW_INDEX_LOAD_NUM 3
#define HW_INDEX_LOAD_DEN 4

/* The index capacity graph.h's memory bound allows for n nodes: the
   smallest power of two, at least 16, that holds one more node within
   the load, or 0 when n is too large (2^31 slots at most). */
uint32_t hw_graph_index_capacity(uint32_t n);

/* Builds the address index from addr[] with `cap` slots (a power of two
   larger than n_nodes).  0, or -1 out of memory, or -2 when two nodes
   share an address (a corrupt snapshot). */
int hw_graph_index_sized(hw_graph *g, uint32_t cap);

/* The same with hw_graph_index_capacity(n_nodes) slots. */
int hw_graph_index(hw_graph *g);

/* The node whose object had this address, or HW_NONE.  Inline: the
   build resolves every reference through it. */
static inline hw_node
hw_graph_find(const hw_graph *g, uint64_t addr)
{
    if (g->index == NULL) {
        return HW_NONE;
    }
    size_t j = hw_addr_slot(addr, g->index_cap);
    while (g->index[j] != 0) {
        hw_node v = g->index[j] - 1;
        if (g->addr[v] == addr) {
            return v;
        }
        j = hw_probe_next(j, g->index_cap);
    }
    return HW_NONE;
}

/* Computes the path tree (parent, root_of; labels zeroed): breadth first
   from the named roots in order, then from the HW_HELD nodes not reached
   yet.  Nodes with HW_TARGET set are never entered as HW_HELD roots (they
   are what is being explained: the caller holds them), nor reached through
   an edge from a HW_QUIET node.  0, or -1 out of
   memory. */
int hw_graph_paths(hw_graph *g);

#endif
