"""Fill the shop with 100k FirstModel rows (once; reused afterwards)."""

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from shop.models import FirstModel, FourthModel, SecondModel, ThirdModel


class Command(BaseCommand):
    help = "Create the demo rows if they are not there yet."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--rows", type=int, default=100_000)

    def handle(self, *args: Any, **opts: Any) -> None:
        rows = opts["rows"]
        have = FirstModel.objects.count()
        if have >= rows:
            self.stdout.write(f"{have} rows already there")
            return
        with transaction.atomic():
            FirstModel.objects.all().delete()
            for model in (SecondModel, ThirdModel, FourthModel):
                model.objects.all().delete()
                model.objects.bulk_create(model(id=i, name=f"{model.__name__} {i}")
                                          for i in range(1, 1001))
            batch = []
            for i in range(1, rows + 1):
                k = (i - 1) % 1000 + 1
                batch.append(FirstModel(id=i, name=f"row {i}", second_id=k, third_id=k, fourth_id=k))
                if len(batch) == 10_000:
                    FirstModel.objects.bulk_create(batch)
                    batch = []
            FirstModel.objects.bulk_create(batch)
        self.stdout.write(f"created {rows} rows")
