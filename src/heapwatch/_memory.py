"""memory(): where the process's resident memory is, split four ways.

A worker whose RSS stays high after its objects are gone is usually not
leaking: the allocators keep the freed memory.  memory() tells the two
apart by putting the RSS beside what the live objects take and what the
allocators hold free (the figures and their sources: _engine/memstats.h).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from heapwatch._engine import memstats, census

try:
    _PAGE = os.sysconf("SC_PAGE_SIZE")
except (AttributeError, ValueError, OSError):
    _PAGE = 4096

_MIB = 1 << 20


def current_rss() -> int | None:
    """Resident set size of this process in bytes, from /proc/self/statm
    (Linux); None where it cannot be read."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


@dataclass(frozen=True, slots=True)
class Memory:
    """The process's memory in bytes; see memory().

    ``rss = python_objects + pymalloc_free + malloc_free + other`` except
    where free memory is not resident (then ``other`` is clamped at 0).
    """

    rss: int
    """Resident set size (/proc/self/statm); 0 if it cannot be read."""
    python_objects: int
    """Shallow bytes of every live Python object, tracked or not
    (``census(include_untracked=True).total_bytes``)."""
    pymalloc_free: int
    """Free memory pymalloc keeps: free blocks in pools in use plus unused
    pools in arenas it still holds.  0 when pymalloc is not the object
    allocator (PYTHONMALLOC=malloc or mimalloc)."""
    malloc_free: int
    """Free bytes glibc malloc keeps in its arenas (``mallinfo2().fordblks``);
    0 where mallinfo2 is unavailable.  Pages ``malloc_trim()`` gave back
    still count here, though no longer resident."""
    other: int
    """``rss`` minus the three above, at least 0: C extensions' and the
    interpreter's own memory, allocator overhead, thread stacks, code."""
    pymalloc_used: int
    """Bytes in blocks pymalloc has handed out (objects of 512 bytes or less
    and small buffers)."""
    pymalloc_arenas: int
    """Bytes of the arenas pymalloc holds (1 MiB each)."""

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    def delta(self, earlier: Memory) -> dict[str, int]:
        """Each figure's change since earlier."""
        return {name: getattr(self, name) - getattr(earlier, name)
                for name in self.__dataclass_fields__}

    def __str__(self) -> str:
        return (
            f"rss {self.rss / _MIB:.1f} MiB: python objects {self.python_objects / _MIB:.1f} MiB, "
            f"pymalloc free {self.pymalloc_free / _MIB:.1f} MiB, "
            f"malloc free {self.malloc_free / _MIB:.1f} MiB, other {self.other / _MIB:.1f} MiB"
        )


def memory() -> Memory:
    """The process's resident memory split into live Python objects, free
    memory the allocators keep (pymalloc's and glibc malloc's), and the rest.

    ``python_objects`` is the census with untracked objects
    (``census(include_untracked=True)``): str, int, float and bytes objects
    are most of a typical heap's bytes (48 of 63 MiB on a heap of 200k
    small instances), and leaving them out would report them as ``other``.
    That census costs far more than the tracked-only one: 0.2-0.3 s instead
    of 7 ms on 1.1M objects of which 210k tracked, 0.3 s instead of 20 ms on
    1M one-item lists and their 1M ints.  pymalloc's figures cost under a
    millisecond (2 ms for 330 MiB of arenas); mallinfo2 walks malloc's free
    chunks, 0.2 s for the 3 million of a fragmented PYTHONMALLOC=malloc
    heap, with the GIL released.  So call it now and then, not on every
    request.

    Runs no code of the application's objects (a ``__sizeof__`` written in
    Python is not called) and raises the audit event ``heapwatch.census``.
    RuntimeError if pymalloc's statistics cannot be read.

    A large ``pymalloc_free`` or ``malloc_free`` next to a small
    ``python_objects`` means memory freed but kept by the allocator
    (fragmentation), not live objects: see the README for the remedies.
    """
    return memory_split(census(include_untracked=True).total_bytes, current_rss())


def memory_split(objects: int, rss: int | None) -> Memory:
    """The split of memory() around a given figure for the live objects
    (the middleware passes its tracked-object census, which it has anyway:
    memory()'s census of untracked objects costs too much per request)."""
    _allocator, arenas, used, available, unused_pools, malloc_free = memstats()
    rss = rss or 0
    pymalloc_free = available + unused_pools
    other = max(0, rss - objects - pymalloc_free - malloc_free)
    return Memory(
        rss=rss,
        python_objects=objects,
        pymalloc_free=pymalloc_free,
        malloc_free=malloc_free,
        other=other,
        pymalloc_used=used,
        pymalloc_arenas=arenas,
    )
