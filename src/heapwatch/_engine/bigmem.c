/* bigmem.c - large zeroed arrays on mappings of their own.  See bigmem.h. */

#define _GNU_SOURCE             /* mremap */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "bigmem.h"

#if defined(__has_feature)
#  if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#    define HW_BIGMEM_PLAIN 1
#  endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#  define HW_BIGMEM_PLAIN 1
#endif

#if defined(__linux__) && !defined(HW_BIGMEM_PLAIN)
#  define HW_BIG_MAPS 1
#  include <sys/mman.h>
#  include <unistd.h>
#else
#  define HW_BIG_MAPS 0
#endif

/* The header before every block: 16 bytes, so the block keeps calloc's
   alignment.  map is the length of the block's own mapping (the header
   at its start), or 0 for a block from calloc. */
typedef struct {
    size_t len;                 /* bytes asked for (at least 1) */
    size_t map;
} big_head;

#define HEAD sizeof(big_head)
#define HUGE_PAGE ((size_t)2 << 20)

static big_head *
head_of(void *p)
{
    return (big_head *)(void *)((char *)p - HEAD);
}

/* count * size, at least 1; 0 when it overflows (with room for the
   header and the alignment slack). */
static size_t
block_bytes(size_t count, size_t size)
{
    if (size != 0 && count > (SIZE_MAX / 2 - HEAD - HUGE_PAGE) / size) {
        return 0;
    }
    size_t n = count * size;
    return n != 0 ? n : 1;
}

#if HW_BIG_MAPS
static size_t
page_round(size_t n)
{
    static size_t page;
    if (page == 0) {
        long p = sysconf(_SC_PAGESIZE);
        page = p > 0 ? (size_t)p : 4096;
    }
    return (n + page - 1) / page * page;
}

/* A mapping of len bytes (a multiple of the page size) starting on a
   huge-page boundary, so that all of it but the last partial huge page can
   be backed by huge pages; NULL when the system refuses it. */
static big_head *
map_block(size_t len)
{
    char *raw = mmap(NULL, len + HUGE_PAGE, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) {
        return NULL;
    }
    uintptr_t a = ((uintptr_t)raw + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
    char *base = (char *)a;
    if (base > raw) {
        munmap(raw, (size_t)(base - raw));
    }
    size_t tail = HUGE_PAGE - (size_t)(base - raw);
    if (tail > 0) {
        munmap(base + len, tail);
    }
#ifdef MADV_HUGEPAGE
    /* Only a hint: with transparent huge pages off it fails, and the
       block is ordinary memory. */
    (void)madvise(base, len, MADV_HUGEPAGE);
#endif
    return (big_head *)(void *)base;
}
#endif

void *
hw_big_alloc(size_t count, size_t size)
{
    size_t n = block_bytes(count, size);
    if (n == 0) {
        return NULL;
    }
    big_head *h;
#if HW_BIG_MAPS
    if (n >= HW_BIG_MAP_MIN) {
        size_t map = page_round(HEAD + n);
        h = map_block(map);
        if (h == NULL) {
            return NULL;
        }
        h->len = n;
        h->map = map;
        return h + 1;
    }
#endif
    h = calloc(1, HEAD + n);
    if (h == NULL) {
        return NULL;
    }
    h->len = n;
    h->map = 0;
    return h + 1;
}

void *
hw_big_resize(void *p, size_t count, size_t size)
{
    if (p == NULL) {
        return hw_big_alloc(count, size);
    }
    size_t n = block_bytes(count, size);
    if (n == 0) {
        return NULL;
    }
    big_head *h = head_of(p);
    size_t old = h->len;
#if HW_BIG_MAPS
    if (h->map != 0) {
        /* Invariant: the bytes of the mapping past len are zero (fresh
           pages, or zeroed when the block shrank), so growing in place
           needs no memset. */
        size_t map = page_round(HEAD + n);
        if (map < h->map) {
            /* Shrinking in place cannot fail for want of room. */
            if (mremap(h, h->map, map, 0) == MAP_FAILED) {
                return NULL;
            }
            h->map = map;
        }
        else if (map > h->map && mremap(h, h->map, map, 0) != MAP_FAILED) {
            h->map = map;       /* grown in place */
        }
        else if (map > h->map) {
            /* Moved: the pages go to the start of a new aligned mapping
               (their page tables move, nothing is copied).  Moved to an
               address that is not 2 MiB aligned, as mremap(MAYMOVE) would
               choose, every huge page would be split into small ones. */
            big_head *moved = map_block(map);
            if (moved == NULL) {
                return NULL;
            }
            if (mremap(h, h->map, h->map, MREMAP_MAYMOVE | MREMAP_FIXED, moved) == MAP_FAILED) {
                munmap(moved, map);
                return NULL;
            }
            h = moved;
            h->map = map;
        }
        if (n < old) {
            size_t kept = map - HEAD < old ? map - HEAD : old;
            memset((char *)(h + 1) + n, 0, kept - n);
        }
        h->len = n;
        return h + 1;
    }
    if (n >= HW_BIG_MAP_MIN) {
        /* Outgrew calloc: moved to a mapping of its own. */
        void *q = hw_big_alloc(n, 1);
        if (q == NULL) {
            return NULL;
        }
        memcpy(q, p, old);
        free(h);
        return q;
    }
#endif
    big_head *q = realloc(h, HEAD + n);
    if (q == NULL) {
        return NULL;
    }
    if (n > old) {
        memset((char *)(q + 1) + old, 0, n - old);
    }
    q->len = n;
    return q + 1;
}

void
hw_big_free(void *p)
{
    if (p == NULL) {
        return;
    }
    big_head *h = head_of(p);
#if HW_BIG_MAPS
    if (h->map != 0) {
        munmap(h, h->map);
        return;
    }
#endif
    free(h);
}
