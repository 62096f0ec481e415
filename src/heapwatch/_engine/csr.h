/* csr.h - adjacency in compressed sparse rows, made by counting sort.
 *
 * Every adjacency of the engine is one pair of arrays: the items of key k
 * are adj[off[k] .. off[k + 1]), for the keys 0 .. n_keys - 1, so off has
 * n_keys + 1 entries and off[n_keys] is the number of items.  So are
 * graph.h's out-edges (by source) and referrers (by target), retention.c's
 * children in the dominator tree, and the test graphs of module.c and
 * fuzz/sample_graphs.h.  All are made by the same stable counting sort,
 * which needs no memory besides the two arrays:
 *
 *   1. count: hw_csr_count(off, k) for the key of every item (off zeroed
 *      before); off[k + 1] is then the number of k's items;
 *   2. hw_csr_starts(off, n_keys): prefix sums; off[k] is where k's items
 *      start, off[k + 1] where they end;
 *   3. place: adj[hw_csr_next(off, k)] = the item, for every item in the
 *      order of pass 1.  Invariant: off[k] is where k's next item goes, so
 *      the items of a key keep their order (the sort is stable), and once
 *      all are placed off[k] is the end of k's range, i.e. the start of
 *      k + 1's;
 *   4. hw_csr_finish(off, n_keys) shifts off back by one key: off[k] is
 *      k's start again, off[0] = 0, off[n_keys] the number of items.
 *
 * The passes are inline steps rather than one function so that each user
 * walks its own items (edges of a CSR, pairs, an idom array) without
 * writing them out first; hw_csr_from_pairs does all four for items given
 * as (key, value) pairs.  Header only: fuzz/ builds graph.c without the
 * rest of the engine.  No Python here.
 */
#ifndef HW_CSR_H
#define HW_CSR_H

#include <stddef.h>
#include <stdint.h>

static inline void
hw_csr_count(uint32_t *off, uint32_t key)
{
    off[key + 1]++;
}

static inline void
hw_csr_starts(uint32_t *off, uint32_t n_keys)
{
    for (uint32_t k = 0; k < n_keys; k++) {
        off[k + 1] += off[k];
    }
}

/* The index in adj for the next item of key (pass 3). */
static inline uint32_t
hw_csr_next(uint32_t *off, uint32_t key)
{
    return off[key]++;
}

static inline void
hw_csr_finish(uint32_t *off, uint32_t n_keys)
{
    for (uint32_t k = n_keys; k > 0; k--) {
        off[k] = off[k - 1];
    }
    off[0] = 0;
}

/* The whole sort, for m items given as pairs[2 i] = key (below n_keys),
   pairs[2 i + 1] = value: off (n_keys + 1 entries, zeroed) and adj (m
   entries) are filled, each key's values in the order of the pairs. */
static inline void
hw_csr_from_pairs(uint32_t n_keys, const uint32_t *pairs, size_t m, uint32_t *off,
                  uint32_t *adj)
{
    for (size_t i = 0; i < m; i++) {
        hw_csr_count(off, pairs[2 * i]);
    }
    hw_csr_starts(off, n_keys);
    for (size_t i = 0; i < m; i++) {
        adj[hw_csr_next(off, pairs[2 * i])] = pairs[2 * i + 1];
    }
    hw_csr_finish(off, n_keys);
}

#endif
