"""manage.py delete_in_chunks app_label.Model --filter LOOKUP=VALUE ...: delete
a big selection chunk by chunk (heapwatch.django.delete_in_chunks), each chunk
in its own transaction, with a progress bar on a terminal.

Like Django's flush, it first shows what it will delete -- the total and the
count per model, cascades included -- and asks to type 'yes'; --noinput
(--no-input) does not ask, for scripts.  Without --filter it deletes every
row of the model only when told so with --all.

--filter values are read per lookup: `__in` (and `__range`) split on commas,
`__isnull` (and boolean fields) take true/false, yes/no, on/off, 1/0, the
others go through the field's to_python() (a naive date-time is in the
current time zone, as in forms); text lookups (contains, startswith, regex,
...) take the text as it is.

--dry-run deletes nothing: it prints the counts the prompt shows.  Counting
runs Django's deletion Collector on each chunk of primary keys, so it loads at
most one chunk of objects and their cascade at a time (count_in_chunks: the
counts are exact unless one dependent row is reachable from rows in two
different chunks; then it is counted once per chunk, and shown as "at
most").  When the model's queryset class overrides delete() (Wagtail's pages
and collections: a tree's delete() takes each node's descendants along),
only the rows selected are counted, and the prompt says so.
"""

from __future__ import annotations

import datetime
import sys
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import FieldError, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS
from django.db.models import BooleanField
from django.db.models.deletion import ProtectedError, RestrictedError
from django.db.models.expressions import Col
from django.db.models.fields.reverse_related import ForeignObjectRel
from django.db.models.sql import Query
from django.utils import timezone

from heapwatch.django._cascade import maybe_recounted, own_delete
from heapwatch.django._query import distinct_pks
from heapwatch.django.querysets import (
    ChunkedDeleteError,
    ChunkedProtectedError,
    ChunkedRestrictedError,
    count_in_chunks,
    delete_in_chunks,
)

_TRUE = {"1", "true", "t", "yes", "y", "on"}
_FALSE = {"0", "false", "f", "no", "n", "off"}
_LISTS = {"in": None, "range": 2}  # lookup: the number of values it takes (None: any)
_TEXT = {"contains", "icontains", "startswith", "istartswith", "endswith", "iendswith",
         "regex", "iregex"}


def _boolean(raw: str) -> bool:
    word = raw.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(f"{raw!r} is not a boolean (true/false, yes/no, on/off, 1/0)")


def _convert(field: Any, raw: str) -> Any:
    if isinstance(field, BooleanField):
        return _boolean(raw)
    try:
        value = field.to_python(raw)
    except ValidationError as exc:
        raise ValueError("; ".join(exc.messages)) from None
    if (isinstance(value, datetime.datetime) and settings.USE_TZ
            and timezone.is_naive(value)):
        value = timezone.make_aware(value)
    return value


def parse_filter(model: Any, item: str) -> tuple[str, Any]:
    """The filter() keyword and value of `--filter LOOKUP=VALUE` on `model`,
    the value read as the lookup takes it (see the module docstring).
    CommandError naming the unknown field, lookup or bad value."""
    key, sep, raw = item.partition("=")
    if not sep or not key:
        raise CommandError(f"--filter needs LOOKUP=VALUE, got {item!r}")
    query = Query(model)
    try:
        lookups, parts, _ = query.solve_lookup_type(key)
        _, field, targets, _ = query.names_to_path(parts, model._meta, fail_on_missing=True)
    except FieldError as exc:
        raise CommandError(f"bad --filter {item!r}: {exc}") from None
    if isinstance(field, ForeignObjectRel):
        field = targets[0]  # a reverse relation compares the related primary key
    # The lookup chain: transforms, then one lookup; a last name that is a
    # transform means `exact` on it, as in filter().
    lhs: Any = Col(None, field)
    names = list(lookups) or ["exact"]
    for i, name in enumerate(names):
        last = i == len(names) - 1
        if last and lhs.get_lookup(name) is not None:
            lookup = name
            break
        transform = lhs.get_transform(name)
        if transform is None:
            what = "lookup or transform" if last else "transform"
            kind = type(lhs.output_field).__name__
            if lhs.output_field.is_relation and i == 0:  # perhaps a misspelt related field
                what = f"field, {what}"
                kind += f" to {lhs.output_field.related_model.__name__}"
            raise CommandError(f"bad --filter {item!r}: no {what} {name!r} on "
                               f"{model.__name__}.{'__'.join(parts)} ({kind})")
        lhs = transform(lhs)
    else:
        lookup = "exact"
    output = lhs.output_field
    try:
        value: Any
        if lookup == "isnull":
            value = _boolean(raw)
        elif lookup in _LISTS:
            value = [_convert(output, v) for v in raw.split(",")] if raw else []
            want = _LISTS[lookup]
            if want is not None and len(value) != want:
                raise ValueError(f"__{lookup} takes {want} comma-separated values")
        elif lookup in _TEXT:
            value = raw
        else:
            value = _convert(output, raw)
    except ValueError as exc:
        raise CommandError(f"bad --filter {item!r}: {exc}") from None
    return key, value


def _refusal(exc: ProtectedError | RestrictedError) -> str:
    found = exc.protected_objects if isinstance(exc, ProtectedError) else exc.restricted_objects
    objs = sorted(found, key=lambda o: (o._meta.label, str(o.pk)))
    shown = ", ".join(f"{o._meta.label} {o.pk}" for o in objs[:10])
    more = f" and {len(objs) - 10} more" if len(objs) > 10 else ""
    if isinstance(exc, (ChunkedProtectedError, ChunkedRestrictedError)):
        total, counts = exc.deleted
        done = (f"The chunks before it were deleted: {total} rows ({counts}); run again "
                f"to continue." if total else "Nothing was deleted.")
        why = exc.__cause__.args[0] if exc.__cause__ is not None else exc.args[0]
    else:
        done, why = "Nothing was deleted.", exc.args[0]
    return f"{why} {done} Referencing rows: {shown}{more}."


def _forecast(qs: Any, chunk_size: int) -> tuple[int, str, str, list[str]]:
    """What deleting `qs` removes, for the prompt and --dry-run: (rows, how
    many rows, how they are deleted when not as QuerySet.delete() does, one
    line per model)."""
    model = qs.model
    own = own_delete(qs)
    if own is not None:
        n = distinct_pks(qs).count()
        return n, f"{n} {model._meta.label} rows", (
            f",\nwith {own.__module__}.{own.__qualname__}.delete(), which overrides "
            f"QuerySet.delete():\nwhat it deletes with them, and their cascade, is not "
            f"counted beforehand"), []
    total, counts = count_in_chunks(qs, chunk_size)
    bounded: set[str] = set()
    if counts.get(model._meta.label, 0) > chunk_size:
        bounded = {m._meta.label for m in maybe_recounted(model)} & set(counts)
    at_most = "at most " if bounded else ""
    lines = [f"  {label}: {'at most ' if label in bounded else ''}{counts[label]}"
             for label in sorted(counts)]
    if bounded:
        lines.append("  (at most: a row reached from two chunks is counted once per chunk)")
    return total, f"{at_most}{total} rows", "", lines


class Command(BaseCommand):
    help = ("Delete the rows of a model matching --filter (or --all of them), chunk by "
            "chunk, in bounded memory, after showing the counts and asking.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("model", help="app_label.ModelName")
        parser.add_argument("--filter", action="append", default=[], metavar="LOOKUP=VALUE",
                            help="a filter() keyword, e.g. created__lt=2020-01-01, "
                                 "id__in=1,2,3, parent__isnull=true (repeatable)")
        parser.add_argument("--all", action="store_true",
                            help="without --filter: delete every row of the model")
        parser.add_argument("--chunk-size", type=int, default=1000)
        parser.add_argument("--dry-run", action="store_true",
                            help="print the counts per model that would be deleted")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)
        parser.add_argument("--no-progress", action="store_true")
        parser.add_argument("--noinput", "--no-input", action="store_false", dest="interactive",
                            help="do not ask before deleting")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            model = apps.get_model(opts["model"])
        except (LookupError, ValueError) as exc:
            raise CommandError(f"unknown model {opts['model']!r}: {exc}") from exc
        filters: dict[str, Any] = {}
        for item in opts["filter"]:
            key, value = parse_filter(model, item)
            if key in filters:
                raise CommandError(f"--filter {key} given twice")
            filters[key] = value
        label = model._meta.label
        if opts["all"] and filters:
            raise CommandError("--all deletes every row: give it or --filter, not both")
        if not filters and not opts["all"]:
            raise CommandError(f"no --filter: this would delete every {label} row; "
                               f"pass --all to mean that")
        db = opts["database"]
        chunk_size = opts["chunk_size"]
        qs = model._default_manager.using(db).filter(**filters)
        try:
            if opts["dry_run"] or opts["interactive"]:
                total, rows, how, lines = _forecast(qs, chunk_size)
                if opts["dry_run"]:
                    self.stdout.write("\n".join([f"would delete {rows}{how}", *lines]))
                    return
                if total == 0:
                    self.stdout.write(f"no {label} rows match: nothing to delete")
                    return
                if not self._confirm(f"{rows} from the {db!r} database{how}", lines):
                    self.stdout.write("Deletion cancelled.")
                    return
            progress = False if opts["no_progress"] else None
            total, counts = delete_in_chunks(qs, chunk_size, progress=progress)
        except (ChunkedProtectedError, ChunkedRestrictedError) as exc:
            raise CommandError(_refusal(exc)) from exc
        except (ValueError, TypeError) as exc:
            raise CommandError(str(exc)) from exc
        except ChunkedDeleteError as exc:
            raise CommandError(str(exc)) from exc
        except (ProtectedError, RestrictedError) as exc:
            raise CommandError(_refusal(exc)) from exc
        self.stdout.write(f"deleted {total} rows")
        for name in sorted(counts):
            self.stdout.write(f"  {name}: {counts[name]}")

    def _confirm(self, what: str, lines: list[str]) -> bool:
        lines = [f"This will delete {what}" + (":" if lines else "."),
                 *lines, "This cannot be undone. Are you sure you want to do this?", "",
                 "    Type 'yes' to continue, or 'no' to cancel: "]
        self.stdout.write("\n".join(lines), ending="")
        self.stdout.flush()
        try:
            answer = input()
        except EOFError:
            # Standard input closed (a cron job, a pipe): nobody said yes,
            # and a script must not take "nothing deleted" for success.
            self.stdout.write("")
            raise CommandError("no answer: standard input is closed, nothing was deleted; "
                               "pass --noinput to delete without asking") from None
        if not sys.stdin.isatty():
            self.stdout.write("")  # no echoed newline after the prompt
        return answer.strip() == "yes"
