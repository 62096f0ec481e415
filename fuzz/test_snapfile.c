/* test_snapfile.c - C-level tests of snapfile.c, run by
 * tests/test_snapfile_fuzz.py under ASan + UBSan:
 *
 *   - round trips of every sample graph, field by field, and of a graph
 *     large enough to take many buffer flushes, also through a pipe while
 *     signals interrupt write() (short writes, EINTR);
 *   - the writer's canonical form (HW_NAMED derived, HW_TARGET dropped,
 *     meaningless labels zeroed);
 *   - the writer's errors: I/O (ENOSPC, EBADF) and invalid graphs;
 *   - every truncation of a file, trailing garbage, and a sweep of single
 *     byte mutations through the fuzz target's oracles;
 *   - the allocation bound: linked with -Wl,--wrap=malloc,--wrap=calloc,
 *     --wrap=realloc, every read is charged for all it allocates, and must
 *     stay under a small multiple of its input;
 *   - out of memory: each allocation of a read and of a write fails in
 *     turn; the error is clean and nothing leaks;
 *   - the file functions (hw_snap_load, hw_snap_save) in a scratch
 *     directory: a round trip, what each refuses (directory, FIFO,
 *     device, a missing directory, damage), and each of their allocations
 *     failing in turn: no leak, no temporary file left, the target whole.
 *
 * Prints one line per failed check and exits 1 if any failed.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <dirent.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include "bigmem.h"
#include "snapfile.h"
#include "sample_graphs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- allocation accounting --------------------------------------------- */

void *__real_malloc(size_t);
void *__real_calloc(size_t, size_t);
void *__real_realloc(void *, size_t);

static size_t charged;          /* bytes requested since the last reset */
static long fail_at = -1;       /* this allocation fails (counting from 0) */
static long n_allocs;

static int
injected_failure(void)
{
    return fail_at >= 0 && n_allocs++ == fail_at;
}

void *
__wrap_malloc(size_t n)
{
    charged += n;
    return injected_failure() ? NULL : __real_malloc(n);
}

void *
__wrap_calloc(size_t n, size_t size)
{
    charged += n * size;
    return injected_failure() ? NULL : __real_calloc(n, size);
}

void *
__wrap_realloc(void *p, size_t n)
{
    charged += n;
    return injected_failure() ? NULL : __real_realloc(p, n);
}

/* ---- harness ------------------------------------------------------------ */

static int failures, checks;
static size_t worst_len, worst_charged;

static void
check(int ok, const char *fmt, ...)
{
    checks++;
    if (ok) {
        return;
    }
    failures++;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stdout, "FAIL: ");
    vfprintf(stdout, fmt, ap);
    fprintf(stdout, "\n");
    va_end(ap);
}

/* Reads buf, charging its allocations: at most 16 bytes per input byte
   plus a constant (the CRC table is on the stack; the graph struct, the
   string table's first blocks and the address index's minimum size are
   the constant). */
static hw_graph *
read_charged(const unsigned char *buf, size_t len, uint32_t **reprs, char *err, size_t errlen)
{
    charged = 0;
    hw_graph *g = hw_snap_read(buf, len, reprs, err, errlen);
    if (charged > 16 * len + 8192) {
        check(0, "reading %zu bytes allocated %zu", len, charged);
    }
    if (len > 0 && (double)charged / (double)len > (double)worst_charged / (double)(worst_len + 1)) {
        worst_len = len;
        worst_charged = charged;
    }
    return g;
}

static unsigned char *
write_mem(const hw_graph *g, const uint32_t *reprs, size_t *len, char *err, size_t errlen)
{
    int fd = memfd_create("test", 0);
    if (fd < 0) {
        perror("memfd_create");
        exit(2);
    }
    unsigned char *out = NULL;
    *len = 0;
    if (hw_snap_write(g, reprs, fd, err, errlen) == 0) {
        off_t end = lseek(fd, 0, SEEK_END);
        out = malloc((size_t)end + 1);
        if (out == NULL || pread(fd, out, (size_t)end, 0) != end) {
            perror("pread");
            exit(2);
        }
        *len = (size_t)end;
    }
    close(fd);
    return out;
}

#define SAME_ARRAY(a, b, n, what) \
    check(((n) == 0) || ((a) != NULL && (b) != NULL \
          && memcmp((a), (b), (size_t)(n) * sizeof(*(a))) == 0), "%s: %s differs", name, what)

/* Compares what was written (g, canonical already) with what was read. */
static void
compare_graphs(const char *name, const hw_graph *g, const uint32_t *reprs,
               const hw_graph *h, const uint32_t *h_reprs)
{
    check(strcmp(g->python_version, h->python_version) == 0, "%s: python_version", name);
    check(g->pointer_size == h->pointer_size, "%s: pointer_size", name);
    check(memcmp(&g->created, &h->created, sizeof(double)) == 0, "%s: created", name);
    check(g->n_nodes == h->n_nodes && g->n_tracked == h->n_tracked && g->n_types == h->n_types
          && g->n_roots == h->n_roots && g->n_edges == h->n_edges, "%s: counts", name);
    if (g->n_nodes != h->n_nodes || g->n_edges != h->n_edges || g->n_types != h->n_types
        || g->n_roots != h->n_roots) {
        return;
    }
    check(g->strings.n == h->strings.n, "%s: string count", name);
    for (uint32_t i = 0; i < g->strings.n && i < h->strings.n; i++) {
        check(g->strings.len[i] == h->strings.len[i]
              && memcmp(g->strings.s[i], h->strings.s[i], g->strings.len[i] + 1) == 0,
              "%s: string %u", name, (unsigned)i);
    }
    uint32_t n = g->n_nodes;
    SAME_ARRAY(g->type_name, h->type_name, g->n_types, "type_name");
    SAME_ARRAY(g->addr, h->addr, n, "addr");
    SAME_ARRAY(g->type, h->type, n, "type");
    SAME_ARRAY(g->size, h->size, n, "size");
    SAME_ARRAY(g->flags, h->flags, n, "flags");
    SAME_ARRAY(g->out_off, h->out_off, n + 1, "out_off");
    SAME_ARRAY(g->out_adj, h->out_adj, g->n_edges, "out_adj");
    SAME_ARRAY(g->root_node, h->root_node, g->n_roots, "root_node");
    SAME_ARRAY(g->root_label, h->root_label, g->n_roots, "root_label");
    check((g->parent == NULL) == (h->parent == NULL), "%s: path tree presence", name);
    if (g->parent != NULL && h->parent != NULL) {
        SAME_ARRAY(g->parent, h->parent, n, "parent");
        SAME_ARRAY(g->root_of, h->root_of, n, "root_of");
        SAME_ARRAY(g->label_kind, h->label_kind, n, "label_kind");
        SAME_ARRAY(g->label, h->label, n, "label");
    }
    check(g->has_memory == h->has_memory
          && (!g->has_memory || memcmp(g->memory, h->memory, sizeof(g->memory)) == 0),
          "%s: memory figures", name);
    check((reprs == NULL) == (h_reprs == NULL), "%s: reprs presence", name);
    if (reprs != NULL && h_reprs != NULL) {
        SAME_ARRAY(reprs, h_reprs, n, "reprs");
    }
    /* The reader's in-edges and index against the originals'. */
    hw_graph *t = (hw_graph *)g;
    if (hw_graph_transpose(t) == 0) {
        SAME_ARRAY(g->in_off, h->in_off, n + 1, "in_off");
        SAME_ARRAY(g->in_adj, h->in_adj, g->n_edges, "in_adj");
    }
    for (uint32_t v = 0; v < n; v++) {
        if (hw_graph_find(h, g->addr[v]) != v) {
            check(0, "%s: node %u not found by address", name, (unsigned)v);
            break;
        }
    }
}

static void
roundtrip(const char *name, hw_graph *g, const uint32_t *reprs)
{
    char err[256];
    size_t len;
    unsigned char *buf = write_mem(g, reprs, &len, err, sizeof(err));
    check(buf != NULL, "%s: write: %s", name, err);
    if (buf == NULL) {
        return;
    }
    uint32_t *h_reprs;
    hw_graph *h = read_charged(buf, len, &h_reprs, err, sizeof(err));
    check(h != NULL, "%s: read: %s", name, err);
    if (h != NULL) {
        compare_graphs(name, g, reprs, h, h_reprs);
    }
    hw_big_free(h_reprs);
    hw_graph_free(h);
    free(buf);
}

/* ---- tests -------------------------------------------------------------- */

static void expect_write_error(const char *what, const hw_graph *g, const uint32_t *reprs,
                               const char *want);

static void
test_samples(void)
{
    for (int which = 0; which < SAMPLE_COUNT; which++) {
        uint32_t *reprs;
        const char *name;
        hw_graph *g = sample_graph(which, &reprs, &name);
        roundtrip(name, g, reprs);
        if (reprs != NULL) {
            roundtrip(name, g, NULL);       /* the same without reprs */
        }
        hw_big_free(reprs);
        hw_graph_free(g);
    }
}

static hw_graph *
large_graph(uint32_t **reprs)
{
    /* 40000 nodes, ~200000 edges: a 1.3 MB file, about twenty buffer
       flushes, several strings crossing a buffer boundary. */
    uint32_t n = 40000;
    hw_graph *g = sg_random(n, 10, 99, 1000, 50);
    for (uint32_t t = 0; t < 1000; t++) {
        char s[200];
        snprintf(s, sizeof(s), "package.module%u.SomeRatherLongClassNameToFillTheBuffer"
                 "AcrossFlushBoundaries%u", (unsigned)(t % 17), (unsigned)t);
        g->type_name[t] = sg_str(g, s);
    }
    for (uint32_t v = 0; v < n; v++) {
        g->type[v] = (v * 7) % 1000;
        g->flags[v] = v % 11 == 0 ? HW_HELD : 0;
    }
    for (uint32_t r = 0; r < 50; r++) {
        char s[64];
        snprintf(s, sizeof(s), "module m%u", (unsigned)r);
        sg_root(g, r, r * 97, s);
    }
    g->n_tracked = n / 2;
    uint32_t first = g->strings.n;
    sg_paths(g, first - 50);
    *reprs = sg_reprs(g, 0);
    return g;
}

static void
test_large(void)
{
    uint32_t *reprs;
    hw_graph *g = large_graph(&reprs);
    roundtrip("large", g, reprs);
    hw_big_free(reprs);
    hw_graph_free(g);
}

static volatile sig_atomic_t n_alarms;

static void
on_alarm(int sig)
{
    n_alarms++;
}

/* The writer through a pipe drained slowly by a child, under a 200 us
   interval timer whose handler does not restart system calls: write()
   returns short counts and fails with EINTR, and the file must still come
   out whole.  The child copies the pipe into a memfd shared with us. */
static void
test_interrupted_pipe(void)
{
    uint32_t *reprs;
    hw_graph *g = large_graph(&reprs);
    int pipefd[2];
    int mem = memfd_create("pipe-copy", 0);
    if (pipe(pipefd) < 0 || mem < 0) {
        perror("pipe");
        exit(2);
    }
#ifdef F_SETPIPE_SZ
    fcntl(pipefd[1], F_SETPIPE_SZ, 4096);
#endif
    fflush(stdout);
    pid_t child = fork();
    if (child < 0) {
        perror("fork");
        exit(2);
    }
    if (child == 0) {
        close(pipefd[1]);
        unsigned char chunk[4096];
        for (;;) {
            ssize_t k = read(pipefd[0], chunk, sizeof(chunk));
            if (k < 0 && errno == EINTR) {
                continue;
            }
            if (k <= 0) {
                _exit(k < 0 ? 3 : 0);
            }
            if (write(mem, chunk, (size_t)k) != k) {
                _exit(4);
            }
            usleep(1000);       /* long enough for a signal to find the pipe full */
        }
    }
    close(pipefd[0]);
    struct sigaction sa, old_sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_alarm;
    sa.sa_flags = 0;                    /* no SA_RESTART */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, &old_sa);
    struct itimerval tick = {{0, 200}, {0, 200}}, off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &tick, NULL);
    char err[256];
    int rc = hw_snap_write(g, reprs, pipefd[1], err, sizeof(err));
    setitimer(ITIMER_REAL, &off, NULL);
    sigaction(SIGALRM, &old_sa, NULL);
    close(pipefd[1]);
    int status;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    check(rc == 0, "interrupted pipe: write: %s", err);
    check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "interrupted pipe: child %d", status);
    check(n_alarms > 0, "interrupted pipe: no signal arrived");
    off_t end = lseek(mem, 0, SEEK_END);
    unsigned char *buf = malloc((size_t)end + 1);
    if (buf == NULL || pread(mem, buf, (size_t)end, 0) != end) {
        perror("pread");
        exit(2);
    }
    uint32_t *h_reprs;
    hw_graph *h = hw_snap_read(buf, (size_t)end, &h_reprs, err, sizeof(err));
    check(h != NULL, "interrupted pipe: read: %s", err);
    if (h != NULL) {
        compare_graphs("interrupted pipe", g, reprs, h, h_reprs);
    }
    hw_big_free(h_reprs);
    hw_graph_free(h);
    free(buf);
    close(mem);
    hw_big_free(reprs);
    hw_graph_free(g);
}

/* What the writer makes of a bare hw_graph_new() (no arrays at all), of a
   half-made path tree, and the reader of a NULL err. */
static void
test_edges_of_the_api(void)
{
    hw_graph *g = hw_graph_new();
    g->pointer_size = 8;
    size_t len;
    char err[256];
    unsigned char *buf = write_mem(g, NULL, &len, err, sizeof(err));
    check(buf != NULL, "bare graph: write: %s", err);
    hw_graph *h = buf ? hw_snap_read(buf, len, NULL, err, sizeof(err)) : NULL;
    check(h != NULL && h->n_nodes == 0 && h->out_off[0] == 0, "bare graph: read: %s", err);
    hw_graph_free(h);
    free(buf);
    g->parent = hw_big_alloc(1, sizeof(hw_node));
    expect_write_error("half a path tree", g, NULL, "incomplete path tree");
    hw_graph_free(g);

    uint32_t *reprs;
    const char *name;
    g = sample_graph(2, &reprs, &name);
    buf = write_mem(g, reprs, &len, err, sizeof(err));
    h = hw_snap_read(buf, len, NULL, NULL, 0);
    check(h != NULL, "NULL err: valid file refused");
    hw_graph_free(h);
    check(hw_snap_read(buf, len - 1, NULL, NULL, 0) == NULL, "NULL err: cut file accepted");
    free(buf);
    hw_big_free(reprs);
    hw_graph_free(g);
}

static void
test_canonical(void)
{
    uint32_t *reprs;
    const char *name;
    hw_graph *g = sample_graph(2, &reprs, &name);
    char err[256];
    /* Node 5 is no root: HW_NAMED goes; HW_TARGET is scratch, it goes too.
       Node 0 is a root: no label.  A MEMBER label has no value. */
    g->flags[5] |= HW_NAMED | HW_TARGET | HW_HELD;
    g->flags[0] &= (uint8_t)~HW_NAMED;
    g->label_kind[0] = HW_LABEL_ATTR;
    g->label[0] = 1;
    uint32_t member = HW_NONE;
    for (uint32_t v = 0; v < g->n_nodes; v++) {
        if (g->parent[v] != HW_NONE) {
            g->label_kind[v] = HW_LABEL_MEMBER;
            g->label[v] = 1234;
            member = v;
            break;
        }
    }
    check(member != HW_NONE, "canonical: no labelled node in the sample");
    size_t len;
    unsigned char *buf = write_mem(g, reprs, &len, err, sizeof(err));
    check(buf != NULL, "canonical: write: %s", err);
    hw_graph *h = buf ? hw_snap_read(buf, len, NULL, err, sizeof(err)) : NULL;
    check(h != NULL, "canonical: read: %s", err);
    if (h != NULL) {
        check(h->flags[5] == HW_HELD, "canonical: flags of node 5 are 0x%x", h->flags[5]);
        check(h->flags[0] == HW_NAMED, "canonical: flags of node 0 are 0x%x", h->flags[0]);
        check(h->label_kind[0] == HW_LABEL_NONE && h->label[0] == 0, "canonical: root label");
        if (member != HW_NONE) {
            check(h->label_kind[member] == HW_LABEL_MEMBER && h->label[member] == 0,
                  "canonical: member label");
        }
    }
    hw_graph_free(h);
    free(buf);
    hw_big_free(reprs);
    hw_graph_free(g);
}

/* Writes g expecting a refusal whose message contains want. */
static void
expect_write_error(const char *what, const hw_graph *g, const uint32_t *reprs, const char *want)
{
    char err[256];
    size_t len;
    unsigned char *buf = write_mem(g, reprs, &len, err, sizeof(err));
    check(buf == NULL, "%s: written anyway", what);
    check(buf != NULL || strstr(err, want) != NULL, "%s: message \"%s\", wanted \"%s\"",
          what, err, want);
    free(buf);
}

static void
test_write_errors(void)
{
    uint32_t *reprs;
    const char *name;
    hw_graph *g = sample_graph(5, &reprs, &name);
    char err[256];

    int fd = open("/dev/full", O_WRONLY);
    if (fd >= 0) {
        errno = 0;
        int rc = hw_snap_write(g, reprs, fd, err, sizeof(err));
        int saved = errno;
        check(rc == -1 && saved == ENOSPC, "/dev/full: rc %d errno %d", rc, saved);
        check(strstr(err, strerror(ENOSPC)) != NULL, "/dev/full: message \"%s\"", err);
        close(fd);
    }
    errno = 0;
    int rc = hw_snap_write(g, reprs, -1, err, sizeof(err));
    check(rc == -1 && errno == EBADF, "fd -1: rc %d errno %d", rc, errno);
    fd = open("/dev/null", O_RDONLY);
    errno = 0;
    rc = hw_snap_write(g, reprs, fd, err, sizeof(err));
    check(rc == -1 && errno == EBADF, "read-only fd: rc %d errno %d", rc, errno);
    close(fd);

    /* Each change below is undone before the next. */
    uint32_t saved_u32 = g->out_adj[0];
    g->out_adj[0] = 99;
    expect_write_error("edge out of range", g, reprs,
                       "invalid graph: node 0 has an edge to node 99 of 48");
    g->out_adj[0] = saved_u32;

    g->pointer_size = 0;
    expect_write_error("pointer size", g, reprs, "pointer size 0");
    g->pointer_size = 8;

    memset(g->python_version, 'x', sizeof(g->python_version));
    expect_write_error("python_version", g, reprs, "bad python_version");
    strcpy(g->python_version, "3.11.9");

    g->created = NAN;
    expect_write_error("created", g, reprs, "not a finite number");
    g->created = 1.0;

    saved_u32 = g->type[3];
    g->type[3] = 6;
    expect_write_error("type", g, reprs, "node 3 has type 6 of 6");
    g->type[3] = saved_u32;

    g->n_tracked = g->n_nodes + 1;
    expect_write_error("n_tracked", g, reprs, "49 tracked nodes of 48");
    g->n_tracked = 40;

    saved_u32 = reprs[2];
    reprs[2] = g->strings.n;
    expect_write_error("reprs", g, reprs, "the repr of node 2 is string");
    reprs[2] = saved_u32;

    /* A parent that is no predecessor, then a cycle of parents. */
    uint32_t v = 0;
    while (v < g->n_nodes && g->parent[v] == HW_NONE) {
        v++;
    }
    check(v < g->n_nodes, "write errors: no node with a parent");
    hw_node saved_parent = g->parent[v];
    uint32_t w = 0;
    while (w < g->n_nodes) {
        /* A node that is no predecessor of v, with v's root. */
        uint32_t e = g->out_off[w];
        while (e < g->out_off[w + 1] && g->out_adj[e] != v) {
            e++;
        }
        if (e == g->out_off[w + 1] && g->root_of[w] == g->root_of[v]) {
            break;
        }
        w++;
    }
    if (w < g->n_nodes) {
        g->parent[v] = w;
        expect_write_error("parent without edge", g, reprs, "which has no edge to it");
    }
    g->parent[v] = saved_parent;

    uint8_t saved_kind = g->label_kind[v];
    g->label_kind[v] = HW_LABEL__COUNT;
    expect_write_error("label kind", g, reprs, "label kind 9 of 9");
    g->label_kind[v] = HW_LABEL_ATTR;
    uint32_t saved_label = g->label[v];
    g->label[v] = g->strings.n + 5;
    expect_write_error("string label", g, reprs, "is named by string");
    g->label[v] = saved_label;
    g->label_kind[v] = saved_kind;

    roundtrip("after write errors", g, reprs);  /* every change undone */

    /* Not UTF-8: the table takes any bytes without a NUL. */
    hw_strtab_add(&g->strings, "caf\xe9", 4);
    expect_write_error("latin-1 string", g, reprs, "is not valid UTF-8");
    hw_big_free(reprs);
    hw_graph_free(g);

    /* Cycles of parents along real edges (checked after the edges): node
       7's self-loop, then the cycle 1 -> 2 -> 3 -> 1 of the module sample,
       with no roots in the way. */
    g = sample_graph(2, &reprs, &name);
    g->parent[7] = 7;
    expect_write_error("parent self-loop", g, reprs, "the parents of node 7 form a cycle");
    g->parent[7] = HW_NONE;
    for (uint32_t v = 0; v < g->n_nodes; v++) {
        g->root_of[v] = HW_NONE;
    }
    g->parent[1] = 3;
    g->parent[2] = 1;
    g->parent[3] = 2;
    expect_write_error("parent cycle", g, reprs, "form a cycle");
    hw_big_free(reprs);
    hw_graph_free(g);
}

static void
expect_read_error(const char *what, const unsigned char *buf, size_t len, const char *want)
{
    char err[256];
    uint32_t *reprs = (uint32_t *)&reprs;
    hw_graph *g = read_charged(buf, len, &reprs, err, sizeof(err));
    check(g == NULL, "%s: accepted", what);
    check(reprs == NULL, "%s: reprs left set", what);
    check(g != NULL || strstr(err, want) != NULL, "%s: message \"%s\", wanted \"%s\"",
          what, err, want);
    hw_graph_free(g);
}

static void
put_u32(unsigned char *p, uint32_t x)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (unsigned char)(x >> (8 * i));
    }
}

/* Sets the header's file size to len and the trailing CRC to match, as the
   fuzz target does (bit by bit, independent of snapfile.c). */
static void
patch_size_crc(unsigned char *p, size_t len)
{
    for (int i = 0; i < 8; i++) {
        p[16 + i] = (unsigned char)((uint64_t)len >> (8 * i));
    }
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < len - 4; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++) {
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
        }
    }
    put_u32(p + len - 4, ~crc);
}

static void
test_read_damage(void)
{
    for (int which = 0; which < SAMPLE_COUNT; which++) {
        uint32_t *reprs;
        const char *name;
        hw_graph *g = sample_graph(which, &reprs, &name);
        char err[256], what[128];
        size_t len;
        unsigned char *buf = write_mem(g, reprs, &len, err, sizeof(err));
        hw_big_free(reprs);
        hw_graph_free(g);
        if (buf == NULL) {
            check(0, "%s: write: %s", name, err);
            continue;
        }
        /* Every truncation (a fresh copy each time, so that ASan sees any
           read past the shorter end). */
        for (size_t cut = 0; cut < len; cut++) {
            unsigned char *part = malloc(cut + 1);
            memcpy(part, buf, cut);
            snprintf(what, sizeof(what), "%s cut at %zu", name, cut);
            expect_read_error(what, part, cut,
                              cut == 0 ? "not a heapwatch snapshot" : "truncated file");
            free(part);
        }
        unsigned char *longer = malloc(len + 3);
        memcpy(longer, buf, len);
        memset(longer + len, 0, 3);
        snprintf(what, sizeof(what), "%s + 3 bytes", name);
        expect_read_error(what, longer, len + 3, "3 bytes of trailing garbage");
        free(longer);

        /* Text-mode damage, a newer version, a flipped bit. */
        unsigned char *copy = malloc(len + 1);
        memcpy(copy, buf, len);
        copy[4] = '\n';
        memmove(copy + 5, buf + 6, len - 6);
        expect_read_error("CRLF -> LF", copy, len - 1, "line endings were converted");
        memcpy(copy, buf, len);
        put_u32(copy + 8, 7);
        expect_read_error("version 7", copy, len,
                          "unsupported snapshot version 7 (this heapwatch reads 1 to 2)");
        memcpy(copy, buf, len);
        copy[len / 2] ^= 0x10;
        expect_read_error("bit flip", copy, len, "checksum mismatch");
        memcpy(copy, "PK\x03\x04", 4);
        expect_read_error("zip", copy, len, "not a heapwatch snapshot");

        /* Single-byte mutations, through the fuzz target's oracles (which
           also retry each with the size and checksum fixed up). */
        if (which >= 2) {
            /* +1 and -1 walk counts and ids just past their limits; 0x80
               makes them huge.  The largest sample gets one of the three. */
            static const int deltas[] = {0x80, 1, -1};
            size_t n_deltas = which == SAMPLE_COUNT - 1 ? 1 : 3;
            for (size_t i = 0; i < len; i++) {
                for (size_t d = 0; d < n_deltas; d++) {
                    memcpy(copy, buf, len);
                    copy[i] = (unsigned char)(copy[i] + deltas[d]);
                    LLVMFuzzerTestOneInput(copy, len);
                    patch_size_crc(copy, len);
                    uint32_t *r;
                    hw_graph *h = read_charged(copy, len, &r, err, sizeof(err));
                    hw_big_free(r);
                    hw_graph_free(h);
                }
            }
        }
        free(copy);
        free(buf);
    }
}

static void
test_huge_counts(void)
{
    /* A valid empty file, then counts far beyond its size. */
    uint32_t *reprs;
    const char *name;
    hw_graph *g = sample_graph(0, &reprs, &name);
    char err[256];
    size_t len;
    unsigned char *buf = write_mem(g, reprs, &len, err, sizeof(err));
    hw_graph_free(g);
    check(buf != NULL, "empty: write: %s", err);
    if (buf == NULL) {
        return;
    }
    static const size_t count_at[] = {68, 72, 76, 84, 88};
    for (size_t k = 0; k < sizeof(count_at) / sizeof(count_at[0]); k++) {
        static const uint32_t values[] = {1u << 20, 1u << 31, HW_MAX_NODES, UINT32_MAX};
        for (size_t j = 0; j < 4; j++) {
            unsigned char copy[256];
            memcpy(copy, buf, len);
            put_u32(copy + count_at[k], values[j]);
            patch_size_crc(copy, len);
            char what[64];
            snprintf(what, sizeof(what), "count at %zu = %u", count_at[k], (unsigned)values[j]);
            int nodes_too_many = count_at[k] == 76 && values[j] > HW_MAX_NODES;
            expect_read_error(what, copy, len,
                              nodes_too_many ? "4294967295 nodes" : "counts need at least");
            check(charged == 0, "%s: allocated %zu bytes", what, charged);
        }
    }
    free(buf);
}

/* Fails each allocation of a read, then of a write, in turn: a clean
   "out of memory" every time, and nothing leaked (LeakSanitizer checks at
   exit). */
static void
test_out_of_memory(void)
{
    uint32_t *reprs;
    const char *name;
    hw_graph *g = sample_graph(5, &reprs, &name);
    char err[256];
    size_t len;
    unsigned char *buf = write_mem(g, reprs, &len, err, sizeof(err));
    check(buf != NULL, "oom: write: %s", err);
    int reads_done = 0, writes_done = 0;
    for (long k = 0; buf != NULL && k < 100000 && !reads_done; k++) {
        uint32_t *r;
        n_allocs = 0;
        fail_at = k;
        hw_graph *h = hw_snap_read(buf, len, &r, err, sizeof(err));
        fail_at = -1;
        if (n_allocs <= k) {
            reads_done = 1;     /* no k-th allocation: the read succeeded */
            check(h != NULL, "oom: read without failures: %s", err);
        }
        else {
            check(h == NULL && r == NULL && strcmp(err, "out of memory") == 0,
                  "oom: allocation %ld of a read: \"%s\"", k, h ? "accepted" : err);
        }
        hw_big_free(r);
        hw_graph_free(h);
    }
    int fd = memfd_create("oom", 0);
    for (long k = 0; k < 1000 && !writes_done; k++) {
        if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
            perror("ftruncate");
            exit(2);
        }
        n_allocs = 0;
        fail_at = k;
        errno = 0;
        int rc = hw_snap_write(g, reprs, fd, err, sizeof(err));
        int saved = errno;
        fail_at = -1;
        if (n_allocs <= k) {
            writes_done = 1;
            check(rc == 0, "oom: write without failures: %s", err);
        }
        else {
            check(rc == -1 && saved == ENOMEM && strstr(err, "out of memory") != NULL,
                  "oom: allocation %ld of a write: rc %d \"%s\"", k, rc, err);
        }
    }
    check(reads_done && writes_done, "oom: did not run out of allocations to fail");
    close(fd);
    free(buf);
    hw_big_free(reprs);
    hw_graph_free(g);
}

/* ---- the file functions ----------------------------------------------- */

static int
compare_names(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* The names in dir but "." and "..", sorted, joined by spaces. */
static void
list_dir(const char *dir, char *out, size_t outlen)
{
    char names[16][256];
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d != NULL && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 && n < 16) {
            snprintf(names[n++], sizeof(names[0]), "%s", de->d_name);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    qsort(names, (size_t)n, sizeof(names[0]), compare_names);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        snprintf(out + strlen(out), outlen - strlen(out), "%s%s", i ? " " : "", names[i]);
    }
}

static void
expect_load_error(const char *path, hw_snap_status status, int errnum, const char *want)
{
    hw_snap_error e;
    uint32_t *r = (uint32_t *)&r;
    hw_graph *h = hw_snap_load(path, &r, &e);
    check(h == NULL && r == NULL && e.status == status && e.errnum == errnum
          && strstr(e.msg, want) != NULL,
          "load %s: status %d errno %d \"%s\", wanted %d %d \"%s\"",
          path, (int)e.status, e.errnum, e.msg, (int)status, errnum, want);
    hw_graph_free(h);
}

static void
expect_save_error(const hw_graph *g, const char *path, hw_snap_status status, int errnum,
                  const char *want)
{
    hw_snap_error e;
    int rc = hw_snap_save(g, NULL, path, &e);
    check(rc == -1 && e.status == status && e.errnum == errnum && strstr(e.msg, want) != NULL,
          "save %s: rc %d status %d errno %d \"%s\", wanted %d %d \"%s\"",
          path, rc, (int)e.status, e.errnum, e.msg, (int)status, errnum, want);
}

static void
test_files(void)
{
    char dir[] = "/tmp/test_snapfile.XXXXXX";
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        exit(2);
    }
    char path[512], other[512], listing[4096];
    snprintf(path, sizeof(path), "%s/s.hwsnap", dir);
    uint32_t *reprs;
    const char *name;
    hw_graph *g = sample_graph(5, &reprs, &name);

    /* A round trip, 0600. */
    hw_snap_error e;
    check(hw_snap_save(g, reprs, path, &e) == 0 && e.status == HW_SNAP_OK,
          "files: save: %s", e.msg);
    struct stat st;
    check(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600, "files: mode %o",
          (unsigned)st.st_mode);
    uint32_t *h_reprs;
    hw_graph *h = hw_snap_load(path, &h_reprs, &e);
    check(h != NULL && e.status == HW_SNAP_OK, "files: load: %s", e.msg);
    if (h != NULL) {
        compare_graphs("files", g, reprs, h, h_reprs);
    }
    hw_big_free(h_reprs);
    hw_graph_free(h);

    /* What load refuses. */
    snprintf(other, sizeof(other), "%s/missing", dir);
    expect_load_error(other, HW_SNAP_ESYS, ENOENT, "");
    expect_load_error(dir, HW_SNAP_ESYS, EISDIR, "");
    expect_load_error("/dev/null", HW_SNAP_ENOTREG, 0, "not a regular file (a character device)");
    snprintf(other, sizeof(other), "%s/fifo", dir);
    check(mkfifo(other, 0600) == 0, "files: mkfifo: %s", strerror(errno));
    expect_load_error(other, HW_SNAP_ENOTREG, 0, "not a regular file (a FIFO)");
    /* What save refuses, leaving it in place. */
    expect_save_error(g, other, HW_SNAP_ENOTREG, 0, "(a FIFO), not replaced");
    check(lstat(other, &st) == 0 && S_ISFIFO(st.st_mode), "files: the FIFO was replaced");
    unlink(other);
    expect_save_error(g, dir, HW_SNAP_ESYS, EISDIR, "");
    snprintf(other, sizeof(other), "%s/nowhere/s.hwsnap", dir);
    expect_save_error(g, other, HW_SNAP_ESYS, ENOENT, "temporary file");
    snprintf(other, sizeof(other), "%s/s.hwsnap/x", dir);
    expect_save_error(g, other, HW_SNAP_ESYS, ENOTDIR, "");
    expect_load_error(other, HW_SNAP_ESYS, ENOTDIR, "");

    /* Damage, judged from the prefix or by the reader. */
    snprintf(other, sizeof(other), "%s/damaged", dir);
    int fd = open(other, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    check(fd >= 0, "files: create: %s", strerror(errno));
    expect_load_error(other, HW_SNAP_EDATA, 0, "not a heapwatch snapshot");
    size_t len;
    unsigned char *buf = write_mem(g, reprs, &len, e.msg, sizeof(e.msg));
    check(buf != NULL && write(fd, buf, len - 1) == (ssize_t)(len - 1), "files: write");
    expect_load_error(other, HW_SNAP_EDATA, 0, "truncated file");
    check(write(fd, "xy", 2) == 2, "files: write");
    expect_load_error(other, HW_SNAP_EDATA, 0, "1 bytes of trailing garbage");
    close(fd);
    unlink(other);

    /* Each allocation fails in turn: a clean "out of memory", nothing
       leaked (LeakSanitizer), no temporary file, the target whole. */
    int loads_done = 0, saves_done = 0;
    for (long k = 0; k < 100000 && !loads_done; k++) {
        n_allocs = 0;
        fail_at = k;
        h = hw_snap_load(path, &h_reprs, &e);
        fail_at = -1;
        if (n_allocs <= k) {
            loads_done = 1;
            check(h != NULL, "files oom: load without failures: %s", e.msg);
        }
        else {
            check(h == NULL && h_reprs == NULL && e.status == HW_SNAP_ENOMEM,
                  "files oom: allocation %ld of a load: status %d \"%s\"", k,
                  (int)e.status, e.msg);
        }
        hw_big_free(h_reprs);
        hw_graph_free(h);
    }
    for (long k = 0; k < 1000 && !saves_done; k++) {
        n_allocs = 0;
        fail_at = k;
        int rc = hw_snap_save(g, reprs, path, &e);
        fail_at = -1;
        if (n_allocs <= k) {
            saves_done = 1;
            check(rc == 0, "files oom: save without failures: %s", e.msg);
        }
        else {
            check(rc == -1 && e.status == HW_SNAP_ENOMEM,
                  "files oom: allocation %ld of a save: status %d \"%s\"", k,
                  (int)e.status, e.msg);
        }
        list_dir(dir, listing, sizeof(listing));
        check(strcmp(listing, "s.hwsnap") == 0, "files oom: left \"%s\"", listing);
        h = hw_snap_load(path, NULL, &e);
        check(h != NULL, "files oom: the target after allocation %ld: %s", k, e.msg);
        hw_graph_free(h);
    }
    check(loads_done && saves_done, "files oom: did not run out of allocations to fail");

    unlink(path);
    list_dir(dir, listing, sizeof(listing));
    check(listing[0] == '\0', "files: left \"%s\"", listing);
    rmdir(dir);
    free(buf);
    hw_big_free(reprs);
    hw_graph_free(g);
}

int
main(void)
{
    test_samples();
    test_large();
    test_interrupted_pipe();
    test_edges_of_the_api();
    test_canonical();
    test_write_errors();
    test_read_damage();
    test_huge_counts();
    test_out_of_memory();
    test_files();
    printf("test_snapfile: %d checks, %d failed; worst read allocated %zu bytes for %zu\n",
           checks, failures, worst_charged, worst_len);
    return failures ? 1 : 0;
}
