/* snapfile.h - heapwatch snapshot files: write a graph, read it back.
 *
 * The layout is documented in snapfile.c, beside the writer.  Pure C and
 * POSIX, no interpreter: the reader is fuzzed without one (fuzz/).
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

/* ---- files ---------------------------------------------------------------
   The two functions above on a path, with the file system's surprises
   handled.  A failure is sorted by kind, for the bindings to raise one
   exception per kind and to name the path themselves. */

typedef enum {
    HW_SNAP_OK = 0,
    HW_SNAP_ESYS,       /* a system call failed with errnum (EISDIR for a
                           directory); msg is "" or names the step */
    HW_SNAP_ENOTREG,    /* a FIFO, device or socket: msg says which */
    HW_SNAP_EDATA,      /* load: not a snapshot, or a damaged one;
                           save: an invalid graph.  msg says what */
    HW_SNAP_ENOMEM,
} hw_snap_status;

typedef struct {
    hw_snap_status status;
    int errnum;                 /* for HW_SNAP_ESYS, else 0 */
    char msg[256];
} hw_snap_error;

/* Reads the snapshot file at path: only a regular file (a FIFO neither
   blocks nor is read), opened O_CLOEXEC, its header checked against its
   size before the rest is read or memory is allocated for it.  Returns as
   hw_snap_read(), or NULL with *e filled in. */
hw_graph *hw_snap_load(const char *path, uint32_t **reprs_out, hw_snap_error *e);

/* Writes g (and reprs, as hw_snap_write) to path, atomically: into a new
   file of a unique name in path's directory, created 0600, synced, then
   renamed over path, and the directory synced.  An existing path must be
   a regular file or a symbolic link to one; a link is replaced by the
   file, its target left alone.  Anything else there (a directory, FIFO,
   device) is refused and left in place.  On failure the temporary file is
   gone and path untouched (but for a failed directory sync, after which
   the new file is in place and *e says so).  Returns 0, or -1 with *e. */
int hw_snap_save(const hw_graph *g, const uint32_t *reprs, const char *path,
                 hw_snap_error *e);

/* hw_snap_save, calling made(tmp, arg) once the temporary file exists,
   with its path, so that a caller whose process may be killed before the
   rename (capture.c's child) can tell another process what to remove. */
int hw_snap_save_notify(const hw_graph *g, const uint32_t *reprs, const char *path,
                        void (*made)(const char *tmp, void *arg), void *arg,
                        hw_snap_error *e);

#endif
