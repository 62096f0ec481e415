"""delete_in_chunks() has the effects of QuerySet.delete(), chunk by chunk, on
SQLite and on a real PostgreSQL server when one is installed."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connections
from django.db.models.deletion import ProtectedError
from django.db.models.signals import post_delete, pre_delete
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import strategies as st

from heapwatch.django import delete_in_chunks
from heapwatch.django.querysets import ChunkedDeleteError
from tests.qsapp.models import (
    Child,
    GrandChild,
    Item,
    Kind,
    Lock,
    Note,
    Owner,
    Parent,
    Pin,
    Place,
    Record,
    Tag,
)

from tests.dbtests import ALIASES, HYP, alias  # noqa: F401  (alias is a fixture)

pytestmark = pytest.mark.django_db(databases=ALIASES)


_MODELS = [Parent, Child, GrandChild, Note, Lock]


def _clear(alias: str) -> None:
    for m in (GrandChild, Child, Note, Lock, Parent):
        m.objects.using(alias).all().delete()


def _build(alias: str, spec: list[tuple[int, int, int, bool]]) -> None:
    """spec: per parent (group, children, notes, locked)."""
    for i, (group, children, notes, locked) in enumerate(spec):
        p = Parent.objects.using(alias).create(name=f"p{i}", group=group)
        for j in range(children):
            c = Child.objects.using(alias).create(parent=p, name=f"c{j}")
            if j % 2 == 0:
                GrandChild.objects.using(alias).create(child=c)
        for _ in range(notes):
            Note.objects.using(alias).create(parent=p)
        if locked:
            Lock.objects.using(alias).create(parent=p)


def _state(alias: str) -> dict[str, list[Any]]:
    return {
        "parent": sorted(Parent.objects.using(alias).values_list("name", "group")),
        "child": sorted(Child.objects.using(alias).values_list("parent__name", "name")),
        "grandchild": sorted(GrandChild.objects.using(alias).values_list("child__parent__name", "child__name")),
        "note": sorted(Note.objects.using(alias).values_list("parent__name", flat=True),
                       key=lambda v: (v is not None, v or "")),
        "lock": sorted(Lock.objects.using(alias).values_list("parent__name", flat=True)),
    }


_spec = st.lists(st.tuples(st.integers(0, 2), st.integers(0, 3), st.integers(0, 2),
                           st.integers(0, 9).map(lambda n: n == 0)), max_size=12)


@HYP
@given(spec=_spec, group=st.integers(0, 2), chunk=st.integers(1, 7))
def test_property_same_state_and_counts(alias: str, spec: Any, group: int, chunk: int) -> None:
    _clear(alias)
    _build(alias, spec)
    try:
        expected = Parent.objects.using(alias).filter(group__lte=group).delete()
    except ProtectedError as exc:
        # PROTECT: both refuse, naming the same locks, and delete nothing.
        locked = {lock.parent.name for lock in exc.protected_objects}
        _clear(alias)
        _build(alias, spec)
        before = _state(alias)
        with pytest.raises(ProtectedError) as info:
            delete_in_chunks(Parent.objects.using(alias).filter(group__lte=group), chunk,
                             progress=False)
        assert _state(alias) == before
        assert {lock.parent.name for lock in info.value.protected_objects} == locked
        return
    want = _state(alias)
    _clear(alias)
    _build(alias, spec)
    got = delete_in_chunks(Parent.objects.using(alias).filter(group__lte=group), chunk,
                           progress=False)
    assert _state(alias) == want
    assert got[0] == expected[0]
    assert {k: v for k, v in got[1].items() if v} == {k: v for k, v in expected[1].items() if v}


def test_counts_shape_matches_delete(alias: str) -> None:
    _build(alias, [(0, 2, 1, False)] * 5)
    want = Parent.objects.using(alias).all().delete()
    _build(alias, [(0, 2, 1, False)] * 5)
    assert delete_in_chunks(Parent.objects.using(alias).all(), 2, progress=False) == want
    assert delete_in_chunks(Parent.objects.using(alias).all(), 2, progress=False) == (0, {})


def test_protect_refuses_before_deleting(alias: str) -> None:
    """A protected row in the third chunk: nothing is deleted (see
    tests/test_delete_protect.py for rows protected during the run)."""
    _build(alias, [(0, 1, 0, False)] * 4 + [(0, 1, 0, True)] + [(0, 1, 0, False)] * 3)
    qs = Parent.objects.using(alias).order_by("pk")
    with pytest.raises(ProtectedError) as info:
        delete_in_chunks(qs, 2, progress=False)
    err = info.value
    assert not isinstance(err, ChunkedDeleteError)
    assert [lock.parent.name for lock in err.protected_objects] == ["p4"]
    assert Parent.objects.using(alias).count() == 8
    Lock.objects.using(alias).all().delete()
    total, counts = delete_in_chunks(qs, 2, progress=False)
    assert counts["qsapp.Parent"] == 8 and Parent.objects.using(alias).count() == 0


@pytest.fixture
def signals() -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def pre(sender: Any, instance: Any, **kw: Any) -> None:
        seen.append(("pre", instance.pk))
        if instance.name == "boom":
            raise RuntimeError("boom")

    def post(sender: Any, instance: Any, **kw: Any) -> None:
        seen.append(("post", instance.pk))

    pre_delete.connect(pre, sender=Parent)
    post_delete.connect(post, sender=Parent)
    try:
        yield seen
    finally:
        pre_delete.disconnect(pre, sender=Parent)
        post_delete.disconnect(post, sender=Parent)


def test_signals_fire_per_object(alias: str, signals: list[tuple[str, Any]]) -> None:
    _build(alias, [(0, 1, 0, False)] * 5)
    pks = sorted(Parent.objects.using(alias).values_list("pk", flat=True))
    delete_in_chunks(Parent.objects.using(alias).all(), 2, progress=False)
    assert sorted(pk for kind, pk in signals if kind == "pre") == pks
    assert sorted(pk for kind, pk in signals if kind == "post") == pks


@pytest.mark.django_db(databases=ALIASES, transaction=True)
def test_failure_rolls_back_only_that_chunk(alias: str, signals: list[tuple[str, Any]]) -> None:
    _build(alias, [(0, 1, 1, False)] * 5)
    boom = Parent.objects.using(alias).order_by("pk")[5 - 1]
    boom.name = "boom"
    boom.save()
    _build(alias, [(0, 1, 1, False)] * 2)
    with pytest.raises(ChunkedDeleteError) as info:
        delete_in_chunks(Parent.objects.using(alias).all(), 2, progress=False)
    err = info.value
    assert isinstance(err.__cause__, RuntimeError)
    assert err.deleted[1]["qsapp.Parent"] == 4
    assert "rolled back" in str(err) and "already deleted" in str(err)
    assert Parent.objects.using(alias).count() == 3
    assert Child.objects.using(alias).count() == 3  # the failing chunk's cascade undone
    assert Note.objects.using(alias).filter(parent__isnull=True).count() == 4
    Parent.objects.using(alias).filter(name="boom").update(name="fine")
    total, counts = delete_in_chunks(Parent.objects.using(alias).all(), 2, progress=False)
    assert counts["qsapp.Parent"] == 3 and Parent.objects.using(alias).count() == 0


def test_errors_before_querying(alias: str) -> None:
    qs = Parent.objects.using(alias).all()
    with CaptureQueriesContext(connections[alias]) as ctx:
        for bad, exc in [(0, ValueError), (True, TypeError), ("3", TypeError)]:
            with pytest.raises(exc):
                delete_in_chunks(qs, bad)  # type: ignore[arg-type]
        for bad_qs in (qs[:3], qs.values("pk"), qs.values_list("pk", flat=True)):
            with pytest.raises(TypeError):
                delete_in_chunks(bad_qs, 3)
    assert ctx.captured_queries == []


def test_queries_bounded_per_chunk(alias: str) -> None:
    Parent.objects.using(alias).bulk_create([Parent(name=f"p{i}") for i in range(30)])
    parents = list(Parent.objects.using(alias).all())
    Note.objects.using(alias).bulk_create([Note(parent=p) for p in parents])
    Item.objects.using(alias).create(num=1, word="x").tags.set(
        [Tag.objects.using(alias).create(name="t")])
    with CaptureQueriesContext(connections[alias]) as ctx:
        delete_in_chunks(Parent.objects.using(alias).all(), 10, progress=False)
    sql = [q["sql"] for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"].upper()]
    # 3 full chunks and an empty pk select, twice: first to check the Lock
    # PROTECT foreign key (one query per chunk), then to delete.
    check, delete = sql[:4 + 3], sql[4 + 3:]
    assert sum("qsapp_lock" in s for s in check) == 3, check
    assert len(delete) <= 4 + 3 * 5, delete


def test_progress_forced_text_fallback(alias: str, capsys: pytest.CaptureFixture[str]) -> None:
    _build(alias, [(0, 0, 0, False)] * 3)
    delete_in_chunks(Parent.objects.using(alias).all(), 2, progress=True)
    err = capsys.readouterr().err
    assert "3" in err and "Parent" in err


def test_command_dry_run_and_delete(alias: str) -> None:
    _build(alias, [(0, 2, 1, False)] * 3 + [(1, 1, 0, False)] * 2)
    before = _state(alias)
    out = io.StringIO()
    call_command("delete_in_chunks", "qsapp.Parent", "--filter", "group=0", "--chunk-size", "2",
                 "--dry-run", "--database", alias, stdout=out)
    text = out.getvalue()
    assert "would delete 12 rows" in text
    assert "qsapp.Parent: 3" in text and "qsapp.Child: 6" in text and "qsapp.GrandChild: 3" in text
    assert _state(alias) == before
    out = io.StringIO()
    call_command("delete_in_chunks", "qsapp.Parent", "--filter", "group=0", "--filter",
                 "name__startswith=p", "--chunk-size", "2", "--database", alias,
                 "--no-progress", "--noinput", stdout=out)
    assert "deleted 12 rows" in out.getvalue()
    assert Parent.objects.using(alias).count() == 2


def test_command_errors(alias: str) -> None:
    with pytest.raises(CommandError, match="unknown model"):
        call_command("delete_in_chunks", "qsapp.Nope", "--database", alias)
    with pytest.raises(CommandError, match="LOOKUP=VALUE"):
        call_command("delete_in_chunks", "qsapp.Parent", "--filter", "group", "--database", alias)
    with pytest.raises(CommandError, match="bad --filter"):
        call_command("delete_in_chunks", "qsapp.Parent", "--filter", "nope=1", "--database", alias)
    _build(alias, [(0, 0, 0, True)])
    with pytest.raises(CommandError, match="protected|Cannot delete"):
        call_command("delete_in_chunks", "qsapp.Parent", "--all", "--database", alias,
                     "--no-progress", "--noinput", stdout=io.StringIO())


def _sql(ctx: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in ctx.captured_queries
            if not q["sql"].upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK"))]


def _owners(alias: str, n: int) -> None:
    kind = Kind.objects.using(alias).create(name="k")
    place = Place.objects.using(alias).create(name="p")
    owners = Owner.objects.using(alias).bulk_create([Owner(name=f"o{i}") for i in range(n)])
    Record.objects.using(alias).bulk_create(
        [Record(kind=kind, owner=o, place=place, name="r", value=j) for o in owners for j in range(3)])


def test_fast_path_needs_no_select_of_rows(alias: str) -> None:
    """Dependents that Django fast-deletes: per chunk one pk SELECT, one
    DELETE per table, no SELECT of the rows themselves, same counts."""
    _owners(alias, 25)
    want = Owner.objects.using(alias).all().delete()
    _owners(alias, 25)
    with CaptureQueriesContext(connections[alias]) as ctx:
        got = delete_in_chunks(Owner.objects.using(alias).all(), 10, progress=False)
    assert got == want == (100, {"qsapp.Record": 75, "qsapp.Owner": 25})
    sql = _sql(ctx)
    assert len(sql) == 3 * 3, sql  # 3 chunks x (pk select, delete records, delete owners)
    assert sum(s.startswith("SELECT") for s in sql) == 3
    assert Record.objects.using(alias).count() == 0


def test_fast_path_m2m_through_rows(alias: str) -> None:
    tags = [Tag.objects.using(alias).create(name=f"t{i}") for i in range(3)]

    def build() -> None:
        for i in range(7):
            Item.objects.using(alias).create(num=i, word="w", tag=tags[0]).tags.set(tags[: i % 4])

    build()
    want = Item.objects.using(alias).all().delete()
    build()
    with CaptureQueriesContext(connections[alias]) as ctx:
        got = delete_in_chunks(Item.objects.using(alias).all(), 3, progress=False)
    assert got == want
    assert len(_sql(ctx)) == 3 * 3
    assert Tag.objects.using(alias).count() == 3
    assert Item.tags.through.objects.using(alias).count() == 0


def test_signal_on_dependent_uses_collector(alias: str) -> None:
    """A receiver on the cascaded model: its rows are loaded and signalled,
    exactly as QuerySet.delete() does."""
    seen: list[int] = []

    def pre(sender: Any, instance: Any, **kw: Any) -> None:
        seen.append(instance.pk)

    _owners(alias, 6)
    pre_delete.connect(pre, sender=Record)
    try:
        want = Owner.objects.using(alias).all().delete()
        n = len(seen)
        _owners(alias, 6)
        pks = sorted(Record.objects.using(alias).values_list("pk", flat=True))
        got = delete_in_chunks(Owner.objects.using(alias).all(), 4, progress=False)
    finally:
        pre_delete.disconnect(pre, sender=Record)
    assert got == want and n == 18
    assert sorted(seen[n:]) == pks


def test_collector_path_deletes_tail_in_one_statement(alias: str) -> None:
    """Cascades that need instances (Child -> GrandChild, SET_NULL Note): the
    Collector runs, but the parents and children are deleted with one DELETE
    per table per chunk, not one per 100 rows."""
    _build(alias, [(0, 1, 1, False)] * 250)
    want = Parent.objects.using(alias).all().delete()
    _build(alias, [(0, 1, 1, False)] * 250)
    with CaptureQueriesContext(connections[alias]) as ctx:
        got = delete_in_chunks(Parent.objects.using(alias).all(), 250, progress=False)
    assert got == want
    deletes = [s for s in _sql(ctx) if s.startswith("DELETE")]
    assert len(deletes) <= 3, deletes  # grandchildren, children, parents
    assert Note.objects.using(alias).filter(parent__isnull=True).count() == 500  # both builds


@pytest.mark.django_db(databases=ALIASES, transaction=True)
def test_database_error_keeps_its_type(alias: str) -> None:
    """QuerySet.delete() of Wagtail's ContentTypes fails with IntegrityError
    (a foreign key left to the database); the chunk that fails so raises a
    ChunkedDeleteError that is an IntegrityError too, not only the former."""
    first, second = Parent.objects.using(alias).bulk_create([Parent(name="a"), Parent(name="b")])
    Pin.objects.using(alias).create(parent=second)
    with pytest.raises(IntegrityError):
        Parent.objects.using(alias).all().delete()
    with pytest.raises(IntegrityError) as info:
        delete_in_chunks(Parent.objects.using(alias).all(), chunk_size=1, progress=False)
    assert isinstance(info.value, ChunkedDeleteError)
    assert type(info.value).__name__ == "ChunkedIntegrityError"
    assert info.value.deleted == (1, {"qsapp.Parent": 1})
    assert list(Parent.objects.using(alias).values_list("name", flat=True)) == ["b"]
