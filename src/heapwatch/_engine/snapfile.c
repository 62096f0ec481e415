/* snapfile.c - heapwatch snapshot files (see snapfile.h).
 *
 * Pure C and POSIX: the reader is fuzzed without an interpreter
 * (fuzz/fuzz_snapfile.c, corpus in fuzz/corpus/).  The format's writer
 * and reader work on a file descriptor and a buffer; the file system
 * (which files to trust, temporary files, renames, syncs) is apart, at
 * the end ("files").
 *
 * The file format, versions 1 and 2
 * ==================================
 *
 * Every integer is little-endian and fixed-width, written byte by byte
 * (never a struct image).  u8/u32/u64 are unsigned; f64 is the IEEE 754
 * binary64 bit pattern stored as a u64.  Nothing is aligned or padded
 * beyond what is listed.  N = n_nodes, E = n_edges.
 *
 * Header, 92 bytes:
 *
 *   offset size  field
 *        0    8  magic "\x89HWS\r\n\x1a\n" (as PNG's: the high byte catches
 *                7-bit transfers, \r\n and \n catch newline conversion,
 *                \x1a stops a DOS "type")
 *        8    4  u32 format version: 2 when the memory section is present
 *                (flag 0x4), else 1
 *       12    4  u32 flags: 0x1 path tree present, 0x2 reprs present,
 *                0x4 memory figures present (set in version 2, never in
 *                version 1); other bits are invalid
 *       16    8  u64 file size in bytes, checksum included
 *       24    4  u32 pointer size of the process that built the graph, 4 or 8
 *       28   32  python_version: printable ASCII, NUL-terminated, the rest
 *                of the field zero ("3.12.1\0\0...")
 *       60    8  f64 created, seconds since the epoch, finite
 *       68    4  u32 n_strings
 *       72    4  u32 n_types
 *       76    4  u32 n_nodes        N <= HW_MAX_NODES
 *       80    4  u32 n_tracked      <= N
 *       84    4  u32 n_edges        E
 *       88    4  u32 n_roots
 *
 * Then the sections, in this order, each opening with a 4-byte ASCII tag:
 *
 *   "STRS"  n_strings times: u32 length, then that many bytes of UTF-8
 *           (strict: no overlong forms, no surrogates, nothing past
 *           U+10FFFF, no NUL).  String i is strtab id i; no two are equal.
 *   "TYPE"  u32 type_name[n_types]: string ids
 *   "NODE"  u64 addr[N], distinct
 *           u32 type[N]: type ids
 *           u64 size[N]
 *           u8  flags[N]: HW_HELD | HW_NAMED only; HW_NAMED is set exactly
 *               on the nodes some named root names
 *   "EDGE"  u32 out_off[N + 1]: out_off[0] = 0, non-decreasing,
 *               out_off[N] = E
 *           u32 out_adj[E]: node ids
 *   "ROOT"  n_roots times: u32 node id, u32 label (string id)
 *   "PATH"  (flag 0x1) u32 parent[N]: a node id or HW_NONE (0xffffffff);
 *               parent[v] -> v is an edge; following parents never cycles
 *           u32 root_of[N]: a root index or HW_NONE; a node with a parent
 *               has its parent's root_of; a node without one has HW_NONE
 *               or the index of a root naming that very node
 *           u8  label_kind[N]: < HW_LABEL__COUNT; HW_LABEL_NONE when the
 *               node has no parent
 *           u32 label[N]: a string id for the string kinds (ATTR, KEY,
 *               LOCAL, CLOSURE, FIELD), any index for INDEX, 0 otherwise
 *   "REPR"  (flag 0x2) u32 repr[N]: a string id or HW_NONE
 *   "MEMS"  (flag 0x4) u64 memory[5]: the process's memory when the graph
 *           was built (graph.h, enum hw_memory_field): RSS, pymalloc's
 *           free bytes, malloc's free bytes, pymalloc's used bytes and
 *           its arenas; any values
 *
 * Then the trailer: u32 CRC-32 (the zlib/PNG one, as Python's
 * zlib.crc32) of every byte before it.
 *
 * The encoding is canonical: the rules above leave one byte string per
 * graph, and the reader accepts nothing else, so reading a file and
 * writing the graph back reproduces it byte for byte (the fuzzer checks
 * this).  The writer derives what is redundant (HW_NAMED, the labels of
 * parentless nodes and of kinds without one) instead of copying it, and
 * drops the scratch flag HW_TARGET.
 *
 * In-edges and the address index are not stored: the reader rebuilds them
 * (hw_graph_transpose, hw_graph_index).
 *
 * Reading checks, in this order: the magic (with a word for text-mode
 * damage), the version, the file size against the header (truncation,
 * trailing bytes) -- these three need only the first 24 bytes and the
 * file's length, so that hw_snap_load() judges a file before reading it
 * -- the checksum, the header's fields, then the counts
 * against the file size before the first allocation: every array is then
 * backed by at least its own size in the file, so a read allocates at most
 * a small multiple (about 10x, strings included) of its input.  After
 * parsing come every rule above, then the rebuilt index finds duplicate
 * addresses.  The file is trusted in nothing: a refusal is a NULL and a
 * message, never a read outside the buffer.
 *
 * Versioning: any change to the layout bumps the version.  Version 2 is
 * version 1 plus the memory section; the writer writes version 1 for a
 * graph without memory figures, so every graph still has one encoding,
 * and files written before the memory section are read as they were.
 * The reader refuses every other version, with a message naming both.
 */

#define _GNU_SOURCE             /* mkostemp */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "bigmem.h"
#include "snapfile.h"

#define SNAP_VERSION 2          /* the newest; 1 is read too */
#define SNAP_HEADER_SIZE 92
#define SNAP_PREFIX_SIZE 24     /* magic, version, flags, file size */
#define SNAP_FLAG_PATHS 0x1u
#define SNAP_FLAG_REPRS 0x2u
#define SNAP_FLAG_MEMORY 0x4u
#define SNAP_FLAGS_KNOWN (SNAP_FLAG_PATHS | SNAP_FLAG_REPRS | SNAP_FLAG_MEMORY)
#define SNAP_NODE_FLAGS (HW_HELD | HW_NAMED)

static const unsigned char snap_magic[8] = {
    0x89, 'H', 'W', 'S', '\r', '\n', 0x1a, '\n'
};

/* Every allocation failure says exactly this (hw_snap_load() tells it
   from the damage it reports). */
#define SNAP_NOMEM "out of memory"

/* ---- shared helpers ---------------------------------------------------- */

static void
set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* CRC-32, reflected polynomial 0xEDB88320 (zlib, PNG).  The table is built
   per use (256 entries, negligible next to any file) so that no global
   state needs initialising or locking. */
static void
crc_table_init(uint32_t table[256])
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) {
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        }
        table[i] = c;
    }
}

/* crc is the running value, 0 to start (pre- and post-inverted inside). */
static uint32_t
crc_update(const uint32_t table[256], uint32_t crc, const unsigned char *p, size_t n)
{
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    }
    return ~crc;
}

/* Strict UTF-8 without NUL: what PyUnicode_DecodeUTF8 accepts and a
   C string can hold.  Returns 1 when valid. */
static int
utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned int c = s[i];
        if (c < 0x80) {
            if (c == 0) {
                return 0;
            }
            i++;
            continue;
        }
        size_t more;
        uint32_t cp, min;
        if (c >= 0xC2 && c <= 0xDF) {
            more = 1;
            cp = c & 0x1F;
            min = 0x80;
        }
        else if ((c & 0xF0) == 0xE0) {
            more = 2;
            cp = c & 0x0F;
            min = 0x800;
        }
        else if (c >= 0xF0 && c <= 0xF4) {
            more = 3;
            cp = c & 0x07;
            min = 0x10000;
        }
        else {
            return 0;
        }
        if (n - i - 1 < more) {
            return 0;
        }
        for (size_t k = 1; k <= more; k++) {
            unsigned int b = s[i + k];
            if ((b & 0xC0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (b & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            return 0;
        }
        i += more + 1;
    }
    return 1;
}

static int
label_is_string(unsigned int kind)
{
    return kind == HW_LABEL_ATTR || kind == HW_LABEL_KEY || kind == HW_LABEL_LOCAL
           || kind == HW_LABEL_CLOSURE || kind == HW_LABEL_FIELD;
}

/* The size of a file with these counts whose strings total str_bytes.
   At most about 2^38 for 32-bit counts: no overflow in 64 bits. */
static uint64_t
snap_file_size(uint32_t flags, uint64_t n_strings, uint64_t n_types, uint64_t n,
               uint64_t n_edges, uint64_t n_roots, uint64_t str_bytes)
{
    uint64_t size = SNAP_HEADER_SIZE;
    size += 4 + 4 * n_strings + str_bytes;      /* STRS */
    size += 4 + 4 * n_types;                    /* TYPE */
    size += 4 + 21 * n;                         /* NODE */
    size += 4 + 4 * (n + 1) + 4 * n_edges;      /* EDGE */
    size += 4 + 8 * n_roots;                    /* ROOT */
    if (flags & SNAP_FLAG_PATHS) {
        size += 4 + 13 * n;                     /* PATH */
    }
    if (flags & SNAP_FLAG_REPRS) {
        size += 4 + 4 * n;                      /* REPR */
    }
    if (flags & SNAP_FLAG_MEMORY) {
        size += 4 + 8 * HW_MEMORY_FIELDS;       /* MEMS */
    }
    return size + 4;                            /* CRC */
}

static int
python_version_valid(const unsigned char *pv)
{
    size_t i = 0;
    while (i < 32 && pv[i] != 0) {
        if (pv[i] < 0x20 || pv[i] > 0x7e) {
            return 0;
        }
        i++;
    }
    return i < 32;      /* NUL-terminated within the field */
}

/* The checks both directions share: every id in range, offsets sound, the
   path tree a forest of real edges.  The writer runs them so that it never
   writes a file the reader would refuse; the reader runs them on what it
   parsed.  The string table and the canonical-form rules are checked where
   each side handles them.  ok (n_nodes + 1 bytes, zeroed) is scratch.
   Returns 0, or -1 with a message. */
static int
check_graph(const hw_graph *g, const uint32_t *reprs, uint8_t *ok,
            const char *what, char *err, size_t errlen)
{
    uint32_t n = g->n_nodes, n_str = g->strings.n;

    if (g->pointer_size != 4 && g->pointer_size != 8) {
        set_err(err, errlen, "%s: pointer size %u", what, (unsigned)g->pointer_size);
        return -1;
    }
    if (!python_version_valid((const unsigned char *)g->python_version)) {
        set_err(err, errlen, "%s: bad python_version", what);
        return -1;
    }
    if (!isfinite(g->created)) {
        set_err(err, errlen, "%s: creation time is not a finite number", what);
        return -1;
    }
    if (n > HW_MAX_NODES) {
        set_err(err, errlen, "%s: %u nodes, more than %u", what,
                (unsigned)n, (unsigned)HW_MAX_NODES);
        return -1;
    }
    if (g->n_tracked > n) {
        set_err(err, errlen, "%s: %u tracked nodes of %u", what,
                (unsigned)g->n_tracked, (unsigned)n);
        return -1;
    }
    for (uint32_t t = 0; t < g->n_types; t++) {
        if (g->type_name[t] >= n_str) {
            set_err(err, errlen, "%s: type %u is named by string %u of %u", what,
                    (unsigned)t, (unsigned)g->type_name[t], (unsigned)n_str);
            return -1;
        }
    }
    for (uint32_t v = 0; v < n; v++) {
        if (g->type[v] >= g->n_types) {
            set_err(err, errlen, "%s: node %u has type %u of %u", what,
                    (unsigned)v, (unsigned)g->type[v], (unsigned)g->n_types);
            return -1;
        }
    }
    if (g->out_off[0] != 0) {
        set_err(err, errlen, "%s: edge offsets start at %u", what, (unsigned)g->out_off[0]);
        return -1;
    }
    for (uint32_t v = 0; v < n; v++) {
        if (g->out_off[v + 1] < g->out_off[v]) {
            set_err(err, errlen, "%s: edge offsets decrease at node %u", what, (unsigned)v);
            return -1;
        }
    }
    if (g->out_off[n] != g->n_edges) {
        set_err(err, errlen, "%s: edge offsets end at %u, not at the %u edges", what,
                (unsigned)g->out_off[n], (unsigned)g->n_edges);
        return -1;
    }
    for (uint32_t v = 0; v < n; v++) {
        for (uint32_t e = g->out_off[v]; e < g->out_off[v + 1]; e++) {
            if (g->out_adj[e] >= n) {
                set_err(err, errlen, "%s: node %u has an edge to node %u of %u", what,
                        (unsigned)v, (unsigned)g->out_adj[e], (unsigned)n);
                return -1;
            }
        }
    }
    for (uint32_t r = 0; r < g->n_roots; r++) {
        if (g->root_node[r] >= n) {
            set_err(err, errlen, "%s: root %u is node %u of %u", what,
                    (unsigned)r, (unsigned)g->root_node[r], (unsigned)n);
            return -1;
        }
        if (g->root_label[r] >= n_str) {
            set_err(err, errlen, "%s: root %u is labelled by string %u of %u", what,
                    (unsigned)r, (unsigned)g->root_label[r], (unsigned)n_str);
            return -1;
        }
    }
    if (reprs != NULL) {
        for (uint32_t v = 0; v < n; v++) {
            if (reprs[v] != HW_NONE && reprs[v] >= n_str) {
                set_err(err, errlen, "%s: the repr of node %u is string %u of %u", what,
                        (unsigned)v, (unsigned)reprs[v], (unsigned)n_str);
                return -1;
            }
        }
    }
    if (g->parent == NULL) {
        return 0;
    }

    /* The path tree.  Ranges first, so that the walks below stay inside
       the arrays. */
    for (uint32_t v = 0; v < n; v++) {
        hw_node p = g->parent[v];
        uint32_t ro = g->root_of[v];
        if (p != HW_NONE && p >= n) {
            set_err(err, errlen, "%s: the parent of node %u is node %u of %u", what,
                    (unsigned)v, (unsigned)p, (unsigned)n);
            return -1;
        }
        if (ro != HW_NONE && ro >= g->n_roots) {
            set_err(err, errlen, "%s: the path of node %u starts at root %u of %u", what,
                    (unsigned)v, (unsigned)ro, (unsigned)g->n_roots);
            return -1;
        }
        if (p != HW_NONE) {
            unsigned int kind = g->label_kind[v];
            if (kind >= HW_LABEL__COUNT) {
                set_err(err, errlen, "%s: node %u has label kind %u of %u", what,
                        (unsigned)v, kind, (unsigned)HW_LABEL__COUNT);
                return -1;
            }
            if (label_is_string(kind) && g->label[v] >= n_str) {
                set_err(err, errlen, "%s: the edge to node %u is named by string %u of %u",
                        what, (unsigned)v, (unsigned)g->label[v], (unsigned)n_str);
                return -1;
            }
            if (g->root_of[p] != ro) {
                set_err(err, errlen, "%s: node %u and its parent %u start at different roots",
                        what, (unsigned)v, (unsigned)p);
                return -1;
            }
        }
        else if (ro != HW_NONE && g->root_node[ro] != v) {
            set_err(err, errlen, "%s: node %u has no parent but starts at root %u (node %u)",
                    what, (unsigned)v, (unsigned)ro, (unsigned)g->root_node[ro]);
            return -1;
        }
    }
    /* Each parent[v] -> v must be an edge: mark, for every node p, the
       targets w of p's edges that name p as their parent (O(N + E), where
       searching p's edges per child could be quadratic). */
    for (uint32_t p = 0; p < n; p++) {
        for (uint32_t e = g->out_off[p]; e < g->out_off[p + 1]; e++) {
            if (g->parent[g->out_adj[e]] == p) {
                ok[g->out_adj[e]] = 1;
            }
        }
    }
    for (uint32_t v = 0; v < n; v++) {
        if (g->parent[v] != HW_NONE && !ok[v]) {
            set_err(err, errlen, "%s: node %u has parent %u, which has no edge to it",
                    what, (unsigned)v, (unsigned)g->parent[v]);
            return -1;
        }
    }
    /* No cycles, so that whoever follows parents stops.  ok[v] is now 1 for
       nodes with a parent, 0 for the others; reuse it as a colour:
       2 = on the chain being walked, 3 = known to reach a parentless node.
       Each node is coloured 2 once and 3 once: O(N). */
    for (uint32_t v = 0; v < n; v++) {
        hw_node u = v;
        while (u != HW_NONE && ok[u] < 2) {
            ok[u] = 2;
            u = g->parent[u];
        }
        if (u != HW_NONE && ok[u] == 2) {
            set_err(err, errlen, "%s: the parents of node %u form a cycle", what, (unsigned)u);
            return -1;
        }
        for (u = v; u != HW_NONE && ok[u] == 2; u = g->parent[u]) {
            ok[u] = 3;
        }
    }
    return 0;
}

/* ---- writer ------------------------------------------------------------ */

#define WBUF_SIZE (1 << 16)

/* Invariants: buf[0 .. used) is written to nothing yet; the CRC covers the
   bytes already written plus buf[0 .. crc_upto); once frozen, bytes added
   (the trailer) stay out of it. */
typedef struct {
    int fd;
    int failed;
    int crc_frozen;
    size_t used, crc_upto;
    uint64_t total;             /* bytes handed to the writer so far */
    uint32_t crc;
    uint32_t crc_table[256];
    char *err;
    size_t errlen;
    unsigned char buf[WBUF_SIZE];
} snap_writer;

static void
w_sync_crc(snap_writer *w)
{
    if (!w->crc_frozen) {
        w->crc = crc_update(w->crc_table, w->crc, w->buf + w->crc_upto,
                            w->used - w->crc_upto);
    }
    w->crc_upto = w->used;
}

/* Writes out the buffer, through short writes and EINTR.  errno is what
   write() set when it fails. */
static int
w_flush(snap_writer *w)
{
    if (w->failed) {
        return -1;
    }
    w_sync_crc(w);
    size_t off = 0;
    while (off < w->used) {
        ssize_t k = write(w->fd, w->buf + off, w->used - off);
        if (k < 0) {
            if (errno == EINTR) {
                continue;
            }
            int saved = errno;
            set_err(w->err, w->errlen, "cannot write the snapshot: %s", strerror(saved));
            errno = saved;
            w->failed = 1;
            return -1;
        }
        if (k == 0) {
            /* Not an error write() reports; call it what it means. */
            set_err(w->err, w->errlen, "cannot write the snapshot: no progress");
            errno = EIO;
            w->failed = 1;
            return -1;
        }
        off += (size_t)k;
    }
    w->used = w->crc_upto = 0;
    return 0;
}

static void
w_bytes(snap_writer *w, const void *data, size_t n)
{
    const unsigned char *p = data;
    w->total += n;
    while (n > 0) {
        if (w->used == WBUF_SIZE && w_flush(w) < 0) {
            return;
        }
        size_t k = WBUF_SIZE - w->used;
        if (k > n) {
            k = n;
        }
        memcpy(w->buf + w->used, p, k);
        w->used += k;
        p += k;
        n -= k;
    }
}

static void
w_u8(snap_writer *w, uint8_t x)
{
    w_bytes(w, &x, 1);
}

static void
w_u32(snap_writer *w, uint32_t x)
{
    unsigned char b[4];
    for (int i = 0; i < 4; i++) {
        b[i] = (unsigned char)(x >> (8 * i));
    }
    w_bytes(w, b, 4);
}

static void
w_u64(snap_writer *w, uint64_t x)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++) {
        b[i] = (unsigned char)(x >> (8 * i));
    }
    w_bytes(w, b, 8);
}

static void
w_u32_array(snap_writer *w, const uint32_t *a, uint32_t n)
{
    for (uint32_t i = 0; i < n && !w->failed; i++) {
        w_u32(w, a[i]);
    }
}

/* hw_snap_write(), telling too whether a failure was the file's (write()
   failed: *io_failed is 1) rather than the graph's or memory's. */
static int
snap_write(const hw_graph *g, const uint32_t *reprs, int fd, char *err, size_t errlen,
           int *io_failed)
{
    const char *what = "cannot write the snapshot";
    uint32_t n = g->n_nodes;
    int has_paths = g->parent != NULL;

    *io_failed = 0;
    set_err(err, errlen, "%s", "");
    if (has_paths && (g->root_of == NULL || g->label_kind == NULL || g->label == NULL)) {
        set_err(err, errlen, "%s: incomplete path tree", what);
        return -1;
    }
    if (n > 0 && (g->addr == NULL || g->type == NULL || g->size == NULL
                  || g->flags == NULL || g->out_off == NULL)) {
        set_err(err, errlen, "%s: the graph has no node arrays", what);
        return -1;
    }
    if (g->out_off == NULL && n == 0 && g->n_edges != 0) {
        set_err(err, errlen, "%s: %u edges without offsets", what, (unsigned)g->n_edges);
        return -1;
    }

    /* A graph without nodes may have no arrays at all: stand in zeroed
       ones (out_off needs its one entry) rather than special-casing. */
    uint32_t zero_off = 0;
    hw_graph view = *g;
    if (view.out_off == NULL) {
        view.out_off = &zero_off;
    }

    uint8_t *scratch = hw_big_alloc((size_t)n + 1, 1);
    if (scratch == NULL) {
        set_err(err, errlen, "%s: out of memory", what);
        errno = ENOMEM;
        return -1;
    }
    if (check_graph(&view, reprs, scratch, "cannot write an invalid graph",
                    err, errlen) < 0) {
        hw_big_free(scratch);
        errno = EINVAL;
        return -1;
    }
    uint64_t str_bytes = 0;
    for (uint32_t i = 0; i < g->strings.n; i++) {
        if (!utf8_valid((const unsigned char *)g->strings.s[i], g->strings.len[i])) {
            set_err(err, errlen, "%s: string %u is not valid UTF-8", what, (unsigned)i);
            hw_big_free(scratch);
            errno = EINVAL;
            return -1;
        }
        str_bytes += g->strings.len[i];
    }
    /* HW_NAMED is derived from the roots, not copied (see the format). */
    memset(scratch, 0, (size_t)n + 1);
    for (uint32_t r = 0; r < g->n_roots; r++) {
        scratch[g->root_node[r]] = 1;
    }

    snap_writer *w = malloc(sizeof(snap_writer));
    if (w == NULL) {
        hw_big_free(scratch);
        set_err(err, errlen, "%s: out of memory", what);
        errno = ENOMEM;
        return -1;
    }
    memset(w, 0, offsetof(snap_writer, buf));
    w->fd = fd;
    w->err = err;
    w->errlen = errlen;
    crc_table_init(w->crc_table);

    uint32_t flags = (has_paths ? SNAP_FLAG_PATHS : 0) | (reprs ? SNAP_FLAG_REPRS : 0)
                     | (g->has_memory ? SNAP_FLAG_MEMORY : 0);
    uint64_t size = snap_file_size(flags, g->strings.n, g->n_types, n, g->n_edges,
                                   g->n_roots, str_bytes);

    /* Header */
    w_bytes(w, snap_magic, 8);
    w_u32(w, g->has_memory ? 2 : 1);
    w_u32(w, flags);
    w_u64(w, size);
    w_u32(w, g->pointer_size);
    unsigned char pv[32] = {0};
    memcpy(pv, g->python_version, strlen(g->python_version));
    w_bytes(w, pv, 32);
    uint64_t created_bits;
    memcpy(&created_bits, &g->created, 8);
    w_u64(w, created_bits);
    w_u32(w, g->strings.n);
    w_u32(w, g->n_types);
    w_u32(w, n);
    w_u32(w, g->n_tracked);
    w_u32(w, g->n_edges);
    w_u32(w, g->n_roots);

    w_bytes(w, "STRS", 4);
    for (uint32_t i = 0; i < g->strings.n && !w->failed; i++) {
        w_u32(w, g->strings.len[i]);
        w_bytes(w, g->strings.s[i], g->strings.len[i]);
    }
    w_bytes(w, "TYPE", 4);
    w_u32_array(w, g->type_name, g->n_types);

    w_bytes(w, "NODE", 4);
    for (uint32_t v = 0; v < n && !w->failed; v++) {
        w_u64(w, g->addr[v]);
    }
    w_u32_array(w, g->type, n);
    for (uint32_t v = 0; v < n && !w->failed; v++) {
        w_u64(w, g->size[v]);
    }
    for (uint32_t v = 0; v < n && !w->failed; v++) {
        w_u8(w, (uint8_t)((g->flags[v] & HW_HELD) | (scratch[v] ? HW_NAMED : 0)));
    }

    w_bytes(w, "EDGE", 4);
    w_u32_array(w, view.out_off, n + 1);
    w_u32_array(w, g->out_adj, g->n_edges);

    w_bytes(w, "ROOT", 4);
    for (uint32_t r = 0; r < g->n_roots; r++) {
        w_u32(w, g->root_node[r]);
        w_u32(w, g->root_label[r]);
    }

    if (has_paths) {
        /* Labels only where the format gives them a meaning. */
        w_bytes(w, "PATH", 4);
        w_u32_array(w, g->parent, n);
        w_u32_array(w, g->root_of, n);
        for (uint32_t v = 0; v < n && !w->failed; v++) {
            w_u8(w, g->parent[v] == HW_NONE ? HW_LABEL_NONE : g->label_kind[v]);
        }
        for (uint32_t v = 0; v < n && !w->failed; v++) {
            unsigned int kind = g->label_kind[v];
            int has_label = g->parent[v] != HW_NONE
                            && (label_is_string(kind) || kind == HW_LABEL_INDEX);
            w_u32(w, has_label ? g->label[v] : 0);
        }
    }
    if (reprs != NULL) {
        w_bytes(w, "REPR", 4);
        w_u32_array(w, reprs, n);
    }
    if (g->has_memory) {
        w_bytes(w, "MEMS", 4);
        for (int i = 0; i < HW_MEMORY_FIELDS; i++) {
            w_u64(w, g->memory[i]);
        }
    }
    hw_big_free(scratch);

    w_sync_crc(w);
    w->crc_frozen = 1;
    w_u32(w, w->crc);
    int rc = w_flush(w);
    if (rc == 0 && w->total != size) {
        /* snap_file_size() and the code above disagree: a bug here. */
        set_err(err, errlen, "%s: wrote %llu bytes, expected %llu", what,
                (unsigned long long)w->total, (unsigned long long)size);
        errno = EINVAL;
        rc = -1;
    }
    int saved = errno;
    *io_failed = w->failed;
    free(w);
    errno = saved;
    return rc;
}

int
hw_snap_write(const hw_graph *g, const uint32_t *reprs, int fd,
              char *err, size_t errlen)
{
    int io_failed;
    return snap_write(g, reprs, fd, err, errlen, &io_failed);
}

/* ---- reader ------------------------------------------------------------ */

/* Reading never goes past end: every section's size was checked against
   the file size before its first byte is read (see hw_snap_read), and
   r_need() guards each step anyway. */
typedef struct {
    const unsigned char *p, *end;
} snap_cursor;

static uint32_t
get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16
           | (uint32_t)p[3] << 24;
}

static uint64_t
get_u64(const unsigned char *p)
{
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static int
r_need(const snap_cursor *c, uint64_t n)
{
    return (uint64_t)(c->end - c->p) >= n;
}


static int
r_tag(snap_cursor *c, const char *tag, char *err, size_t errlen)
{
    if (!r_need(c, 4) || memcmp(c->p, tag, 4) != 0) {
        set_err(err, errlen, "corrupt snapshot: the %s section is missing", tag);
        return -1;
    }
    c->p += 4;
    return 0;
}

/* The array readers: n elements from the cursor into a new array, or
   NULL with a message. */
static void *
r_array(snap_cursor *c, uint32_t n, size_t width, char *err, size_t errlen)
{
    if (!r_need(c, (uint64_t)n * width)) {
        set_err(err, errlen, "corrupt snapshot: a section runs past the end");
        return NULL;
    }
    void *a = hw_big_alloc(n, width);
    if (a == NULL) {
        set_err(err, errlen, SNAP_NOMEM);
    }
    return a;
}

static uint32_t *
r_u32_array(snap_cursor *c, uint32_t n, char *err, size_t errlen)
{
    uint32_t *a = r_array(c, n, 4, err, errlen);
    if (a != NULL) {
        for (uint32_t i = 0; i < n; i++) {
            a[i] = get_u32(c->p + 4 * (size_t)i);
        }
        c->p += 4 * (size_t)n;
    }
    return a;
}

static uint64_t *
r_u64_array(snap_cursor *c, uint32_t n, char *err, size_t errlen)
{
    uint64_t *a = r_array(c, n, 8, err, errlen);
    if (a != NULL) {
        for (uint32_t i = 0; i < n; i++) {
            a[i] = get_u64(c->p + 8 * (size_t)i);
        }
        c->p += 8 * (size_t)n;
    }
    return a;
}

static uint8_t *
r_u8_array(snap_cursor *c, uint32_t n, char *err, size_t errlen)
{
    uint8_t *a = r_array(c, n, 1, err, errlen);
    if (a != NULL) {
        memcpy(a, c->p, n);
        c->p += n;
    }
    return a;
}

/* The string table.  The strings total budget bytes exactly (what the
   fixed-size sections leave of the file); each is checked against what
   remains of it before it is read. */
static int
read_strings(snap_cursor *c, hw_strtab *t, uint32_t n_strings, uint64_t budget,
             char *err, size_t errlen)
{
    for (uint32_t i = 0; i < n_strings; i++) {
        if (!r_need(c, 4)) {
            set_err(err, errlen, "corrupt snapshot: string %u runs past the end", (unsigned)i);
            return -1;
        }
        uint32_t len = get_u32(c->p);
        c->p += 4;
        if (len > budget || !r_need(c, len)) {
            set_err(err, errlen, "corrupt snapshot: string %u (%u bytes) runs past its section",
                    (unsigned)i, (unsigned)len);
            return -1;
        }
        budget -= len;
        if (!utf8_valid(c->p, len)) {
            set_err(err, errlen, "corrupt snapshot: string %u is not valid UTF-8%s",
                    (unsigned)i, memchr(c->p, 0, len) ? " (it holds a NUL)" : "");
            return -1;
        }
        uint32_t id = hw_strtab_add(t, (const char *)c->p, len);
        if (id == UINT32_MAX) {
            set_err(err, errlen, SNAP_NOMEM);
            return -1;
        }
        if (id != i) {
            set_err(err, errlen, "corrupt snapshot: string %u repeats string %u",
                    (unsigned)i, (unsigned)id);
            return -1;
        }
        c->p += len;
    }
    if (budget != 0) {
        set_err(err, errlen, "corrupt snapshot: %llu stray bytes after the strings",
                (unsigned long long)budget);
        return -1;
    }
    return 0;
}

/* Parses everything after the header into g (and *reprs): the caller has
   checked the header and that the file holds exactly the bytes the counts
   call for.  Returns 0, or -1 with a message; g is freed by the caller. */
static int
read_body(snap_cursor *c, hw_graph *g, uint32_t flags, uint32_t n_strings,
          uint64_t str_budget, uint32_t **reprs, char *err, size_t errlen)
{
    uint32_t n = g->n_nodes;

    if (r_tag(c, "STRS", err, errlen) < 0
        || read_strings(c, &g->strings, n_strings, str_budget, err, errlen) < 0) {
        return -1;
    }
    if (r_tag(c, "TYPE", err, errlen) < 0
        || (g->type_name = r_u32_array(c, g->n_types, err, errlen)) == NULL) {
        return -1;
    }
    if (r_tag(c, "NODE", err, errlen) < 0
        || (g->addr = r_u64_array(c, n, err, errlen)) == NULL
        || (g->type = r_u32_array(c, n, err, errlen)) == NULL
        || (g->size = r_u64_array(c, n, err, errlen)) == NULL
        || (g->flags = r_u8_array(c, n, err, errlen)) == NULL) {
        return -1;
    }
    if (r_tag(c, "EDGE", err, errlen) < 0
        || (g->out_off = r_u32_array(c, n + 1, err, errlen)) == NULL
        || (g->out_adj = r_u32_array(c, g->n_edges, err, errlen)) == NULL) {
        return -1;
    }
    if (r_tag(c, "ROOT", err, errlen) < 0) {
        return -1;
    }
    if (!r_need(c, (uint64_t)g->n_roots * 8)) {
        set_err(err, errlen, "corrupt snapshot: a section runs past the end");
        return -1;
    }
    g->root_node = hw_big_alloc(g->n_roots, sizeof(hw_node));
    g->root_label = hw_big_alloc(g->n_roots, sizeof(uint32_t));
    if (g->root_node == NULL || g->root_label == NULL) {
        set_err(err, errlen, SNAP_NOMEM);
        return -1;
    }
    for (uint32_t r = 0; r < g->n_roots; r++) {
        g->root_node[r] = get_u32(c->p);
        g->root_label[r] = get_u32(c->p + 4);
        c->p += 8;
    }
    if (flags & SNAP_FLAG_PATHS) {
        if (r_tag(c, "PATH", err, errlen) < 0
            || (g->parent = r_u32_array(c, n, err, errlen)) == NULL
            || (g->root_of = r_u32_array(c, n, err, errlen)) == NULL
            || (g->label_kind = r_u8_array(c, n, err, errlen)) == NULL
            || (g->label = r_u32_array(c, n, err, errlen)) == NULL) {
            return -1;
        }
    }
    if (flags & SNAP_FLAG_REPRS) {
        if (r_tag(c, "REPR", err, errlen) < 0
            || (*reprs = r_u32_array(c, n, err, errlen)) == NULL) {
            return -1;
        }
    }
    if (flags & SNAP_FLAG_MEMORY) {
        if (r_tag(c, "MEMS", err, errlen) < 0) {
            return -1;
        }
        if (!r_need(c, 8 * HW_MEMORY_FIELDS)) {
            set_err(err, errlen, "corrupt snapshot: a section runs past the end");
            return -1;
        }
        for (int i = 0; i < HW_MEMORY_FIELDS; i++) {
            g->memory[i] = get_u64(c->p);
            c->p += 8;
        }
        g->has_memory = 1;
    }
    return 0;
}

/* The canonical-form rules check_graph() leaves out: flags, labels where
   they mean nothing.  scratch: n + 1 bytes. */
static int
check_canonical(const hw_graph *g, uint8_t *scratch, char *err, size_t errlen)
{
    uint32_t n = g->n_nodes;
    memset(scratch, 0, (size_t)n + 1);
    for (uint32_t r = 0; r < g->n_roots; r++) {
        scratch[g->root_node[r]] = 1;
    }
    for (uint32_t v = 0; v < n; v++) {
        if (g->flags[v] & ~SNAP_NODE_FLAGS) {
            set_err(err, errlen, "corrupt snapshot: node %u has unknown flags 0x%02x",
                    (unsigned)v, (unsigned)g->flags[v]);
            return -1;
        }
        if (!(g->flags[v] & HW_NAMED) != !scratch[v]) {
            set_err(err, errlen, "corrupt snapshot: node %u is %smarked as a named root",
                    (unsigned)v, scratch[v] ? "not " : "wrongly ");
            return -1;
        }
    }
    if (g->parent == NULL) {
        return 0;
    }
    for (uint32_t v = 0; v < n; v++) {
        unsigned int kind = g->label_kind[v];
        if (g->parent[v] == HW_NONE && kind != HW_LABEL_NONE) {
            set_err(err, errlen, "corrupt snapshot: node %u has no parent but label kind %u",
                    (unsigned)v, kind);
            return -1;
        }
        if (!label_is_string(kind) && kind != HW_LABEL_INDEX && g->label[v] != 0) {
            set_err(err, errlen, "corrupt snapshot: node %u has label %u for kind %u",
                    (unsigned)v, (unsigned)g->label[v], kind);
            return -1;
        }
    }
    return 0;
}

/* What a file is, before anything it claims: the magic, the version, and
   the file size it records against len, the size it has.  buf holds its
   first min(len, SNAP_PREFIX_SIZE) bytes, all these checks need: a file
   is judged before the rest of it is read.  Returns 0, or -1 with a
   message. */
static int
check_prefix(const unsigned char *buf, uint64_t len, char *err, size_t errlen)
{
    unsigned long long n = (unsigned long long)len;
    if (len < sizeof(snap_magic)) {
        if (len > 0 && memcmp(buf, snap_magic, (size_t)len) == 0) {
            set_err(err, errlen, "truncated file (%llu bytes)", n);
        }
        else {
            set_err(err, errlen, "not a heapwatch snapshot");
        }
        return -1;
    }
    if (memcmp(buf, snap_magic, sizeof(snap_magic)) != 0) {
        if (memcmp(buf, snap_magic, 4) == 0) {
            set_err(err, errlen, "not a heapwatch snapshot: its line endings were "
                    "converted (copied in text mode?)");
        }
        else {
            set_err(err, errlen, "not a heapwatch snapshot");
        }
        return -1;
    }
    if (len < 12) {
        set_err(err, errlen, "truncated file (%llu bytes)", n);
        return -1;
    }
    uint32_t version = get_u32(buf + 8);
    if (version < 1 || version > SNAP_VERSION) {
        set_err(err, errlen, "unsupported snapshot version %u (this heapwatch reads 1 to %u)",
                (unsigned)version, (unsigned)SNAP_VERSION);
        return -1;
    }
    if (len < SNAP_HEADER_SIZE + 4) {
        set_err(err, errlen, "truncated file (%llu bytes)", n);
        return -1;
    }
    uint64_t file_size = get_u64(buf + 16);
    if (file_size > len) {
        set_err(err, errlen, "truncated file (%llu of %llu bytes)", n,
                (unsigned long long)file_size);
        return -1;
    }
    if (file_size < len) {
        set_err(err, errlen, "corrupt snapshot: %llu bytes of trailing garbage",
                (unsigned long long)(len - file_size));
        return -1;
    }
    return 0;
}

hw_graph *
hw_snap_read(const unsigned char *buf, size_t len, uint32_t **reprs_out,
             char *err, size_t errlen)
{
    if (reprs_out != NULL) {
        *reprs_out = NULL;
    }
    set_err(err, errlen, "%s", "");

    if (check_prefix(buf, len, err, errlen) < 0) {
        return NULL;
    }
    uint32_t table[256];
    crc_table_init(table);
    if (crc_update(table, 0, buf, len - 4) != get_u32(buf + len - 4)) {
        set_err(err, errlen, "corrupt snapshot: checksum mismatch");
        return NULL;
    }

    /* The header's facts and counts.  The counts are checked against the
       file size before anything is allocated: every array below is then
       at most a few times larger than the bytes that encode it. */
    uint32_t flags = get_u32(buf + 12);
    if (flags & ~SNAP_FLAGS_KNOWN) {
        set_err(err, errlen, "corrupt snapshot: unknown header flags 0x%x", (unsigned)flags);
        return NULL;
    }
    if (!(flags & SNAP_FLAG_MEMORY) != (get_u32(buf + 8) == 1)) {
        set_err(err, errlen, "corrupt snapshot: version %u with%s the memory flag",
                (unsigned)get_u32(buf + 8), flags & SNAP_FLAG_MEMORY ? "" : "out");
        return NULL;
    }
    const unsigned char *pv = buf + 28;
    if (!python_version_valid(pv)) {
        set_err(err, errlen, "corrupt snapshot: bad python_version field");
        return NULL;
    }
    for (size_t i = strlen((const char *)pv); i < 32; i++) {
        if (pv[i] != 0) {
            set_err(err, errlen, "corrupt snapshot: bad python_version field");
            return NULL;
        }
    }
    uint32_t n_strings = get_u32(buf + 68);
    uint32_t n_types = get_u32(buf + 72);
    uint32_t n_nodes = get_u32(buf + 76);
    uint32_t n_edges = get_u32(buf + 84);
    uint32_t n_roots = get_u32(buf + 88);
    if (n_nodes > HW_MAX_NODES) {
        set_err(err, errlen, "corrupt snapshot: %u nodes", (unsigned)n_nodes);
        return NULL;
    }
    uint64_t fixed = snap_file_size(flags, n_strings, n_types, n_nodes, n_edges,
                                    n_roots, 0);
    if (fixed > len) {
        set_err(err, errlen, "corrupt snapshot: its counts need at least %llu bytes, "
                "the file has %zu", (unsigned long long)fixed, len);
        return NULL;
    }

    hw_graph *g = hw_graph_new();
    uint32_t *reprs = NULL;
    uint8_t *scratch = NULL;
    if (g == NULL) {
        set_err(err, errlen, SNAP_NOMEM);
        return NULL;
    }
    memcpy(g->python_version, pv, 32);
    g->pointer_size = get_u32(buf + 24);
    uint64_t created_bits = get_u64(buf + 60);
    memcpy(&g->created, &created_bits, 8);
    g->n_types = n_types;
    g->n_nodes = n_nodes;
    g->n_tracked = get_u32(buf + 80);
    g->n_edges = n_edges;
    g->n_roots = n_roots;

    snap_cursor c = {buf + SNAP_HEADER_SIZE, buf + len - 4};
    if (read_body(&c, g, flags, n_strings, len - fixed, &reprs, err, errlen) < 0) {
        goto fail;
    }
    if (c.p != c.end) {
        /* Unreachable when snap_file_size() matches read_body(). */
        set_err(err, errlen, "corrupt snapshot: %zu unread bytes before the checksum",
                (size_t)(c.end - c.p));
        goto fail;
    }
    scratch = hw_big_alloc((size_t)n_nodes + 1, 1);
    if (scratch == NULL) {
        set_err(err, errlen, SNAP_NOMEM);
        goto fail;
    }
    if (check_graph(g, reprs, scratch, "corrupt snapshot", err, errlen) < 0
        || check_canonical(g, scratch, err, errlen) < 0) {
        goto fail;
    }
    hw_big_free(scratch);
    scratch = NULL;
    if (hw_graph_transpose(g) < 0) {
        set_err(err, errlen, SNAP_NOMEM);
        goto fail;
    }
    int rc = hw_graph_index(g);
    if (rc == -2) {
        set_err(err, errlen, "corrupt snapshot: two nodes have the same address");
        goto fail;
    }
    if (rc < 0) {
        set_err(err, errlen, SNAP_NOMEM);
        goto fail;
    }
    if (reprs_out != NULL) {
        *reprs_out = reprs;
    }
    else {
        hw_big_free(reprs);
    }
    return g;

fail:
    hw_big_free(scratch);
    hw_big_free(reprs);
    hw_graph_free(g);
    return NULL;
}

/* ---- files ------------------------------------------------------------- */

static void
set_status(hw_snap_error *e, hw_snap_status status, int errnum, const char *step)
{
    e->status = status;
    e->errnum = errnum;
    snprintf(e->msg, sizeof(e->msg), "%s", step);
}

/* Only regular files are read or replaced.  A directory is an error of
   the system's kind (EISDIR, as open() for writing says); a FIFO would
   block or eat the file, a device is no place for one.  Returns 0, or -1
   with *e. */
static int
check_regular(const struct stat *st, const char *refusal, hw_snap_error *e)
{
    if (S_ISREG(st->st_mode)) {
        return 0;
    }
    if (S_ISDIR(st->st_mode)) {
        set_status(e, HW_SNAP_ESYS, EISDIR, "");
        return -1;
    }
    const char *what = S_ISFIFO(st->st_mode) ? "a FIFO"
                       : S_ISCHR(st->st_mode) ? "a character device"
                       : S_ISBLK(st->st_mode) ? "a block device"
                       : S_ISSOCK(st->st_mode) ? "a socket" : "of an unknown type";
    e->status = HW_SNAP_ENOTREG;
    e->errnum = 0;
    snprintf(e->msg, sizeof(e->msg), "not a regular file (%s)%s", what, refusal);
    return -1;
}

/* Reads up to n bytes, through short reads and EINTR: fewer only at the
   end of the file.  Returns the count, or -1 with errno. */
static ssize_t
read_full(int fd, unsigned char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = read(fd, buf + got, n - got);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k < 0) {
            return -1;
        }
        if (k == 0) {
            break;
        }
        got += (size_t)k;
    }
    return (ssize_t)got;
}

hw_graph *
hw_snap_load(const char *path, uint32_t **reprs_out, hw_snap_error *e)
{
    hw_graph *g = NULL;
    unsigned char head[SNAP_PREFIX_SIZE];
    unsigned char *buf = NULL;
    struct stat st;
    uint64_t len;
    size_t have;
    ssize_t k;
    int fd = -1, fl;

    set_status(e, HW_SNAP_OK, 0, "");
    if (reprs_out != NULL) {
        *reprs_out = NULL;
    }
    /* Judged by stat() before any open(): opening a device may act (a tape
       rewinds, a watchdog starts).  What the path names can change before
       the open, so fstat() decides again on what was opened; O_NONBLOCK
       keeps a FIFO swapped in meanwhile from blocking the open. */
    if (stat(path, &st) < 0) {
        set_status(e, HW_SNAP_ESYS, errno, "");
        return NULL;
    }
    if (check_regular(&st, "", e) < 0) {
        return NULL;
    }
    fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        set_status(e, HW_SNAP_ESYS, errno, "");
        return NULL;
    }
    if (fstat(fd, &st) < 0
        || (fl = fcntl(fd, F_GETFL)) < 0
        || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        set_status(e, HW_SNAP_ESYS, errno, "");
        goto done;
    }
    if (check_regular(&st, "", e) < 0) {
        goto done;
    }

    /* The prefix says whether this is a snapshot and whether it is whole:
       only then is the file's length allocated and read.  A file that
       shrinks meanwhile reads as truncated, one that grows as what it was
       when fstat() saw it. */
    len = (uint64_t)st.st_size;
    have = len < SNAP_PREFIX_SIZE ? (size_t)len : SNAP_PREFIX_SIZE;
    k = read_full(fd, head, have);
    if (k < 0) {
        set_status(e, HW_SNAP_ESYS, errno, "");
        goto done;
    }
    if ((size_t)k < have) {
        len = have = (size_t)k;
    }
    if (check_prefix(head, len, e->msg, sizeof(e->msg)) < 0) {
        e->status = HW_SNAP_EDATA;
        goto done;
    }
    if (len > SIZE_MAX || (buf = malloc((size_t)len)) == NULL) {
        set_status(e, HW_SNAP_ENOMEM, 0, SNAP_NOMEM);
        goto done;
    }
    memcpy(buf, head, have);
    k = read_full(fd, buf + have, (size_t)len - have);
    if (k < 0) {
        set_status(e, HW_SNAP_ESYS, errno, "");
        goto done;
    }
    close(fd);
    fd = -1;

    g = hw_snap_read(buf, have + (size_t)k, reprs_out, e->msg, sizeof(e->msg));
    if (g == NULL) {
        e->status = strcmp(e->msg, SNAP_NOMEM) == 0 ? HW_SNAP_ENOMEM : HW_SNAP_EDATA;
    }

done:
    if (fd >= 0) {
        close(fd);
    }
    free(buf);
    return g;
}

/* The temporary file of a save is ".<name>.XXXXXX" beside the target,
   the name cut to TMP_NAME_MAX bytes (at a UTF-8 character boundary):
   unique (mkostemp), never in the way of a later save, and within
   NAME_MAX (255) and the smaller limits of some file systems whatever the
   target's name. */
#define TMP_NAME_MAX 64
#define TMP_SUFFIX ".XXXXXX"

static char *
temp_template(const char *path, size_t *dir_len)
{
    const char *slash = strrchr(path, '/');
    size_t dlen = slash != NULL ? (size_t)(slash - path) + 1 : 0;
    const char *name = path + dlen;
    size_t nlen = strlen(name);
    if (nlen > TMP_NAME_MAX) {
        nlen = TMP_NAME_MAX;
        while (nlen > 0 && ((unsigned char)name[nlen] & 0xC0) == 0x80) {
            nlen--;
        }
    }
    char *t = malloc(dlen + 1 + nlen + sizeof(TMP_SUFFIX));
    if (t != NULL) {
        memcpy(t, path, dlen);
        t[dlen] = '.';
        memcpy(t + dlen + 1, name, nlen);
        memcpy(t + dlen + 1 + nlen, TMP_SUFFIX, sizeof(TMP_SUFFIX));
    }
    *dir_len = dlen;
    return t;
}

/* Makes a rename in the directory of tmp (its first dir_len bytes, or "."
   when none) durable; tmp is cut there.  Best effort where that cannot be
   asked: a directory that cannot be opened for reading, a file system
   without directory syncs.  Returns 0, or -1 with errno. */
static int
sync_dir(char *tmp, size_t dir_len)
{
    tmp[dir_len] = '\0';
    int fd = open(dir_len > 0 ? tmp : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    if (rc < 0 && (saved == EINVAL || saved == ENOTSUP || saved == EOPNOTSUPP
                   || saved == ENOSYS)) {
        rc = 0;
    }
    errno = saved;
    return rc;
}

int
hw_snap_save(const hw_graph *g, const uint32_t *reprs, const char *path,
             hw_snap_error *e)
{
    return hw_snap_save_notify(g, reprs, path, NULL, NULL, e);
}

int
hw_snap_save_notify(const hw_graph *g, const uint32_t *reprs, const char *path,
                    void (*made)(const char *tmp, void *arg), void *arg,
                    hw_snap_error *e)
{
    struct stat st;

    set_status(e, HW_SNAP_OK, 0, "");
    /* What is there is replaced only if it is a regular file (through a
       link or not) or nothing; not there (ENOENT) includes a dangling
       link and a missing directory, which the create below reports. */
    if (stat(path, &st) == 0) {
        if (check_regular(&st, ", not replaced", e) < 0) {
            return -1;
        }
    }
    else if (errno != ENOENT) {
        set_status(e, HW_SNAP_ESYS, errno, "");
        return -1;
    }

    size_t dir_len;
    char *tmp = temp_template(path, &dir_len);
    if (tmp == NULL) {
        set_status(e, HW_SNAP_ENOMEM, 0, SNAP_NOMEM);
        return -1;
    }
    /* mkostemp() creates it 0600: never readable by others, whatever the
       umask. */
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        set_status(e, HW_SNAP_ESYS, errno, "creating a temporary file in its directory");
        free(tmp);
        return -1;
    }
    if (made != NULL) {
        made(tmp, arg);
    }

    /* From here on every failure removes the temporary file.  The target
       changes only by the rename, all at once. */
    int io_failed;
    int rc = snap_write(g, reprs, fd, e->msg, sizeof(e->msg), &io_failed);
    if (rc < 0) {
        if (io_failed) {
            set_status(e, HW_SNAP_ESYS, errno, "");
        }
        else if (errno == ENOMEM) {
            e->status = HW_SNAP_ENOMEM;
        }
        else {
            e->status = HW_SNAP_EDATA;
        }
    }
    else if (fsync(fd) < 0) {
        set_status(e, HW_SNAP_ESYS, errno, "");
        rc = -1;
    }
    if (close(fd) < 0 && rc == 0) {
        set_status(e, HW_SNAP_ESYS, errno, "");
        rc = -1;
    }
    if (rc == 0 && rename(tmp, path) < 0) {
        set_status(e, HW_SNAP_ESYS, errno, "renaming the temporary file over it");
        rc = -1;
    }
    if (rc < 0) {
        unlink(tmp);
    }
    else if (sync_dir(tmp, dir_len) < 0) {
        set_status(e, HW_SNAP_ESYS, errno,
                   "syncing its directory; the file is written but may not survive a crash");
        rc = -1;
    }
    free(tmp);
    return rc;
}
