"""Verdicts on growth: which of a request's grown types are leaking.

A census before and after one unit of work (a request) says what grew,
not why.  Most growth is not a leak: a cache filled once (warm-up), garbage
or objects held by the response until it is gone (transient), objects of
other work running at the same time (concurrent).  A leak is growth that
stays and comes again.  The judge tells them apart from censuses alone:

- After each measured unit, the next quiet moment of the process (the start
  of the next request, when nothing else has run since) gives a *settling*
  census.  What a unit added and what is still there then is its net growth;
  growth that did not survive to that moment was transient.
- A (unit name, type) pair's first growth is warm-up; its run of growth
  is counted from what the process holds after it.  A pair whose net growth
  persisted on `leak_after` later settled units, with the process still
  holding what they added (checked at every settling, confirmed or not),
  and whose run added enough to matter (`min_objects` or `min_bytes`), is a
  leak candidate.  It is confirmed once by a full collection and a census right
  at the settling moment (cyclic garbage that reached the oldest generation
  looks persistent until then): what is left of the last unit's growth
  after it is that unit's own; if less than half, the growth was garbage
  and the pair starts over.
- Growth seen for the first time, or that persisted fewer times, is
  warm-up; a unit that overlapped other work is concurrent and never
  blamed.

All state is bounded: at most `max_pairs` pairs, the least recently seen
dropped first.  The judge holds counts only, never objects.
"""

from __future__ import annotations

import gc
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable

from heapwatch._engine import Census, census

LEAK = "leak"
WARMUP = "warm-up"
TRANSIENT = "transient"
CONCURRENT = "concurrent"
VERDICTS = (LEAK, WARMUP, TRANSIENT, CONCURRENT)


@dataclass
class _Pair:
    """What one (unit, type) pair has shown so far."""

    baseline: int           # count of the type after the unit that first grew it
    persisted: int = 0      # later settled units whose growth stayed
    added: int = 0          # growth those units made (objects)
    added_bytes: int = 0    # ... and bytes
    confirmed: bool = False  # survived a full collection
    last_verdict: str = WARMUP


@dataclass
class TypeVerdict:
    name: str
    count: int
    delta: int
    bytes_delta: int
    verdict: str

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "count": self.count, "delta": self.delta,
                "bytes_delta": self.bytes_delta, "verdict": self.verdict}


@dataclass
class _Pending:
    unit: str
    before: Census
    grown: dict[str, tuple[int, int]] = field(default_factory=dict)  # type -> (delta, bytes)


def _count(c: Census, name: str) -> int:
    stats = c.get(name)
    return stats.count if stats is not None else 0


class Judge:
    """Verdicts per grown type for units of work (requests) of a process.

    Call `judge()` when a unit was measured (censuses before and after it)
    and `settle()` with the next quiet census of the process, when nothing
    ran since that unit ended.  Not thread-safe: the caller serialises.
    """

    def __init__(self, *, leak_after: int = 4, min_objects: int = 1000, min_bytes: int = 1 << 20,
                 persist_ratio: float = 0.5, max_pairs: int = 5000, track_types: int = 50,
                 census: Callable[[], Census] | None = None) -> None:
        self.leak_after = leak_after
        self.min_objects = min_objects
        self.min_bytes = min_bytes
        self.persist_ratio = persist_ratio
        self.max_pairs = max_pairs
        self.track_types = track_types
        self._census = census
        self._pairs: OrderedDict[tuple[str, str], _Pair] = OrderedDict()
        self._pending: _Pending | None = None
        self.confirmations = 0

    #: The judge's own classes, for censuses to leave out.
    own_types: tuple[type, ...] = ()

    # ---- one measured unit ------------------------------------------------

    def judge(self, unit: str, before: Census, after: Census, *,
              concurrent: bool = False) -> list[TypeVerdict]:
        """Verdicts for the types that grew from before to after, largest
        growth first.  The unit waits for settle() to learn what stayed."""
        rows = [r for r in after - before if r.delta > 0 or r.bytes_delta > 0]
        if concurrent:
            self._pending = None
            return [TypeVerdict(r.name, r.count, r.delta, r.bytes_delta, CONCURRENT) for r in rows]
        out = []
        pending = _Pending(unit, before)
        for r in rows:
            pair = self._pairs.get((unit, r.name))
            if r.delta > 0 and len(pending.grown) < self.track_types:
                pending.grown[r.name] = (r.delta, r.bytes_delta)
            if pair is None:
                verdict = WARMUP
            elif pair.confirmed:
                verdict = LEAK
            else:
                verdict = pair.last_verdict if pair.last_verdict == TRANSIENT else WARMUP
            out.append(TypeVerdict(r.name, r.count, r.delta, r.bytes_delta, verdict))
        self._pending = pending
        return out

    def wants_clean_start(self, unit: str) -> bool:
        """True when a pair of this unit is one persisting unit short of a
        leak candidate: then the caller should take the unit's `before`
        census after a full collection, so that the confirmation compares
        clean counts on both sides (garbage in `before` that the
        confirming collection frees would hide the unit's growth)."""
        return any(u == unit and not p.confirmed and p.persisted >= self.leak_after - 1
                   and self._significant(p, self.leak_after / max(p.persisted, 1))
                   for (u, _t), p in self._pairs.items())

    def _significant(self, pair: _Pair, scale: float = 1.0) -> bool:
        """Has the run of growth added (scaled: projected) enough to matter?
        Smaller runs are never confirmed: no full collection is spent on
        them, and no leak is reported for them."""
        return (pair.added * scale >= self.min_objects
                or pair.added_bytes * scale >= self.min_bytes)

    def forget_pending(self) -> None:
        """Something ran between the unit and the next quiet moment."""
        self._pending = None

    # ---- the next quiet moment --------------------------------------------

    def settle(self, now: Census) -> list[tuple[str, str]]:
        """Learn what the last judged unit left behind, from a census taken
        at the next quiet moment.  Returns the (unit, type) pairs that became
        confirmed leaks now (their next growth is judged `leak`)."""
        p, self._pending = self._pending, None
        if p is None:
            return []
        candidates = []
        for name, (delta, nbytes) in p.grown.items():
            key = (p.unit, name)
            pair = self._pairs.get(key)
            if pair is None:
                # The first growth of this type by this unit is warm-up
                # whatever it is (a cache filled once looks like a leak's
                # first step): the run is counted from what the process
                # holds after it.
                self._remember(key, _Pair(baseline=_count(now, name)))
                continue
            self._pairs.move_to_end(key)
            kept = _count(now, name) - _count(p.before, name)
            held = _count(now, name) - pair.baseline
            if kept >= self.persist_ratio * delta and held >= self.persist_ratio * (pair.added + delta):
                pair.persisted += 1
                pair.added += delta
                pair.added_bytes += nbytes
                pair.last_verdict = WARMUP
                if (not pair.confirmed and pair.persisted >= self.leak_after
                        and self._significant(pair)):
                    candidates.append((key, pair, delta))
            else:
                # What this unit added is gone (garbage, or held by its
                # response), or the process no longer holds what the run
                # added (a bounded cache that evicts, garbage collected
                # since): the run starts over, even after a confirmation.
                self._pairs[key] = _Pair(baseline=_count(now, name), last_verdict=TRANSIENT)
        return self._confirm(candidates, p.before) if candidates else []

    def _confirm(self, candidates: list[tuple[tuple[str, str], _Pair, int]],
                 before: Census) -> list[tuple[str, str]]:
        """One full collection and census for all candidates: what survives
        it is held by something; what it frees was cyclic garbage.  Only
        the last unit ran between `before` and now, so what is left of its
        growth is its own, whatever other units did to the same types
        earlier; it is confirmed when half of it survives the collection."""
        self.confirmations += 1
        gc.collect()
        clean = self._census() if self._census else census(_skip=self.own_types)
        confirmed = []
        for key, pair, delta in candidates:
            if _count(clean, key[1]) - _count(before, key[1]) >= self.persist_ratio * delta:
                pair.confirmed = True
                confirmed.append(key)
            else:
                self._pairs[key] = _Pair(baseline=_count(clean, key[1]), last_verdict=TRANSIENT)
        return confirmed

    def _remember(self, key: tuple[str, str], pair: _Pair) -> None:
        self._pairs[key] = pair
        while len(self._pairs) > self.max_pairs:
            self._pairs.popitem(last=False)

    # ---- reading ----------------------------------------------------------

    def accumulated(self, unit: str, name: str) -> int:
        """Growth of a confirmed leak pair so far (0 otherwise)."""
        pair = self._pairs.get((unit, name))
        return pair.added if pair is not None and pair.confirmed else 0

    def leaks(self) -> list[tuple[str, str, int]]:
        """(unit, type, objects added) of every confirmed leak."""
        return [(u, t, p.added) for (u, t), p in self._pairs.items() if p.confirmed]


Judge.own_types = (_Pair, _Pending, TypeVerdict)
