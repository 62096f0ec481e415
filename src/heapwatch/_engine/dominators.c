/* dominators.c - immediate dominators (semi-NCA) and retained sizes.
 * See dominators.h.  No Python here: malloc and plain arrays only.
 *
 * Memory: hw_dominators uses 20 bytes per node of scratch (vertex, parent
 * and semi 4 each, link 8; n + 1 entries), plus the caller's idom array,
 * which serves as the node -> number map until it receives the answer.
 * hw_retained_sizes uses 4 bytes per node.
 */

#include <stdlib.h>
#include "bigmem.h"
#include "dominators.h"
#include "graph.h"

/* Semi-NCA (Georgiadis and Tarjan; the algorithm of LLVM's SemiNCAInfo).
 * Nodes are named by their depth first search preorder numbers: the
 * virtual root is 0, the reached nodes 1 .. k in the order a DFS from the
 * virtual root discovers them, so that every ancestor of w in the DFS tree
 * is smaller than w.
 *
 * The semidominator of w is the smallest v with a path v -> ... -> w whose
 * inner nodes are all > w: the smallest, over the predecessors u of w, of
 * u itself when u <= w, else of the semidominators of the tree ancestors
 * of u (u included) that are > w.  idom(w) is then the nearest common
 * ancestor of parent(w) and semi(w) in the dominator tree: the deepest
 * dominator-tree ancestor of parent(w), itself included, numbered <=
 * semi(w).
 *
 * Three passes over these arrays, indexed by number:
 *
 *   vertex[w]   the node numbered w (vertex[0] = n, the virtual root);
 *   parent[w]   w's parent in the DFS tree;
 *   semi[w]     semi(w), then idom(w);
 *   link[w]     pass 1: level w of the DFS stack; pass 2: the forest of
 *               eval(); pass 3: w's jump pointer in the dominator tree.
 *
 * 1. The DFS numbers the nodes.  2. w = k down to 1 computes semi(w).
 * 3. w = 1 up to k finds idom(w) by climbing the dominator tree built so
 * far.  The plain climb, one idom at a time, takes quadratic time on a
 * long list whose items are also held from elsewhere; skew-binary jump
 * pointers make each climb O(log n).  Pass 2, with path compression but
 * no balancing, is O(m log n); so is the whole.
 *
 * Nothing recurses: the DFS keeps its own stack, and eval() compresses a
 * path by reversing its pointers instead of stacking them.
 *
 * Speed is memory latency: the graph is far larger than the caches and
 * its nodes are visited in no useful order.  Hence a link's two fields
 * share one cache line, and pass 2 fetches what it will need a few steps
 * ahead.
 */

typedef union {
    struct {
        uint32_t edge, end;             /* the next edge to scan, the last + 1 */
    } stack;
    struct {
        uint32_t ancestor, label;       /* see eval() */
    } forest;
    struct {
        uint32_t jump, depth;           /* see pass 3 */
    } tree;
} dom_link;

#if defined(__GNUC__)
#define PREFETCH(p) __builtin_prefetch(p)
#else
#define PREFETCH(p) ((void)0)
#endif

/* The forest of eval(), while pass 2 is at step w.  Invariant: the nodes
 * x > w are linked (have had their step), and for them ancestor is a
 * proper DFS ancestor of x and label the smallest semi on the tree path
 * from x up to ancestor, that excluded; every node the path skips is
 * linked.  A node is linked with ancestor its parent and label its semi.
 *
 * eval(u, w), for a linked u: the smallest semi on the tree path from u
 * up to its first ancestor <= w, that excluded. */
static uint32_t
eval(uint32_t u, uint32_t w, dom_link *link)
{
    if (link[u].forest.ancestor <= w) {
        return link[u].forest.label;
    }
    /* Climb to the last linked node of the path, u = x0 -> x1 -> ... ->
       xm, turning each ancestor pointer around (x_j then points to
       x_{j-1}, x0 to HW_NONE) so that the way back down needs no stack. */
    uint32_t below = HW_NONE, x = u;
    while (link[x].forest.ancestor > w) {
        uint32_t up = link[x].forest.ancestor;
        link[x].forest.ancestor = below;
        below = x;
        x = up;
    }
    /* Back down: every x_j (j < m) now points past xm, at xm's ancestor,
       and its label takes the smallest semi of the path it skips. */
    uint32_t top = link[x].forest.ancestor, best = link[x].forest.label;
    for (x = below; x != HW_NONE; ) {
        uint32_t down = link[x].forest.ancestor;
        link[x].forest.ancestor = top;
        if (best < link[x].forest.label) {
            link[x].forest.label = best;
        }
        else {
            best = link[x].forest.label;
        }
        x = down;
    }
    return best;
}

int
hw_dominators(uint32_t n,
              const uint32_t *out_off, const uint32_t *out_adj,
              const uint32_t *in_off, const uint32_t *in_adj,
              const uint32_t *roots, uint32_t n_roots,
              uint32_t *idom)
{
    size_t len = (size_t)n + 1;
    if (len > SIZE_MAX / (3 * sizeof(uint32_t))) {
        return -1;
    }
    uint32_t *nums = hw_big_alloc(3 * len, sizeof(uint32_t));
    dom_link *link = hw_big_alloc(len, sizeof(dom_link));
    if (nums == NULL || link == NULL) {
        hw_big_free(nums);
        hw_big_free(link);
        return -1;
    }
    uint32_t *vertex = nums, *parent = nums + len, *semi = nums + 2 * len;
    uint32_t *pre = idom;               /* node -> number, HW_NONE unreached */
    for (uint32_t v = 0; v < n; v++) {
        pre[v] = HW_NONE;
    }

    /* 1. DFS from the virtual root, whose successors are the roots in
       order.  A node is numbered when first reached.  The stack is the
       tree path from the virtual root to the node being scanned (number
       v), one level per node; backing up goes to v's parent.  semi starts
       as the parent, a predecessor, and as 0 for every root. */
    uint32_t k = 0;
    vertex[0] = n;
    parent[0] = 0;
    semi[0] = 0;
    for (uint32_t r = 0; r < n_roots; r++) {
        uint32_t root = roots[r];
        if (root >= n) {
            continue;
        }
        if (pre[root] != HW_NONE) {
            semi[pre[root]] = 0;
            continue;
        }
        pre[root] = ++k;
        vertex[k] = root;
        parent[k] = semi[k] = 0;
        uint32_t v = k, depth = 1;
        link[0].stack.edge = out_off[root];
        link[0].stack.end = out_off[root + 1];
        while (depth > 0) {
            uint32_t e = link[depth - 1].stack.edge;
            uint32_t end = link[depth - 1].stack.end;
            /* The loads of pre[] are independent: fetch the targets'
               offsets meanwhile, for whichever is descended into. */
            while (e < end) {
                PREFETCH(&out_off[out_adj[e]]);
                if (pre[out_adj[e]] == HW_NONE) {
                    break;
                }
                e++;
            }
            if (e == end) {
                /* Backing up: the levels below will resume their scans
                   soon, so fetch their next edges now. */
                depth--;
                v = parent[v];
                if (depth >= 3) {
                    PREFETCH(&out_adj[link[depth - 3].stack.edge]);
                }
                if (depth >= 2) {
                    uint32_t next = link[depth - 2].stack.edge;
                    if (next < link[depth - 2].stack.end) {
                        PREFETCH(&pre[out_adj[next]]);
                    }
                }
                continue;
            }
            link[depth - 1].stack.edge = e + 1;
            uint32_t w = out_adj[e];
            pre[w] = ++k;
            vertex[k] = w;
            parent[k] = semi[k] = v;
            v = k;
            link[depth].stack.edge = out_off[w];
            link[depth].stack.end = out_off[w + 1];
            depth++;
        }
    }

    /* 2. Semidominators, w = k down to 1.  Predecessors the DFS did not
       reach are no predecessors.  The loads of a step are random but
       known ahead, so they are started early, in stages: the offsets of
       w - 4 * AHEAD, the predecessors of w - 3 * AHEAD, their numbers for
       w - 2 * AHEAD, their links for w - AHEAD. */
    for (uint32_t w = 0; w <= k; w++) {
        link[w].forest.ancestor = parent[w];
    }
    enum { AHEAD = 4 };
    for (uint32_t w = k; w >= 1; w--) {
        if (w > 4 * AHEAD) {
            PREFETCH(&in_off[vertex[w - 4 * AHEAD]]);
        }
        if (w > 3 * AHEAD) {
            PREFETCH(&in_adj[in_off[vertex[w - 3 * AHEAD]]]);
        }
        if (w > 2 * AHEAD) {
            uint32_t x = vertex[w - 2 * AHEAD];
            for (uint32_t e = in_off[x]; e < in_off[x + 1]; e++) {
                PREFETCH(&pre[in_adj[e]]);
            }
        }
        if (w > AHEAD) {
            uint32_t x = vertex[w - AHEAD];
            for (uint32_t e = in_off[x]; e < in_off[x + 1]; e++) {
                uint32_t u = pre[in_adj[e]];
                if (u != HW_NONE) {
                    PREFETCH(&link[u]);
                }
            }
        }
        uint32_t v = vertex[w], s = semi[w];
        for (uint32_t e = in_off[v]; e < in_off[v + 1] && s > 0; e++) {
            uint32_t u = pre[in_adj[e]];
            if (u == HW_NONE) {
                continue;
            }
            uint32_t c = u <= w ? u : eval(u, w, link);
            if (c < s) {
                s = c;
            }
        }
        semi[w] = link[w].forest.label = s;
    }

    /* 3. Immediate dominators, w = 1 up to k.  Invariant at step w: for
       every x < w, semi[x] is idom(x), link[x].tree.depth x's depth in the
       dominator tree (the virtual root's is 0), link[x].tree.jump one of
       x's dominator-tree ancestors, chosen by the skew-binary rule, and
       parent[x] (no longer needed as such) the depth of that jump.
       Numbers decrease up the dominator tree, so the climb to the first
       ancestor <= semi(w) may take a jump whenever its target is still
       > semi(w): it skips only nodes that are larger. */
    link[0].tree.jump = link[0].tree.depth = 0;
    for (uint32_t w = 1; w <= k; w++) {
        uint32_t s = semi[w], x = parent[w];
        while (x > s) {
            uint32_t j = link[x].tree.jump;
            x = j > s ? j : semi[x];
        }
        semi[w] = x;
        /* The jump of w (whose dominator-tree parent is x): over x's jump
           and its jump's jump when those two spans are the same length,
           else to x.  Jump spans are then of lengths 2^i - 1, and any
           climb takes O(log depth) steps. */
        uint32_t d = link[x].tree.depth, j = link[x].tree.jump;
        uint32_t dj = parent[x], djj = parent[j];
        if (d - dj == dj - djj) {
            link[w].tree.jump = link[j].tree.jump;
            parent[w] = djj;
        }
        else {
            link[w].tree.jump = x;
            parent[w] = d;
        }
        link[w].tree.depth = d + 1;
    }

    /* Back to node numbers; the unreached keep HW_NONE from pre. */
    for (uint32_t w = 1; w <= k; w++) {
        idom[vertex[w]] = vertex[semi[w]];
    }
    hw_big_free(nums);
    hw_big_free(link);
    return 0;
}

int
hw_retained_sizes(uint32_t n, const uint32_t *idom, const uint64_t *size,
                  uint64_t *retained)
{
    /* pending[v]: how many children of v in the dominator tree have not
       been added into retained[v] yet; once it falls to 0, retained[v] is
       final and goes into its parent's.  DONE marks the nodes added. */
    const uint32_t DONE = UINT32_MAX;
    uint32_t *pending = hw_big_alloc((size_t)n + 1, sizeof(uint32_t));
    if (pending == NULL) {
        return -1;
    }
    for (uint32_t v = 0; v < n; v++) {
        retained[v] = size[v];
        if (idom[v] < n) {
            pending[idom[v]]++;
        }
    }
    /* From each leaf, climb while the climb completes a node.  A tree
       holds no cycle; were idom to hold one, its nodes would never
       complete, and the loop still ends. */
    for (uint32_t v = 0; v < n; v++) {
        if (pending[v] != 0) {
            continue;
        }
        uint32_t x = v;
        for (;;) {
            pending[x] = DONE;
            uint32_t p = idom[x];
            if (p >= n) {
                break;
            }
            uint64_t sum = retained[p] + retained[x];
            retained[p] = sum < retained[x] ? UINT64_MAX : sum;
            if (--pending[p] != 0) {
                break;
            }
            x = p;
        }
    }
    hw_big_free(pending);
    return 0;
}
