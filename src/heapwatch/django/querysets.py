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

with < for descending columns, or the row value (k1, k2, k3) > (x1, x2, x3)
where that means the same (no nullable column, one direction) and the backend
has row values (Django >= 5.2's tuple lookups; PostgreSQL, MySQL): it lets
the database seek a multi-column index.  Nullable columns are handled, not
rejected: where NULLs sort (connection.features.nulls_order_largest, or an
explicit nulls_first / nulls_last) decides whether "after x" includes
"IS NULL" and whether "after NULL" is "IS NOT NULL" or nothing.

Speed: the page query is built and compiled once per pattern of NULL key
values and then reused with new parameters (_Page), rows are built one at a
time from each fetched chunk (no list of a chunk's instances unless
prefetch_related needs one), and each chunk is read with one fetchmany().

Invariant: a row that exists from the first query to the last, and whose key
columns do not change, is yielded exactly once, because the keys yielded are
strictly increasing in the ordering and each chunk starts strictly after the
last key yielded.  Rows inserted or deleted meanwhile may or may not appear.

delete_in_chunks(queryset, chunk_size) fetches the primary keys a chunk at a
time (values_list, keyset by pk) and deletes each chunk in its own transaction
with the effects of Model._base_manager.filter(pk__in=chunk).delete(): when
Django's Collector would only fast-delete (no signal receivers, every
dependent a CASCADE that can_fast_delete allows), the same DELETEs are issued
directly, one per table, without loading the chunk's rows; otherwise the
Collector does the work, except that the tail of its deletion order (models
without delete signal receivers) is deleted with one DELETE per table instead
of one per 100 rows.  See _delete_chunk().
"""

from __future__ import annotations

import operator
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import reduce
from typing import Any

from django.core.exceptions import EmptyResultSet, FieldDoesNotExist
from django.db import connections, router, transaction
from django.db.models import F, Q
from django.db.models import sql
from django.db.models.deletion import (
    DO_NOTHING,
    Collector,
    ProtectedError,
    RestrictedError,
    get_candidate_relations_to_delete,
)
from django.db.models.signals import post_delete, pre_delete
from django.db.models.expressions import OrderBy
from django.db.models.lookups import Exact, GreaterThan, IsNull, LessThan
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


def _row_value_lookup(keys: list[_Key], connection: Any) -> Any:
    """The lookup class for `(k1, k2, ...) > (x1, x2, ...)` (< when
    descending) when that is the same as the expanded form: two or more key columns,
    none nullable, one direction, and a backend with row values (Django 5.2's
    tuple lookups; SQLite and Oracle fall back to the expanded form there).
    A row-value comparison lets PostgreSQL and MySQL seek a multi-column
    index instead of filtering the OR form row by row.  None otherwise."""
    if len(keys) < 2 or any(k.nullable for k in keys):
        return None
    if len({k.descending for k in keys}) != 1:
        return None
    if not getattr(connection.features, "supports_tuple_lookups", False):
        return None
    try:
        from django.db.models.fields import tuple_lookups
    except ImportError:  # Django < 5.2
        return None
    return tuple_lookups.TupleLessThan if keys[0].descending else tuple_lookups.TupleGreaterThan


class _Mark:
    """A compiled parameter that came from a key value (see _Page)."""

    __slots__ = ("lookup", "j", "value")

    def __init__(self, lookup: Any, j: int, value: Any) -> None:
        self.lookup, self.j, self.value = lookup, j, value


class _MarkingLookup:
    """Mixin for the lookups _Page builds: while a page query is compiled the
    first time, the parameters this lookup adds are wrapped in _Mark so that
    their positions in the SQL's parameter list are known; later chunks reuse
    the SQL and only recompute these parameters."""

    _hw_key: int | None = None  # which key value is the rhs; None: all (row value)
    _hw_mark = False

    def process_rhs(self, compiler: Any, connection: Any) -> Any:
        sql, params = super().process_rhs(compiler, connection)  # type: ignore[misc]
        if self._hw_mark:
            params = [_Mark(self, j, p) for j, p in enumerate(params)]
        return sql, params


_lookup_classes: dict[type, type] = {}


def _marking(cls: type) -> type:
    if cls not in _lookup_classes:
        _lookup_classes[cls] = type(f"_Marking{cls.__name__}", (_MarkingLookup, cls), {})
    return _lookup_classes[cls]


def _lookup(cls: type, lhs: Any, rhs: Any, key: int | None) -> Any:
    lk = _marking(cls)(lhs, rhs)
    lk._hw_key = key
    lk._hw_mark = True
    return lk


def _value_kind(value: Any) -> str:
    """What about a key value changes the SQL Django compiles for it, not
    just a parameter: None (IS NULL), and True/False (a boolean column is
    compared as `col` / `NOT col`)."""
    if value is None:
        return "null"
    if value is True or value is False:
        return str(value)
    return "value"


class _Page:
    """The query for "the next chunk after key values like these", compiled
    once and reused with new key values: building and compiling the
    queryset again for every chunk costs about as much as running it.

    The _value_kind() of each key value fixes the SQL; the values only
    change parameters, found by the marks above.  The page queryset's
    compiler is kept and handed to the iterable class for every chunk, with
    the SQL and the new parameters."""

    def __init__(self, base: Any, keys: list[_Key], values: list[Any], largest: bool,
                 row_value: Any, chunk_size: int) -> None:
        self.page = page = base._chain()  # base is sliced: add to its query directly
        self.chunk_size = chunk_size  # rows per fetchmany(), not Django's 100
        query = page.query
        cols = [query.resolve_ref(k.name, allow_joins=True) for k in keys]
        query.add_q(_after_lookups(keys, values, largest, cols, row_value))
        self.compiler = compiler = query.get_compiler(using=page.db)
        self.empty = False
        try:
            sql, params = compiler.as_sql()
        except EmptyResultSet:
            self.empty = True
            return
        self.sql = sql
        self.marks: list[tuple[int, Any, int]] = []
        plain = list(params)
        for i, p in enumerate(plain):
            if isinstance(p, _Mark):
                self.marks.append((i, p.lookup, p.j))
                plain[i] = p.value
        self.params = plain
        self.current: tuple[str, Any] = (sql, tuple(plain))
        lookups: dict[int, Any] = {}
        for _, lk, _ in self.marks:
            lk._hw_mark = False
            lookups[id(lk)] = lk
        self.lookups = list(lookups.values())
        compiler.as_sql = lambda *args, **kwargs: self.current
        query.get_compiler = lambda *args, **kwargs: compiler

    def rows(self, values: list[Any] | None) -> Any:
        """The iterable of the chunk after `values` (None: the values the
        page was built with)."""
        if values is not None:
            params = list(self.params)
            new: dict[int, list[Any]] = {}
            connection = self.compiler.connection
            for lk in self.lookups:
                copy = lk.__class__.__new__(lk.__class__)
                copy.__dict__.update(lk.__dict__)
                copy.rhs = values[lk._hw_key] if lk._hw_key is not None else tuple(values)
                copy.rhs = copy.get_prep_lookup()
                new[id(lk)] = list(copy.process_rhs(self.compiler, connection)[1])
            for i, lk, j in self.marks:
                params[i] = new[id(lk)][j]
            self.current = (self.sql, tuple(params))
        return self.page._iterable_class(self.page, chunk_size=self.chunk_size)


def _after_lookups(keys: list[_Key], values: list[Any], largest: bool, cols: list[Any],
                   row_value: Any) -> Q:
    """Rows strictly after the row whose key is `values`, as a Q of lookups
    on the resolved key columns `cols` (see the module docstring)."""
    if row_value is not None:
        from django.db.models.fields.tuple_lookups import Tuple

        return Q(_lookup(row_value, Tuple(*cols), tuple(values), None))
    result = Q(pk__in=[])
    equal = Q()
    for i, (key, value, col) in enumerate(zip(keys, values, cols, strict=True)):
        after_nulls = key.nulls_after(largest)
        if value is None:
            beyond = Q(IsNull(col, False)) if not after_nulls else None
            same = Q(IsNull(col, True))
        else:
            beyond = Q(_lookup(LessThan if key.descending else GreaterThan, col, value, i))
            if key.nullable and after_nulls:
                beyond |= Q(IsNull(col, True))
            same = Q(_lookup(Exact, col, value, i))
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

    # The key of a raw row (before shape()), read by one C-level getter: a
    # value when there is one key column, a tuple otherwise.
    get_key: Callable[[Any], Any]
    if instances:
        get_key = operator.attrgetter(*(k.alias or k.attname or k.name for k in keys))
    elif iterable is ValuesIterable:
        get_key = operator.itemgetter(*(k.alias for k in keys))
    else:
        get_key = operator.itemgetter(*range(-nhidden, 0))
    single = len(keys) == 1
    reshape = bool(hidden) or not instances
    connection = connections[queryset.db]
    largest = bool(connection.features.nulls_order_largest)
    row_value = _row_value_lookup(keys, connection)
    base = base[:chunk_size]
    pages: dict[tuple[str, ...], _Page] = {}
    last: list[Any] | None = None
    kv: Any = None
    while True:
        if last is None:
            page: Any = base._chain()
            it = page._iterable_class(page, chunk_size=chunk_size)
        else:
            shape_of = tuple(map(_value_kind, last))
            cached = pages.get(shape_of)
            if cached is None:
                cached = pages[shape_of] = _Page(base, keys, last, largest, row_value, chunk_size)
                if cached.empty:
                    return
                it = cached.rows(None)
            else:
                it = cached.rows(last)
        if prefetch:
            rows = list(it)
            if not rows:
                return
            kv = get_key(rows[-1])
            n = len(rows)
            if reshape:
                rows = [shape(r) for r in rows]
            from django.db.models import prefetch_related_objects

            prefetch_related_objects(rows, *prefetch)
            yield from rows
            del rows
        else:
            # Rows built one by one from the fetched chunk (the cursor is
            # already closed: chunked_fetch=False reads the chunk whole), so
            # only the raw chunk and one row are alive, not a list of them.
            # The key is read before the caller sees (and may change) a row.
            n = 0
            kv = None
            for row in it:
                n += 1
                kv = get_key(row)
                yield shape(row) if reshape else row
            if n == 0:
                return
        del it
        last = [kv] if single else list(kv)
        if n < chunk_size:
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


def _delete_pks(model: Any, pks: list[Any], db: str) -> int:
    """DeleteQuery.delete_batch() in one statement instead of one per 100."""
    query = sql.DeleteQuery(model)
    query.add_filter(f"{model._meta.pk.attname}__in", pks)
    return int(query.do_query(model._meta.db_table, query.where, using=db))


def _sorted_ok(collector: Collector) -> bool:
    """Whether collector.data is in an order its dependencies allow."""
    seen: set[Any] = set()
    for m in collector.data:
        if collector.dependencies.get(m._meta.concrete_model, set()) - seen:
            return False
        seen.add(m._meta.concrete_model)
    return True


def _delete_chunk(model: Any, db: str, chunk: list[Any]) -> tuple[int, dict[str, int]]:
    """Model._base_manager.filter(pk__in=chunk).delete(), with the same effects
    and counts, in fewer queries (the caller holds the transaction):

    - when nothing needs instances (_fast_dependents), no SELECT at all: one
      DELETE per dependent table, then one for the chunk, in the order and
      with the filters Django's Collector would use for its fast deletes;
    - else Django's Collector does the work, except that the models at the
      end of its deletion order that have no delete signal receivers are
      deleted afterwards, in that same order, with one DELETE each instead of
      one per 100 rows (DeleteQuery.delete_batch's GET_ITERATOR_CHUNK_SIZE).
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
    collector.collect(qs)
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
        n = _delete_pks(m, pks, db)
        if n:
            counts[m._meta.label] += n
    return sum(counts.values()), dict(counts)


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
                    n, per = _delete_chunk(model, db, chunk)
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
