/* bigmem.h - memory for the arrays that grow with the heap.
 *
 * A graph of a production heap owns arrays of hundreds of megabytes (per
 * node, per edge, the address index), most of them written in random
 * order.  Fresh memory costs a page fault per page touched, and random
 * access over a few hundred megabytes of 4 KiB pages misses the TLB on
 * nearly every access.  With 2 MiB pages both costs almost vanish: on
 * Linux with transparent huge pages in "madvise" mode (Debian's default)
 * a graph build of a 6M-object heap takes about half the time (bench/
 * graph.py, see bench/README.md).
 *
 * So a block of HW_BIG_MAP_MIN bytes or more is an anonymous mapping of
 * its own, 2 MiB aligned and advised MADV_HUGEPAGE; a smaller one comes
 * from calloc.  The host program's allocator never sees the large blocks
 * (nothing of its arenas is advised or split), and a freed block goes
 * straight back to the system.  Where the system has no such mappings,
 * and in sanitizer and debug builds (HW_BIGMEM_PLAIN: ASan and valgrind
 * must see every block as a heap block of its own), every block comes
 * from calloc.
 *
 * Every block is zero-filled, and so is what a resize adds.  A block's
 * length lives in a header just before it.  Pure C: no Python here (the
 * snapshot reader is fuzzed without an interpreter).
 */
#ifndef HW_BIGMEM_H
#define HW_BIGMEM_H

#include <stddef.h>

#define HW_BIG_MAP_MIN ((size_t)4 << 20)

/* A zeroed block of count * size bytes (at least one byte), or NULL when
   out of memory or when the product overflows. */
void *hw_big_alloc(size_t count, size_t size);

/* Resizes p (NULL: allocates) to count * size bytes, keeping what fits
   and zero-filling what is added.  NULL on failure, p untouched. */
void *hw_big_resize(void *p, size_t count, size_t size);

/* Frees a block; NULL is fine. */
void hw_big_free(void *p);

#endif
