/* memstats.h - where the process's memory sits: free memory the allocators
 * keep, read without CPython's private structures.
 *
 * Two allocators hold memory the heap no longer uses:
 *
 *   pymalloc   CPython's small-object allocator (requests of 512 bytes or
 *              less).  It carves arenas (mmap, 1 MiB on 64-bit Linux)
 *              into pools (16 KiB) of one size class each.  A freed block
 *              goes back to its pool; a pool with no block in use becomes
 *              an "unused pool" of its arena; an arena is returned to the
 *              system only when every one of its pools is unused.  One
 *              live object per pool is enough to keep the pool, and one
 *              used pool per arena the arena: a heap that grew and shrank
 *              keeps its peak.
 *   malloc     glibc's allocator, which serves everything else (large
 *              objects, list and dict arrays, C extensions, and every
 *              object under PYTHONMALLOC=malloc).  Freed chunks stay in its
 *              bins; only the top of each heap is given back (trimmed).
 *
 * The figures come from what each allocator publishes itself:
 *
 *   pymalloc   _PyObject_DebugMallocStats(FILE *), exported by libpython
 *              on 3.11 to 3.13 (declared in an internal header, so we
 *              declare it), the text sys._debugmallocstats() prints.  It
 *              visits every pool of every arena (2 ms for 330 arenas),
 *              under the GIL, and runs no Python code.  It returns 0 and
 *              prints nothing when pymalloc is not the object allocator
 *              (PYTHONMALLOC=malloc, or a build without pymalloc);
 *              on 3.13, under PYTHONMALLOC=mimalloc, it prints mimalloc's
 *              statistics instead.  Its text, on every version:
 *
 *                  N arenas * 1048576 bytes/arena     =  arenas
 *                  # bytes in allocated blocks        =  allocated
 *                  # bytes in available blocks        =  available
 *                  N unused pools * 16384 bytes       =  unused_pools
 *
 *              with thousands separated by commas.  The arena bytes are the
 *              sum of the three others and of what headers, size-class
 *              rounding and alignment lose; the parser checks that the
 *              three fit in the arenas and fails with RuntimeError (never
 *              guesses) when a line is missing or malformed.
 *   malloc     mallinfo2().fordblks (glibc 2.33 and later): free bytes in
 *              every malloc arena's bins and top chunk; mmapped chunks are
 *              given back when freed and do not count.  It walks the free
 *              lists of every arena under the arena's lock, with the GIL
 *              released (O(free chunks): 0.2 s for 3 million).
 *
 * Invariant the caller may rely on: the four pymalloc figures and malloc's
 * free bytes are disjoint (pymalloc arenas are mmapped, not malloced), and
 * none of them counts memory in use by a live object.  Free memory is not
 * necessarily resident: pools pymalloc has not carved yet and chunks
 * malloc_trim() has advised away count as free but take no RSS.
 */
#ifndef HW_MEMSTATS_H
#define HW_MEMSTATS_H

#include <Python.h>
#include <stdint.h>
#include "graph.h"

typedef enum {
    HW_ALLOC_OTHER = 0,     /* not pymalloc: malloc, or debug hooks on it */
    HW_ALLOC_PYMALLOC,
    HW_ALLOC_MIMALLOC,      /* 3.13, PYTHONMALLOC=mimalloc: not parsed */
} hw_allocator;

typedef struct {
    hw_allocator allocator;
    /* pymalloc, in bytes; all 0 unless allocator is HW_ALLOC_PYMALLOC. */
    uint64_t pymalloc_arenas;       /* arenas held * arena size */
    uint64_t pymalloc_allocated;    /* blocks in use */
    uint64_t pymalloc_available;    /* free blocks in pools in use */
    uint64_t pymalloc_unused_pools; /* pools with no block in use */
    /* malloc: 1 and the free bytes when mallinfo2() exists, else 0 and 0. */
    int have_mallinfo;
    uint64_t malloc_free;
} hw_memstats;

/* Reads the live figures into *out.  The GIL must be held.  Returns 0, or
   -1 with an exception set (RuntimeError when pymalloc's text cannot be
   read, MemoryError, OSError). */
int hw_memstats_read(hw_memstats *out);

/* The figures a graph keeps of the process's memory (graph.h, enum
   hw_memory_field): hw_memstats_read's, and the RSS from /proc/self/statm
   (0 where it cannot be read).  The GIL must be held.  Returns 0, or -1
   with an exception set, as hw_memstats_read. */
int hw_memory_read(uint64_t mem[HW_MEMORY_FIELDS]);

/* Parses `len` bytes of pymalloc's statistics text into the pymalloc
   fields and `allocator` of *out (other fields untouched); `printed` is
   what _PyObject_DebugMallocStats returned.  Returns 0, or -1 with
   RuntimeError set.  Exposed for the tests' malformed texts. */
int hw_memstats_parse(const char *text, size_t len, int printed,
                      hw_memstats *out);

#endif
