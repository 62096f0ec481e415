/* capture.c - a snapshot written by a forked child (capture.h says what
   the child may and may not do, and the report it writes). */
#include <Python.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "capture.h"
#include "snapfile.h"

/* ---- the reaper ---------------------------------------------------------- */

struct hw_reaper {
    pid_t pid;
    atomic_int state;           /* enum hw_reaper_state */
    int status;                 /* written before state becomes EXITED */
    atomic_int refs;            /* the thread's and the caller's */
};

static void
reaper_release(hw_reaper *r)
{
    if (atomic_fetch_sub(&r->refs, 1) == 1) {
        free(r);
    }
}

static void *
reaper_main(void *arg)
{
    hw_reaper *r = arg;
    int status = 0;
    pid_t got;
    do {
        got = waitpid(r->pid, &status, 0);
    } while (got < 0 && errno == EINTR);
    if (got == r->pid) {
        r->status = status;
        atomic_store(&r->state, HW_CHILD_EXITED);
    }
    else {
        atomic_store(&r->state, HW_CHILD_UNKNOWN);
    }
    reaper_release(r);
    return NULL;
}

enum hw_reaper_state
hw_reaper_poll(hw_reaper *r, int *status)
{
    int state = atomic_load(&r->state);
    if (state == HW_CHILD_EXITED) {
        *status = r->status;
    }
    return (enum hw_reaper_state)state;
}

void
hw_reaper_release(hw_reaper *r)
{
    if (r != NULL) {
        reaper_release(r);
    }
}

/* ---- the child ----------------------------------------------------------- */

/* One line onto the pipe, whole (shorter than PIPE_BUF).  Nothing can be
   done about a failed write: the parent then sees no report. */
static void
report(int fd, const char *line)
{
    size_t len = strlen(line), done = 0;
    while (done < len) {
        ssize_t w = write(fd, line + done, len - done);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return;
        }
        done += (size_t)w;
    }
}

static void
report_tmp(const char *tmp, void *arg)
{
    static const char hex[] = "0123456789abcdef";
    char line[4 + 2 * 1024 + 2];
    size_t len = strlen(tmp), k = 0;
    if (len > 1024) {
        return;     /* longer than any path the report has room for */
    }
    memcpy(line, "tmp ", 4);
    k = 4;
    for (size_t i = 0; i < len; i++) {
        line[k++] = hex[(unsigned char)tmp[i] >> 4];
        line[k++] = hex[(unsigned char)tmp[i] & 15];
    }
    line[k++] = '\n';
    line[k] = '\0';
    report(*(int *)arg, line);
}

/* Replaces newlines, so that a message stays one report line. */
static void
one_line(char *s)
{
    for (; *s; s++) {
        if (*s == '\n' || *s == '\r') {
            *s = ' ';
        }
    }
}

/* The pending exception as "Type: message" in buf, cleared.  Only the
   engine's own exceptions can be pending here (MemoryError, RuntimeError,
   OverflowError: builtin types, whose str() is C code). */
static void
describe_exception(char *buf, size_t size)
{
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *exc = PyErr_GetRaisedException();
#else
    PyObject *type, *tb, *exc;
    PyErr_Fetch(&type, &exc, &tb);
    PyErr_NormalizeException(&type, &exc, &tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
#endif
    const char *name = exc ? Py_TYPE(exc)->tp_name : "error";
    PyObject *text = exc ? PyObject_Str(exc) : NULL;
    const char *msg = text ? PyUnicode_AsUTF8(text) : NULL;
    PyErr_Clear();
    snprintf(buf, size, "%s: %s", name, msg ? msg : "(no message)");
    Py_XDECREF(text);
    Py_XDECREF(exc);
}

/* Private memory of this process in KiB (pages it wrote since the fork,
   plus the graph's), from smaps_rollup; -1 when it cannot be read. */
static long
private_kib(void)
{
    int fd = open("/proc/self/smaps_rollup", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return -1;
    }
    buf[n] = '\0';
    long total = 0;
    int found = 0;
    for (char *line = buf; line != NULL && *line; ) {
        long kib;
        if (sscanf(line, "Private_Clean: %ld kB", &kib) == 1
            || sscanf(line, "Private_Dirty: %ld kB", &kib) == 1) {
            total += kib;
            found++;
        }
        line = strchr(line, '\n');
        if (line != NULL) {
            line++;
        }
    }
    return found ? total : -1;
}

/* capture.h: default handlers, nothing blocked, lowest priorities, first
   for the OOM killer, no core.  Each step is best effort. */
static void
become_harmless(void)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    for (int sig = 1; sig < NSIG; sig++) {
        struct sigaction old;
        if (sig == SIGKILL || sig == SIGSTOP || sigaction(sig, NULL, &old) < 0) {
            continue;
        }
        if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_IGN) {
            sigaction(sig, &dfl, NULL);
        }
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    struct rlimit nocore = {0, 0};
    setrlimit(RLIMIT_CORE, &nocore);
    (void)setpriority(PRIO_PROCESS, 0, 19);
#ifdef SYS_ioprio_set
    /* ioprio_set(IOPRIO_WHO_PROCESS, self, IOPRIO_CLASS_IDLE << 13) */
    (void)syscall(SYS_ioprio_set, 1, 0, 3 << 13);
#endif
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        (void)!write(fd, "1000", 4);
        close(fd);
    }
}

_Noreturn static void
child_main(const hw_build_spec *parent_spec, const char *path, int fd)
{
    char line[600];
    become_harmless();
    hw_build_spec spec = *parent_spec;
    spec.threads = 0;
    hw_built built;
    double t0 = hw_seconds();
    if (hw_build_graph(&spec, &built) < 0) {
        char what[512];
        describe_exception(what, sizeof(what));
        one_line(what);
        snprintf(line, sizeof(line), "error building the graph: %s\n", what);
        report(fd, line);
        _exit(1);
    }
    hw_snap_error e;
    if (hw_snap_save_notify(built.g, built.reprs, path, report_tmp, &fd, &e) < 0) {
        char what[512];
        if (e.status == HW_SNAP_ESYS) {
            snprintf(what, sizeof(what), "%s%s%s", strerror(e.errnum),
                     e.msg[0] ? ", " : "", e.msg);
        }
        else {
            snprintf(what, sizeof(what), "%s", e.msg[0] ? e.msg : "out of memory");
        }
        one_line(what);
        snprintf(line, sizeof(line), "error writing the file: %s\n", what);
        report(fd, line);
        _exit(1);
    }
    struct rusage ru;
    long maxrss = getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
    snprintf(line, sizeof(line), "ok %lu %lu %.6f %ld %ld\n",
             (unsigned long)built.g->n_nodes, (unsigned long)built.g->n_edges,
             hw_seconds() - t0, maxrss, private_kib());
    report(fd, line);
    _exit(0);
}

/* ---- the parent ---------------------------------------------------------- */

int
hw_capture_start(const hw_build_spec *spec, const char *path, pid_t *pid_out,
                 int *report_fd, hw_reaper **reaper_out)
{
    int fds[2];
    hw_reaper *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    if (pipe2(fds, O_CLOEXEC) < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        free(r);
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        close(fds[0]);
        close(fds[1]);
        free(r);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        child_main(spec, path, fds[1]);
    }
    close(fds[1]);
    r->pid = pid;
    atomic_init(&r->state, HW_CHILD_RUNNING);
    atomic_init(&r->refs, 2);
    pthread_attr_t attr;
    pthread_t thread;
    int err = pthread_attr_init(&attr);
    if (err == 0) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        /* waitpid needs no more than the smallest stack. */
        pthread_attr_setstacksize(&attr, PTHREAD_STACK_MIN > 65536 ? PTHREAD_STACK_MIN : 65536);
        err = pthread_create(&thread, &attr, reaper_main, r);
        pthread_attr_destroy(&attr);
    }
    if (err != 0) {
        /* No thread to wait for it: stop the child and reap it here rather
           than leave a zombie. */
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
        }
        close(fds[0]);
        free(r);
        errno = err;
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    *pid_out = pid;
    *report_fd = fds[0];
    *reaper_out = r;
    return 0;
}
