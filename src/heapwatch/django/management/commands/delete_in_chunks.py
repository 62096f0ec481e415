"""manage.py delete_in_chunks app_label.Model --filter field=value ...: delete
a big selection chunk by chunk (heapwatch.django.delete_in_chunks), each chunk
in its own transaction, with a progress bar on a terminal.

--dry-run deletes nothing: it runs Django's deletion Collector on each chunk of
primary keys (so it loads at most one chunk of objects and their cascade at a
time) and prints what QuerySet.delete() would count per model.  The counts are
exact unless one dependent row is reachable from parents in two different
chunks (e.g. a model with two CASCADE foreign keys to the deleted model); then
it is counted once per chunk, and the dry run reports an upper bound.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.apps import apps
from django.core.exceptions import FieldError, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS
from django.db.models.deletion import Collector, ProtectedError, RestrictedError

from heapwatch.django.querysets import ChunkedDeleteError, delete_in_chunks, pk_chunks


class Command(BaseCommand):
    help = "Delete the rows of a model matching --filter, chunk by chunk, in bounded memory."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("model", help="app_label.ModelName")
        parser.add_argument("--filter", action="append", default=[], metavar="LOOKUP=VALUE",
                            help="a filter() keyword, e.g. created__lt=2020-01-01 (repeatable)")
        parser.add_argument("--chunk-size", type=int, default=1000)
        parser.add_argument("--dry-run", action="store_true",
                            help="print the counts per model that would be deleted")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            model = apps.get_model(opts["model"])
        except (LookupError, ValueError) as exc:
            raise CommandError(f"unknown model {opts['model']!r}: {exc}") from exc
        filters: dict[str, str] = {}
        for item in opts["filter"]:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise CommandError(f"--filter needs LOOKUP=VALUE, got {item!r}")
            filters[key] = value
        if opts["chunk_size"] < 1:
            raise CommandError("--chunk-size must be >= 1")
        db = opts["database"]
        try:
            qs = model._default_manager.using(db).filter(**filters)
            str(qs.query)  # resolve lookups now
        except (FieldError, ValueError, ValidationError, TypeError) as exc:
            raise CommandError(f"bad --filter: {exc}") from exc
        try:
            if opts["dry_run"]:
                total, counts = self._dry_run(qs, db, opts["chunk_size"])
                verb = "would delete"
            else:
                progress = False if opts["no_progress"] else None
                total, counts = delete_in_chunks(qs, opts["chunk_size"], progress=progress)
                verb = "deleted"
        except (ValidationError, ValueError) as exc:
            raise CommandError(f"bad --filter: {exc}") from exc
        except (ChunkedDeleteError, ProtectedError, RestrictedError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{verb} {total} rows")
        for label in sorted(counts):
            self.stdout.write(f"  {label}: {counts[label]}")

    def _dry_run(self, qs: Any, db: str, chunk_size: int) -> tuple[int, dict[str, int]]:
        counts: Counter[str] = Counter()
        for chunk in pk_chunks(qs, chunk_size):
            collector = Collector(using=db, origin=qs)
            collector.collect(qs.model._base_manager.using(db).filter(pk__in=chunk))
            for model, instances in collector.data.items():
                counts[model._meta.label] += len(instances)
            for fast in collector.fast_deletes:
                counts[fast.model._meta.label] += fast.count()
            del collector
        return sum(counts.values()), dict(counts)
