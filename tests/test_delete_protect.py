"""delete_in_chunks() refuses exactly when QuerySet.delete() would, before
deleting anything (issue 13, point C): PROTECT and RESTRICT foreign keys,
also through cascades and across chunks, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connections, transaction
from django.db.models.deletion import ProtectedError, RestrictedError
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import strategies as st

from heapwatch.django import delete_in_chunks
from heapwatch.django.querysets import ChunkedProtectedError, ChunkedRestrictedError
from tests.qsapp.models import (
    Album,
    Artist,
    Award,
    Child,
    GrandChild,
    Label,
    Lock,
    Note,
    Parent,
    Poster,
    Song,
    Sticker,
)

from tests.dbtests import ALIASES, HYP, alias  # noqa: F401  (alias is a fixture)

pytestmark = pytest.mark.django_db(databases=ALIASES)

_MUSIC = (Award, Song, Album, Artist)


class _Undo(Exception):
    pass


def _django_delete(qs: Any) -> Any:
    """What qs.delete() returns or raises, leaving the data as it was."""
    try:
        with transaction.atomic(using=qs.db):
            try:
                result = qs.delete()
            except (ProtectedError, RestrictedError) as exc:
                return exc
            raise _Undo(result)
    except _Undo as undo:
        return undo.args[0]


def _objects(exc: Any) -> set[tuple[str, Any]]:
    objs = exc.protected_objects if isinstance(exc, ProtectedError) else exc.restricted_objects
    return {(o._meta.label, o.pk) for o in objs}


def _state(alias: str, models: tuple[Any, ...] = _MUSIC) -> dict[str, list[Any]]:
    return {m.__name__: sorted(m.objects.using(alias).values_list("pk", flat=True))
            for m in models}


def _music(alias: str, artists: int, albums: list[int], songs: list[tuple[int, int]],
           awards: list[int]) -> None:
    """Rows with explicit primary keys (1, 2, ...), so that two builds match:
    albums[i] is the artist of album i + 1, songs[i] (artist, album), awards[i]
    an album; indexes taken modulo the rows there are."""
    for m in _MUSIC:
        m.objects.using(alias).all()._raw_delete(alias)
    db = Artist.objects.using(alias)
    db.bulk_create([Artist(id=i + 1, name=f"a{i}") for i in range(artists)])
    Album.objects.using(alias).bulk_create(
        [Album(id=i + 1, artist_id=a % artists + 1) for i, a in enumerate(albums)])
    if albums:
        Song.objects.using(alias).bulk_create(
            [Song(id=i + 1, artist_id=a % artists + 1, album_id=b % len(albums) + 1)
             for i, (a, b) in enumerate(songs)])
        Award.objects.using(alias).bulk_create(
            [Award(id=i + 1, album_id=b % len(albums) + 1) for i, b in enumerate(awards)])


def _same_as_delete(qs: Any, chunk: int, models: tuple[Any, ...] = _MUSIC) -> None:
    """delete_in_chunks(qs) has the outcome qs.delete() has on the same data:
    the same error naming the same objects with nothing deleted, or the same
    counts and the same rows left."""
    alias = qs.db
    before = _state(alias, models)
    expected = _django_delete(qs)
    if isinstance(expected, Exception):
        assert _state(alias, models) == before
        with pytest.raises(type(expected)) as info:
            delete_in_chunks(qs, chunk, progress=False)
        got = info.value
        assert type(got) is type(expected)  # not a Chunked...Error: nothing was deleted
        assert _state(alias, models) == before
        assert got.args[0] == expected.args[0]
        assert _objects(got) == _objects(expected)
        return
    with transaction.atomic(using=alias):
        qs.delete()
        after = _state(alias, models)
        transaction.set_rollback(True, using=alias)
    assert _state(alias, models) == before
    total, counts = delete_in_chunks(qs, chunk, progress=False)
    assert (total, {k: v for k, v in counts.items() if v}) == (
        expected[0], {k: v for k, v in expected[1].items() if v})
    assert _state(alias, models) == after


_ix = st.integers(0, 7)


@HYP
@given(artists=st.integers(1, 5), albums=st.lists(_ix, min_size=1, max_size=6),
       songs=st.lists(st.tuples(_ix, _ix), max_size=8),
       awards=st.lists(_ix, max_size=1), kept=st.sets(st.integers(1, 5), max_size=2),
       chunk=st.integers(1, 3))
def test_property_refuses_like_delete(alias: str, artists: int, albums: list[int],
                                      songs: list[tuple[int, int]], awards: list[int],
                                      kept: set[int], chunk: int) -> None:
    """Songs restricting albums of other artists, kept or deleted in other
    chunks, an award or none: the outcome of qs.delete()."""
    _music(alias, artists, albums, songs, awards)
    _same_as_delete(Artist.objects.using(alias).exclude(pk__in=kept), chunk)


def test_restricted_row_deleted_by_another_chunk(alias: str) -> None:
    """Django's example: a song of artist 2 on an album of artist 1.  Deleting
    both artists deletes the song through artist 2's cascade, which allows
    album 1's deletion; chunk by chunk, artist 1's chunk comes first."""
    _music(alias, 2, albums=[0], songs=[(1, 0)], awards=[])
    _same_as_delete(Artist.objects.using(alias).order_by("pk"), 1)
    assert _state(alias) == {"Award": [], "Song": [], "Album": [], "Artist": []}


def test_restricted_row_kept_refuses(alias: str) -> None:
    """The song's artist 3 is not deleted: RestrictedError, nothing deleted."""
    _music(alias, 3, albums=[0, 1], songs=[(2, 0), (0, 1)], awards=[])
    qs = Artist.objects.using(alias).filter(pk__in=[1, 2])
    _same_as_delete(qs, 1)
    with pytest.raises(RestrictedError) as info:
        delete_in_chunks(qs, 1, progress=False)
    assert {(o._meta.label, o.pk) for o in info.value.restricted_objects} == {("qsapp.Song", 1)}
    assert "'Song.album'" in str(info.value)


def test_protected_through_cascade_in_a_later_chunk(alias: str) -> None:
    """Artist -> Album (CASCADE) <- Award (PROTECT), the award on the album
    of the 7th of 8 artists: refused before the first chunk, as qs.delete()."""
    _music(alias, 8, albums=list(range(8)), songs=[(i, i) for i in range(8)], awards=[6])
    _same_as_delete(Artist.objects.using(alias).all(), 2)


def test_protect_in_a_later_chunk_deletes_nothing(alias: str) -> None:
    """The issue's case: 400 rows, chunks of 100, a protected row in the 4th."""
    parents = Parent.objects.using(alias).bulk_create([Parent(name=f"p{i}") for i in range(400)])
    lock = Lock.objects.using(alias).create(parent=parents[350])
    with pytest.raises(ProtectedError) as info:
        delete_in_chunks(Parent.objects.using(alias).all(), 100, progress=False)
    assert not isinstance(info.value, ChunkedProtectedError)
    assert Parent.objects.using(alias).count() == 400
    assert info.value.protected_objects == {lock}
    assert info.value.args[0] == ("Cannot delete some instances of model 'Parent' because they "
                               "are referenced through protected foreign keys: 'Lock.parent'.")
    _same_as_delete(Parent.objects.using(alias).all(), 100, (Parent, Lock))


def test_protected_during_the_run_rolls_back_that_chunk(alias: str) -> None:
    parents = Parent.objects.using(alias).bulk_create([Parent(name=f"p{i}") for i in range(40)])
    seen: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        seen.append((done, total))
        if done == 10:  # after the check and the first chunk
            Lock.objects.using(alias).create(parent=parents[35])

    with pytest.raises(ChunkedProtectedError) as info:
        delete_in_chunks(Parent.objects.using(alias).order_by("pk"), 10, progress=progress)
    err = info.value
    assert isinstance(err, ProtectedError)
    assert err.deleted == (30, {"qsapp.Parent": 30})
    assert "30 rows were already deleted" in str(err) and "rolled back" in str(err)
    assert [o.parent_id for o in err.protected_objects] == [parents[35].pk]
    assert seen == [(10, 40), (20, 40), (30, 40)]
    assert Parent.objects.using(alias).count() == 10


def test_restricted_during_the_run_rolls_back_that_chunk(alias: str) -> None:
    _music(alias, 4, albums=[0, 1, 2, 3], songs=[], awards=[])

    def progress(done: int, total: int) -> None:
        if done == 1:  # a song of artist 4, who stays, on album 3
            Song.objects.using(alias).create(artist_id=4, album_id=3)

    with pytest.raises(ChunkedRestrictedError) as info:
        delete_in_chunks(Artist.objects.using(alias).filter(pk__lte=3), 1, progress=progress)
    err = info.value
    assert isinstance(err, RestrictedError)
    assert err.deleted == (4, {"qsapp.Artist": 2, "qsapp.Album": 2})
    assert [o.album_id for o in err.restricted_objects] == [3]
    assert _state(alias)["Artist"] == [3, 4]


def test_check_queries_only_protecting_relations(alias: str) -> None:
    """Parent: Child (CASCADE) <- GrandChild (CASCADE), Note (SET_NULL), Lock
    (PROTECT): the check reads the chunk's keys and their locks, nothing
    else; a model nothing can protect (Child here) costs no check at all."""
    for i in range(25):
        p = Parent.objects.using(alias).create(name=f"p{i}")
        GrandChild.objects.using(alias).create(child=Child.objects.using(alias).create(parent=p))
        Note.objects.using(alias).create(parent=p)
    with CaptureQueriesContext(connections[alias]) as ctx:
        delete_in_chunks(Parent.objects.using(alias).all(), 10, progress=False)
    sql = [q["sql"] for q in ctx.captured_queries]
    keys = sql[0]
    assert keys.startswith('SELECT "qsapp_parent"."id"') and "LIMIT 10" in keys
    # Per chunk (10, 10, 5 rows) its keys, then its locks; then the deletion.
    check = sql[:6]
    assert [s.split(" FROM ")[1].split()[0] for s in check] == [
        '"qsapp_parent"', '"qsapp_lock"'] * 3, check
    assert sql[6] == keys
    with CaptureQueriesContext(connections[alias]) as ctx:
        delete_in_chunks(Child.objects.using(alias).all(), 10, progress=False)
    assert not any("lock" in q["sql"] for q in ctx.captured_queries)


def test_generic_relation_protected(alias: str) -> None:
    """Poster -> Label (generic relation, deleted with the poster) <- Sticker
    (PROTECT): refused, naming the sticker, as qs.delete()."""
    posters = [Poster.objects.using(alias).create() for _ in range(3)]
    ct = ContentType.objects.db_manager(alias).get_for_model(Poster)
    labels = [Label.objects.using(alias).create(content_type=ct, object_id=p.pk) for p in posters]
    sticker = Sticker.objects.using(alias).create(label=labels[2])
    qs = Poster.objects.using(alias).all()
    expected = _django_delete(qs)
    assert isinstance(expected, ProtectedError)
    with pytest.raises(ProtectedError) as info:
        delete_in_chunks(qs, 1, progress=False)
    assert _objects(info.value) == _objects(expected) == {("qsapp.Sticker", sticker.pk)}
    assert Poster.objects.using(alias).count() == 3 and Label.objects.using(alias).count() == 3
    sticker.delete()
    _same_as_delete(qs, 2, (Poster, Label, Sticker))
    assert Label.objects.using(alias).count() == 0


def test_restriction_lifted_by_a_deleted_parent_row(alias: str) -> None:
    """Hall(Venue): deleting a landlord cascades to the halls he manages, and
    with each hall to its Venue row, which his RESTRICT on venues allows; a
    plain venue of his, or a hall someone else manages, refuses."""
    from tests.qsapp.models import Hall, Landlord, Venue

    models = (Hall, Venue, Landlord)
    a, b, c = (Landlord.objects.using(alias).create(name=n) for n in "abc")
    Hall.objects.using(alias).create(landlord=a, manager=a)
    Hall.objects.using(alias).create(landlord=b, manager=c)
    _same_as_delete(Landlord.objects.using(alias).filter(pk=a.pk), 1, models)
    _same_as_delete(Landlord.objects.using(alias).filter(pk=b.pk), 1, models)
    d = Landlord.objects.using(alias).create(name="d")
    venue = Venue.objects.using(alias).create(landlord=d)
    with pytest.raises(RestrictedError) as info:
        delete_in_chunks(Landlord.objects.using(alias).all(), 1, progress=False)
    assert info.value.restricted_objects == {venue}
    _same_as_delete(Landlord.objects.using(alias).all(), 1, models)
    venue.delete()
    _same_as_delete(Landlord.objects.using(alias).order_by("pk"), 1, models)  # c's chunk: later
    assert _state(alias, models) == {"Hall": [], "Venue": [], "Landlord": []}


def test_a_custom_on_delete_is_refused_before_deleting(alias: str) -> None:
    from tests.qsapp.models import Account, Claim, Memo

    accounts = Account.objects.using(alias).bulk_create([Account(name=str(i)) for i in range(10)])
    Claim.objects.using(alias).create(account=accounts[-1])
    Memo.objects.using(alias).create(account=accounts[0])
    with pytest.raises(ProtectedError):
        with transaction.atomic(using=alias):
            Account.objects.using(alias).all().delete()
    with pytest.raises(ValueError, match="custom on_delete='refuse_like_protect'"):
        delete_in_chunks(Account.objects.using(alias).all(), 3, progress=False)
    assert Account.objects.using(alias).count() == 10


def test_which_on_delete_actions_only_update() -> None:
    from django.db import models

    from heapwatch.django._cascade import only_updates
    from tests.qsapp.models import refuse_like_protect

    for action in (models.SET_NULL, models.SET_DEFAULT, models.DO_NOTHING, models.SET(None),
                   models.SET(lambda: 1)):
        assert only_updates(action), action
    for action in (models.PROTECT, models.RESTRICT, models.CASCADE, refuse_like_protect):
        assert not only_updates(action), action
