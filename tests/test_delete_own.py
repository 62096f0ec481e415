"""delete_in_chunks() of a queryset whose class overrides delete(), as
django-treebeard's MP_NodeQuerySet does for Wagtail's pages and collections
(issue 13's real-world run: deleting a page left its descendants behind,
orphaned, and its parent's child count stale; deleting a collection whose
sub-collection held a protected image went ahead where Django refused), and
count_in_chunks() where fast deletes overlap (a Wagtail page subtree counted
PageSubscription rows twice)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db.models import ProtectedError

from heapwatch.django import delete_in_chunks
from heapwatch.django.querysets import ChunkedProtectedError, count_in_chunks
from tests.qsapp.models import Booking, Hall, Landlord, Node, NodeLock, Venue

from tests.dbtests import ALIASES, alias  # noqa: F401  (alias is a fixture)

pytestmark = pytest.mark.django_db(databases=ALIASES)

# A tree under `root`: three children, two grandchildren under the first,
# one under the second.
_TREE = ["", "01", "02", "03", "0101", "0102", "0201"]


def _tree(alias: str, root: str) -> None:
    paths = [root + p for p in _TREE]
    Node.objects.using(alias).bulk_create(
        [Node(path=p, children=sum(1 for q in paths if q[:-2] == p and len(q) == len(p) + 2))
         for p in paths])


def _shape(alias: str, root: str) -> list[tuple[str, int]]:
    return sorted((n.path[len(root):], n.children)
                  for n in Node.objects.using(alias).filter(path__startswith=root))


@pytest.mark.parametrize("chunk", [1, 2, 100])
def test_own_delete_runs_per_chunk(chunk: int, alias: str) -> None:
    _tree(alias, "aa")
    _tree(alias, "bb")
    picked = ["01", "0101", "03"]  # 0101 is under 01: deleted with it
    expected = Node.objects.using(alias).filter(path__in=["bb" + p for p in picked]).delete()
    got = delete_in_chunks(Node.objects.using(alias).filter(path__in=["aa" + p for p in picked]),
                           chunk_size=chunk, progress=False)
    assert got == expected == (4, {"qsapp.Node": 4})
    assert _shape(alias, "aa") == _shape(alias, "bb") == [("", 1), ("02", 1), ("0201", 0)]


def test_own_delete_refusal(alias: str) -> None:
    """Django's refusal comes from the chunk whose delete() meets it; a
    first chunk refused deletes nothing."""
    _tree(alias, "aa")
    lock = NodeLock.objects.using(alias).create(node=Node.objects.using(alias).get(path="aa0102"))
    qs = Node.objects.using(alias).filter(path__in=["aa01", "aa03"])
    with pytest.raises(ProtectedError) as django_error:
        qs.delete()
    with pytest.raises(ChunkedProtectedError) as ours:
        delete_in_chunks(qs, chunk_size=1, progress=False)
    assert isinstance(ours.value, ProtectedError)
    assert ours.value.deleted == (0, {})
    assert set(ours.value.protected_objects) == set(django_error.value.protected_objects) == {lock}
    assert len(_shape(alias, "aa")) == len(_TREE)


def test_count_refuses_own_delete(alias: str) -> None:
    with pytest.raises(TypeError, match=r"tests\.qsapp\.models\.NodeQuerySet\.delete\(\)"):
        count_in_chunks(Node.objects.using(alias).all())


def test_command_says_what_it_cannot_count(alias: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _tree(alias, "aa")
    monkeypatch.setattr("sys.stdin", io.StringIO("yes\n"))
    out = io.StringIO()
    call_command("delete_in_chunks", "qsapp.Node", "--filter", "path=aa01", "--database", alias,
                 "--no-progress", stdout=out)
    prompt, _, after = out.getvalue().partition("Type 'yes' to continue, or 'no' to cancel: ")
    assert prompt.startswith(
        f"This will delete 1 qsapp.Node rows from the {alias!r} database,\nwith "
        f"tests.qsapp.models.NodeQuerySet.delete(), which overrides QuerySet.delete():\n"
        f"what it deletes with them, and their cascade, is not counted beforehand.\n")
    assert "deleted 3 rows" in after
    assert _shape(alias, "aa") == [("", 2), ("02", 1), ("0201", 0), ("03", 0)]


def _venues(alias: str) -> Any:
    owner = Landlord.objects.using(alias).create()
    halls = [Hall.objects.using(alias).create(landlord=owner, manager=owner) for _ in range(3)]
    plain = [Venue.objects.using(alias).create(landlord=owner) for _ in range(2)]
    Booking.objects.using(alias).bulk_create(
        [Booking(venue=v) for i, v in enumerate([*halls, *plain]) for _ in range(i + 1)])


@pytest.mark.parametrize("chunk", [1, 4, 100])
def test_count_of_overlapping_fast_deletes(chunk: int, alias: str) -> None:
    """Deleting Venues collects each Hall too, whose inherited relations
    fast-delete the Venue's bookings again: Django deletes them once."""
    _venues(alias)
    counted = count_in_chunks(Venue.objects.using(alias).all(), chunk)
    assert counted == Venue.objects.using(alias).all().delete()
    assert counted[1]["qsapp.Booking"] == 15


def test_command_refusal_from_a_chunk(alias: str) -> None:
    """The refusal of an own delete() reads like Django's, objects named,
    not as the repr of the error's arguments."""
    _tree(alias, "aa")
    NodeLock.objects.using(alias).create(node=Node.objects.using(alias).get(path="aa0102"))
    with pytest.raises(CommandError) as info:
        call_command("delete_in_chunks", "qsapp.Node", "--filter", "path__in=aa01,aa03",
                     "--database", alias, "--no-progress", "--noinput")
    assert str(info.value) == (
        "Cannot delete some instances of model 'Node' because they are referenced through "
        "protected foreign keys: 'NodeLock.node'. Nothing was deleted. Referencing rows: "
        f"qsapp.NodeLock {NodeLock.objects.using(alias).get().pk}.")
    with pytest.raises(ChunkedProtectedError) as chunked:
        delete_in_chunks(Node.objects.using(alias).filter(path="aa01"), progress=False)
    assert "(ProtectedError: Cannot delete some instances of model 'Node' because they are " \
        "referenced through protected foreign keys: 'NodeLock.node'.);" in str(chunked.value)
