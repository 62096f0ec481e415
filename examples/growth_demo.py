"""The seed's experiment, in plain Python, with heapwatch.

A "view" iterates a big result set of model-like rows whose foreign keys are
loaded lazily.  The rows are cached in a module-level list that is reused
across calls (the QuerySet result-cache mistake), and each call touches a
new slice of foreign keys, which get cached on the rows too.  After each
call heapwatch.show_growth() writes what grew into the app's own log, in
the format the seed's author had to build by hand:

    FirstModel 98327 +98327

Then the same work is done by a streaming version that keeps nothing.
"""

from __future__ import annotations

import logging
import sys
import time

import heapwatch

ROWS = 100_000
FK_PER_CALL = 1_000

logging.basicConfig(
    level=logging.DEBUG,
    stream=sys.stdout,
    format="[%(asctime)s] %(levelname)s [%(name)s] %(message)s",
    datefmt="%d/%m/%Y %H:%M:%S",
)
log = logging.getLogger("leaky_app.views")


class ModelState:
    def __init__(self) -> None:
        self.db = "default"
        self.adding = False
        self.fields_cache: dict[str, object] = {}


class Model:
    def __init__(self, **fields: object) -> None:
        self._state = ModelState()
        for k, v in fields.items():
            setattr(self, k, v)
        self.__dict__  # Django's field descriptors materialize it  # noqa: B018


class SecondModel(Model):
    pass


class ThirdModel(Model):
    pass


class FourthModel(Model):
    pass


class FirstModel(Model):
    def fk(self, name: str, cls: type[Model]) -> Model:
        # A lazily loaded ForeignKey, cached on the instance like Django does.
        cache = self._state.fields_cache
        if name not in cache:
            cache[name] = cls(id=getattr(self, name + "_id"))
        return cache[name]  # type: ignore[return-value]


def fetch_rows(n: int):  # the database cursor
    for i in range(n):
        yield FirstModel(id=i, name=f"row {i}", second_id=i, third_id=i, fourth_id=i)


_RESULT_CACHE: list[FirstModel] | None = None  # the retention mistake
_calls = 0


def leaky_dump(out: list[str]) -> None:
    global _RESULT_CACHE, _calls
    if _RESULT_CACHE is None:
        _RESULT_CACHE = list(fetch_rows(ROWS))
    start = _calls * FK_PER_CALL
    _calls += 1
    for obj in _RESULT_CACHE[start:start + FK_PER_CALL]:
        out.append(f"{obj.id} {obj.fk('second', SecondModel).id} "
                   f"{obj.fk('third', ThirdModel).id} {obj.fk('fourth', FourthModel).id}")


def streaming_dump(out: list[str]) -> None:
    for obj in fetch_rows(ROWS):
        if obj.id < FK_PER_CALL:
            out.append(f"{obj.id} {obj.fk('second', SecondModel).id}")


def run(view, label: str, times: int) -> None:
    for i in range(times):
        out: list[str] = []
        t0 = time.perf_counter()
        view(out)
        out.clear()
        took = time.perf_counter() - t0
        print(f"\n--- {label}, call {i + 1} ({took * 1000:.0f} ms) ---", flush=True)
        heapwatch.show_growth(limit=6, logger=log, level=logging.DEBUG)


def main() -> None:
    print("heapwatch demo: the seed's leaky view, then the streaming fix.")
    heapwatch.growth()  # baseline
    run(leaky_dump, "leaky view (rows cached at module level)", 3)
    run(streaming_dump, "streaming view (nothing kept)", 2)
    c = heapwatch.census()
    fm = c["FirstModel"]
    print(f"\nStill alive: {fm.count} FirstModel objects, {fm.bytes / 2**20:.1f} MiB "
          f"(shallow), held by the leaky view's module-level cache.")


if __name__ == "__main__":
    main()
