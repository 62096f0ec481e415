/* ptrset.c - see ptrset.h. */

#include <Python.h>
#include <stdint.h>
#include "bigmem.h"
#include "ptrset.h"

static inline size_t
hash_ptr(void *p, Py_ssize_t capacity)
{
    uint64_t h = ((uint64_t)(uintptr_t)p >> 4) * 0x9E3779B97F4A7C15ULL;
    return (size_t)(h >> 32) & (size_t)(capacity - 1);
}

static int
resize(hw_ptrset *s, Py_ssize_t newcap)
{
    /* From bigmem: a big set (a census of untracked objects over a large
       heap: tens of MiB) is a mapping of its own, returned to the system
       when freed.  From malloc, glibc's dynamic mmap threshold rises after
       the first free and every later set stays in the heap. */
    void **slots = hw_big_alloc((size_t)newcap, sizeof(void *));
    if (slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < s->capacity; i++) {
        void *p = s->slots[i];
        if (p == NULL) {
            continue;
        }
        size_t j = hash_ptr(p, newcap);
        while (slots[j] != NULL) {
            j = (j + 1) & (size_t)(newcap - 1);
        }
        slots[j] = p;
    }
    hw_big_free(s->slots);
    s->slots = slots;
    s->capacity = newcap;
    return 0;
}

int
hw_ptrset_add(hw_ptrset *s, void *p)
{
    if ((s->used + 1) * 2 > s->capacity) {
        if (resize(s, s->capacity ? s->capacity * 2 : 1024) < 0) {
            return -1;
        }
    }
    size_t mask = (size_t)(s->capacity - 1);
    size_t j = hash_ptr(p, s->capacity);
    while (s->slots[j] != NULL) {
        if (s->slots[j] == p) {
            return 0;
        }
        j = (j + 1) & mask;
    }
    s->slots[j] = p;
    s->used++;
    return 1;
}

int
hw_ptrset_contains(const hw_ptrset *s, const void *p)
{
    if (s->capacity == 0) {
        return 0;
    }
    size_t mask = (size_t)(s->capacity - 1);
    size_t j = hash_ptr((void *)p, s->capacity);
    while (s->slots[j] != NULL) {
        if (s->slots[j] == p) {
            return 1;
        }
        j = (j + 1) & mask;
    }
    return 0;
}

void
hw_ptrset_clear(hw_ptrset *s)
{
    hw_big_free(s->slots);
    s->slots = NULL;
    s->capacity = 0;
    s->used = 0;
}
