"""The staff page's permission, heapwatch.view_heap (no table: the model
is unmanaged)."""

from django.db import migrations, models


class Migration(migrations.Migration):  # type: ignore[misc]  # Django ships no annotations

    initial = True

    dependencies: list[tuple[str, str]] = []

    operations = [
        migrations.CreateModel(
            name="Heap",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
            ],
            options={
                "verbose_name": "heap",
                "verbose_name_plural": "heaps",
                "permissions": [("view_heap", "Can view the heapwatch staff page")],
                "managed": False,
                "default_permissions": (),
            },
        ),
    ]
