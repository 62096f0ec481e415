"""Bounded-memory deletion of big querysets: delete_in_chunks().  (stream()
lives in heapwatch.django.streaming and is re-exported here.)

delete_in_chunks(queryset, chunk_size) fetches the primary keys a chunk at a
time (values_list, keyset by pk) and deletes each chunk in its own transaction
with the effects of Model._base_manager.filter(pk__in=chunk).delete(): when
Django's Collector would only fast-delete (no signal receivers, every
dependent a CASCADE that can_fast_delete allows), the same DELETEs are issued
directly, one per table, without loading the chunk's rows; otherwise the
Collector does the work, except that the tail of its deletion order (models
without delete signal receivers) is deleted with one DELETE per table instead
of one per 100 rows.  See _delete_chunk().

Invariant: the delete refuses exactly when queryset.delete() would, before
deleting anything.  QuerySet.delete() collects everything first and refuses
when a PROTECT foreign key references a row its cascade reaches, or a
RESTRICT one references such a row from a row the cascade does not also
delete.  Chunk by chunk, the first is a property of each chunk, but the
second is not: a row restricted by one chunk's cascade may be deleted by
another chunk's.  So before the first delete, _check_protection() walks each
chunk's cascade, querying only the relations on a path to a PROTECT or
RESTRICT foreign key (primary keys only, one chunk's cascade at a time),
raises what QuerySet.delete() would raise, and returns the restricted rows
that another chunk's cascade deletes; the chunk that meets one first deletes
it with its own cascade (_admit_restricted()).  Rows written after that check
are met by the Collector of the chunk they concern: that chunk rolls back and
ChunkedProtectedError / ChunkedRestrictedError say what was deleted before.

A queryset whose class overrides delete() (django-treebeard's trees, used by
Wagtail's pages and collections, delete each node's descendants and fix their
parents' child counts there) is deleted chunk by chunk with that delete(),
which alone knows what it deletes: there is no check before the first chunk
then, and a refusal comes from the chunk that meets it (see
delete_in_chunks()).
"""

from __future__ import annotations

import operator
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from functools import reduce
from itertools import chain
from typing import Any, Union

from django.db import DatabaseError, connections, router, transaction
from django.db.models import Q, QuerySet
from django.db.models import sql
from django.db.models.deletion import (
    DO_NOTHING,
    Collector,
    ProtectedError,
    RestrictedError,
    get_candidate_relations_to_delete,
)
from django.db.models.query import ModelIterable
from django.db.models.signals import post_delete, pre_delete

from heapwatch.django._cascade import Edge, guard_plan, own_delete
from heapwatch.django._query import (
    check_chunk_size,
    check_in_list,
    check_queryset,
    distinct_pks,
    max_query_params,
    pk_fields,
)
from heapwatch.django.streaming import stream

__all__ = [
    "ChunkedDeleteError",
    "ChunkedProtectedError",
    "ChunkedRestrictedError",
    "count_in_chunks",
    "delete_in_chunks",
    "stream",
]

Progress = Union[bool, None, Callable[[int, int], object]]


class ChunkedDeleteError(Exception):
    """A chunk failed; the chunks before it stay deleted.

    .deleted is (total, {label: count}) for what was deleted before the
    failing chunk, whose transaction was rolled back; __cause__ is the
    original exception.  Running delete_in_chunks() again continues.
    A ProtectedError or RestrictedError surfaces as ChunkedProtectedError /
    ChunkedRestrictedError, subclasses of both this class and the original,
    so `except ProtectedError` keeps working and .protected_objects is there;
    a database error (IntegrityError, ...) as such a subclass made for it.
    """

    deleted: tuple[int, dict[str, int]]

    def __init__(self, message: str, deleted: tuple[int, dict[str, int]]) -> None:
        # Exception's, not the next class in the MRO (ProtectedError's wants
        # protected_objects): the subclasses below set their own attributes.
        Exception.__init__(self, message)
        self.deleted = deleted


class ChunkedProtectedError(ChunkedDeleteError, ProtectedError):
    protected_objects: Any

    def __init__(self, message: str, deleted: tuple[int, dict[str, int]],
                 protected_objects: Any) -> None:
        ChunkedDeleteError.__init__(self, message, deleted)
        self.protected_objects = protected_objects


class ChunkedRestrictedError(ChunkedDeleteError, RestrictedError):
    restricted_objects: Any

    def __init__(self, message: str, deleted: tuple[int, dict[str, int]],
                 restricted_objects: Any) -> None:
        ChunkedDeleteError.__init__(self, message, deleted)
        self.restricted_objects = restricted_objects


_database_errors: dict[type, type[ChunkedDeleteError]] = {}


def _database_error(cause: type) -> type[ChunkedDeleteError]:
    """The ChunkedDeleteError for a chunk that failed with the database
    error `cause` (IntegrityError, OperationalError, ...): a subclass of
    both, as ChunkedProtectedError is of ProtectedError, so that `except
    IntegrityError` around QuerySet.delete() keeps working."""
    if cause not in _database_errors:
        name = f"Chunked{cause.__name__}"
        _database_errors[cause] = type(name, (ChunkedDeleteError, cause),
                                       {"__module__": __name__, "__qualname__": name})
    return _database_errors[cause]


class _Progress:
    """rich, else tqdm, else a plain text line on stderr."""

    def __init__(self, total: int, label: str) -> None:
        self._close: Callable[[], None] = lambda: None
        self._bar: Any = None
        self._rich: Any = None
        self._done = 0
        self._total = total
        self._label = label
        try:
            from rich.progress import Progress

            self._rich = Progress(transient=False)
            self._rich.start()
            self._task = self._rich.add_task(f"deleting {label}", total=total)
            self._close = self._rich.stop
            return
        except ImportError:
            pass
        try:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=f"deleting {label}", unit="rows")
            self._close = self._bar.close
        except ImportError:
            pass

    def advance(self, n: int) -> None:
        self._done += n
        if self._rich is not None:
            self._rich.update(self._task, advance=n)
        elif self._bar is not None:
            self._bar.update(n)
        else:
            sys.stderr.write(f"\rdeleting {self._label}: {self._done}/{self._total}")
            sys.stderr.flush()

    def close(self) -> None:
        self._close()
        if self._rich is None and self._bar is None:
            sys.stderr.write("\n")


def _have_progress_lib() -> bool:
    import importlib.util

    return any(importlib.util.find_spec(m) is not None for m in ("rich", "tqdm"))


def _check_deletable(queryset: Any) -> None:
    query = queryset.query
    if query.is_sliced:
        raise TypeError("delete_in_chunks() cannot delete a sliced queryset")
    if query.distinct_fields:
        raise TypeError("delete_in_chunks() cannot delete a distinct(*fields) queryset")
    if queryset._iterable_class is not ModelIterable or queryset._fields is not None:
        raise TypeError("delete_in_chunks() cannot delete after .values() or .values_list()")
    if query.combinator:
        raise TypeError(f"delete_in_chunks() cannot delete a {query.combinator}() queryset")


def _check_progress(progress: object) -> None:
    if not (progress is None or isinstance(progress, bool) or callable(progress)):
        raise TypeError(f"progress must be None, a bool or a callable (done, total), "
                        f"not {type(progress).__name__}")


def pk_chunks(queryset: Any, chunk_size: int) -> Iterator[list[Any]]:
    """Lists of at most chunk_size primary keys of `queryset`, in pk order,
    keyset-paged (pk > last) so that deleting a chunk before asking for the
    next one is safe."""
    pks = distinct_pks(queryset)
    last: Any = None
    while True:
        page = pks if last is None else pks.filter(pk__gt=last)
        chunk = list(page[:chunk_size])
        if not chunk:
            return
        last = chunk[-1]
        yield chunk
        if len(chunk) < chunk_size:
            return


def _batches(items: list[Any], size: int | None) -> Iterator[list[Any]]:
    step = size or len(items) or 1
    for i in range(0, len(items), step):
        yield items[i:i + step]


# ---------------------------------------------------------------------------
# PROTECT and RESTRICT, for the whole queryset before the first delete
# ---------------------------------------------------------------------------


class _Walk:
    """What deleting one chunk reaches along a guard_plan(): the primary keys
    of the rows its cascade deletes (.reached, per model), the objects that
    protect them (.protected, per edge of the top model, as Django's error
    names them) and the primary keys of the rows that restrict them
    (.restricted, per RESTRICT edge)."""

    def __init__(self, plan: dict[Any, list[Edge]], db: str, limit: int | None) -> None:
        self.plan, self.db, self.limit = plan, db, limit
        self.reached: defaultdict[Any, set[Any]] = defaultdict(set)
        self.protected: defaultdict[Edge, list[Any]] = defaultdict(list)
        self.restricted: defaultdict[Edge, set[Any]] = defaultdict(set)

    def run(self, model: Any, pks: list[Any], cascades_only: bool = False) -> None:
        """Walk from the `model` rows `pks`; with cascades_only, only to fill
        .reached."""
        # (model, primary keys, the top model's edge they come from, whether
        # to follow their relations or, for parent rows, only their parents)
        stack: list[tuple[Any, list[Any], Edge | None, bool]] = [(model, pks, None, True)]
        while stack:
            m, rows, top, related = stack.pop()
            seen = self.reached[m]
            new = [pk for pk in dict.fromkeys(rows) if pk not in seen]
            if not new:
                continue
            seen.update(new)
            for edge in self.plan[m]:
                if edge.action == "parent":
                    stack.append((edge.model, self._parent_pks(m, edge.field, new),
                                  top or edge, False))
                    continue
                if not related or cascades_only and edge.action in ("protect", "restrict"):
                    continue
                for part in _batches(new, self._batch(m, edge)):
                    qs = self._referencing(edge, m, part)
                    if edge.action == "protect":
                        if objs := list(qs):
                            self.protected[top or edge].extend(objs)
                    elif found := list(qs.values_list("pk", flat=True)):
                        if edge.action == "restrict":
                            self.restricted[edge].update(found)
                        else:
                            stack.append((edge.model, found, top or edge, True))

    def _batch(self, model: Any, edge: Edge) -> int | None:
        """Primary keys per query: the IN list takes as many parameters as
        the widest of the foreign key and the primary keys of both ends."""
        if self.limit is None:
            return None
        width = max(len(pk_fields(model)), len(pk_fields(edge.model)),
                    len(getattr(edge.field, "foreign_related_fields", ())))
        return max(1, self.limit // width)

    def _parent_pks(self, model: Any, link: Any, pks: list[Any]) -> list[Any]:
        if link is model._meta.pk:
            return pks
        found: list[Any] = []
        for part in _batches(pks, self.limit):
            found += model._base_manager.using(self.db).filter(pk__in=part).values_list(
                link.attname, flat=True)
        return found

    def _referencing(self, edge: Edge, model: Any, pks: list[Any]) -> Any:
        """The edge.model rows that reference the `model` rows `pks`, as
        Collector.related_objects() (or bulk_related_objects()) selects them."""
        if edge.action == "generic":
            objs = model._base_manager.using(self.db).filter(pk__in=pks).only("pk")
            return edge.field.bulk_related_objects(list(objs), self.db)
        targets = edge.field.foreign_related_fields
        values: Any = pks
        if len(targets) != 1 or targets[0] is not model._meta.pk:
            # A to_field, a multi-table parent's key, several columns: match
            # instances, as the Collector does.
            values = list(model._base_manager.using(self.db).filter(pk__in=pks)
                          .only(*(t.name for t in targets)))
        return edge.model._base_manager.using(self.db).filter(
            **{f"{edge.field.name}__in": values})


def _check_protection(queryset: Any, db: str, chunk_size: int,
                      limit: int | None) -> dict[Any, set[Any]]:
    """Raise the ProtectedError or RestrictedError that queryset.delete()
    would raise, naming the same objects, before deleting anything.
    Otherwise return the rows that a RESTRICT foreign key protects from one
    chunk's cascade but another chunk's cascade deletes, {model: primary
    keys}; usually none.

    Two passes over the chunks, the second only when some chunk's cascade
    does not delete all it restricts: then whether another one's does."""
    model = queryset.model
    plan = guard_plan(model)
    if not plan:
        return {}
    protected: defaultdict[Edge, list[Any]] = defaultdict(list)
    pending: defaultdict[Edge, set[Any]] = defaultdict(set)
    for chunk in pk_chunks(queryset, chunk_size):
        walk = _Walk(plan, db, limit)
        walk.run(model, chunk)
        for edge, objs in walk.protected.items():
            protected[edge].extend(objs)
        for edge, pks in walk.restricted.items():
            if left := pks - walk.reached[edge.model]:
                pending[edge] |= left
    if protected:
        order = plan[model].index
        raise ProtectedError(
            f"Cannot delete some instances of model {model.__name__!r} because they are "
            f"referenced through protected foreign keys: "
            f"{', '.join(e.key() for e in sorted(protected, key=order))}.",
            set(chain.from_iterable(protected.values())),
        )
    allowed: defaultdict[Any, set[Any]] = defaultdict(set)
    if pending:
        for chunk in pk_chunks(queryset, chunk_size):
            walk = _Walk(plan, db, limit)
            walk.run(model, chunk, cascades_only=True)
            for edge, pks in pending.items():
                gone = pks & walk.reached[edge.model]
                pks -= gone
                allowed[edge.model] |= gone
    refused = {edge: pks for edge, pks in pending.items() if pks}
    if refused:
        restricted: set[Any] = set()
        for edge, pks in refused.items():
            for part in _batches(list(pks), limit):
                restricted.update(edge.model._base_manager.using(db).filter(pk__in=part))
        raise RestrictedError(
            f"Cannot delete some instances of model {model.__name__!r} because they are "
            f"referenced through restricted foreign keys: "
            f"{', '.join(dict.fromkeys(e.key() for e in refused))}.",
            restricted,
        )
    return dict(allowed)


# ---------------------------------------------------------------------------
# Deleting a chunk
# ---------------------------------------------------------------------------


def _has_listeners(model: Any) -> bool:
    return bool(pre_delete.has_listeners(model) or post_delete.has_listeners(model))


def _fast_dependents(model: Any, collector: Collector) -> dict[Any, list[Any]] | None:
    """{related model: [foreign keys]} whose rows referencing the chunk are to
    be fast-deleted first, when deleting `model` rows needs no instances at
    all: no delete signal receivers, no multi-table parents, no generic
    relations, and every relation pointing at it DO_NOTHING or a CASCADE from
    a model Django's Collector would itself fast-delete (can_fast_delete), by
    a foreign key to the primary key.  None otherwise."""
    opts = model._meta
    if _has_listeners(model) or opts.concrete_model._meta.parents:
        return None
    if any(hasattr(f, "bulk_related_objects") for f in opts.private_fields):
        return None
    plan: dict[Any, list[Any]] = {}
    for related in get_candidate_relations_to_delete(opts):
        field = related.field
        if field.remote_field.on_delete is DO_NOTHING:
            continue
        targets: tuple[Any, ...] = tuple(getattr(field, "foreign_related_fields", ()))
        if len(targets) != 1 or targets[0] is not opts.pk:
            return None
        if not collector.can_fast_delete(related.related_model, from_field=field):
            return None
        plan.setdefault(related.related_model, []).append(field)
    return plan


def _delete_pks(model: Any, pks: list[Any], db: str, limit: int | None) -> int:
    """DeleteQuery.delete_batch() with as many keys per statement as the
    database takes, instead of 100."""
    n = 0
    for part in _batches(pks, limit and max(1, limit // len(pk_fields(model)))):
        query = sql.DeleteQuery(model)
        query.add_filter(f"{model._meta.pk.attname}__in", part)
        n += int(query.do_query(model._meta.db_table, query.where, using=db))
    return n


def _sorted_ok(collector: Collector) -> bool:
    """Whether collector.data is in an order its dependencies allow."""
    seen: set[Any] = set()
    for m in collector.data:
        if collector.dependencies.get(m._meta.concrete_model, set()) - seen:
            return False
        seen.add(m._meta.concrete_model)
    return True


def _admit_restricted(collector: Collector, allowed: dict[Any, set[Any]],
                      model: Any) -> None:
    """The closing check of Collector.collect(fail_on_restricted=True), except
    that a restricted object in `allowed` (the whole delete removes it, see
    _check_protection()) is collected now, with its own cascade, instead of
    refusing the chunk."""
    while True:
        for m, instances in list(collector.data.items()):
            collector.clear_restricted_objects_from_set(m, instances)
        for qs in collector.fast_deletes:
            collector.clear_restricted_objects_from_queryset(qs.model, qs)
        early: defaultdict[Any, list[Any]] = defaultdict(list)
        refused: defaultdict[str, list[Any]] = defaultdict(list)
        for m, fields in collector.restricted_objects.items():
            for field, objs in fields.items():
                for obj in objs:
                    if obj.pk in allowed.get(m, ()):
                        early[m].append(obj)
                    else:
                        refused[f"'{m.__name__}.{field.name}'"].append(obj)
        if refused:
            raise RestrictedError(
                f"Cannot delete some instances of model {model.__name__!r} because they "
                f"are referenced through restricted foreign keys: {', '.join(refused)}.",
                set(chain.from_iterable(refused.values())),
            )
        if not early:
            return
        for objs in early.values():
            collector.collect(objs, fail_on_restricted=False)


def _delete_chunk(model: Any, db: str, chunk: list[Any], allowed: dict[Any, set[Any]],
                  limit: int | None) -> tuple[int, dict[str, int]]:
    """Model._base_manager.filter(pk__in=chunk).delete(), with the same effects
    and counts, in fewer queries (the caller holds the transaction):

    - when nothing needs instances (_fast_dependents), no SELECT at all: one
      DELETE per dependent table, then one for the chunk, in the order and
      with the filters Django's Collector would use for its fast deletes;
    - else Django's Collector does the work, except that the models at the
      end of its deletion order that have no delete signal receivers are
      deleted afterwards, in that same order, with one DELETE each (per
      `limit` keys) instead of one per 100 rows (DeleteQuery.delete_batch's
      GET_ITERATOR_CHUNK_SIZE); and that the restricted rows in `allowed`
      are deleted too (_admit_restricted).
    """
    qs = model._base_manager.using(db).filter(pk__in=chunk)
    counts: Counter[str] = Counter()
    collector = Collector(using=db, origin=qs)
    plan = _fast_dependents(model, collector)
    if plan is not None:
        for related_model, fields in plan.items():
            pred = reduce(operator.or_, (Q(**{f"{f.name}__in": chunk}) for f in fields))
            n = related_model._base_manager.using(db).filter(pred)._raw_delete(using=db)
            if n:
                counts[related_model._meta.label] += n
        n = qs._raw_delete(using=db)
        if n:
            counts[model._meta.label] += n
        return sum(counts.values()), dict(counts)
    # What QuerySet.delete() does, with the tail of the deletion taken over.
    qs._for_write = True
    qs.query.select_for_update = False
    qs.query.select_related = False
    qs.query.clear_ordering(force=True)
    collector.collect(qs, fail_on_restricted=not allowed)
    if allowed:
        _admit_restricted(collector, allowed, model)
    collector.sort()
    tail: list[tuple[Any, list[Any]]] = []
    if _sorted_ok(collector):
        for m in reversed(list(collector.data)):
            if _has_listeners(m) and not m._meta.auto_created:
                break
            tail.append((m, [obj.pk for obj in collector.data[m]]))
        rest = [collector.data[m] for m in collector.data if m not in dict(tail)]
        if len(rest) == 1 and len(rest[0]) == 1:
            tail = []  # Collector.delete()'s single-object shortcut would skip work
        for m, _ in tail:
            del collector.data[m]
    if collector.data or collector.fast_deletes or collector.field_updates:
        _, per = collector.delete()
        counts.update(per)
    for m, pks in reversed(tail):
        n = _delete_pks(m, pks, db, limit)
        if n:
            counts[m._meta.label] += n
    return sum(counts.values()), dict(counts)


def _params_per_pk(model: Any, db: str) -> int:
    """Parameters per primary key in the largest IN list a chunk makes: its
    columns, or the foreign keys that one fast-deleted model has to it
    (_delete_chunk ORs an IN list per key)."""
    plan = _fast_dependents(model, Collector(using=db))
    return max([len(pk_fields(model)), *(len(fields) for fields in (plan or {}).values())])


def _prepare(queryset: Any, chunk_size: object, function: str) -> tuple[Any, str, int | None]:
    """The checks delete_in_chunks() makes before any query; then the
    queryset on the database it deletes from, that alias, and how many
    parameters a query there takes (None: no limit)."""
    check_queryset(queryset, function)
    chunk_size = check_chunk_size(chunk_size)
    _check_deletable(queryset)
    model = queryset.model
    db = queryset._db or router.db_for_write(model, **queryset._hints)
    connection = connections[db]
    check_in_list(chunk_size, _params_per_pk(model, db), connection,
                   "a chunk's primary keys go into one IN list")
    return queryset.using(db), db, max_query_params(connection)


def count_in_chunks(queryset: QuerySet[Any], chunk_size: int = 1000) -> tuple[int, dict[str, int]]:
    """What delete_in_chunks(queryset, chunk_size) would delete, as (total,
    {label: count}), deleting nothing; raises the ProtectedError or
    RestrictedError it would raise.

    Django's Collector counts each chunk (it loads one chunk's cascade at a
    time, as the deletion does).  The counts are exact unless a dependent
    row is reachable from rows in two different chunks (a model with two
    CASCADE foreign keys to the deleted one): then it is counted once per
    chunk, and the total is an upper bound (maybe_recounted() tells which
    models' counts may be).  Rows that a delete signal receiver deletes
    itself (Wagtail's search index entries) may be counted here and not in
    the deletion's counts, as they may or may not be in QuerySet.delete()'s:
    Django counts what its own DELETEs remove, and whether the receiver came
    first depends on the order of the models collected together.

    TypeError, before any query, when the queryset's class overrides
    delete(): only running it tells what it deletes.
    """
    queryset, db, limit = _prepare(queryset, chunk_size, "count_in_chunks")
    own = own_delete(queryset)
    if own is not None:
        raise TypeError(
            f"count_in_chunks() cannot count what {own.__module__}.{own.__qualname__}"
            f".delete() deletes: it overrides QuerySet.delete()"
        )
    model = queryset.model
    _check_protection(queryset, db, chunk_size, limit)
    counts: Counter[str] = Counter()
    for chunk in pk_chunks(queryset, chunk_size):
        collector = Collector(using=db, origin=queryset)
        # Restrictions were checked for the whole queryset: a row restricted
        # here is deleted by another chunk, and counted there.
        collector.collect(model._base_manager.using(db).filter(pk__in=chunk),
                          fail_on_restricted=False)
        for m, instances in collector.data.items():
            counts[m._meta.label] += len(instances)
        # Fast deletes of one model can select the same rows (a multi-table
        # child reaches its parent's relations again), and rows collected
        # above: each row is deleted, and counted by Django, once.
        fast: defaultdict[Any, list[Any]] = defaultdict(list)
        for qs in collector.fast_deletes:
            fast[qs.model].append(qs)
        for m, group in fast.items():
            collected = [obj.pk for obj in collector.data.get(m, ())]
            if len(group) == 1 and not collected:
                counts[m._meta.label] += group[0].count()
                continue
            rows = m._base_manager.using(db).filter(
                reduce(operator.or_, (Q(pk__in=qs.values("pk")) for qs in group)))
            for part in _batches(collected, limit):
                rows = rows.exclude(pk__in=part)
            counts[m._meta.label] += rows.count()
        del collector
    return sum(counts.values()), {label: n for label, n in counts.items() if n}


def delete_in_chunks(
    queryset: QuerySet[Any], chunk_size: int = 1000, progress: Progress = None
) -> tuple[int, dict[str, int]]:
    """Delete what `queryset` selects, chunk by chunk, each in its own
    transaction; return (total, {label: count}) like QuerySet.delete().

    Before the first delete, refuses with the ProtectedError or
    RestrictedError that queryset.delete() would raise, naming the same
    objects (see the module docstring); nothing is deleted then.

    progress: None shows a bar (rich or tqdm) when one is installed and stderr
    is a terminal; True always (a plain text line without rich/tqdm); False
    never; a callable is called as progress(done, total) after each chunk,
    done being the rows of the queryset deleted so far (cascades not
    counted) and total their number at the start.

    Raises, before any query: TypeError when `queryset` is not a QuerySet or
    is sliced, values() or a union(), chunk_size not an int, progress none
    of the above; ValueError when chunk_size is < 1, > 2**31 - 1, or puts
    more parameters in one query than the database takes (a chunk's primary
    keys go into IN lists, one parameter per key and column, or per key and
    foreign key when a fast-deleted model has several to this one; see
    streaming._max_query_params: SQLite's variable limit).  A chunk that
    fails (a row protected after the check, a signal receiver's error)
    rolls back and raises ChunkedDeleteError (see there).

    When the queryset's class overrides delete() (django-treebeard's
    MP_NodeQuerySet: Wagtail's Page and Collection querysets), each chunk is
    deleted by queryset.filter(pk__in=chunk).delete(), which runs it, and
    the counts are what it returns; nothing is checked before the first
    chunk, so a refusal raises ChunkedProtectedError or
    ChunkedRestrictedError with what earlier chunks deleted.
    """
    _check_progress(progress)
    queryset, db, limit = _prepare(queryset, chunk_size, "delete_in_chunks")
    model = queryset.model
    delete: Callable[[list[Any]], tuple[int, dict[str, int]]]
    if own_delete(queryset) is None:
        allowed = _check_protection(queryset, db, chunk_size, limit)

        def delete(chunk: list[Any]) -> tuple[int, dict[str, int]]:
            return _delete_chunk(model, db, chunk, allowed, limit)
    else:
        def delete(chunk: list[Any]) -> tuple[int, dict[str, int]]:
            return queryset.filter(pk__in=chunk).delete()
    report = progress if callable(progress) else None
    if progress is None:
        progress = sys.stderr.isatty() and _have_progress_lib()
    count = distinct_pks(queryset).count() if report is not None or progress is True else 0
    bar = _Progress(count, model._meta.label) if progress is True else None
    total = 0
    done = 0
    counts: Counter[str] = Counter()
    try:
        for chunk in pk_chunks(queryset, chunk_size):
            try:
                with transaction.atomic(using=db):
                    n, per = delete(chunk)
            except Exception as exc:
                before = (total, dict(counts))
                # Django's refusals carry their objects in args: the message alone.
                why = exc.args[0] if isinstance(exc, (ProtectedError, RestrictedError)) else exc
                message = (
                    f"deleting a chunk of {len(chunk)} {model._meta.label} rows failed "
                    f"({type(exc).__name__}: {why}); that chunk was rolled back, "
                    f"{total} rows were already deleted ({dict(counts)}); "
                    f"run again to continue"
                )
                err: ChunkedDeleteError
                if isinstance(exc, ProtectedError):
                    err = ChunkedProtectedError(message, before, exc.protected_objects)
                elif isinstance(exc, RestrictedError):
                    err = ChunkedRestrictedError(message, before, exc.restricted_objects)
                elif isinstance(exc, DatabaseError):
                    err = _database_error(type(exc))(message, before)
                else:
                    err = ChunkedDeleteError(message, before)
                raise err from exc
            total += n
            counts.update(per)
            done += len(chunk)
            if bar is not None:
                bar.advance(len(chunk))
            if report is not None:
                report(done, count)
    finally:
        if bar is not None:
            bar.close()
    return total, dict(counts)
