"""Files heapwatch writes that hold what a heap showed (DOT graphs, HTML
reports): created 0600 and put in place by a rename."""

from __future__ import annotations

import os


def write_private(path: str, data: bytes) -> None:
    """Write data to path: through a new file created 0600 beside it, then
    renamed over it (never readable by others, whatever the umask or the
    mode of a file that was there)."""
    directory = os.path.dirname(path) or "."
    base = os.path.basename(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for attempt in range(100):
        tmp = os.path.join(directory, f".{base}.{os.getpid()}.{attempt}.tmp")
        try:
            fd = os.open(tmp, flags, 0o600)
        except FileExistsError:
            continue
        break
    else:  # pragma: no cover
        raise FileExistsError(f"cannot create a temporary file beside {path}")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
