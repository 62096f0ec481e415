"""python -m heapwatch attach PID -o FILE: capture the heap of a process
that never imported heapwatch.

The way in is Debian's gdb, in batch mode, for a few milliseconds: it
attaches, checks that the process is a CPython of this heapwatch's version
and initialized, maps one page in it (mmap, a system call: no lock of the
target's is taken), writes there a line of Python that runs a script of
ours, queues that line with Py_AddPendingCall(PyRun_SimpleString, page), and
detaches.  Nothing runs at the instant gdb stopped the process: the pending
call runs later in the target's main thread, at the interpreter's next check
between two bytecodes, holding the GIL -- the safe point Python's own signal
handlers run at.  (CPython 3.14's sys.remote_exec(pid, script) does the same
without gdb, and is the way there: the script below is written to be handed
to it unchanged.)

The script imports heapwatch from this installation (the target's own, if it
already imported one), starts heapwatch.capture(FILE) -- so the target stops
only to fork, and the file is written by the child -- and reports to a
status file in a private directory of ours, which this side polls: started
(with the pause), then done or the child's error.  The target keeps the
imported heapwatch and the 4 KiB page.

What can go wrong is said with the fix: no gdb, ptrace refused (Yama's
ptrace_scope, another user, a missing CAP_SYS_PTRACE), a Python of another
version, a process in another mount namespace (our files are not visible
there), the process gone, or its main thread not running Python code
within the timeout (blocked in a long call: the capture then starts when it
returns).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any

import heapwatch

__all__ = ["AttachError", "attach"]


class AttachError(RuntimeError):
    """The process could not be captured; the message says why and what to
    do about it."""


# Run inside gdb (its embedded Python): checks, one page, the pending call.
# Prints one HEAPWATCH-<word> line for attach() to read.
GDB_SCRIPT = r'''
import os
import gdb

def say(word, text=""):
    print("HEAPWATCH-%s %s" % (word, text), flush=True)

try:
    gdb.execute("set unwindonsignal on")    # a fault in a call is undone, not left
    try:
        version = gdb.parse_and_eval("(char *)Py_GetVersion()").string()
    except gdb.error as e:
        say("NOTPYTHON", str(e))
    else:
        got = version.split()[0]
        if ".".join(got.split(".")[:2]) != os.environ["HW_ATTACH_PYVER"]:
            say("VERSION", got)
        elif int(gdb.parse_and_eval("(int)Py_IsInitialized()")) != 1:
            say("NOTREADY")
        else:
            line = open(os.environ["HW_ATTACH_LINE"], "rb").read() + b"\0"
            size = (len(line) + 4095) // 4096 * 4096
            page = int(gdb.parse_and_eval("(long)mmap(0, %d, 3, 34, -1, 0)" % size))
            if page in (0, -1):
                say("FAIL", "mmap in the process failed")
            else:
                gdb.selected_inferior().write_memory(page, line)
                rc = int(gdb.parse_and_eval(
                    "(int)Py_AddPendingCall((int (*)(void *))PyRun_SimpleString, (void *)%d)"
                    % page))
                if rc == 0:
                    say("OK", version)
                else:
                    say("FAIL", "Py_AddPendingCall refused (its queue is full); try again")
finally:
    gdb.execute("detach")
'''

# Run in the target's main thread by the pending call.  Reports to STATUS
# (JSON, 0600, replaced atomically).
INJECTED = r'''
def _heapwatch_attach(status_path, package, output, reprs):
    import json, os, sys, threading

    def report(**fields):
        # The attacher may have given up and removed its directory.
        try:
            tmp = status_path + ".tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump(fields, f)
            os.replace(tmp, status_path)
        except OSError:
            pass

    try:
        hw = sys.modules.get("heapwatch")
        if hw is None:
            import importlib.util
            spec = importlib.util.spec_from_file_location(
                "heapwatch", os.path.join(package, "__init__.py"),
                submodule_search_locations=[package])
            hw = importlib.util.module_from_spec(spec)
            sys.modules["heapwatch"] = hw
            try:
                spec.loader.exec_module(hw)
            except BaseException:
                del sys.modules["heapwatch"]
                raise
        cap = hw.capture(output, reprs=reprs)
    except BaseException as e:
        report(state="error", error="%s: %s" % (type(e).__name__, e))
        return
    report(state="started", pid=cap.pid, pause_seconds=cap.pause_seconds,
           heapwatch=os.path.dirname(hw.__file__))

    def wait():
        try:
            cap.wait()
        except BaseException as e:
            report(state="error", pid=cap.pid, pause_seconds=cap.pause_seconds, error=str(e))
        else:
            report(state="done", pid=cap.pid, pause_seconds=cap.pause_seconds, **cap.stats)

    threading.Thread(target=wait, name="heapwatch-attach", daemon=True).start()
'''


def _ptrace_hint(pid: int) -> str:
    hints = []
    try:
        with open("/proc/sys/kernel/yama/ptrace_scope") as f:
            scope = int(f.read())
    except (OSError, ValueError):
        scope = None
    if scope == 3:
        hints.append("kernel.yama.ptrace_scope is 3: no process may be traced until reboot")
    elif scope in (1, 2):
        hints.append(f"kernel.yama.ptrace_scope is {scope}: run this as root (with "
                     f"CAP_SYS_PTRACE), or `sysctl kernel.yama.ptrace_scope=0`")
    try:
        with open(f"/proc/{pid}/status") as f:
            uid = next(int(line.split()[1]) for line in f if line.startswith("Uid:"))
    except (OSError, StopIteration, ValueError, IndexError):
        uid = None
    if uid is not None and os.geteuid() not in (0, uid):
        hints.append(f"process {pid} belongs to uid {uid}: run this as that user or root")
    hints.append("in a container, ptrace needs CAP_SYS_PTRACE (docker run --cap-add=SYS_PTRACE) "
                 "and a seccomp profile that allows it")
    return "; ".join(hints)


def _check_target(pid: int) -> int:
    """The target's uid, after the checks that need no gdb."""
    if pid == os.getpid():
        raise AttachError("that is this process: call heapwatch.capture() instead")
    try:
        with open(f"/proc/{pid}/status") as f:
            uid = next(int(line.split()[1]) for line in f if line.startswith("Uid:"))
    except FileNotFoundError:
        raise AttachError(f"no process {pid}") from None
    except (OSError, StopIteration, ValueError) as e:
        raise AttachError(f"cannot read /proc/{pid}/status: {e}") from None
    try:
        mine, theirs = os.readlink("/proc/self/ns/mnt"), os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        mine = theirs = ""
    if mine != theirs:
        raise AttachError(
            f"process {pid} is in another mount namespace (a container?), where this "
            f"heapwatch and its files are not visible; run the attach inside it (docker exec, "
            f"or nsenter --target {pid} --mount --pid) with heapwatch installed there")
    return uid


def attach(pid: int, output: str | os.PathLike[str], *, reprs: bool = False,
           timeout: float = 60.0, gdb: str | None = None) -> dict[str, Any]:
    """Capture the heap of process pid into output (a path as the target
    sees it); returns the status the target reported (pid of the writing
    child, pause_seconds, nodes, ...).  Raises AttachError."""
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        raise AttachError(f"not a process id: {pid!r}")
    out = os.path.abspath(os.fspath(output))
    if not os.path.isdir(os.path.dirname(out)):
        raise AttachError(f"no directory {os.path.dirname(out)!r} for {out!r}")
    gdb = gdb or shutil.which("gdb")
    if gdb is None:
        raise AttachError("gdb is not installed; it is how heapwatch enters a process that "
                          "did not import it (Debian: apt-get install gdb)")
    uid = _check_target(pid)
    package = os.path.dirname(os.path.abspath(heapwatch.__file__))
    want = "%d.%d" % sys.version_info[:2]
    with tempfile.TemporaryDirectory(prefix="heapwatch-attach-") as d:
        status = os.path.join(d, "status.json")
        script = os.path.join(d, "attach.py")
        with open(script, "w") as f:
            f.write(INJECTED)
            f.write(f"\n_heapwatch_attach({status!r}, {package!r}, {out!r}, {bool(reprs)!r})\n"
                    f"del _heapwatch_attach\n")
        # Compiled as a file of the package, so that the capture leaves its
        # frame out of the roots (heapwatch's own frames are not roots).
        line = os.path.join(d, "line")
        with open(line, "w") as f:
            f.write(f"exec(compile(open({script!r}).read(), "
                    f"{os.path.join(package, '_attach_injected.py')!r}, 'exec'), "
                    f"{{'__name__': '__heapwatch_attach__'}})")
        with open(os.path.join(d, "gdb.py"), "w") as f:
            f.write(GDB_SCRIPT)
        if os.geteuid() == 0 and uid != 0:
            for p in (d, script, line):
                os.chown(p, uid, -1)
        # gdb runs as a plain program: not with a sanitizer or allocator this
        # process was started with.
        env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "PYTHONMALLOC")}
        env.update(HW_ATTACH_PYVER=want, HW_ATTACH_LINE=line)
        try:
            done = subprocess.run(
                [gdb, "--nx", "--batch", "-p", str(pid), "-x", os.path.join(d, "gdb.py")],
                capture_output=True, text=True, timeout=min(timeout, 60), env=env,
                stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            try:
                os.kill(pid, signal.SIGCONT)
            except OSError:
                pass
            raise AttachError(f"gdb did not finish within {min(timeout, 60):g} s "
                              f"attaching to process {pid}") from None
        text = done.stdout + done.stderr
        said = [ln.split(" ", 1) for ln in done.stdout.splitlines()
                if ln.startswith("HEAPWATCH-")]
        word, rest = (said[-1] + [""])[:2] if said else ("", "")
        if word != "HEAPWATCH-OK":
            if "No such process" in text:
                raise AttachError(f"process {pid} is gone")
            if "Operation not permitted" in text:
                raise AttachError(f"not allowed to trace process {pid} (ptrace: Operation not "
                                  f"permitted): {_ptrace_hint(pid)}")
            if word == "HEAPWATCH-NOTPYTHON":
                raise AttachError(f"process {pid} is not a CPython interpreter (gdb finds no "
                                  f"Py_GetVersion in it)")
            if word == "HEAPWATCH-VERSION":
                raise AttachError(
                    f"process {pid} runs Python {rest.strip()}, and this heapwatch is for "
                    f"Python {want}: run `python{'.'.join(rest.split('.')[:2])} -m heapwatch "
                    f"attach` with heapwatch installed for that Python")
            if word == "HEAPWATCH-NOTREADY":
                raise AttachError(f"process {pid} has not initialized its Python yet (or is "
                                  f"shutting it down)")
            if word == "HEAPWATCH-FAIL":
                raise AttachError(f"process {pid}: {rest.strip()}")
            last = "\n".join(text.strip().splitlines()[-5:])
            raise AttachError(f"gdb could not attach to process {pid}:\n{last}")
        # Queued: the target's main thread runs it at its next bytecode.
        deadline = time.monotonic() + timeout
        state: dict[str, Any] = {}
        while time.monotonic() < deadline:
            try:
                with open(status) as f:
                    state = json.load(f)
            except (OSError, ValueError):
                state = {}
            if state.get("state") in ("done", "error"):
                break
            if not os.path.exists(f"/proc/{pid}"):
                raise AttachError(f"process {pid} ended before the capture finished")
            time.sleep(0.05)
        else:
            if not state:
                raise AttachError(
                    f"process {pid}'s main thread ran no Python code within {timeout:g} s "
                    f"(blocked in a long call?); the capture starts when it does, into {out}")
            raise AttachError(f"the capture of process {pid} did not finish within "
                              f"{timeout:g} s (process {state.get('pid')} is writing {out})")
        if state["state"] == "error":
            raise AttachError(f"process {pid}: {state['error']}")
        return state
