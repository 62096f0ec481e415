"""python -m heapwatch: read snapshot files away from the server.

    python -m heapwatch census FILE [--limit N]
    python -m heapwatch diff OLD NEW [--limit N]
    python -m heapwatch why FILE ADDRESS|TYPE [--limit N]
    python -m heapwatch top FILE [--limit N] [--by object|type|holder]

A snapshot is written on the server by heapwatch.snapshot().save(path).
Nothing here needs the server's code: type names, edge names and sizes are
in the file.  Object contents are not, unless the snapshot was taken with
reprs=True.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from heapwatch._explain import Retainer, Snapshot, _bytes, load


def _load(path: str) -> Snapshot:
    return load(path)


def _table(rows: Sequence[tuple[str, ...]], out: TextIO) -> None:
    if not rows:
        return
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        cells = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:])]
        out.write("  ".join(cells).rstrip() + "\n")


def cmd_census(args: argparse.Namespace, out: TextIO) -> int:
    snap = _load(args.file)
    rows = sorted(snap.census().items(), key=lambda kv: (-kv[1][0], kv[0]))
    if args.limit is not None:
        rows = rows[: args.limit]
    info = snap.info
    out.write(f"{args.file}: {info['nodes']:,} objects ({info['tracked']:,} tracked), "
              f"{info['edges']:,} references, CPython {info['python_version']}\n")
    _table([("type", "count", "bytes")]
           + [(name, f"{c:,}", f"{b:,}") for name, (c, b) in rows], out)
    return 0


def cmd_diff(args: argparse.Namespace, out: TextIO) -> int:
    old, new = _load(args.old), _load(args.new)
    rows, groups = new.diff(old, args.limit)
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
        node = snap.node_of(addr)
        if node is None:
            print(f"heapwatch: no object at {addr:#x} in {args.file}", file=sys.stderr)
            return 1
        path = snap.path(node)
        out.write(f"{path}\n" if path is not None else
                  f"{addr:#x}: no path from any root (garbage, not collected yet)\n")
        return 0
    groups = snap.retention(args.what, args.limit)
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
    for r in snap.top_retainers(args.limit, by=args.by):
        if isinstance(r, Retainer) and args.by == "type":
            out.write(f"{_bytes(r.retained):>10}  {r.count:>10,}  {r.type}\n")
        else:
            out.write(f"{r}\n")
    return 0


def _limit(text: str) -> int:
    n = int(text)
    if n < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return n


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m heapwatch", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("census", help="objects per type in a snapshot")
    c.add_argument("file")
    c.add_argument("--limit", type=_limit, default=None)
    c.set_defaults(run=cmd_census)
    d = sub.add_parser("diff", help="growth between two snapshots, and what holds it")
    d.add_argument("old")
    d.add_argument("new")
    d.add_argument("--limit", type=_limit, default=10)
    d.set_defaults(run=cmd_diff)
    w = sub.add_parser("why", help="the path to an object (address) or the holders of a type")
    w.add_argument("file")
    w.add_argument("what", help="an address (0x7f..., as id() gave it) or a type name")
    w.add_argument("--limit", type=_limit, default=10)
    w.set_defaults(run=cmd_why)
    t = sub.add_parser("top", help="what retains the most memory (dominator tree)")
    t.add_argument("file")
    t.add_argument("--limit", type=_limit, default=10)
    t.add_argument("--by", choices=("object", "type", "holder"), default="object")
    t.set_defaults(run=cmd_top)
    return p


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.run(args, out or sys.stdout)
    except (OSError, ValueError) as exc:
        print(f"heapwatch: {exc}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
