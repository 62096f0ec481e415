"""python -m heapwatch: read snapshot files away from the server.

    python -m heapwatch census SNAPSHOT [--limit N]
    python -m heapwatch diff OLD NEW [--limit N]
    python -m heapwatch why SNAPSHOT ADDRESS|TYPE [--limit N]
    python -m heapwatch top SNAPSHOT [--limit N] [--by object|type|holder]
    python -m heapwatch attach PID -o FILE [--reprs] [--timeout SECONDS]
    python -m heapwatch report SNAPSHOT [SNAPSHOT ...] -o FILE [--title TEXT]

A snapshot is written on the server by heapwatch.snapshot().save(path) or
heapwatch.capture(path), or by `attach` for a process that never imported
heapwatch (through gdb; see heapwatch/_attach.py).
Nothing here needs the server's code: type names, edge names and sizes are
in the file.  Object contents are not, unless the snapshot was taken with
reprs=True.  --limit 0 lifts the limit.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from heapwatch._explain import Retainer, Snapshot, load
from heapwatch._format import human_bytes


class _CliError(Exception):
    """A message for the user, printed as it is."""


def _load(path: str, fullnames: bool = False) -> Snapshot:
    if os.path.isdir(path):
        raise _CliError(f"{path} is a directory, not a snapshot file")
    return load(path, fullnames=fullnames)


def _table(rows: Sequence[tuple[str, ...]], out: TextIO) -> None:
    if not rows:
        return
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        cells = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:])]
        out.write("  ".join(cells).rstrip() + "\n")


def cmd_census(args: argparse.Namespace, out: TextIO) -> int:
    # Offline, the module tells apart types that share a name.
    snap = _load(args.file, fullnames=True)
    rows = sorted(snap.census().items(), key=lambda kv: (-kv[1][0], kv[0]))
    ntypes = len(rows)
    if args.limit:
        rows = rows[: args.limit]
    info = snap.info
    out.write(f"{args.file}: {info['nodes']:,} objects ({info['tracked']:,} tracked), "
              f"{info['edges']:,} references, CPython {info['python_version']}\n")
    _table([("type", "count", "bytes")]
           + [(name, f"{c:,}", f"{b:,}") for name, (c, b) in rows], out)
    if len(rows) < ntypes:
        out.write(f"({len(rows):,} of {ntypes:,} types; --limit 0 shows all)\n")
    return 0


def cmd_diff(args: argparse.Namespace, out: TextIO) -> int:
    old, new = _load(args.old, fullnames=True), _load(args.new, fullnames=True)
    rows, groups = new.diff(old, args.limit or None)
    if not rows:
        out.write("no type grew\n")
        return 0
    _table([("type", "count", "delta", "bytes delta")]
           + [(n, f"{c:,}", f"+{d:,}", f"{b:+,}") for n, c, d, b in rows], out)
    if groups:
        out.write("\nwhat holds the objects of these types:\n")
        for g in groups:
            out.write(f"  {g}\n")
    return 0


def _parse_address(text: str) -> int | None:
    try:
        return int(text, 0)
    except ValueError:
        return None


def cmd_why(args: argparse.Namespace, out: TextIO) -> int:
    snap = _load(args.file)
    addr = _parse_address(args.what)
    if addr is not None:
        node = snap.node_at(addr)
        if node is None:
            print(f"heapwatch: no object at {addr:#x} in {args.file}", file=sys.stderr)
            return 1
        path = snap.path(node)
        out.write(f"{path}\n" if path is not None else
                  f"{addr:#x}: no path from any root (garbage, not collected yet)\n")
        return 0
    groups = snap.retention(args.what, args.limit or None)
    if not groups:
        print(f"heapwatch: no object of type {args.what!r} in {args.file}", file=sys.stderr)
        return 1
    for g in groups:
        out.write(f"{g}\n")
        if g.example is not None:
            out.write(f"    e.g. {g.example}\n")
    return 0


def cmd_top(args: argparse.Namespace, out: TextIO) -> int:
    snap = _load(args.file)
    # No limit: as many as there are objects.
    for r in snap.top_retainers(args.limit or snap.info["nodes"], by=args.by):
        if isinstance(r, Retainer) and args.by == "type":
            out.write(f"{human_bytes(r.retained):>10}  {r.count:>10,}  {r.type}\n")
        else:
            out.write(f"{r}\n")
    return 0


def cmd_attach(args: argparse.Namespace, out: TextIO) -> int:
    from heapwatch._attach import AttachError, attach

    try:
        state = attach(args.pid, args.output, reprs=args.reprs, timeout=args.timeout)
    except AttachError as e:
        raise _CliError(str(e)) from None
    size = os.path.getsize(args.output) if os.path.exists(args.output) else 0
    out.write(f"{args.output}: {state.get('nodes', 0):,} objects, {human_bytes(size)}; process "
              f"{args.pid} stopped {state['pause_seconds'] * 1e3:.1f} ms, process "
              f"{state['pid']} wrote the file\n")
    return 0


def cmd_report(args: argparse.Namespace, out: TextIO) -> int:
    from heapwatch import report

    for path in args.files:
        if os.path.isdir(path):
            raise _CliError(f"{path} is a directory, not a snapshot file")
    report.write(args.files, args.output, title=args.title)
    out.write(f"{args.output}: report of {len(args.files)} snapshot"
              f"{'s' if len(args.files) > 1 else ''}, {human_bytes(os.path.getsize(args.output))}\n")
    return 0


def _seconds(text: str) -> float:
    try:
        n = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not n > 0 or n == float("inf"):
        raise argparse.ArgumentTypeError("must be a number of seconds > 0")
    return n


def _limit(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return n


def _add_limit(p: argparse.ArgumentParser, default: int, what: str) -> None:
    p.add_argument("--limit", type=_limit, default=default, metavar="N",
                   help=f"at most N {what} (default {default}; 0: no limit)")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m heapwatch", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    snapshot = "a snapshot file, written by heapwatch.snapshot().save(path)"
    c = sub.add_parser("census", help="objects per type in a snapshot")
    c.add_argument("file", metavar="SNAPSHOT", help=snapshot)
    _add_limit(c, 20, "types, those with the most objects")
    c.set_defaults(run=cmd_census)
    d = sub.add_parser("diff", help="growth between two snapshots, and what holds it")
    d.add_argument("old", metavar="OLD", help="the earlier snapshot file")
    d.add_argument("new", metavar="NEW", help="the later snapshot file")
    _add_limit(d, 10, "types, those that grew most")
    d.set_defaults(run=cmd_diff)
    w = sub.add_parser("why", help="the path to an object (address) or the holders of a type")
    w.add_argument("file", metavar="SNAPSHOT", help=snapshot)
    w.add_argument("what", metavar="ADDRESS|TYPE",
                   help="an address (0x7f..., as id() gave it) or a type name")
    _add_limit(w, 10, "groups of holders, largest first")
    w.set_defaults(run=cmd_why)
    t = sub.add_parser("top", help="what retains the most memory (dominator tree)")
    t.add_argument("file", metavar="SNAPSHOT", help=snapshot)
    _add_limit(t, 10, "retainers, largest first")
    t.add_argument("--by", choices=("object", "type", "holder"), default="object",
                   help="rank single objects, all the objects of a type, or the objects "
                        "held the same way (default: object)")
    t.set_defaults(run=cmd_top)
    a = sub.add_parser("attach", help="capture the heap of a running Python process that did "
                                      "not import heapwatch (needs gdb and ptrace)")
    a.add_argument("pid", type=int, metavar="PID", help="the process")
    a.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="the snapshot file to write (the process writes it: a path it can "
                        "write to)")
    a.add_argument("--reprs", action="store_true",
                   help="keep the text of str, bytes, int and float objects (not by default)")
    a.add_argument("--timeout", type=_seconds, default=60.0, metavar="SECONDS",
                   help="how long to wait for the file (default 60)")
    a.set_defaults(run=cmd_attach)
    r = sub.add_parser("report", help="one self-contained HTML file: growth across the "
                                      "snapshots, retained sizes, what holds what")
    r.add_argument("files", nargs="+", metavar="SNAPSHOT",
                   help="snapshot files, oldest first (one is enough; two or more show growth)")
    r.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="the HTML file to write (created 0600)")
    r.add_argument("--title", default=None, help="the page's title")
    r.set_defaults(run=cmd_report)
    return p


def _message(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    return str(exc)


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    stream = sys.stdout if out is None else out
    try:
        try:
            args = parser().parse_args(argv)
        finally:
            # --help prints, then exits from parse_args: its text must
            # reach a closed pipe here, where that is handled.
            sys.stdout.flush()
        code: int = args.run(args, stream)
        stream.flush()  # likewise for the command's output
    except BrokenPipeError:
        # The reader is gone (`... | head`): stop quietly, as the Python
        # docs' recipe does.  The text still buffered would fail again when
        # Python flushes stdout at exit; it goes to /dev/null instead.
        if out is None:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        return 1  # Python's own exit status on EPIPE
    except (_CliError, OSError, ValueError) as exc:
        print(f"heapwatch: {_message(exc)}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
