/* strtab.c - see strtab.h. */

#include <stdlib.h>
#include <string.h>
#include "hashing.h"
#include "strtab.h"

static int
reindex(hw_strtab *t, uint32_t cap)
{
    uint32_t *index = calloc(cap, sizeof(uint32_t));
    if (index == NULL) {
        return -1;
    }
    for (uint32_t id = 0; id < t->n; id++) {
        hw_idtab_put(index, cap, hw_hash_bytes(t->s[id], t->len[id]), id);
    }
    free(t->index);
    t->index = index;
    t->index_cap = cap;
    return 0;
}

uint32_t
hw_strtab_add(hw_strtab *t, const char *s, size_t len)
{
    if (len >= UINT32_MAX || memchr(s, '\0', len) != NULL || t->n >= UINT32_MAX / 4) {
        return UINT32_MAX;
    }
    if (hw_over_load((uint64_t)t->n + 1, t->index_cap, 1, 2)) {
        if (reindex(t, t->index_cap ? t->index_cap * 2 : 256) < 0) {
            return UINT32_MAX;
        }
    }
    size_t j = hw_slot(hw_hash_bytes(s, len), t->index_cap);
    while (t->index[j] != 0) {
        uint32_t id = t->index[j] - 1;
        if (t->len[id] == len && memcmp(t->s[id], s, len) == 0) {
            return id;
        }
        j = hw_probe_next(j, t->index_cap);
    }
    if (t->n == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 64;
        char **ns = realloc(t->s, (size_t)cap * sizeof(char *));
        if (ns == NULL) {
            return UINT32_MAX;
        }
        t->s = ns;
        uint32_t *nl = realloc(t->len, (size_t)cap * sizeof(uint32_t));
        if (nl == NULL) {
            return UINT32_MAX;
        }
        t->len = nl;
        t->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (copy == NULL) {
        return UINT32_MAX;
    }
    memcpy(copy, s, len);
    copy[len] = '\0';
    uint32_t id = t->n++;
    t->s[id] = copy;
    t->len[id] = (uint32_t)len;
    t->index[j] = id + 1;
    return id;
}

void
hw_strtab_clear(hw_strtab *t)
{
    for (uint32_t i = 0; i < t->n; i++) {
        free(t->s[i]);
    }
    free(t->s);
    free(t->len);
    free(t->index);
    memset(t, 0, sizeof(*t));
}
