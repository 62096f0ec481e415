/* fuzz_snapfile.c - fuzz target for the snapshot reader (snapfile.c).
 *
 * Built with clang -fsanitize=fuzzer,address,undefined by fuzz/run.sh, or
 * with any C compiler plus standalone.c (a main() over files), which is how
 * the test suite replays fuzz/corpus/ with gcc.
 *
 * Each input is read twice: as it is, and with its file size (header
 * offset 16) and trailing CRC-32 patched to match, so that mutations get
 * past the checksum and reach the parser.  Oracles, beyond the sanitizers:
 *
 *   - a refusal comes with a message and no reprs;
 *   - an accepted file is canonical: writing the graph back reproduces it
 *     byte for byte (so the reader kept every field and misread none);
 *   - the address index finds every node, the in-edges mirror the
 *     out-edges;
 *   - hw_graph_paths() runs on it, and the result writes and reads back.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "bigmem.h"
#include "snapfile.h"

/* From the layout in snapfile.c. */
#define HDR_FILE_SIZE_AT 16
#define HDR_SIZE 92

static void
fuzz_fail(const char *what, const char *err)
{
    fprintf(stderr, "fuzz_snapfile: %s%s%s\n", what, err ? ": " : "", err ? err : "");
    abort();
}

/* CRC-32 bit by bit: independent of snapfile.c's table. */
static uint32_t
crc32_bitwise(const unsigned char *p, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++) {
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
        }
    }
    return ~crc;
}

/* One scratch file for the whole process, emptied before each use. */
static int
scratch_fd(void)
{
    static int fd = -1;
    if (fd < 0) {
#ifdef __linux__
        fd = memfd_create("snapfile", 0);
#endif
        if (fd < 0) {
            FILE *f = tmpfile();
            if (f == NULL) {
                fuzz_fail("no scratch file", strerror(errno));
            }
            fd = fileno(f);
        }
    }
    if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
        fuzz_fail("cannot reset the scratch file", strerror(errno));
    }
    return fd;
}

/* Writes g and returns the bytes (malloc'd, *len set). */
static unsigned char *
write_to_memory(const hw_graph *g, const uint32_t *reprs, size_t *len)
{
    char err[256];
    int fd = scratch_fd();
    if (hw_snap_write(g, reprs, fd, err, sizeof(err)) < 0) {
        fuzz_fail("cannot write back a graph the reader accepted", err);
    }
    off_t end = lseek(fd, 0, SEEK_CUR);
    if (end < 0) {
        fuzz_fail("lseek", strerror(errno));
    }
    unsigned char *out = malloc((size_t)end + 1);
    if (out == NULL) {
        fuzz_fail("out of memory", NULL);
    }
    size_t got = 0;
    while (got < (size_t)end) {
        ssize_t k = pread(fd, out + got, (size_t)end - got, (off_t)got);
        if (k <= 0) {
            fuzz_fail("pread", strerror(errno));
        }
        got += (size_t)k;
    }
    *len = got;
    return out;
}

static void
check_structure(const hw_graph *g)
{
    for (uint32_t v = 0; v < g->n_nodes; v++) {
        if (hw_graph_find(g, g->addr[v]) != v) {
            fuzz_fail("the index does not find a node by its address", NULL);
        }
    }
    if (g->in_off[g->n_nodes] != g->n_edges) {
        fuzz_fail("in-edges do not add up", NULL);
    }
    for (uint32_t v = 0; v < g->n_nodes; v++) {
        for (uint32_t e = g->in_off[v]; e < g->in_off[v + 1]; e++) {
            uint32_t u = g->in_adj[e];
            uint32_t k = g->out_off[u];
            while (k < g->out_off[u + 1] && g->out_adj[k] != v) {
                k++;
            }
            if (k == g->out_off[u + 1]) {
                fuzz_fail("an in-edge without its out-edge", NULL);
            }
        }
    }
}

/* Returns 1 when the reader accepted buf. */
static int
fuzz_one(const unsigned char *buf, size_t len)
{
    char err[256];
    uint32_t *reprs = (uint32_t *)&reprs;   /* must be reset to NULL */
    err[0] = 'x';
    err[1] = '\0';
    hw_graph *g = hw_snap_read(buf, len, &reprs, err, sizeof(err));
    if (g == NULL) {
        if (reprs != NULL) {
            fuzz_fail("a refusal left reprs set", err);
        }
        if (err[0] == '\0' || strcmp(err, "x") == 0 || memchr(err, '\0', sizeof(err)) == NULL) {
            fuzz_fail("a refusal without a message", NULL);
        }
        return 0;
    }
    check_structure(g);

    size_t out_len;
    unsigned char *out = write_to_memory(g, reprs, &out_len);
    if (out_len != len || memcmp(out, buf, len) != 0) {
        fuzz_fail("reading then writing changed the file", NULL);
    }
    free(out);

    /* Without reprs_out: the reprs are checked, then dropped. */
    hw_graph *g2 = hw_snap_read(buf, len, NULL, err, sizeof(err));
    if (g2 == NULL) {
        fuzz_fail("a second read failed", err);
    }
    hw_graph_free(g2);

    /* A fresh path tree is valid too. */
    if (hw_graph_paths(g) < 0) {
        fuzz_fail("hw_graph_paths: out of memory", NULL);
    }
    out = write_to_memory(g, reprs, &out_len);
    uint32_t *reprs2;
    g2 = hw_snap_read(out, out_len, &reprs2, err, sizeof(err));
    if (g2 == NULL) {
        fuzz_fail("a recomputed path tree does not read back", err);
    }
    if (memcmp(g2->parent, g->parent, (size_t)g->n_nodes * sizeof(hw_node)) != 0
        || memcmp(g2->root_of, g->root_of, (size_t)g->n_nodes * sizeof(uint32_t)) != 0) {
        fuzz_fail("a recomputed path tree read back differently", NULL);
    }
    free(out);
    hw_big_free(reprs2);
    hw_graph_free(g2);
    hw_big_free(reprs);
    hw_graph_free(g);
    return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int accepted = fuzz_one(data, size);
    if (size < HDR_SIZE + 4) {
        return 0;
    }
    unsigned char *copy = malloc(size);
    if (copy == NULL) {
        return 0;
    }
    memcpy(copy, data, size);
    for (int i = 0; i < 8; i++) {
        copy[HDR_FILE_SIZE_AT + i] = (unsigned char)((uint64_t)size >> (8 * i));
    }
    uint32_t crc = crc32_bitwise(copy, size - 4);
    for (int i = 0; i < 4; i++) {
        copy[size - 4 + i] = (unsigned char)(crc >> (8 * i));
    }
    if (accepted && memcmp(copy, data, size) != 0) {
        /* The patch must be a no-op on valid files: else the offsets above
           or the CRC disagree with snapfile.c. */
        fuzz_fail("patching a valid file changed it", NULL);
    }
    if (!accepted) {
        fuzz_one(copy, size);
    }
    free(copy);
    return 0;
}
