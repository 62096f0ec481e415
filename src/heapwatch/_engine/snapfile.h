/* snapfile.h - heapwatch snapshot files: write a graph, read it back.
 *
 * The layout is documented in snapfile.c, beside the writer.  Pure C: the
 * reader is fuzzed without an interpreter (fuzz/).
 */
#ifndef HW_SNAPFILE_H
#define HW_SNAPFILE_H

#include <stddef.h>
#include <stdint.h>
#include "graph.h"

/* Writes g to the open file descriptor fd (which the caller created 0600).
   Writes the path tree too when g has one.  reprs (may be NULL) maps
   node -> strtab id of a repr, HW_NONE for none; it is stored only when
   given.  Returns 0, or -1 with a message in err (errno kept for I/O). */
int hw_snap_write(const hw_graph *g, const uint32_t *reprs, int fd,
                  char *err, size_t errlen);

/* Parses a whole file image.  Returns a new graph (hw_graph_free) with its
   in-edges and index built, or NULL with a message in err ("truncated",
   "not a heapwatch snapshot", "node 12 has an edge to 99 of 10"...).  Never
   reads outside buf and never allocates more than a small multiple of len.
   *reprs_out (when not NULL) receives a malloc'd node -> strtab id array,
   or NULL when the file stores no reprs. */
hw_graph *hw_snap_read(const unsigned char *buf, size_t len,
                       uint32_t **reprs_out, char *err, size_t errlen);

#endif
