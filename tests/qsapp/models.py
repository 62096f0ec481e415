"""Models for the streaming and chunked-deletion tests (tests/test_querysets.py,
tests/test_stream_*.py, tests/test_delete_in_chunks.py, tests/test_delete_*.py).
No migrations: the test runner creates the tables with run_syncdb."""

from __future__ import annotations

import uuid

from django.contrib.contenttypes.fields import GenericForeignKey, GenericRelation
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


# Streaming through joins that repeat rows (tests/test_stream_joins.py).


class Book(models.Model):
    title = models.CharField(max_length=30)
    price = models.IntegerField(null=True)
    tags = models.ManyToManyField(Tag, related_name="books")


class Review(models.Model):
    book = models.ForeignKey(Book, on_delete=models.CASCADE)
    stars = models.IntegerField()


# PROTECT and RESTRICT (tests/test_delete_protect.py): the example of Django's
# documentation for RESTRICT, with a PROTECT two cascades away from Artist.


class Artist(models.Model):
    name = models.CharField(max_length=20, default="")


class Album(models.Model):
    artist = models.ForeignKey(Artist, on_delete=models.CASCADE)


class Song(models.Model):
    artist = models.ForeignKey(Artist, on_delete=models.CASCADE)
    album = models.ForeignKey(Album, on_delete=models.RESTRICT)


class Award(models.Model):
    album = models.ForeignKey(Album, on_delete=models.PROTECT)


# A generic relation whose objects are protected.


class Label(models.Model):
    # No constraint: run_syncdb creates this unmigrated app's tables before
    # contenttypes' migrations create the table it would reference.
    content_type = models.ForeignKey("contenttypes.ContentType", on_delete=models.CASCADE,
                                     db_constraint=False)
    object_id = models.PositiveIntegerField()
    target = GenericForeignKey("content_type", "object_id")


class Sticker(models.Model):
    label = models.ForeignKey(Label, on_delete=models.PROTECT)


class Poster(models.Model):
    labels = GenericRelation(Label)


# Two foreign keys from one fast-deleted model: an IN list of two parameters
# per primary key (tests/test_delete_args.py).


class Team(models.Model):
    name = models.CharField(max_length=20, default="")


class Match(models.Model):
    home = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="home_matches")
    away = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="away_matches")


# Multi-table inheritance: deleting a Hall deletes its Venue row, which lifts
# a RESTRICT on the Venue (tests/test_delete_protect.py).


class Landlord(models.Model):
    name = models.CharField(max_length=20, default="")


class Venue(models.Model):
    landlord = models.ForeignKey(Landlord, on_delete=models.RESTRICT, related_name="venues")


class Hall(Venue):
    manager = models.ForeignKey(Landlord, on_delete=models.CASCADE, related_name="halls")
