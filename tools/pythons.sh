#!/bin/sh
# Prints one interpreter path per line for every CPython heapwatch supports
# that is on this machine, 3.11 first (required), then 3.12 and 3.13 if
# present (PATH or pyenv).  Free-threaded builds are skipped.
set -e
find_py() {
    v=$1
    if command -v "python$v" >/dev/null 2>&1 && "python$v" -c 'import sys' >/dev/null 2>&1; then
        "python$v" -c 'import sys; print(sys.executable)'; return 0
    fi
    root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
    for d in "$root"/versions/"$v".*; do
        case "$d" in *t) continue;; esac
        if [ -x "$d/bin/python$v" ]; then echo "$d/bin/python$v"; return 0; fi
    done
    return 1
}
find_py 3.11 || { echo "CPython 3.11 is required" >&2; exit 1; }
find_py 3.12 || true
find_py 3.13 || true
