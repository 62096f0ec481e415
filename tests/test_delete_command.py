"""manage.py delete_in_chunks (issue 13, point D): it shows what it will
delete and asks, refuses an unfiltered delete without --all, and reads
--filter values per lookup."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import CommandError, call_command
from django.db import connections
from django.test.utils import CaptureQueriesContext

from tests.qsapp.models import Child, GrandChild, Item, Lock, Match, Parent, Tag, Team

from tests.dbtests import ALIASES, alias  # noqa: F401  (alias is a fixture)

pytestmark = pytest.mark.django_db(databases=ALIASES)


def _family(alias: str, n: int = 6) -> list[Parent]:
    parents = []
    for i in range(n):
        p = Parent.objects.using(alias).create(name=f"p{i}", group=i % 3)
        for j in range(2):
            c = Child.objects.using(alias).create(parent=p, name=f"c{j}")
            GrandChild.objects.using(alias).create(child=c)
        parents.append(p)
    return parents


def _run(alias: str, *args: str, answer: str | None = None,
         monkeypatch: pytest.MonkeyPatch | None = None) -> str:
    if answer is not None:
        assert monkeypatch is not None
        monkeypatch.setattr("sys.stdin", io.StringIO(answer))
    out = io.StringIO()
    call_command("delete_in_chunks", *args, "--database", alias, "--no-progress", stdout=out)
    return out.getvalue()


# ---------------------------------------------------------------------------
# asking first


def test_prompt_shows_counts_and_deletes_on_yes(alias: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    _family(alias)
    text = _run(alias, "qsapp.Parent", "--filter", "group=0", "--chunk-size", "1",
                answer="yes\n", monkeypatch=monkeypatch)
    prompt, _, after = text.partition("Type 'yes' to continue, or 'no' to cancel: ")
    assert after, text
    assert f"This will delete 10 rows from the {alias!r} database:" in prompt
    assert re.findall(r"^  (\S+): (\d+)$", prompt, re.M) == [
        ("qsapp.Child", "4"), ("qsapp.GrandChild", "4"), ("qsapp.Parent", "2")]
    assert "deleted 10 rows" in after
    assert sorted(Parent.objects.using(alias).values_list("group", flat=True)) == [1, 1, 2, 2]


def test_closed_stdin_fails_and_deletes_nothing(alias: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # A cron job that used to delete without asking must not exit 0 now.
    _family(alias)
    with pytest.raises(CommandError, match="--noinput"):
        _run(alias, "qsapp.Parent", "--all", answer="", monkeypatch=monkeypatch)
    assert Parent.objects.using(alias).count() == 6 and Child.objects.using(alias).count() == 12


@pytest.mark.parametrize("answer", ["no\n", "\n", "y\n", "YES please\n"])
def test_anything_but_yes_cancels(answer: str, alias: str,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    _family(alias)
    text = _run(alias, "qsapp.Parent", "--all", answer=answer, monkeypatch=monkeypatch)
    assert "This will delete 30 rows" in text and "Deletion cancelled." in text
    assert Parent.objects.using(alias).count() == 6 and Child.objects.using(alias).count() == 12


@pytest.mark.parametrize("flag", ["--noinput", "--no-input"])
def test_noinput_does_not_ask(flag: str, alias: str) -> None:
    _family(alias)
    with CaptureQueriesContext(connections[alias]) as ctx:
        text = _run(alias, "qsapp.Parent", "--filter", "group=1", flag)
    assert "Type 'yes'" not in text and "deleted 10 rows" in text
    assert not any("COUNT(" in q["sql"] for q in ctx.captured_queries)  # nothing to show


def test_interactive_false_from_call_command(alias: str) -> None:
    _family(alias)
    out = io.StringIO()
    call_command("delete_in_chunks", "qsapp.Parent", "--all", database=alias,
                 interactive=False, no_progress=True, stdout=out)
    assert "deleted 30 rows" in out.getvalue() and Parent.objects.using(alias).count() == 0


def test_nothing_matches_does_not_ask(alias: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _family(alias)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # reading it would cancel
    text = _run(alias, "qsapp.Parent", "--filter", "name=nobody")
    assert "nothing to delete" in text and "Type 'yes'" not in text


def test_counting_for_the_prompt_is_bounded(alias: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Counting reads the table a chunk of keys at a time (LIMIT) and loads
    the cascade of one chunk (pk IN (...)), never the whole table."""
    _family(alias, 12)
    with CaptureQueriesContext(connections[alias]) as ctx:
        text = _run(alias, "qsapp.Parent", "--all", "--chunk-size", "4", answer="no\n",
                    monkeypatch=monkeypatch)
    assert "This will delete 60 rows" in text
    selects = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("SELECT")]
    assert selects
    for sql in selects:
        assert "LIMIT 4" in sql or " IN (" in sql, sql


def test_protected_refuses_before_asking(alias: str, monkeypatch: pytest.MonkeyPatch) -> None:
    parents = _family(alias)
    lock = Lock.objects.using(alias).create(parent=parents[4])
    monkeypatch.setattr("sys.stdin", io.StringIO("yes\n"))
    out = io.StringIO()
    with pytest.raises(CommandError) as info:
        call_command("delete_in_chunks", "qsapp.Parent", "--all", "--chunk-size", "2",
                     "--database", alias, stdout=out)
    assert "Type 'yes'" not in out.getvalue()
    msg = str(info.value)
    assert "'Lock.parent'" in msg and f"qsapp.Lock {lock.pk}" in msg
    assert "Nothing was deleted" in msg
    assert Parent.objects.using(alias).count() == 6


# ---------------------------------------------------------------------------
# --all


def test_unfiltered_delete_needs_all(alias: str) -> None:
    _family(alias)
    with pytest.raises(CommandError, match="no --filter.*every qsapp.Parent row.*--all"):
        _run(alias, "qsapp.Parent", "--noinput")
    with pytest.raises(CommandError, match="no --filter"):
        _run(alias, "qsapp.Parent", "--dry-run")
    with pytest.raises(CommandError, match="not both"):
        _run(alias, "qsapp.Parent", "--all", "--filter", "group=1", "--noinput")
    assert Parent.objects.using(alias).count() == 6
    assert "would delete 30 rows" in _run(alias, "qsapp.Parent", "--all", "--dry-run")
    assert "deleted 30 rows" in _run(alias, "qsapp.Parent", "--all", "--noinput")


# ---------------------------------------------------------------------------
# --filter values


def _items(alias: str) -> list[Item]:
    tags = [Tag.objects.using(alias).create(name=f"t{i}") for i in range(2)]
    items = [Item.objects.using(alias).create(num=i, word=f"w{i % 3}",
                                              maybe=None if i % 2 else i, tag=tags[i % 2])
             for i in range(8)]
    for it in items[:3]:
        it.tags.set(tags)
    return items


@pytest.mark.parametrize("filters, left", [
    (["num__in=1,3,5"], [0, 2, 4, 6, 7]),
    (["num__in=2"], [0, 1, 3, 4, 5, 6, 7]),
    (["num__range=2,4"], [0, 1, 5, 6, 7]),
    (["maybe__isnull=true"], [0, 2, 4, 6]),
    (["maybe__isnull=True"], [0, 2, 4, 6]),
    (["maybe__isnull=1"], [0, 2, 4, 6]),
    (["maybe__isnull=no"], [1, 3, 5, 7]),
    (["maybe__isnull=0", "num__gte=4"], [0, 1, 2, 3, 5, 7]),
    (["num=03"], [0, 1, 2, 4, 5, 6, 7]),
    (["word__startswith=w1"], [0, 2, 3, 5, 6]),
    (["word__in=w0,w2"], [1, 4, 7]),
    (["tag__name=t0"], [1, 3, 5, 7]),
    (["tag__in=__T1__"], [0, 2, 4, 6]),
    (["tags__name=t1"], [3, 4, 5, 6, 7]),  # many-to-many: rows repeat in the join
    (["pk__in=__PKS01__"], [2, 3, 4, 5, 6, 7]),
])
def test_filter_values_per_lookup(filters: list[str], left: list[int], alias: str) -> None:
    items = _items(alias)
    t1 = Tag.objects.using(alias).get(name="t1").pk
    args: list[str] = []
    for f in filters:
        f = f.replace("__T1__", str(t1)).replace("__PKS01__", f"{items[0].pk},{items[1].pk}")
        args += ["--filter", f]
    _run(alias, "qsapp.Item", *args, "--noinput")
    assert sorted(Item.objects.using(alias).values_list("num", flat=True)) == left


@pytest.mark.parametrize("item, pattern", [
    ("nope=1", r"Cannot resolve keyword 'nope' into field. Choices are: .*maybe"),
    ("tag__nope=1", r"no field, lookup or transform 'nope' on Item.tag \(ForeignKey to Tag\)"),
    ("num__nope=1", r"no lookup or transform 'nope' on Item.num \(IntegerField\)"),
    ("num__nope__gt=1", r"no transform 'nope' on Item.num"),
    ("num=abc", r"bad --filter 'num=abc': .*must be an integer"),
    ("num__in=1,x", r"bad --filter 'num__in=1,x': .*must be an integer"),
    ("num__range=1", r"__range takes 2 comma-separated values"),
    ("maybe__isnull=maybe", r"'maybe' is not a boolean"),
    ("num", r"--filter needs LOOKUP=VALUE"),
])
def test_filter_errors_name_the_problem(item: str, pattern: str, alias: str) -> None:
    with pytest.raises(CommandError, match=pattern):
        _run(alias, "qsapp.Item", "--filter", item, "--noinput")


def test_filter_given_twice(alias: str) -> None:
    with pytest.raises(CommandError, match="given twice"):
        _run(alias, "qsapp.Item", "--filter", "num=1", "--filter", "num=2", "--noinput")


def test_bad_chunk_size_is_a_command_error(alias: str) -> None:
    _family(alias, 1)
    with pytest.raises(CommandError, match="chunk_size must be >= 1"):
        _run(alias, "qsapp.Parent", "--all", "--chunk-size", "0", "--noinput")




def test_counts_that_may_be_counted_twice_say_at_most(alias: str) -> None:
    """A Match row references two Teams: with the Teams in several chunks,
    each chunk's Collector counts it (Wagtail: a CommentReply reached from
    its author and from its Comment's author).  The prompt said "This will
    delete 30 rows" for a deletion of 27; it says "at most" where that can
    happen, and only where it can."""
    teams = Team.objects.using(alias).bulk_create([Team(name=f"t{i}") for i in range(4)])
    Match.objects.using(alias).bulk_create(
        [Match(home=teams[i], away=teams[3 - i]) for i in range(4)])
    several = _run(alias, "qsapp.Team", "--all", "--dry-run", "--chunk-size", "1")
    assert several.splitlines() == [
        "would delete at most 12 rows", "  qsapp.Match: at most 8", "  qsapp.Team: 4",
        "  (at most: a row reached from two chunks is counted once per chunk)"]
    one = _run(alias, "qsapp.Team", "--all", "--dry-run", "--chunk-size", "4")
    assert one.splitlines() == ["would delete 8 rows", "  qsapp.Match: 4", "  qsapp.Team: 4"]
    assert "deleted 8 rows" in _run(alias, "qsapp.Team", "--all", "--noinput",
                                    "--chunk-size", "1")
    # A parent's own relations are not reached twice through its child.
    hall = _run(alias, "qsapp.Landlord", "--all", "--dry-run", "--chunk-size", "1")
    assert "at most" not in hall
