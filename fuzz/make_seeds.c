/* make_seeds.c - writes the hand-built sample graphs (sample_graphs.h) as
 * snapshot files, the seeds of the fuzzing corpus:
 *
 *   make_seeds DIR        writes DIR/seed-NAME.hws for every sample
 *
 * The output is deterministic (fixed timestamps and addresses), so the
 * test suite regenerates the seeds and checks that fuzz/corpus/ still holds
 * them byte for byte: a format change that forgets the corpus fails there.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "bigmem.h"
#include "snapfile.h"
#include "sample_graphs.h"

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds DIR\n");
        return 2;
    }
    for (int which = 0; which < SAMPLE_COUNT; which++) {
        uint32_t *reprs;
        const char *name;
        hw_graph *g = sample_graph(which, &reprs, &name);
        char path[4096], err[256];
        snprintf(path, sizeof(path), "%s/seed-%s.hws", argv[1], name);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) {
            fprintf(stderr, "make_seeds: %s: %s\n", path, strerror(errno));
            return 1;
        }
        if (hw_snap_write(g, reprs, fd, err, sizeof(err)) < 0) {
            fprintf(stderr, "make_seeds: %s: %s\n", path, err);
            return 1;
        }
        if (close(fd) < 0) {
            fprintf(stderr, "make_seeds: %s: %s\n", path, strerror(errno));
            return 1;
        }
        hw_big_free(reprs);
        hw_graph_free(g);
    }
    return 0;
}
