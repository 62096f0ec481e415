/* capture.h - a snapshot file written by a forked child, so that the
 * process being looked at stops only for the fork.
 *
 * hw_capture_start forks the calling process while it holds the GIL and
 * hw_enter's guard, inside a C function: no other Python thread runs
 * between the roots being collected and the fork, so the child's heap is
 * the parent's heap at one instant.  fork() is libc's, so the C libraries'
 * own at-fork handlers keep malloc and friends usable in the child; none of
 * Python's (os.register_at_fork) runs, nor anything else of Python's after
 * the fork: the child never releases the GIL, never calls
 * PyOS_AfterFork_Child, runs hw_build_graph (which runs no Python code, and
 * keeps automatic collection off) and hw_snap_save, writes one report to
 * a pipe and leaves with _exit (no atexit, no flush of the parent's stdio
 * buffers, no finalizers).
 *
 * The child first makes itself harmless: every signal handler the parent
 * installed goes back to its default (Python's C handler would write the
 * signal number into the parent's wakeup fd, which the child shares, and a
 * signal meant for the child would reach the parent's event loop), no
 * signal is blocked, its CPU and I/O priorities are the lowest (nice 19,
 * the idle I/O class), it is the first the kernel's OOM killer picks
 * (oom_score_adj 1000) and it dumps no core.  It shares the parent's
 * memory copy-on-write and writes little of it: what it allocates is the
 * graph (about 57 bytes per object at the peak, bench/graph.py), plus the
 * pages the parent writes meanwhile.
 *
 * The report, one line per write (each under PIPE_BUF, so whole):
 *   tmp <hex of the temporary file's path>   once it exists
 *   ok <nodes> <edges> <seconds> <maxrss KiB> <private KiB>
 *   error <message>
 * and then end of file, when the child exits.  No report line but tmp
 * means the child died (the caller removes the temporary file).
 *
 * The child is reaped by a thread of hw_capture_start's own (plain C,
 * detached, holding no Python state): waitpid on that one pid, so no
 * SIGCHLD handler is needed and none of the application's is replaced.  If
 * the application reaps it first (a waitpid(-1) of its own, or SIGCHLD
 * ignored), the exit status is unknown, and the report still says how it
 * went.
 */
#ifndef HW_CAPTURE_H
#define HW_CAPTURE_H

#include <Python.h>
#include <sys/types.h>
#include "graphbuild.h"

/* What the reaper learned; shared by its thread and the caller. */
typedef struct hw_reaper hw_reaper;

enum hw_reaper_state {
    HW_CHILD_RUNNING = 0,
    HW_CHILD_EXITED,            /* status holds the wait status */
    HW_CHILD_UNKNOWN,           /* reaped by someone else */
};

/* Forks; in the child builds the graph spec describes (spec->threads is
   taken as 0: one thread, the only one a forked child may count on),
   saves it to path, reports on the pipe and exits.  In the caller returns
   0 with *pid, *report_fd (the read end, O_CLOEXEC, the caller's to close)
   and *reaper (the caller's reference: hw_reaper_release) set, or -1 with
   an exception set and no child.  The caller holds the GIL and hw_enter's
   guard. */
int hw_capture_start(const hw_build_spec *spec, const char *path, pid_t *pid,
                     int *report_fd, hw_reaper **reaper);

/* The child's state; *status is the wait status when HW_CHILD_EXITED. */
enum hw_reaper_state hw_reaper_poll(hw_reaper *r, int *status);

void hw_reaper_release(hw_reaper *r);

#endif
