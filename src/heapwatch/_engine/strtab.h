/* strtab.h - a table of interned UTF-8 strings, numbered from 0.
 *
 * Type names, root labels and edge names of a graph live here, each stored
 * once.  Pure C (malloc), no Python objects: the snapshot reader, which is
 * fuzzed without an interpreter, fills one too.
 *
 * Invariants: s[i] is NUL-terminated and len[i] bytes long (it may itself
 * contain no NUL: strings with an embedded NUL are refused); the hash index
 * is at most half full, a power of two, and maps each distinct string to
 * its one id.
 */
#ifndef HW_STRTAB_H
#define HW_STRTAB_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t n, cap;            /* strings, and room in s/len */
    char **s;
    uint32_t *len;
    uint32_t *index;            /* ids + 1; 0 is an empty slot */
    uint32_t index_cap;
} hw_strtab;

/* The id of the string (s, len), added if new.  Returns the id, or
   UINT32_MAX when out of memory or when s contains a NUL byte. */
uint32_t hw_strtab_add(hw_strtab *t, const char *s, size_t len);

/* Frees everything; the table is empty and reusable afterwards. */
void hw_strtab_clear(hw_strtab *t);

#endif
