/* test_bigmem.c - the large-array allocator (src/heapwatch/_engine/bigmem.c).
 *
 * Built by tests/test_bigmem.py twice: as the release build compiles it
 * (blocks of HW_BIG_MAP_MIN bytes or more on mappings of their own) and
 * with ASan (every block from calloc).  Checks, in both: zero-filled
 * blocks, contents kept and the added part zeroed by every resize (small
 * to small, small to large, large to larger, large to smaller and back),
 * overflow refused without harm.  Only with mappings: a large block starts
 * a 2 MiB aligned mapping of its own, advised for huge pages when the
 * system has them, and freeing it unmaps it.
 *
 * Exit status 0 when every check passed; each failure is printed.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bigmem.h"

#include "check.h"

static int
all_zero(const unsigned char *p, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        if (p[i] != 0) {
            return 0;
        }
    }
    return 1;
}

static void
fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (unsigned char)(i * 31u + seed) | 1u;
    }
}

static int
filled(const unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != ((unsigned char)(i * 31u + seed) | 1u)) {
            return 0;
        }
    }
    return 1;
}

/* The mapping of /proc/self/smaps that contains addr: its start and end,
   and whether its VmFlags have "hg" (MADV_HUGEPAGE).  0 when found. */
static int
find_mapping(uintptr_t addr, uintptr_t *start, uintptr_t *end, int *advised)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    if (f == NULL) {
        return -1;
    }
    char line[512];
    int found = 0;
    while (fgets(line, sizeof(line), f)) {
        unsigned long a, b;
        if (sscanf(line, "%lx-%lx ", &a, &b) == 2 && strchr(line, ':') != NULL
            && line[strspn(line, "0123456789abcdef")] == '-') {
            if (found) {
                break;          /* the next mapping: no VmFlags line seen */
            }
            if (addr >= a && addr < b) {
                found = 1;
                *start = a;
                *end = b;
                *advised = 0;
            }
        }
        else if (found && strncmp(line, "VmFlags:", 8) == 0) {
            *advised = strstr(line, " hg") != NULL;
            break;
        }
    }
    fclose(f);
    return found ? 0 : -1;
}

static int
huge_pages_possible(void)
{
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (f == NULL) {
        return 0;
    }
    char line[128] = "";
    if (fgets(line, sizeof(line), f) == NULL) {
        line[0] = '\0';
    }
    fclose(f);
    return strstr(line, "[never]") == NULL && line[0] != '\0';
}

static void
test_small(void)
{
    unsigned char *p = hw_big_alloc(1000, 3);
    CHECK(p != NULL && all_zero(p, 0, 3000), "small block zeroed");
    fill(p, 3000, 1);
    p = hw_big_resize(p, 5000, 1);
    CHECK(p != NULL && filled(p, 3000, 1) && all_zero(p, 3000, 5000),
          "small grow keeps and zero-fills");
    p = hw_big_resize(p, 100, 1);
    CHECK(p != NULL && filled(p, 100, 1), "small shrink keeps");
    p = hw_big_resize(p, 4000, 1);
    CHECK(p != NULL && filled(p, 100, 1) && all_zero(p, 100, 4000),
          "shrink then grow: the regrown part is zero");
    hw_big_free(p);

    void *z = hw_big_alloc(0, 8);
    CHECK(z != NULL, "a zero-length block is a block");
    hw_big_free(z);
    z = hw_big_resize(NULL, 16, 4);
    CHECK(z != NULL && all_zero(z, 0, 64), "resize(NULL) allocates, zeroed");
    hw_big_free(z);
    hw_big_free(NULL);
}

static void
test_overflow(void)
{
    CHECK(hw_big_alloc(SIZE_MAX / 2, 4) == NULL, "count * size overflow refused");
    CHECK(hw_big_alloc(SIZE_MAX, 1) == NULL, "SIZE_MAX bytes refused");
    unsigned char *p = hw_big_alloc(64, 1);
    fill(p, 64, 7);
    CHECK(hw_big_resize(p, SIZE_MAX / 8, 16) == NULL, "resize overflow refused");
    CHECK(filled(p, 64, 7), "a refused resize leaves the block as it was");
    hw_big_free(p);
}

static void
test_large(int maps)
{
    size_t small = 1u << 20, big = HW_BIG_MAP_MIN + 12345, bigger = 3 * HW_BIG_MAP_MIN + 7;
    unsigned char *p = hw_big_alloc(small, 1);
    fill(p, small, 3);
    p = hw_big_resize(p, big, 1);
    CHECK(p != NULL && filled(p, small, 3) && all_zero(p, small, big),
          "small to large keeps and zero-fills");
    uintptr_t start, end;
    int advised;
    if (maps) {
        CHECK(find_mapping((uintptr_t)p, &start, &end, &advised) == 0, "large block mapped");
        CHECK((uintptr_t)p - start == 16, "the block starts its mapping (after the header)");
        CHECK(start % (2u << 20) == 0, "the mapping is 2 MiB aligned");
        if (huge_pages_possible()) {
            CHECK(advised, "the mapping is advised MADV_HUGEPAGE");
        }
    }
    fill(p, big, 4);
    p = hw_big_resize(p, bigger, 1);
    CHECK(p != NULL && filled(p, big, 4) && all_zero(p, big, bigger),
          "large to larger keeps and zero-fills");
    fill(p, bigger, 5);
    size_t cut = HW_BIG_MAP_MIN / 2 + 99;       /* mid-page */
    p = hw_big_resize(p, cut, 1);
    CHECK(p != NULL && filled(p, cut, 5), "large shrink keeps");
    p = hw_big_resize(p, bigger, 1);
    CHECK(p != NULL && filled(p, cut, 5) && all_zero(p, cut, bigger),
          "large shrink then grow: the regrown part is zero, in the kept page too");
    uintptr_t where = (uintptr_t)p;
    hw_big_free(p);
    if (maps) {
        uintptr_t s2, e2;
        int a2;
        CHECK(find_mapping(where, &s2, &e2, &a2) != 0, "a freed large block is unmapped");
    }

    unsigned char *q = hw_big_alloc(HW_BIG_MAP_MIN, 2);
    CHECK(q != NULL && all_zero(q, 0, 2 * HW_BIG_MAP_MIN), "large block zeroed");
    q[2 * HW_BIG_MAP_MIN - 1] = 9;
    hw_big_free(q);
}

int
main(int argc, char **argv)
{
    int maps = argc > 1 && strcmp(argv[1], "--maps") == 0;
    test_small();
    test_overflow();
    test_large(maps);
    printf("%d checks, %d failures\n", checks, failures);
    return failures != 0;
}
