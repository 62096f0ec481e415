"""Bounded-memory iteration and deletion of big querysets.

stream(queryset, chunk_size) pages through a queryset by keyset ("seek")
pagination: each chunk is one ordinary query

    ... WHERE <queryset's filters> AND (rows after the last key) ORDER BY <keys> LIMIT n

in autocommit, so no server-side cursor and no transaction stays open between
chunks, and at most one chunk of rows is alive in this function at a time.
The key is the queryset's own ordering (explicit, else Meta.ordering, else the
primary key) with the primary key appended when the ordering might not be
unique.  "Rows after the key" is the expanded form

    (k1 > x1) OR (k1 = x1 AND k2 > x2) OR (k1 = x1 AND k2 = x2 AND k3 > x3) ...

with < for descending columns.  Nullable columns are handled, not rejected:
where NULLs sort (connection.features.nulls_order_largest, or an explicit
nulls_first / nulls_last) decides whether "after x" includes "IS NULL" and
whether "after NULL" is "IS NOT NULL" or nothing.

Invariant: a row that exists from the first query to the last, and whose key
columns do not change, is yielded exactly once, because the keys yielded are
strictly increasing in the ordering and each chunk starts strictly after the
last key yielded.  Rows inserted or deleted meanwhile may or may not appear.

delete_in_chunks(queryset, chunk_size) fetches the primary keys a chunk at a
time (values_list, keyset by pk) and deletes each chunk with
Model._base_manager.filter(pk__in=chunk).delete() in its own transaction, so
Django's Collector applies on_delete, signals and its fast-delete path exactly
as QuerySet.delete() would, but for one chunk at a time.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import connections, router, transaction
from django.db.models import F, Q
from django.db.models.deletion import ProtectedError, RestrictedError
from django.db.models.expressions import OrderBy
from django.db.models.query import (
    FlatValuesListIterable,
    ModelIterable,
    NamedValuesListIterable,
    ValuesIterable,
    ValuesListIterable,
)
from django.db.models.utils import create_namedtuple_class

__all__ = [
    "ChunkedDeleteError",
    "ChunkedProtectedError",
    "ChunkedRestrictedError",
    "delete_in_chunks",
    "stream",
]

_KEY_PREFIX = "_heapwatch_key_"


def _check_chunk_size(chunk_size: object) -> int:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int):
        raise TypeError(f"chunk_size must be an int, not {type(chunk_size).__name__}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    return chunk_size


# ---------------------------------------------------------------------------
# The key: which columns, which direction, where NULLs go
# ---------------------------------------------------------------------------


@dataclass
class _Key:
    name: str            # a lookup path or an annotation name, usable in filter()
    descending: bool
    nulls_first: bool | None
    nulls_last: bool | None
    nullable: bool
    attname: str | None  # read from model instances by attribute when set
    alias: str | None = None  # hidden annotation holding the value otherwise

    def order_by(self) -> OrderBy:
        kwargs: dict[str, Any] = {}
        if self.nulls_first:
            kwargs["nulls_first"] = True
        if self.nulls_last:
            kwargs["nulls_last"] = True
        f = F(self.name)
        return f.desc(**kwargs) if self.descending else f.asc(**kwargs)

    def nulls_after(self, largest: bool) -> bool:
        """Whether NULLs come after every value in this column's order."""
        if self.nulls_last:
            return True
        if self.nulls_first:
            return False
        return largest != self.descending


def _pk_names(model: Any) -> list[str]:
    pk = model._meta.pk
    fields = getattr(pk, "fields", None)  # CompositePrimaryKey (Django 5.2)
    if fields is not None and not pk.concrete:
        return [f.name for f in fields]
    return [pk.name]


def _resolve(queryset: Any, name: str) -> tuple[bool, bool, str | None]:
    """(nullable, unique_pk_part, attname when a local concrete field)."""
    query = queryset.query
    if name in query.annotations:
        return True, False, None
    opts = queryset.model._meta
    parts = name.split("__")
    nullable = False
    field: Any = None
    for i, part in enumerate(parts):
        try:
            field = opts.pk if part == "pk" else opts.get_field(part)
        except FieldDoesNotExist:
            raise ValueError(
                f"stream() cannot order by {name!r}: not a field or annotation "
                f"of {queryset.model.__name__}"
            ) from None
        if field.is_relation and (field.many_to_many or field.one_to_many):
            raise ValueError(
                f"stream() cannot page an ordering through the multi-valued "
                f"relation {name!r}"
            )
        nullable = nullable or bool(getattr(field, "null", False))
        if field.is_relation and not field.concrete:
            nullable = True  # reverse one-to-one: the row may not exist
        last = i == len(parts) - 1
        if field.is_relation:
            if last:
                if field.related_model._meta.ordering:
                    raise ValueError(
                        f"stream() cannot page order_by({name!r}): it sorts by "
                        f"{field.related_model.__name__}.Meta.ordering; order by "
                        f"the related fields explicitly"
                    )
            else:
                opts = field.related_model._meta
        elif not last:
            raise ValueError(f"stream() cannot order by the transform {name!r}")
    local = len(parts) == 1 and getattr(field, "concrete", False)
    is_pk = len(parts) == 1 and (parts[0] == "pk" or getattr(field, "primary_key", False))
    return nullable, is_pk, (field.attname if local else None)


def _loaded(queryset: Any, name: str) -> bool:
    names, defer = queryset.query.deferred_loading
    if defer:
        return name not in names
    return not names or name in names


def _keys(queryset: Any) -> list[_Key]:
    query = queryset.query
    model = queryset.model
    if query.order_by:
        ordering = list(query.order_by)
    elif query.default_ordering and model._meta.ordering:
        ordering = list(model._meta.ordering)
    else:
        ordering = []
    pk_names = _pk_names(model)
    keys: list[_Key] = []
    seen_pk: set[str] = set()
    for item in ordering:
        nulls_first = nulls_last = None
        if isinstance(item, str):
            if item == "?":
                raise ValueError("stream() cannot page a random ordering ('?')")
            descending = item.startswith("-")
            name = item.lstrip("-+")
            if "." in name:
                raise ValueError(f"stream() cannot page the raw ordering {item!r}")
        else:
            expr, descending = item, False
            if isinstance(expr, OrderBy):
                descending = expr.descending
                nulls_first, nulls_last = expr.nulls_first, expr.nulls_last
                expr = expr.expression
            if not isinstance(expr, F):
                raise ValueError(
                    f"stream() pages orderings by field or annotation names; annotate "
                    f"{item!r} and order by the annotation instead"
                )
            name = expr.name
        names = pk_names if name == "pk" else [name]
        for n in names:
            nullable, is_pk, attname = _resolve(queryset, n)
            if attname is not None and not (is_pk or _loaded(queryset, n)):
                attname = None
            if n in query.annotations and n in query.annotation_select:
                attname = n  # selected annotations are instance attributes
            keys.append(_Key(n, descending, nulls_first, nulls_last, nullable, attname))
            if is_pk or n in pk_names:
                seen_pk.add(n)
        if seen_pk >= set(pk_names):
            return keys  # unique from here on: later columns never decide
    for n in pk_names:
        if n not in seen_pk:
            keys.append(_Key(n, False, None, None, False, model._meta.get_field(n).attname))
    return keys


def _after(keys: list[_Key], values: list[Any], largest: bool) -> Q:
    """Rows strictly after the row whose key is `values`, as a Q."""
    result = Q(pk__in=[])
    equal = Q()
    for key, value in zip(keys, values, strict=True):
        after_nulls = key.nulls_after(largest)
        if value is None:
            beyond = Q(**{f"{key.name}__isnull": False}) if not after_nulls else None
            same = Q(**{f"{key.name}__isnull": True})
        else:
            op = "lt" if key.descending else "gt"
            beyond = Q(**{f"{key.name}__{op}": value})
            if key.nullable and after_nulls:
                beyond |= Q(**{f"{key.name}__isnull": True})
            same = Q(**{key.name: value})
        if beyond is not None:
            result |= equal & beyond
        equal &= same
    return result


def _check_streamable(queryset: Any) -> None:
    query = queryset.query
    if query.is_sliced:
        raise TypeError("stream() cannot page a sliced queryset; filter it instead")
    if query.combinator:
        raise ValueError(f"stream() cannot page a {query.combinator}() queryset")
    if query.distinct_fields:
        raise ValueError("stream() cannot page distinct(*fields); use distinct() or no distinct")
    values = queryset._iterable_class is not ModelIterable
    if values and query.distinct:
        raise ValueError(
            "stream() cannot page distinct() values rows: the key columns it adds "
            "would change which rows are distinct"
        )
    if values and query.group_by is not None:
        raise ValueError("stream() cannot page values() grouped by an aggregate annotation")
    if query.extra_order_by:
        raise ValueError("stream() cannot page an extra(order_by=...) ordering")


def stream(queryset: Any, chunk_size: int = 1000) -> Iterator[Any]:
    """Yield what `queryset` yields, in its order, one chunk of rows at a time.

    Works with filters, select_related, only/defer, annotations, values(),
    values_list() (flat and named too), and prefetch_related (applied to each
    chunk).  Raises TypeError/ValueError before any query for a bad
    chunk_size, a sliced queryset, or a distinct()/ordering it cannot page.
    """
    chunk_size = _check_chunk_size(chunk_size)
    _check_streamable(queryset)
    keys = _keys(queryset)
    return _stream(queryset, keys, chunk_size)


def _stream(queryset: Any, keys: list[_Key], chunk_size: int) -> Iterator[Any]:
    iterable = queryset._iterable_class
    instances = iterable is ModelIterable
    prefetch = list(queryset._prefetch_related_lookups)
    base = queryset.prefetch_related(None) if prefetch else queryset._chain()
    hidden: dict[str, Any] = {}
    for i, key in enumerate(keys):
        if not instances or key.attname is None:
            key.alias = f"{_KEY_PREFIX}{i}"
            hidden[key.alias] = F(key.name)
    names: list[str] = []
    if iterable is NamedValuesListIterable:
        q = queryset.query
        names = list(queryset._fields) or [*q.extra_select, *q.values_select,
                                           *q.annotation_select]
    if hidden:
        base = base.annotate(**hidden)
    base = base.order_by(*(k.order_by() for k in keys))
    if not instances:
        # Raw rows with the hidden keys at the end; mapped back below.
        base._iterable_class = ValuesIterable if iterable is ValuesIterable else ValuesListIterable

    nhidden = len(hidden)
    shape: Callable[[Any], Any]
    if iterable is ValuesIterable:
        def shape(row: Any) -> Any:
            for alias in hidden:
                del row[alias]
            return row
    elif iterable is FlatValuesListIterable:
        def shape(row: Any) -> Any:
            return row[0]
    elif iterable is NamedValuesListIterable:
        tuple_class = create_namedtuple_class(*names)

        def shape(row: Any) -> Any:
            return tuple.__new__(tuple_class, row[:-nhidden])
    elif iterable is ValuesListIterable:
        def shape(row: Any) -> Any:
            return row[:-nhidden]
    elif instances:
        def shape(row: Any) -> Any:
            d = row.__dict__
            for alias in hidden:
                d.pop(alias, None)
            return row
    else:
        raise ValueError(f"stream() does not know the iterable {iterable.__name__}")

    def key_of(row: Any) -> list[Any]:
        if instances:
            return [getattr(row, k.alias or k.attname or k.name) for k in keys]
        if iterable is ValuesIterable:
            return [row[k.alias] for k in keys]
        return list(row[-nhidden:])

    largest = bool(connections[queryset.db].features.nulls_order_largest)
    last: list[Any] | None = None
    while True:
        page = base if last is None else base.filter(_after(keys, last, largest))
        rows = list(page[:chunk_size])
        if not rows:
            return
        last = key_of(rows[-1])
        full = len(rows) == chunk_size
        if hidden or not instances:
            rows = [shape(r) for r in rows]
        if prefetch:
            from django.db.models import prefetch_related_objects

            prefetch_related_objects(rows, *prefetch)
        yield from rows
        del rows, page
        if not full:
            return


# ---------------------------------------------------------------------------
# Deletion
# ---------------------------------------------------------------------------


class ChunkedDeleteError(Exception):
    """A chunk failed; the chunks before it stay deleted.

    .deleted is (total, {label: count}) for what was deleted before the
    failing chunk, whose transaction was rolled back; __cause__ is the
    original exception.  Running delete_in_chunks() again continues.
    A ProtectedError or RestrictedError surfaces as ChunkedProtectedError /
    ChunkedRestrictedError, subclasses of both this class and the original,
    so `except ProtectedError` keeps working and .protected_objects is there.
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


def pk_chunks(queryset: Any, chunk_size: int) -> Iterator[list[Any]]:
    """Lists of at most chunk_size primary keys of `queryset`, in pk order,
    keyset-paged (pk > last) so that deleting a chunk before asking for the
    next one is safe."""
    pks = queryset.order_by("pk").values_list("pk", flat=True)
    if queryset.query.distinct:
        pks = pks.distinct()
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


def delete_in_chunks(
    queryset: Any, chunk_size: int = 1000, progress: bool | None = None
) -> tuple[int, dict[str, int]]:
    """Delete what `queryset` selects, chunk by chunk, each in its own
    transaction; return (total, {label: count}) like QuerySet.delete().

    progress: None shows a bar (rich or tqdm) when one is installed and stderr
    is a terminal; True always (a plain text line without rich/tqdm); False
    never.  On failure raises ChunkedDeleteError (see there).
    """
    chunk_size = _check_chunk_size(chunk_size)
    _check_deletable(queryset)
    model = queryset.model
    db = queryset._db or router.db_for_write(model, **queryset._hints)
    queryset = queryset.using(db)
    if progress is None:
        progress = sys.stderr.isatty() and _have_progress_lib()
    bar = _Progress(queryset.count(), model._meta.label) if progress else None
    total = 0
    counts: Counter[str] = Counter()
    try:
        for chunk in pk_chunks(queryset, chunk_size):
            try:
                with transaction.atomic(using=db):
                    n, per = model._base_manager.using(db).filter(pk__in=chunk).delete()
            except Exception as exc:
                done = (total, dict(counts))
                message = (
                    f"deleting a chunk of {len(chunk)} {model._meta.label} rows failed "
                    f"({type(exc).__name__}: {exc}); that chunk was rolled back, "
                    f"{total} rows were already deleted ({dict(counts)}); "
                    f"run again to continue"
                )
                err: ChunkedDeleteError
                if isinstance(exc, ProtectedError):
                    err = ChunkedProtectedError(message, done, exc.protected_objects)
                elif isinstance(exc, RestrictedError):
                    err = ChunkedRestrictedError(message, done, exc.restricted_objects)
                else:
                    err = ChunkedDeleteError(message, done)
                raise err from exc
            total += n
            counts.update(per)
            if bar is not None:
                bar.advance(len(chunk))
    finally:
        if bar is not None:
            bar.close()
    return total, dict(counts)
