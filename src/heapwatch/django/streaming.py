"""Bounded-memory iteration of big querysets: stream().

stream(queryset, chunk_size) pages through a queryset by keyset ("seek")
pagination: each chunk is one ordinary query

    ... WHERE <queryset's filters> AND (rows after the last key) ORDER BY <keys> LIMIT n

in autocommit, so no server-side cursor and no transaction stays open between
chunks, and at most one chunk of rows is alive in this function at a time.

The key is what orders the rows list(queryset) yields and tells them apart:
the queryset's own ordering (explicit, else Meta.ordering) as Django's
compiler reads it -- a relation sorts by its model's Meta.ordering, an
expression is selected as a hidden annotation -- then the primary key unless
the ordering already contains it, then -- when a join through a multi-valued
relation (a reverse foreign key, a many-to-many) repeats a row once per
related row, as in Book.objects.filter(review__stars__gt=2) -- the primary
key of each such joined table, read through the query's own join.
queryset.reverse() reverses every key column, tiebreakers included, so
stream(qs.reverse()) is stream(qs) backwards.

"Rows after the key" is the expanded form

    (k1 > x1) OR (k1 = x1 AND k2 > x2) OR (k1 = x1 AND k2 = x2 AND k3 > x3) ...

with < for descending columns, or the row value (k1, k2, k3) > (x1, x2, x3)
where that means the same (no nullable column, one direction) and the backend
has row values (Django >= 5.2's tuple lookups; PostgreSQL, MySQL): it lets
the database seek a multi-column index.  Nullable columns are handled, not
rejected: where NULLs sort (connection.features.nulls_order_largest, or an
explicit nulls_first / nulls_last) decides whether "after x" includes
"IS NULL" and whether "after NULL" is "IS NOT NULL" or nothing.

Two parts do the work.  A row adapter (_Rows) says how the rows of the
queryset's iterable class are fetched, what the key of a fetched row is, and
what list(queryset) yields for it: instances, values() dicts, values_list()
tuples, flat values, named rows.  A pager (_Pager) fetches the chunk after a
key; _seek() is the loop that asks for the chunk after the last key read.
An iterable class of another package (Wagtail's .specific() runs queries of
its own) gets a pager of its own, _RangePager: the keys of the next chunk
first, then that range of rows through the queryset's own iterable.

Speed: the page query is built and compiled once per pattern of NULL key
values and then reused with new parameters (_Page), rows are built one at a
time from each fetched chunk (no list of a chunk's instances unless
prefetch_related needs one), and each chunk is read with one fetchmany().

Invariant: a row of the join that exists from the first query to the last,
and whose key columns do not change, is yielded exactly once, because the
keys yielded are strictly increasing in the ordering (the key tells every row
of the join apart) and each chunk starts strictly after the last key yielded.
Rows inserted or deleted meanwhile may or may not appear.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from django.core.exceptions import EmptyResultSet, FieldDoesNotExist
from django.db import connections
from django.db.models import F, Q, prefetch_related_objects
from django.db.models.expressions import Col, OrderBy, RawSQL
from django.db.models.functions import Now, Random
from django.db.models.lookups import Exact, GreaterThan, IsNull, LessThan
from django.db.models.query import (
    FlatValuesListIterable,
    ModelIterable,
    NamedValuesListIterable,
    QuerySet,
    ValuesIterable,
    ValuesListIterable,
)
from django.db.models.sql.constants import INNER
from django.db.models.utils import create_namedtuple_class

from heapwatch.django._query import (
    check_chunk_size,
    check_in_list,
    check_queryset,
    pk_fields,
    repeating_joins,
)

__all__ = ["stream"]

_KEY_PREFIX = "_heapwatch_key_"

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
    attname: str | None  # read from model instances' __dict__ when set
    alias: str | None = None  # hidden annotation holding the value otherwise
    expr: Any = None     # what that annotation is when not F(name): an
    #                      ordering expression, a joined table's pk column

    def order_by(self) -> OrderBy:
        kwargs: dict[str, Any] = {}
        if self.nulls_first:
            kwargs["nulls_first"] = True
        if self.nulls_last:
            kwargs["nulls_last"] = True
        f = F(self.name)
        return f.desc(**kwargs) if self.descending else f.asc(**kwargs)

    def reverse(self) -> None:
        """What QuerySet.reverse() makes of this column's ORDER BY term
        (OrderBy.reverse_ordering()): the other direction, and explicit
        NULLS FIRST / LAST swapped."""
        self.descending = not self.descending
        self.nulls_first, self.nulls_last = self.nulls_last, self.nulls_first

    def nulls_after(self, largest: bool) -> bool:
        """Whether NULLs come after every value in this column's order."""
        if self.nulls_last:
            return True
        if self.nulls_first:
            return False
        return largest != self.descending


@dataclass
class _Term:
    """One ORDER BY term of list(queryset): a field path or annotation name
    (a relation there stands for its own column), or an expression."""

    name: str | None
    expr: Any
    descending: bool
    nulls_first: bool | None = None
    nulls_last: bool | None = None


def _pk_names(model: Any) -> list[str]:
    return [f.name for f in pk_fields(model)]


def _sorting_relation(queryset: Any, name: str) -> Any:
    """The model whose Meta.ordering order_by(name) sorts by: when the path
    ends at a relation named by its field name (not its attname, and the
    whole name not "pk") to a model that has a Meta.ordering.  None
    otherwise, and for paths _resolve() refuses."""
    if name in queryset.query.annotations or name == "pk":
        return None
    opts = queryset.model._meta
    field: Any = None
    parts = name.split("__")
    for part in parts:
        try:
            field = opts.pk if part == "pk" else opts.get_field(part)
        except FieldDoesNotExist:
            return None
        if not field.is_relation:
            return None
        opts = field.related_model._meta
    if parts[-1] == getattr(field, "attname", None) or not opts.ordering:
        return None
    return field.related_model


def _expand(queryset: Any, item: Any, prefix: str, flip: bool, seen: frozenset[Any],
            out: list[_Term]) -> None:
    """Append to `out` the ORDER BY terms the ordering entry `item` stands
    for.  `prefix` is the path to the model whose Meta.ordering `item` comes
    from ("" for the queryset's own ordering), `flip` whether that relation
    is itself sorted descending, `seen` the models expanded on the way.

    As Django's compiler reads orderings: a relation sorts by its model's
    Meta.ordering, whose names take the relation's direction ("-" flips it)
    and whose bare expressions sort that way too, while an explicit
    asc()/desc() keeps its own."""
    if isinstance(item, str):
        if item == "?":
            raise ValueError("stream() cannot page a random ordering ('?')")
        descending = flip != item.startswith("-")
        name = prefix + item.lstrip("-+")
        if "." in name:
            raise ValueError(f"stream() cannot page the raw ordering {item!r}")
        related = _sorting_relation(queryset, name)
        if related is None:
            out.append(_Term(name, None, descending))
            return
        if related in seen:
            raise ValueError(f"stream() cannot page order_by({name!r}): "
                             f"{related.__name__}.Meta.ordering loops back to itself")
        for sub in related._meta.ordering:
            _expand(queryset, sub, f"{name}__", descending, seen | {related}, out)
        return
    if not hasattr(item, "resolve_expression"):
        raise ValueError(f"stream() cannot page the ordering {item!r}")
    order = item if isinstance(item, OrderBy) else (item.desc() if flip else item.asc())
    if prefix:
        order = order.prefix_references(prefix)
    expr = order.expression
    if isinstance(expr, F):
        out.append(_Term(expr.name, None, order.descending, order.nulls_first,
                         order.nulls_last))
        return
    if isinstance(expr, Random):
        raise ValueError("stream() cannot page a random ordering (Random())")
    if getattr(expr, "contains_aggregate", False) or getattr(expr, "contains_over_clause", False):
        raise ValueError(f"stream() cannot page an ordering by an aggregate or window "
                         f"expression: {item!r}")
    out.append(_Term(None, expr, order.descending, order.nulls_first, order.nulls_last))


def _unstable(expr: Any) -> str | None:
    """What makes an expression's value change from one query to the next,
    or depend on which rows the query returns, if anything does: a clock
    (Now()), a random number, raw SQL (which may be either), a window.  A
    key made of such a value does not stay in place between chunks: paging
    on it repeats rows or never ends."""
    todo = [expr]
    while todo:
        e = todo.pop()
        if isinstance(e, Random):
            return "a random value (Random())"
        if isinstance(e, Now):
            return "the current time (Now())"
        if isinstance(e, RawSQL):
            return "raw SQL (RawSQL())"
        if hasattr(e, "get_source_expressions"):
            todo.extend(x for x in e.get_source_expressions() if x is not None)
    return "a window function" if getattr(expr, "contains_over_clause", False) else None


def _terms(queryset: Any) -> list[_Term]:
    """The ORDER BY terms of list(queryset), before reverse()."""
    query = queryset.query
    model = queryset.model
    if query.order_by:
        ordering = list(query.order_by)
    elif query.default_ordering and model._meta.ordering:
        ordering = list(model._meta.ordering)
    else:
        ordering = []
    terms: list[_Term] = []
    for item in ordering:
        _expand(queryset, item, "", False, frozenset(), terms)
    return terms


def _resolve(queryset: Any, name: str) -> tuple[bool, bool, str | None]:
    """(nullable, unique_pk_part, attname when a local concrete field) of
    the ordering name `name`, a relation at its end being its own column
    (_expand() has replaced those that sort by their model's Meta.ordering)."""
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
    """The key of the rows list(queryset) yields, in its order (see the
    module docstring): the ordering's terms up to the first that makes it
    unique, the primary key, the primary keys of joins that repeat rows."""
    query = queryset.query
    model = queryset.model
    # Rows of a DISTINCT or GROUP BY query are unique by what they select,
    # which includes the primary key (instances) or is refused (values).
    unique = query.distinct or query.group_by is not None
    joins = [] if unique else repeating_joins(queryset)
    pk_names = _pk_names(model)
    keys: list[_Key] = []
    seen_pk: set[str] = set()
    for term in _terms(queryset):
        # Without repeating joins the primary key is unique: columns after it
        # never decide.  With them, a later column may order a row's repeats.
        if not joins and seen_pk >= set(pk_names):
            break
        if term.name is not None and term.name in query.annotations:
            why = _unstable(query.annotations[term.name])
            if why is not None:
                raise ValueError(f"stream() cannot page an ordering by {term.name!r}: its "
                                 f"value is {why}, which changes between chunks")
        if term.name is None:
            why = _unstable(term.expr)
            if why is not None:
                raise ValueError(f"stream() cannot page an ordering by {why}: its value "
                                 f"changes between chunks")
            alias = f"{_KEY_PREFIX}{len(keys)}"
            keys.append(_Key(alias, term.descending, term.nulls_first, term.nulls_last,
                             True, None, alias=alias, expr=term.expr))
            continue
        names = pk_names if term.name == "pk" else [term.name]
        for n in names:
            nullable, is_pk, attname = _resolve(queryset, n)
            if attname is not None and not (is_pk or _loaded(queryset, n)):
                attname = None
            if n in query.annotations and n in query.annotation_select:
                attname = n  # selected annotations are instance attributes
            keys.append(_Key(n, term.descending, term.nulls_first, term.nulls_last,
                             nullable, attname))
            if is_pk or n in pk_names:
                seen_pk.add(n)
    exprs = {k.name: k.expr for k in keys if k.expr is not None}
    if exprs:
        # list(queryset) joins what its ordering expressions name; a join
        # that repeats rows there would not be in the filters' joins.
        had = {a for a, _ in repeating_joins(queryset)}
        if any(a not in had for a, _ in repeating_joins(queryset.annotate(**exprs))):
            raise ValueError("stream() cannot page an ordering expression through a "
                             "multi-valued relation")
    for n in pk_names:
        if n not in seen_pk:
            keys.append(_Key(n, False, None, None, False, model._meta.get_field(n).attname))
    for alias, joined in joins:
        nullable = query.alias_map[alias].join_type != INNER
        for field in pk_fields(joined):
            name = f"{_KEY_PREFIX}{len(keys)}"
            keys.append(_Key(name, False, None, None, nullable, None, alias=name,
                             expr=Col(alias, field)))
    if not query.standard_ordering:
        for key in keys:
            key.reverse()
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


# ---------------------------------------------------------------------------
# "Rows after the key", compiled once per shape of key values
# ---------------------------------------------------------------------------


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


def _marked(cls: type, lhs: Any, rhs: Any, key: int | None) -> Any:
    lk = _marking(cls)(lhs, rhs)
    lk._hw_key = key
    lk._hw_mark = True
    return lk


def _plain(cls: type, lhs: Any, rhs: Any, key: int | None) -> Any:
    return cls(lhs, rhs)


def _value_kind(value: Any) -> str:
    """What about a key value changes the SQL Django compiles for it, not
    just a parameter: None (IS NULL), and True/False (a boolean column is
    compared as `col` / `NOT col`)."""
    if value is None:
        return "null"
    if value is True or value is False:
        return str(value)
    return "value"


def _after_lookups(keys: list[_Key], values: list[Any], largest: bool, cols: list[Any],
                   row_value: Any, lookup: Callable[..., Any] = _marked) -> Q:
    """Rows strictly after the row whose key is `values`, as a Q of lookups
    on the resolved key columns `cols` (see the module docstring), each
    made by lookup(class, lhs, rhs, index of the key value)."""
    if row_value is not None:
        from django.db.models.fields.tuple_lookups import Tuple

        return Q(lookup(row_value, Tuple(*cols), tuple(values), None))
    result = Q(pk__in=[])
    equal = Q()
    for i, (key, value, col) in enumerate(zip(keys, values, cols, strict=True)):
        after_nulls = key.nulls_after(largest)
        if value is None:
            beyond = Q(IsNull(col, False)) if not after_nulls else None
            same = Q(IsNull(col, True))
        else:
            beyond = Q(lookup(LessThan if key.descending else GreaterThan, col, value, i))
            if key.nullable and after_nulls:
                beyond |= Q(IsNull(col, True))
            same = Q(lookup(Exact, col, value, i))
        if beyond is not None:
            result |= equal & beyond
        equal &= same
    return result


def _through_lookups(keys: list[_Key], values: list[Any], largest: bool, cols: list[Any]) -> Q:
    """Rows up to and including the row whose key is `values`: those before
    it -- after it in the reversed order -- and those with its key."""
    backwards = [replace(k) for k in keys]
    for k in backwards:
        k.reverse()
    equal = Q()
    for value, col in zip(values, cols, strict=True):
        equal &= Q(IsNull(col, True)) if value is None else Q(Exact(col, value))
    return _after_lookups(backwards, values, largest, cols, None, _plain) | equal


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


# ---------------------------------------------------------------------------
# Row adapters: what a fetched row is, its key, and what list(queryset) yields
# ---------------------------------------------------------------------------


@dataclass
class _Rows:
    """How the rows of a queryset are fetched and handed out: the page
    queries run with the iterable class `fetch` over the queryset ordered by
    the keys, with the key columns that are not instance attributes selected
    as hidden annotations.  key(row) is the key of a fetched row (the value
    when there is one key column, else a tuple), read before the row is
    handed out; shape(row) is the row list(queryset) yields for it (None:
    the fetched row itself)."""

    fetch: type
    key: Callable[[Any], Any]
    shape: Callable[[Any], Any] | None


def _adapter(queryset: Any, keys: list[_Key], hidden: dict[str, Any]) -> _Rows:
    """The _Rows of `queryset` (whose iterable class is one of Django's),
    `hidden` being the hidden annotations in the order they are added."""
    iterable = queryset._iterable_class
    if iterable is ModelIterable:
        # The key is read from the instance's __dict__, where Django put the
        # loaded values: attributes could go through descriptors that convert
        # them (a FileField's FieldFile) and leave the converted object there.
        values = operator.itemgetter(*(k.alias or k.attname for k in keys))

        def instance_key(row: Any) -> Any:
            return values(row.__dict__)

        def instance(row: Any) -> Any:
            d = row.__dict__
            for alias in hidden:
                d.pop(alias, None)
            return row

        return _Rows(ModelIterable, instance_key, instance if hidden else None)
    if iterable is ValuesIterable:
        def values_dict(row: Any) -> Any:
            for alias in hidden:
                del row[alias]
            return row

        return _Rows(ValuesIterable, operator.itemgetter(*(k.alias for k in keys)), values_dict)
    # values_list(), flat and named too: fetched as plain tuples with the
    # hidden keys at the end, in the order they were added.
    n = len(hidden)
    position = {alias: i - n for i, alias in enumerate(hidden)}
    key = operator.itemgetter(*(position[str(k.alias)] for k in keys))
    shape: Callable[[Any], Any]
    if iterable is FlatValuesListIterable:
        shape = operator.itemgetter(0)
    elif iterable is NamedValuesListIterable:
        q = queryset.query
        names = list(queryset._fields) or [*q.extra_select, *q.values_select,
                                           *q.annotation_select]
        tuple_class = create_namedtuple_class(*names)

        def shape(row: Any) -> Any:
            return tuple.__new__(tuple_class, row[:-n])
    else:
        def shape(row: Any) -> Any:
            return row[:-n]
    return _Rows(ValuesListIterable, key, shape)


_DJANGO_ITERABLES = (ModelIterable, ValuesIterable, ValuesListIterable,
                     FlatValuesListIterable, NamedValuesListIterable)


# ---------------------------------------------------------------------------
# Pagers: the chunks, each after the key of the last row of the one before
# ---------------------------------------------------------------------------


class _Pager:
    """Fetches the rows of `base` -- the queryset ordered by the keys, with
    the hidden keys annotated -- a chunk at a time: chunk(None) is the first,
    chunk(values) the one after the row whose key is `values`.  Once a chunk
    is consumed, .n is how many rows it had and .last the key of its last
    row (a value when there is one key column, else a tuple); a chunk of
    fewer than chunk_size rows is the last."""

    def __init__(self, base: Any, keys: list[_Key], chunk_size: int) -> None:
        connection = connections[base.db]
        self.keys, self.chunk_size = keys, chunk_size
        self.base = base[:chunk_size]
        self.largest = bool(connection.features.nulls_order_largest)
        self.row_value = _row_value_lookup(keys, connection)
        self.pages: dict[tuple[str, ...], _Page] = {}
        self.last: Any = None
        self.n = 0

    def _fetch(self, after: list[Any] | None) -> Any:
        if after is None:
            page = self.base._chain()
            return page._iterable_class(page, chunk_size=self.chunk_size)
        shape = tuple(map(_value_kind, after))
        cached = self.pages.get(shape)
        if cached is None:
            cached = self.pages[shape] = _Page(self.base, self.keys, after, self.largest,
                                               self.row_value, self.chunk_size)
            return () if cached.empty else cached.rows(None)
        return () if cached.empty else cached.rows(after)

    def chunk(self, after: list[Any] | None) -> Iterator[Any]:
        raise NotImplementedError


class _RowPager(_Pager):
    """The rows of one query per chunk, the key read from each row by
    key(row) (_Rows.key)."""

    def __init__(self, base: Any, keys: list[_Key], key: Callable[[Any], Any],
                 chunk_size: int) -> None:
        super().__init__(base, keys, chunk_size)
        self.key = key

    def chunk(self, after: list[Any] | None) -> Iterator[Any]:
        # Rows come one by one from the fetched chunk (the cursor is already
        # closed: chunked_fetch=False reads the chunk whole), so only the raw
        # chunk and one row are alive here, not a list of them.  The key is
        # read before the caller sees (and may change) a row.
        key = self.key
        n = 0
        last = None
        for row in self._fetch(after):
            n += 1
            last = key(row)
            yield row
        self.n, self.last = n, last


class _RangePager(_Pager):
    """For querysets whose iterable class is none of Django's own (Wagtail's
    .specific() runs its own queries from the queryset it is given): each
    chunk is two queries, the keys of the next chunk_size rows (`base`,
    values_list of the key columns), then the rows from after the previous
    key through the last of those keys, by the queryset's own iterable
    (`ranged`: the queryset ordered by the keys, with them as aliases, which
    select nothing)."""

    def __init__(self, base: Any, keys: list[_Key], ranged: Any, chunk_size: int) -> None:
        super().__init__(base, keys, chunk_size)
        self.ranged = ranged

    def chunk(self, after: list[Any] | None) -> Iterator[Any]:
        found = list(self._fetch(after))
        self.n = len(found)
        if not found:
            return
        through = list(found[-1])
        self.last = through[0] if len(through) == 1 else found[-1]
        del found
        rows = self.ranged._chain()
        query = rows.query
        cols = [query.resolve_ref(k.name, allow_joins=True) for k in self.keys]
        if after is not None:
            query.add_q(_after_lookups(self.keys, after, self.largest, cols, None, _plain))
        query.add_q(_through_lookups(self.keys, through, self.largest, cols))
        yield from rows._iterable_class(rows, chunk_size=self.chunk_size)


def _seek(pager: _Pager) -> Iterator[Any]:
    """Every row of the pager's queryset, chunk after chunk (see the module
    docstring's invariant)."""
    after = None
    single = len(pager.keys) == 1
    while True:
        yield from pager.chunk(after)
        if pager.n < pager.chunk_size:
            return
        after = [pager.last] if single else list(pager.last)


def _prefetched(rows: Iterator[Any], lookups: list[Any], chunk_size: int) -> Iterator[Any]:
    """`rows` with prefetch_related applied to each chunk.  Every chunk but
    the last has exactly chunk_size rows, so slices of that many are the
    chunks, and the next chunk's query waits for the next slice."""
    while chunk := list(itertools.islice(rows, chunk_size)):
        prefetch_related_objects(chunk, *lookups)
        yield from chunk
        del chunk


def _check_streamable(queryset: Any) -> None:
    query = queryset.query
    if query.is_sliced:
        raise TypeError("stream() cannot page a sliced queryset; filter it instead")
    if query.combinator:
        raise ValueError(f"stream() cannot page a {query.combinator}() queryset")
    if query.distinct_fields:
        raise ValueError("stream() cannot page distinct(*fields); use distinct() or no distinct")
    values = not issubclass(queryset._iterable_class, ModelIterable)
    if values and query.distinct:
        raise ValueError(
            "stream() cannot page distinct() values rows: the key columns it adds "
            "would change which rows are distinct"
        )
    if values and query.group_by is not None:
        raise ValueError("stream() cannot page values() grouped by an aggregate annotation")
    if query.extra_order_by:
        raise ValueError("stream() cannot page an extra(order_by=...) ordering")
    if query.extra_tables:
        raise ValueError("stream() cannot page extra(tables=...): the tables it adds may "
                         "repeat rows that no key tells apart")
    # A window's value depends on the rows the query returns, and each
    # chunk returns other rows: row_number() would restart every chunk.
    windows = [n for n, a in query.annotations.items() if getattr(a, "contains_over_clause", False)]
    if windows or getattr(query.where, "contains_over_clause", False):
        raise ValueError("stream() cannot page a queryset with window functions "
                         f"({', '.join(map(repr, windows)) or 'in its filters'}): each chunk "
                         "would compute them over its own rows")
    # DISTINCT or GROUP BY rows are unique by what they select; a selected
    # value read through a join that repeats rows makes several rows of one
    # primary key, which the key (primary key first) cannot tell apart.
    if query.distinct or query.group_by is not None:
        plain = [n for n, a in query.annotation_select.items()
                 if not getattr(a, "contains_aggregate", False)]
        if plain:
            try:
                repeating = bool(repeating_joins(queryset))
            except ValueError:
                repeating = True
            if repeating:
                raise ValueError(
                    f"stream() cannot page distinct() or aggregated rows that select "
                    f"{', '.join(map(repr, plain))} through a multi-valued relation: "
                    f"one {queryset.model.__name__} comes out several times, told apart "
                    f"only by those values")


def stream(queryset: QuerySet[Any], chunk_size: int = 1000) -> Iterator[Any]:
    """Yield exactly the rows list(queryset) yields, in its order, one chunk
    of at most chunk_size rows at a time (see the module docstring).

    Works with filters (joins through multi-valued relations, which repeat a
    row once per related row, too), reverse(), orderings by expressions and
    by relations (their Meta.ordering), select_related, only/defer,
    annotations, values(), values_list() (flat and named too),
    prefetch_related (applied to each chunk), and iterable classes of other
    packages (Wagtail's .specific(): two queries per chunk, see _RangePager).
    Rows that tie in the ordering come in primary key order (reversed by
    reverse()).

    Raises, before any query: TypeError when `queryset` is not a QuerySet,
    chunk_size not an int, or the queryset sliced; ValueError when chunk_size
    is < 1, > 2**31 - 1, or -- with prefetch_related, whose queries list a
    chunk's keys -- more than one query of the database takes (see
    max_query_params: SQLite's variable limit), and for a queryset it cannot
    page: a union(), distinct(*fields), distinct() or aggregated values(), a
    random or raw ordering, an ordering by an aggregate or window expression
    or through a multi-valued relation.
    """
    check_queryset(queryset, "stream")
    chunk_size = check_chunk_size(chunk_size)
    _check_streamable(queryset)
    prefetch = list(queryset._prefetch_related_lookups)
    if prefetch:
        check_in_list(chunk_size, 1, connections[queryset.db],
                       "prefetch_related() lists the keys of a chunk's rows in one query")
    keys = _keys(queryset)
    base = queryset.prefetch_related(None) if prefetch else queryset._chain()
    rows: Iterator[Any]
    if queryset._iterable_class not in _DJANGO_ITERABLES:
        hidden = {}
        for i, key in enumerate(keys):
            key.alias = key.alias or f"{_KEY_PREFIX}{i}"
            hidden[key.alias] = key.expr if key.expr is not None else F(key.name)
        ranged = _ordered(base.alias(**hidden), keys)
        rows = _seek(_RangePager(_ordered(base.annotate(**hidden), keys).values_list(*hidden),
                                 keys, ranged, chunk_size))
    else:
        instances = queryset._iterable_class is ModelIterable
        hidden = {}
        for i, key in enumerate(keys):
            if key.expr is not None:
                hidden[key.name] = key.expr
            elif not instances or key.attname is None:
                key.alias = f"{_KEY_PREFIX}{i}"
                hidden[key.alias] = F(key.name)
        if hidden:
            base = base.annotate(**hidden)
        adapter = _adapter(queryset, keys, hidden)
        base = _ordered(base, keys)
        base._iterable_class = adapter.fetch
        rows = _seek(_RowPager(base, keys, adapter.key, chunk_size))
        if adapter.shape is not None:
            rows = map(adapter.shape, rows)
    if prefetch:
        return _prefetched(rows, prefetch, chunk_size)
    return rows


def _ordered(queryset: Any, keys: list[_Key]) -> Any:
    queryset = queryset.order_by(*(k.order_by() for k in keys))
    queryset.query.standard_ordering = True  # the keys are already reversed
    return queryset
