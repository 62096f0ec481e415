/* standalone.c - runs the fuzz target over files, without libFuzzer.
 *
 *   standalone [-v] PATH...
 *
 * Each PATH is a file or a directory (its regular files, in name order).
 * Every file goes through LLVMFuzzerTestOneInput(), whose oracles abort on
 * a bug; the sanitizers of the build do the rest.  With -v, also prints
 * "NAME: OK nodes=N edges=E roots=R paths=0|1 reprs=0|1" or
 * "NAME: ERR message" for each file as the reader sees it unmodified (the
 * test suite checks the reader's messages this way).
 *
 * Exit status: 0, or 2 when a path cannot be read.
 */

#define _DEFAULT_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "bigmem.h"
#include "snapfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int verbose;
static unsigned long n_run;

static unsigned char *
read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    while (buf != NULL) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) {
            break;
        }
        unsigned char *bigger = realloc(buf, cap * 2);
        if (bigger == NULL) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    if (buf != NULL && ferror(f)) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = n;
    return buf;
}

static int
run_file(const char *path, const char *name)
{
    size_t len;
    unsigned char *buf = read_all(path, &len);
    if (buf == NULL) {
        fprintf(stderr, "standalone: cannot read %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (verbose) {
        char err[256];
        uint32_t *reprs;
        hw_graph *g = hw_snap_read(buf, len, &reprs, err, sizeof(err));
        if (g != NULL) {
            printf("%s: OK nodes=%u edges=%u roots=%u paths=%d reprs=%d\n", name,
                   (unsigned)g->n_nodes, (unsigned)g->n_edges, (unsigned)g->n_roots,
                   g->parent != NULL, reprs != NULL);
        }
        else {
            printf("%s: ERR %s\n", name, err);
        }
        fflush(stdout);
        hw_big_free(reprs);
        hw_graph_free(g);
    }
    LLVMFuzzerTestOneInput(buf, len);
    free(buf);
    n_run++;
    return 0;
}

static int
compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "standalone: cannot open %s: %s\n", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        if (ent->d_name[0] == '.') {
            continue;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **bigger = realloc(names, cap * sizeof(char *));
            if (bigger == NULL) {
                rc = -1;
                break;
            }
            names = bigger;
        }
        if ((names[n] = strdup(ent->d_name)) == NULL) {
            rc = -1;
            break;
        }
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof(char *), compare_names);
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        if (rc == 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            rc = run_file(path, names[i]);
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int
main(int argc, char **argv)
{
    int status = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (strcmp(argv[i], "-v") == 0) {
            verbose = 1;
            continue;
        }
        if (stat(argv[i], &st) < 0) {
            fprintf(stderr, "standalone: %s: %s\n", argv[i], strerror(errno));
            status = 2;
        }
        else if (S_ISDIR(st.st_mode) ? run_dir(argv[i]) < 0 : run_file(argv[i], argv[i]) < 0) {
            status = 2;
        }
    }
    fprintf(stderr, "standalone: %lu inputs\n", n_run);
    return status;
}
