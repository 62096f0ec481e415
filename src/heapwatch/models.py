"""The permission of heapwatch's staff page, ``heapwatch.view_heap``.

Django keeps permissions per model, so the app has one model, which has
no table (``managed = False``) and no rows: its migration creates only the
permission (and its content type), for ``migrate`` to add and for the
admin to grant to users and groups.  Superusers have it, as every
permission.
"""

from __future__ import annotations

from django.db import models


class Heap(models.Model):  # type: ignore[misc]  # Django ships no annotations
    """Stands for the process heaps the staff page shows (no table)."""

    # Explicit, so that the project's DEFAULT_AUTO_FIELD never asks for a
    # migration of this app.
    id = models.AutoField(primary_key=True)

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("view_heap", "Can view the heapwatch staff page")]
        verbose_name = "heap"
        verbose_name_plural = "heaps"
