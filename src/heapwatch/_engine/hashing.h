/* hashing.h - what the engine's hash tables share.
 *
 * Five tables use open addressing with linear probing over a power of two
 * of slots: ptrset.c (objects counted once), typetable.c (per-type
 * counters), strtab.c (interned strings), graph.h's address index and
 * retention.c's shapes.  What they have in common is here:
 *
 *   - the hash functions: hw_hash_addr for addresses (ptrset, typetable,
 *     the index), hw_hash_bytes for strings, hw_hash_u32x4 for a shape's
 *     four fields;
 *   - the probe: a search starts at hw_slot(hash, cap) and goes on at
 *     hw_probe_next, wrapping around; it ends at the entry or at an empty
 *     slot;
 *   - the load rule: a table of cap slots holds at most cap * num / den
 *     entries (hw_over_load), one half for the small tables, three
 *     quarters for the index (whose memory graph.h bounds); so some slot is
 *     always empty and every probe ends.  A table is grown, doubling its
 *     capacity, before an insert would break the rule, and hw_capacity
 *     sizes one for a known number of entries;
 *   - the insert of the id tables (strtab, shapes, the index), whose slots
 *     hold id + 1 with 0 for empty: hw_idtab_put, which is also their
 *     rehash loop (every id put again into a fresh, zeroed array).
 *
 * Header only, static inline: the index is probed once per reference
 * during a graph build, and the snapshot reader (fuzzed without the rest
 * of the engine) builds an index too.  No Python here.
 */
#ifndef HW_HASHING_H
#define HW_HASHING_H

#include <stddef.h>
#include <stdint.h>

/* 2^64 / the golden ratio, odd: multiplying by it spreads the low bits of
   a key over the high bits of the product (Fibonacci hashing, Knuth). */
#define HW_GOLDEN64 0x9E3779B97F4A7C15ULL

/* The hash of an object's address.  Objects are 16-byte aligned, so the
   low four bits carry nothing; the top half of the product is the hash. */
static inline uint32_t
hw_hash_addr(uint64_t addr)
{
    return (uint32_t)(((addr >> 4) * HW_GOLDEN64) >> 32);
}

static inline uint32_t
hw_hash_ptr(const void *p)
{
    return hw_hash_addr((uint64_t)(uintptr_t)p);
}

/* FNV-1a over the bytes: strings are few next to the graph, this is not
   hot. */
static inline uint32_t
hw_hash_bytes(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    }
    return h;
}

/* Four 32-bit fields mixed in turn, each multiplication by an odd constant
   (splitmix64's, and the golden ratio) spreading what came before. */
static inline uint32_t
hw_hash_u32x4(uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
    uint64_t h = a * HW_GOLDEN64;
    h = (h ^ b) * 0xBF58476D1CE4E5B9ULL;
    h = (h ^ c) * 0x94D049BB133111EBULL;
    h = (h ^ d) * HW_GOLDEN64;
    return (uint32_t)(h >> 32);
}

/* Where the search for hash h starts, in a table of cap slots (a power of
   two). */
static inline size_t
hw_slot(uint32_t h, size_t cap)
{
    return (size_t)h & (cap - 1);
}

/* The slot after j, wrapping around. */
static inline size_t
hw_probe_next(size_t j, size_t cap)
{
    return (j + 1) & (cap - 1);
}

/* Would n entries in cap slots exceed the load num/den?  (Tables stay
   far below 2^61 slots: the products cannot overflow.) */
static inline int
hw_over_load(uint64_t n, uint64_t cap, unsigned num, unsigned den)
{
    return n * den > cap * num;
}

/* The smallest power of two from `min` (itself a power of two) up to `max`
   that holds n entries within the load num/den; 0 when even max does
   not. */
static inline uint64_t
hw_capacity(uint64_t n, uint64_t min, uint64_t max, unsigned num, unsigned den)
{
    uint64_t cap = min;
    while (hw_over_load(n, cap, num, den)) {
        if (cap >= max) {
            return 0;
        }
        cap *= 2;
    }
    return cap;
}

/* Puts id into the id table `slots` (cap slots, a power of two; id + 1
   stored, 0 is empty) at the first empty slot of the probe from hash h,
   and returns that slot.  The caller knows id is not there yet, and that
   the table has an empty slot (hw_over_load). */
static inline size_t
hw_idtab_put(uint32_t *slots, size_t cap, uint32_t h, uint32_t id)
{
    size_t j = hw_slot(h, cap);
    while (slots[j] != 0) {
        j = hw_probe_next(j, cap);
    }
    slots[j] = id + 1;
    return j;
}

#endif
