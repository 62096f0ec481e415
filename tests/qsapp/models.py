"""Models for the streaming and chunked-deletion tests (tests/test_querysets.py,
tests/test_delete_in_chunks.py).  No migrations: the test runner creates the
tables with run_syncdb."""

from __future__ import annotations

import uuid

from django.db import models


class Tag(models.Model):
    name = models.CharField(max_length=20)


class Item(models.Model):
    """An integer-pk row with duplicate-prone and nullable columns."""

    num = models.IntegerField()
    word = models.CharField(max_length=20)
    maybe = models.IntegerField(null=True)
    tag = models.ForeignKey(Tag, null=True, on_delete=models.SET_NULL)
    tags = models.ManyToManyField(Tag, related_name="items")


class UuidItem(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    num = models.IntegerField()
    word = models.CharField(max_length=20)
    maybe = models.IntegerField(null=True)


class StrItem(models.Model):
    code = models.CharField(max_length=30, primary_key=True)
    num = models.IntegerField()
    word = models.CharField(max_length=20)
    maybe = models.IntegerField(null=True)


class Ordered(models.Model):
    """Meta.ordering that is not unique: stream() appends the pk."""

    num = models.IntegerField()
    word = models.CharField(max_length=20)

    class Meta:
        ordering = ["-num", "word"]


if hasattr(models, "CompositePrimaryKey"):  # Django 5.2+

    class Pair(models.Model):
        """A composite primary key."""

        pk = models.CompositePrimaryKey("left", "right")
        left = models.IntegerField()
        right = models.CharField(max_length=10)
        num = models.IntegerField()

else:
    Pair = None


# Deletion: a parent with cascading, SET_NULL and PROTECT dependents.


class Parent(models.Model):
    name = models.CharField(max_length=20)
    group = models.IntegerField(default=0)


class Child(models.Model):
    parent = models.ForeignKey(Parent, on_delete=models.CASCADE, related_name="children")
    name = models.CharField(max_length=20, default="")


class GrandChild(models.Model):
    child = models.ForeignKey(Child, on_delete=models.CASCADE)


class Note(models.Model):
    parent = models.ForeignKey(Parent, null=True, on_delete=models.SET_NULL)


class Lock(models.Model):
    parent = models.ForeignKey(Parent, on_delete=models.PROTECT)


# The benchmark's shape: a row with three foreign keys.


class Kind(models.Model):
    name = models.CharField(max_length=20)


class Owner(models.Model):
    name = models.CharField(max_length=20)


class Place(models.Model):
    name = models.CharField(max_length=20)


class Record(models.Model):
    kind = models.ForeignKey(Kind, on_delete=models.CASCADE)
    owner = models.ForeignKey(Owner, on_delete=models.CASCADE)
    place = models.ForeignKey(Place, on_delete=models.CASCADE)
    name = models.CharField(max_length=40)
    value = models.IntegerField()
