/* ptrset.c - see ptrset.h. */

#include <Python.h>
#include <stdint.h>
#include "bigmem.h"
#include "hashing.h"
#include "ptrset.h"

/* The slot of p in slots (cap of them): where p is, or the empty slot
   where the probe for it ends. */
static inline size_t
find_slot(void *const *slots, size_t cap, const void *p)
{
    size_t j = hw_slot(hw_hash_ptr(p), cap);
    while (slots[j] != NULL && slots[j] != p) {
        j = hw_probe_next(j, cap);
    }
    return j;
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
        if (p != NULL) {
            slots[find_slot(slots, (size_t)newcap, p)] = p;
        }
    }
    hw_big_free(s->slots);
    s->slots = slots;
    s->capacity = newcap;
    return 0;
}

int
hw_ptrset_add(hw_ptrset *s, void *p)
{
    if (hw_over_load((uint64_t)s->used + 1, (uint64_t)s->capacity, 1, 2)) {
        if (resize(s, s->capacity ? s->capacity * 2 : 1024) < 0) {
            return -1;
        }
    }
    size_t j = find_slot(s->slots, (size_t)s->capacity, p);
    if (s->slots[j] == p) {
        return 0;
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
    return s->slots[find_slot(s->slots, (size_t)s->capacity, p)] == p;
}

void
hw_ptrset_clear(hw_ptrset *s)
{
    hw_big_free(s->slots);
    s->slots = NULL;
    s->capacity = 0;
    s->used = 0;
}
