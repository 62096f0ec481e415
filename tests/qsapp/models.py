"""Models for the streaming and chunked-deletion tests (tests/test_querysets.py,
tests/test_stream_*.py, tests/test_delete_in_chunks.py, tests/test_delete_*.py).
No migrations: the test runner creates the tables with run_syncdb."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.contenttypes.fields import GenericForeignKey, GenericRelation
from django.db import models
from django.db.models import Case, F, Q, When
from django.db.models.functions import Lower


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


class Pin(models.Model):
    """Left to the database's foreign key constraint: deleting its Parent
    fails with IntegrityError at commit."""

    parent = models.ForeignKey(Parent, on_delete=models.DO_NOTHING)


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


class Booking(models.Model):
    """Fast-deleted from a Venue, and again from a Hall's inherited relations."""

    venue = models.ForeignKey(Venue, on_delete=models.CASCADE, related_name="bookings")


# Shapes met in Wagtail's models (tests/test_stream_shapes.py).


class Section(models.Model):
    """Meta.ordering by a nullable field and an expression: order_by
    ("section") sorts by it, order_by("section_id") by the column (Wagtail's
    Locale and Page.locale)."""

    name = models.CharField(max_length=20)
    rank = models.IntegerField(null=True)

    class Meta:
        ordering = ["-rank", Lower("name")]


class Host(models.Model):
    """Meta.ordering by an expression (Wagtail's Site manager orders so)."""

    hostname = models.CharField(max_length=20)
    site_name = models.CharField(max_length=20, blank=True)

    class Meta:
        ordering = [Case(When(site_name="", then=Lower("hostname")), default=Lower("site_name"))]


class Article(models.Model):
    section = models.ForeignKey(Section, null=True, on_delete=models.SET_NULL)
    host = models.ForeignKey(Host, null=True, on_delete=models.SET_NULL)
    title = models.CharField(max_length=20)
    # A data descriptor: reading the attribute converts the loaded value.
    attachment = models.FileField(upload_to="a/", blank=True)


# A queryset class with its own delete(): a materialized-path tree whose
# delete() removes each node's subtree and lowers its parent's child count,
# as django-treebeard's MP_NodeQuerySet does for Wagtail's pages
# (tests/test_delete_own.py).


class NodeQuerySet(models.QuerySet["Node"]):
    def delete(self) -> tuple[int, dict[str, int]]:
        nodes = Node.objects.using(self.db)
        paths = set(self.values_list("path", flat=True))
        tops = [p for p in paths if not any(p[:i] in paths for i in range(2, len(p), 2))]
        for p in tops:
            if len(p) > 2:
                nodes.filter(path=p[:-2]).update(children=F("children") - 1)
        subtrees = Q(pk__in=[])
        for p in tops:
            subtrees |= Q(path__startswith=p)
        return models.QuerySet.delete(nodes.filter(subtrees))


class Node(models.Model):
    path = models.CharField(max_length=20, unique=True)  # two characters a level
    children = models.IntegerField(default=0)

    objects = NodeQuerySet.as_manager()


class NodeLock(models.Model):
    node = models.ForeignKey(Node, on_delete=models.PROTECT)


# A project's own on_delete function (tests/test_delete_protect.py): it may
# refuse, so delete_in_chunks() cannot check it before deleting.
def refuse_like_protect(collector: Any, field: Any, sub_objs: Any, using: str) -> None:
    models.PROTECT(collector, field, sub_objs, using)


class Account(models.Model):
    name = models.CharField(max_length=20, default="")


class Claim(models.Model):
    account = models.ForeignKey(Account, on_delete=refuse_like_protect)


class Memo(models.Model):
    account = models.ForeignKey(Account, null=True, on_delete=models.SET(None))
