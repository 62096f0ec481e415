/* memstats.c - the free memory pymalloc and malloc keep.  See memstats.h.
 *
 * pymalloc's figures are the lines _PyObject_DebugMallocStats prints,
 * captured in memory (open_memstream) and parsed here; malloc's come from
 * mallinfo2().  Nothing here reads a CPython structure, runs Python code or
 * allocates from the Python allocators: the capture buffer is libc's.
 */

#include <Python.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "compat.h"
#include "memstats.h"

#if defined(__GLIBC__) \
    && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#include <malloc.h>
#define HW_HAVE_MALLINFO2 1
#else
#define HW_HAVE_MALLINFO2 0
#endif

/* ---------------------------------------------------------------------
 * Parsing pymalloc's text
 *
 * Each line of interest is "label<spaces>=<spaces>value", the value in
 * decimal with commas every three digits.  A line is split at its first
 * '='; the label is matched exactly (trailing spaces removed), the value
 * must be digits and commas only.  The first line of each label counts.
 * Every scan is bounded by the text's length: the text need not end in
 * NUL and may hold anything.
 */

enum {
    F_ARENAS = 0,
    F_ALLOCATED,
    F_AVAILABLE,
    F_UNUSED_POOLS,
    F_COUNT
};

static const char *const field_names[F_COUNT] = {
    "N arenas * M bytes/arena",
    "# bytes in allocated blocks",
    "# bytes in available blocks",
    "N unused pools * P bytes",
};

/* 1 if s[0..n) starts with the string lit; advances *pos past it. */
static int
match_lit(const char *s, size_t n, size_t *pos, const char *lit)
{
    size_t k = strlen(lit);
    if (n - *pos < k || memcmp(s + *pos, lit, k) != 0) {
        return 0;
    }
    *pos += k;
    return 1;
}

/* 1 if at least one decimal digit starts at *pos; advances past them. */
static int
match_digits(const char *s, size_t n, size_t *pos)
{
    size_t start = *pos;
    while (*pos < n && s[*pos] >= '0' && s[*pos] <= '9') {
        (*pos)++;
    }
    return *pos > start;
}

/* "<digits><middle><digits><tail>" and nothing more, e.g.
   "12 arenas * 1048576 bytes/arena". */
static int
match_product(const char *s, size_t n, const char *middle, const char *tail)
{
    size_t pos = 0;
    return match_digits(s, n, &pos) && match_lit(s, n, &pos, middle)
           && match_digits(s, n, &pos) && match_lit(s, n, &pos, tail)
           && pos == n;
}

/* The field a label names, or -1. */
static int
label_field(const char *s, size_t n)
{
    static const char allocated[] = "# bytes in allocated blocks";
    static const char available[] = "# bytes in available blocks";
    if (n == sizeof(allocated) - 1 && memcmp(s, allocated, n) == 0) {
        return F_ALLOCATED;
    }
    if (n == sizeof(available) - 1 && memcmp(s, available, n) == 0) {
        return F_AVAILABLE;
    }
    if (match_product(s, n, " arenas * ", " bytes/arena")) {
        return F_ARENAS;
    }
    if (match_product(s, n, " unused pools * ", " bytes")) {
        return F_UNUSED_POOLS;
    }
    return -1;
}

/* The value "   1,234,567" in s[0..n): spaces, then digits with commas,
   then spaces.  Returns 0 and *out, or -1 if malformed or above 2**63. */
static int
parse_value(const char *s, size_t n, uint64_t *out)
{
    size_t i = 0;
    uint64_t v = 0;
    int digits = 0;
    while (i < n && s[i] == ' ') {
        i++;
    }
    for (; i < n && s[i] != ' '; i++) {
        if (s[i] == ',') {
            continue;
        }
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        if (v > (UINT64_C(1) << 63) / 10) {
            return -1;
        }
        v = v * 10 + (uint64_t)(s[i] - '0');
        digits++;
    }
    while (i < n && s[i] == ' ') {
        i++;
    }
    if (digits == 0 || i != n) {
        return -1;
    }
    *out = v;
    return 0;
}

static int
parse_error(const char *what, const char *detail)
{
    PyErr_Format(PyExc_RuntimeError,
                 "heapwatch: cannot read pymalloc's statistics "
                 "(_PyObject_DebugMallocStats): %s%s; this CPython prints "
                 "them in a form heapwatch does not know",
                 what, detail);
    return -1;
}

int
hw_memstats_parse(const char *text, size_t len, int printed, hw_memstats *out)
{
    uint64_t value[F_COUNT] = {0};
    int found[F_COUNT] = {0};
    int nfound = 0, mimalloc = 0;

    out->allocator = HW_ALLOC_OTHER;
    out->pymalloc_arenas = 0;
    out->pymalloc_allocated = 0;
    out->pymalloc_available = 0;
    out->pymalloc_unused_pools = 0;
    if (!printed) {
        /* pymalloc is not the object allocator. */
        return 0;
    }
    size_t start = 0;
    while (start < len) {
        const char *line = text + start;
        const char *nl = memchr(line, '\n', len - start);
        size_t n = nl ? (size_t)(nl - line) : len - start;
        start += n + 1;
        const char *eq = memchr(line, '=', n);
        if (eq == NULL) {
            /* mimalloc's report (3.13) is "    Name: value" lines. */
            static const char committed[] = "Bytes Committed:";
            size_t k = sizeof(committed) - 1, i = 0;
            while (i < n && line[i] == ' ') {
                i++;
            }
            if (n - i >= k && memcmp(line + i, committed, k) == 0) {
                mimalloc = 1;
            }
            continue;
        }
        size_t label_len = (size_t)(eq - line);
        while (label_len > 0 && line[label_len - 1] == ' ') {
            label_len--;
        }
        int f = label_field(line, label_len);
        if (f < 0 || found[f]) {
            continue;
        }
        size_t vstart = (size_t)(eq - line) + 1;
        if (parse_value(eq + 1, n - vstart, &value[f]) < 0) {
            return parse_error("bad number on the line of ", field_names[f]);
        }
        found[f] = 1;
        nfound++;
    }
    if (nfound == 0 && mimalloc) {
        out->allocator = HW_ALLOC_MIMALLOC;
        return 0;
    }
    for (int f = 0; f < F_COUNT; f++) {
        if (!found[f]) {
            return parse_error("no line for ", field_names[f]);
        }
    }
    /* Allocated, available and unused bytes are disjoint parts of the
       arenas (the rest is lost to headers, rounding and alignment). */
    if (value[F_ALLOCATED] > value[F_ARENAS]
        || value[F_AVAILABLE] > value[F_ARENAS] - value[F_ALLOCATED]
        || value[F_UNUSED_POOLS]
               > value[F_ARENAS] - value[F_ALLOCATED] - value[F_AVAILABLE]) {
        return parse_error("allocated, available and unused bytes exceed "
                           "the arenas", "");
    }
    out->allocator = HW_ALLOC_PYMALLOC;
    out->pymalloc_arenas = value[F_ARENAS];
    out->pymalloc_allocated = value[F_ALLOCATED];
    out->pymalloc_available = value[F_AVAILABLE];
    out->pymalloc_unused_pools = value[F_UNUSED_POOLS];
    return 0;
}

/* ---------------------------------------------------------------------
 * Reading the live figures
 */

/* pymalloc's text, printed into a libc buffer.  The buffer is malloc'd by
   open_memstream and freed here, so its few kilobytes are back in malloc's
   free lists before mallinfo2() is read. */
static int
read_pymalloc(hw_memstats *out)
{
#if HW_HAVE_PYMALLOC_STATS
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (f == NULL) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    int printed = hw_pymalloc_stats(f);
    int failed = ferror(f);
    if (fclose(f) != 0 || failed) {
        /* Out of memory while the text was written. */
        free(buf);
        PyErr_NoMemory();
        return -1;
    }
    int r = hw_memstats_parse(buf, size, printed, out);
    free(buf);
    return r;
#else
    return hw_memstats_parse("", 0, 0, out);
#endif
}

int
hw_memstats_read(hw_memstats *out)
{
    if (read_pymalloc(out) < 0) {
        return -1;
    }
#if HW_HAVE_MALLINFO2
    /* mallinfo2 walks every free chunk of every arena: 0.2 s for the
       millions of chunks a fragmented heap under PYTHONMALLOC=malloc
       holds.  It touches no Python object, so other threads may run. */
    struct mallinfo2 mi;
    Py_BEGIN_ALLOW_THREADS
    mi = mallinfo2();
    Py_END_ALLOW_THREADS
    out->have_mallinfo = 1;
    out->malloc_free = (uint64_t)mi.fordblks;
#else
    out->have_mallinfo = 0;
    out->malloc_free = 0;
#endif
    return 0;
}

/* ---- the figures a graph keeps -------------------------------------------- */

static uint64_t
resident_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "re");
    if (f == NULL) {
        return 0;
    }
    unsigned long long size, resident;
    int got = fscanf(f, "%llu %llu", &size, &resident);
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return got == 2 && page > 0 ? (uint64_t)resident * (uint64_t)page : 0;
}

int
hw_memory_read(uint64_t mem[HW_MEMORY_FIELDS])
{
    hw_memstats ms;
    if (hw_memstats_read(&ms) < 0) {
        return -1;
    }
    mem[HW_MEM_RSS] = resident_bytes();
    mem[HW_MEM_PYMALLOC_FREE] = ms.pymalloc_available + ms.pymalloc_unused_pools;
    mem[HW_MEM_MALLOC_FREE] = ms.malloc_free;
    mem[HW_MEM_PYMALLOC_USED] = ms.pymalloc_allocated;
    mem[HW_MEM_PYMALLOC_ARENAS] = ms.pymalloc_arenas;
    return 0;
}
