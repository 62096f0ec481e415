"""The valgrind filter must catch an error with an engine frame and let the
interpreter's own noise through."""

from __future__ import annotations

import importlib.util
from pathlib import Path

TOOL = Path(__file__).resolve().parent.parent / "tools" / "valgrind_check.py"
spec = importlib.util.spec_from_file_location("valgrind_check", TOOL)
assert spec and spec.loader
vc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(vc)

LOG = """\
==1== Use of uninitialised value of size 8
==1==    at 0x4A108DF: Py_DECREF (object.h:537)
==1==    by 0x4A108DF: clear_slots (typeobject.c:1253)
==1==
==1== Invalid read of size 8
==1==    at 0x5: count_object (census.c:120)
==1==    by 0x6: visit_tracked (census.c:170)
==1==  Address 0x0 is not stack'd, malloc'd or (recently) free'd
==1==
==1== Conditional jump or move depends on uninitialised value(s)
==1==    at 0x7: foo (in /x/heapwatch/_engine.cpython-311-x86_64-linux-gnu.so)
==1==
==1== Invalid read of size 4
==1==    at 0x8: module_getattro (moduleobject.c:12)
==1==
==1== Use of uninitialised value of size 8
==1==    at 0x9: visit_untracked (census.c:84)
==1==  Uninitialised value was created by a heap allocation
==1==    at 0xA: malloc (in vgpreload_memcheck-amd64-linux.so)
==1==    by 0xB: _PyLong_New (longobject.c:161)
==1==
==1== Use of uninitialised value of size 8
==1==    at 0xC: PyObject_Hash (object.c:800)
==1==  Uninitialised value was created by a heap allocation
==1==    at 0xD: malloc (in vgpreload_memcheck-amd64-linux.so)
==1==    by 0xE: stack_push (census.c:30)
"""


def test_blocks_are_split_and_judged() -> None:
    found = vc.blocks(LOG)
    assert [b[0] for b in found] == [
        "Use of uninitialised value of size 8",
        "Invalid read of size 8",
        "Conditional jump or move depends on uninitialised value(s)",
        "Invalid read of size 4",
        "Use of uninitialised value of size 8",
        "Use of uninitialised value of size 8",
    ]
    ours = [b for b in found if vc.is_ours(b)]
    assert [b[1] for b in ours] == [
        "at 0x5: count_object (census.c:120)",
        "at 0x7: foo (in /x/heapwatch/_engine.cpython-311-x86_64-linux-gnu.so)",
        "at 0xC: PyObject_Hash (object.c:800)",
    ]
