"""What stream() and delete_in_chunks() both check and read of a queryset:
their argument checks, the database's limit on a query's parameters, and
the joins through which a row of the queryset's model comes out more than
once.  Private to heapwatch.django; the names here have no underscore
because other heapwatch modules import them.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from django.apps import apps
from django.db.models.fields.reverse_related import ForeignObjectRel
from django.db.models.query import QuerySet
from django.db.models.sql.datastructures import Join


# A chunk is read with cursor.fetchmany(chunk_size), whose size sqlite3 (and
# other drivers) take as a C int: a bigger chunk_size is an error there.
MAX_CHUNK = 2**31 - 1


def check_queryset(queryset: object, function: str) -> None:
    if not isinstance(queryset, QuerySet):
        manager = hasattr(queryset, "get_queryset")
        hint = " (a manager: pass Model.objects.all())" if manager else ""
        raise TypeError(f"{function}() needs a QuerySet, not {type(queryset).__name__}{hint}")


def check_chunk_size(chunk_size: object) -> int:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int):
        raise TypeError(f"chunk_size must be an int, not {type(chunk_size).__name__}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    if chunk_size > MAX_CHUNK:
        raise ValueError(f"chunk_size must be <= {MAX_CHUNK} (the drivers' fetchmany() "
                         f"size), got {chunk_size}")
    return chunk_size


def max_query_params(connection: Any) -> int | None:
    """The most parameters one query takes on `connection`; None: no limit.

    SQLite: the connection's own SQLITE_LIMIT_VARIABLE_NUMBER (32766 by
    default since SQLite 3.32, 250000 in Debian's build; Django before 6.0
    reports 999 whatever the library allows).  PostgreSQL: 65535 with
    psycopg 3's server-side binding (the protocol counts a statement's
    parameters in 16 bits), none with client-side binding, where the values
    travel inside the SQL text.  Others: Django's features.max_query_params.
    """
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        getlimit = getattr(connection.connection, "getlimit", None)
        if getlimit is not None:
            return int(getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
    limit = connection.features.max_query_params
    if limit is None and connection.vendor == "postgresql":
        if connection.settings_dict.get("OPTIONS", {}).get("server_side_binding") is True:
            return 2**16 - 1
    return None if limit is None else int(limit)


def check_in_list(chunk_size: int, per_row: int, connection: Any, why: str) -> None:
    """ValueError unless a list of chunk_size rows, `per_row` parameters each,
    fits in one query on `connection`; `why` says where such a list goes."""
    limit = max_query_params(connection)
    if limit is not None and chunk_size * per_row > limit:
        each = f", {per_row} parameters per row" if per_row > 1 else ""
        raise ValueError(
            f"chunk_size={chunk_size} is more than {connection.vendor} takes here: {why}"
            f"{each}, and one query takes at most {limit} parameters; use "
            f"chunk_size <= {limit // per_row}"
        )


def pk_fields(model: Any) -> list[Any]:
    pk = model._meta.pk
    fields = getattr(pk, "fields", None)  # CompositePrimaryKey (Django 5.2)
    if fields is not None and not pk.concrete:
        return list(fields)
    return [pk]


def _joined_model(join: Any) -> Any:
    """The model whose table `join` reads, or None.  Django's own relations
    name it on one side of the join field (a reverse relation's related_model,
    a generic relation's model, a many-to-many's through model); others do
    not (django-taggit joins its through table with the tag manager's own
    relation, which names the tag and the tagged model), and then the model
    registry tells which model owns the table, if only one key does."""
    field = join.join_field
    for model in (getattr(field, "related_model", None), getattr(field, "model", None),
                  getattr(field, "through", None)):
        opts = getattr(model, "_meta", None)  # not a lazy "app.Model" string
        if opts is not None and opts.db_table == join.table_name:
            return model
    owners = [m for m in apps.get_models(include_auto_created=True)
              if m._meta.db_table == join.table_name and not m._meta.proxy]
    keys = {tuple(f.column for f in pk_fields(m)) for m in owners}
    return owners[0] if len(keys) == 1 else None


def repeating_joins(queryset: Any) -> list[tuple[str, Any]]:
    """(alias, model) of each join in use in the query through which one row
    of queryset.model can come out more than once: a join along a reverse
    foreign key, a many-to-many's through table, a generic relation, anything
    but a forward foreign key or a one-to-one.  A row of the query is told
    apart from its repeats by the primary keys of these joined tables.

    ValueError when the joined table's model cannot be told (_joined_model)."""
    query = queryset.query
    found = []
    for alias, join in query.alias_map.items():
        if not isinstance(join, Join) or not query.alias_refcount.get(alias):
            continue
        field = join.join_field
        if isinstance(field, ForeignObjectRel) and field.one_to_one:
            continue
        if not isinstance(field, ForeignObjectRel) and (field.many_to_one or field.one_to_one):
            continue
        model = _joined_model(join)
        if model is None:
            raise ValueError(
                f"stream() cannot tell apart the rows the join of {join.table_name!r} "
                f"repeats; call .distinct() on the queryset for one row per "
                f"{queryset.model.__name__}"
            )
        found.append((alias, model))
    return found


def distinct_pks(queryset: Any) -> Any:
    """The primary keys of `queryset`, each once (a join through a
    multi-valued relation repeats them), in pk order."""
    pks = queryset.order_by("pk").values_list("pk", flat=True)
    if queryset.query.distinct or repeating_joins(queryset):
        pks = pks.distinct()
    return pks
