/* test_helpers.c - the engine's shared table and adjacency helpers
 * (src/heapwatch/_engine/hashing.h and csr.h), without an interpreter.
 *
 * Built and run by tests/test_engine_helpers.py, with ASan and UBSan.
 * Checks:
 *   - csr.h: the counting sort against a plain stable sort, on random
 *     items (keys without items, repeated items, no items, no keys), the
 *     four steps and hw_csr_from_pairs agreeing;
 *   - hashing.h: FNV-1a's published values; hw_capacity against its
 *     definition (the smallest power of two from min holding n within the
 *     load) and against graph.h's index rule as it was written before
 *     hashing.h; hw_idtab_put and the probe finding every id; addresses of
 *     consecutive objects spreading over the slots.
 *
 * Exit status 0 when every check passed; each failure is printed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "csr.h"
#include "hashing.h"

#include "check.h"

static uint64_t rng = 88172645463325252ULL;

static uint32_t
next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

/* ---- csr.h ----------------------------------------------------------------- */

/* The expected CSR: for each key in turn, its values in the order given. */
static void
naive_csr(uint32_t n_keys, const uint32_t *pairs, size_t m, uint32_t *off, uint32_t *adj)
{
    size_t w = 0;
    for (uint32_t k = 0; k < n_keys; k++) {
        off[k] = (uint32_t)w;
        for (size_t i = 0; i < m; i++) {
            if (pairs[2 * i] == k) {
                adj[w++] = pairs[2 * i + 1];
            }
        }
    }
    off[n_keys] = (uint32_t)w;
}

static void
check_csr(uint32_t n_keys, size_t m)
{
    uint32_t *pairs = malloc((2 * m + 1) * sizeof(uint32_t));
    uint32_t *off = calloc((size_t)n_keys + 1, sizeof(uint32_t));
    uint32_t *adj = calloc(m + 1, sizeof(uint32_t));
    uint32_t *off2 = calloc((size_t)n_keys + 1, sizeof(uint32_t));
    uint32_t *adj2 = calloc(m + 1, sizeof(uint32_t));
    uint32_t *want_off = calloc((size_t)n_keys + 1, sizeof(uint32_t));
    uint32_t *want_adj = calloc(m + 1, sizeof(uint32_t));
    if (!pairs || !off || !adj || !off2 || !adj2 || !want_off || !want_adj) {
        printf("out of memory\n");
        exit(2);
    }
    for (size_t i = 0; i < m; i++) {
        /* Keys bunched on a few, so some keys have many items, some none. */
        uint32_t r = next_random();
        pairs[2 * i] = (r & 3) ? (r >> 2) % (n_keys / 4 + 1) : (r >> 2) % n_keys;
        pairs[2 * i + 1] = (uint32_t)i;     /* the order given, to check stability */
    }
    naive_csr(n_keys, pairs, m, want_off, want_adj);

    hw_csr_from_pairs(n_keys, pairs, m, off, adj);
    CHECK(memcmp(off, want_off, ((size_t)n_keys + 1) * sizeof(uint32_t)) == 0,
          "from_pairs offsets, %u keys, %zu items", n_keys, m);
    CHECK(memcmp(adj, want_adj, m * sizeof(uint32_t)) == 0,
          "from_pairs items, %u keys, %zu items", n_keys, m);

    /* The four steps, with the items read from elsewhere. */
    for (size_t i = 0; i < m; i++) {
        hw_csr_count(off2, pairs[2 * i]);
    }
    hw_csr_starts(off2, n_keys);
    int starts_ok = off2[n_keys] == m;
    for (uint32_t k = 0; k < n_keys; k++) {
        starts_ok &= off2[k] == want_off[k];
    }
    CHECK(starts_ok, "starts, %u keys, %zu items", n_keys, m);
    for (size_t i = 0; i < m; i++) {
        adj2[hw_csr_next(off2, pairs[2 * i])] = pairs[2 * i + 1];
    }
    hw_csr_finish(off2, n_keys);
    CHECK(memcmp(off2, want_off, ((size_t)n_keys + 1) * sizeof(uint32_t)) == 0
          && memcmp(adj2, want_adj, m * sizeof(uint32_t)) == 0,
          "steps, %u keys, %zu items", n_keys, m);

    free(pairs);
    free(off);
    free(adj);
    free(off2);
    free(adj2);
    free(want_off);
    free(want_adj);
}

static void
test_csr(void)
{
    uint32_t off[1] = {0};
    hw_csr_from_pairs(0, NULL, 0, off, NULL);
    CHECK(off[0] == 0, "no keys, no items");
    check_csr(1, 0);
    check_csr(1, 7);
    check_csr(5, 0);
    check_csr(17, 3);
    check_csr(64, 500);
    check_csr(1000, 5000);
    check_csr(3000, 1000);
}

/* ---- hashing.h ------------------------------------------------------------- */

/* graph.h's index capacity as written before hashing.h: the smallest power
   of two from 16 whose three quarters exceed n, 0 past 2^31. */
static uint32_t
old_index_capacity(uint32_t n)
{
    uint32_t cap = 16;
    while ((uint64_t)cap * 3 / 4 <= n) {
        if (cap > UINT32_MAX / 2) {
            return 0;
        }
        cap *= 2;
    }
    return cap;
}

static void
test_capacity(void)
{
    uint64_t bad = 0;
    for (uint64_t n = 0; n < 5000000; n += 1 + n / 1000) {
        uint64_t cap = hw_capacity(n + 1, 16, (uint64_t)1 << 31, 3, 4);
        bad += cap != old_index_capacity((uint32_t)n);
    }
    static const uint32_t edges[] = {0, 11, 12, 13, 23, 24, 25, 1610612734u, 1610612735u,
                                     1610612736u, UINT32_MAX - 2, UINT32_MAX};
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
        uint64_t cap = hw_capacity((uint64_t)edges[i] + 1, 16, (uint64_t)1 << 31, 3, 4);
        bad += cap != old_index_capacity(edges[i]);
    }
    CHECK(bad == 0, "index capacity differs from graph.h's rule for %llu sizes",
          (unsigned long long)bad);

    /* The definition, for the half-full tables. */
    for (uint64_t n = 0; n < 10000; n++) {
        uint64_t cap = hw_capacity(n, 256, (uint64_t)1 << 40, 1, 2);
        int ok = cap >= 256 && (cap & (cap - 1)) == 0 && !hw_over_load(n, cap, 1, 2)
                 && (cap == 256 || hw_over_load(n, cap / 2, 1, 2));
        if (!ok) {
            CHECK(0, "hw_capacity(%llu, 1/2) = %llu", (unsigned long long)n,
                  (unsigned long long)cap);
            break;
        }
    }
    CHECK(hw_capacity(100, 16, 64, 1, 2) == 0, "capacity above max");
    CHECK(hw_over_load(129, 256, 1, 2) && !hw_over_load(128, 256, 1, 2), "half full");
    CHECK(hw_over_load(193, 256, 3, 4) && !hw_over_load(192, 256, 3, 4), "three quarters");
}

static void
test_hashes(void)
{
    /* FNV-1a, 32 bits: the published test values. */
    CHECK(hw_hash_bytes("", 0) == 0x811c9dc5u, "fnv1a('')");
    CHECK(hw_hash_bytes("a", 1) == 0xe40c292cu, "fnv1a('a')");
    CHECK(hw_hash_bytes("foobar", 6) == 0xbf9cf968u, "fnv1a('foobar')");

    /* 4096 objects 16 bytes apart over 8192 slots: consecutive addresses
       must not pile up (the low four bits are dropped). */
    enum { N = 4096, CAP = 8192 };
    static uint8_t used[CAP];
    uint32_t collisions = 0;
    for (uint32_t i = 0; i < N; i++) {
        size_t j = hw_slot(hw_hash_addr(0x7f1234560000ULL + 16 * (uint64_t)i), CAP);
        collisions += used[j];
        used[j] = 1;
    }
    CHECK(collisions < N / 4, "%u of %u addresses collide", collisions, N);
    CHECK(hw_hash_ptr((void *)(uintptr_t)0x7f1234560010ULL) == hw_hash_addr(0x7f1234560010ULL),
          "ptr and addr hashes agree");
    CHECK(hw_hash_u32x4(1, 2, 3, 4) != hw_hash_u32x4(4, 3, 2, 1), "field order matters");
    CHECK(hw_probe_next(CAP - 1, CAP) == 0 && hw_probe_next(5, CAP) == 6, "probe wraps");
}

static void
test_idtab(void)
{
    enum { CAP = 1024, N = 700 };
    static uint32_t slots[CAP];
    static uint64_t keys[N];
    for (uint32_t id = 0; id < N; id++) {
        keys[id] = ((uint64_t)next_random() << 4) | 0x7f0000000000ULL;
        size_t j = hw_idtab_put(slots, CAP, hw_hash_addr(keys[id]), id);
        CHECK(slots[j] == id + 1, "put %u", id);
    }
    uint32_t found = 0;
    for (uint32_t id = 0; id < N; id++) {
        for (size_t j = hw_slot(hw_hash_addr(keys[id]), CAP); slots[j] != 0;
             j = hw_probe_next(j, CAP)) {
            if (slots[j] == id + 1) {
                found++;
                break;
            }
        }
    }
    CHECK(found == N, "found %u of %u ids", found, N);
}

int
main(void)
{
    test_csr();
    test_capacity();
    test_hashes();
    test_idtab();
    printf("%d checks, %d failures\n", checks, failures);
    return failures != 0;
}
