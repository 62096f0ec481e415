"""What deleting rows of a model reaches, read from the models alone (no
query): the relations Django's Collector follows, which of them can refuse
(PROTECT, RESTRICT), the models a chunked count may count twice, and a
queryset class's own delete().  Private to heapwatch.django; the names here
have no underscore because querysets.py and the delete command import them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db.models import CASCADE, PROTECT, RESTRICT, QuerySet
from django.db.models.deletion import get_candidate_relations_to_delete


def own_delete(queryset: Any) -> type | None:
    """The class that overrides QuerySet.delete() in the queryset's class
    (what queryset.delete() runs instead of Django's), or None."""
    for cls in type(queryset).__mro__:
        if cls is QuerySet:
            return None
        if "delete" in vars(cls):
            return cls
    return None


@dataclass(frozen=True)
class Edge:
    """Rows of `model` that deleting rows of the model walked reaches: through
    the foreign key `field` of `model`, whose on_delete is `action`
    ("protect", "restrict", "cascade"); for "generic", through the generic
    relation `field` of the model walked; for "parent", the multi-table
    parent rows (`model`, by the link `field` of the model walked), which
    Collector deletes without following their relations: the walked model's
    relations include those to its parents."""

    action: str
    model: Any
    field: Any

    def key(self) -> str:
        """How Django's errors name the relation: 'Model.field'."""
        return f"'{self.field.model.__name__}.{self.field.name}'"


_ACTIONS = {PROTECT: "protect", RESTRICT: "restrict", CASCADE: "cascade"}


def only_updates(on_delete: Any) -> bool:
    """An on_delete action of Django's that never deletes a row nor refuses:
    SET_NULL, SET_DEFAULT, SET(...), DO_NOTHING, or a database-level one
    (Django 6's DB_* actions, which Django leaves to the database)."""
    from django.db.models import deletion

    if on_delete in (deletion.SET_NULL, deletion.SET_DEFAULT, deletion.DO_NOTHING):
        return True
    name = getattr(on_delete, "__name__", "")
    if getattr(deletion, name, None) is on_delete and name.startswith("DB_"):
        return True
    deconstruct = getattr(on_delete, "deconstruct", None)
    try:
        path = deconstruct()[0] if callable(deconstruct) else None
    except Exception:
        path = None
    return path == "django.db.models.SET"


def deleting_edges(model: Any) -> list[Edge]:
    """The relations Collector.collect() follows from `model` rows, in its
    order, that can delete rows or refuse.  SET_NULL, SET_DEFAULT, SET(),
    DO_NOTHING and database-level actions only update or leave rows; a custom
    on_delete function is not followed (its chunk's Collector still runs it)."""
    edges = [Edge("parent", parent, link)
             for parent, link in model._meta.concrete_model._meta.parents.items() if link]
    for related in get_candidate_relations_to_delete(model._meta):
        on_delete = related.field.remote_field.on_delete
        action = _ACTIONS.get(on_delete)
        if action is not None:
            edges.append(Edge(action, related.related_model, related.field))
        elif not only_updates(on_delete):
            # A function of the project's own may refuse (raise
            # ProtectedError) for a row of a later chunk, after earlier
            # chunks were deleted: what qs.delete() never does.
            field = related.field
            raise ValueError(
                f"delete_in_chunks() cannot check before deleting what the custom "
                f"on_delete={getattr(on_delete, '__qualname__', on_delete)!r} of "
                f"{field.model._meta.label}.{field.name} would do; delete this queryset "
                f"with qs.delete(), or in chunks of your own")
    for field in model._meta.private_fields:
        if hasattr(field, "bulk_related_objects"):
            edges.append(Edge("generic", field.remote_field.model, field))
    return edges


def maybe_recounted(model: Any) -> set[Any]:
    """The models whose rows count_in_chunks() may count more than once when
    deleting `model` rows takes several chunks: a row one chunk's cascade
    reaches that another chunk's reaches too.  That takes two foreign keys
    (or generic relations) leading to its model -- one leading back to
    `model` itself is one, the selection being the other -- and everything
    reached from such a model inherits it.  A multi-table parent and child
    are one row reached together, not twice."""
    incoming: defaultdict[Any, set[Any]] = defaultdict(set)
    reached: defaultdict[Any, set[Any]] = defaultdict(set)
    todo = [model]
    while todo:
        m = todo.pop()
        if m in reached:
            continue
        reached[m] = set()
        for edge in deleting_edges(m):
            if edge.action in ("protect", "restrict"):
                continue
            reached[m].add(edge.model)
            if edge.action != "parent" and not getattr(edge.field.remote_field, "parent_link",
                                                       False):
                incoming[edge.model].add(edge.field)
            todo.append(edge.model)
    found = {m for m, fields in incoming.items() if len(fields) + (m is model) > 1}
    todo = list(found)
    while todo:
        for m in reached[todo.pop()] - found:
            found.add(m)
            todo.append(m)
    return found


def guard_plan(model: Any) -> dict[Any, list[Edge]]:
    """{model: edges to follow} over the models a delete of `model` rows
    cascades to, keeping a cascade only where it leads to a PROTECT or
    RESTRICT foreign key or to a model one restricts (deleting its rows
    lifts the restriction); empty when nothing can refuse the delete."""
    edges: dict[Any, list[Edge]] = {}
    todo = [model]
    while todo:
        m = todo.pop()
        if m not in edges:
            edges[m] = deleting_edges(m)
            todo.extend(e.model for e in edges[m] if e.action not in ("protect", "restrict"))
    restricted = {e.model for es in edges.values() for e in es if e.action == "restrict"}
    wanted = {m for m, es in edges.items()
              if m in restricted or any(e.action in ("protect", "restrict") for e in es)}
    grew = True
    while grew:
        grew = False
        for m, es in edges.items():
            if m not in wanted and any(e.model in wanted for e in es):
                wanted.add(m)
                grew = True
    if model not in wanted:
        return {}
    return {m: [e for e in es if e.action in ("protect", "restrict") or e.model in wanted]
            for m, es in edges.items() if m in wanted}
