"""What --heapwatch-leaks costs a test suite: 200 small tests (a few dicts,
lists and a class instance each; 1 in 50 leaks), run by pytest in a fresh
process without the flag, with it, and without heapwatch's plugin at all
(-p no:heapwatch), best of N each, in alternation.

The flag runs each body 1 + 3 times (warm-up and measured runs) and takes
four censuses and four full collections per test, so its cost grows with the
heap of the test process; the plugin off must cost nothing.

    python bench/pytest_plugin.py [--tests 200] [--repeats 3] [--heap 0]

--heap N keeps N extra objects alive in the test process (a bigger
application's import-time heap).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time

TEST = """
def test_{i}():
    rows = [{{"id": n, "name": str(n)}} for n in range(20)]
    obj = Thing(rows)
    assert len(obj.rows) == 20
    {leak}
"""

HEADER = """
class Thing:
    def __init__(self, rows):
        self.rows = rows

KEPT = []
BALLAST = [[n] for n in range({heap})]
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tests", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--heap", type=int, default=0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        body = HEADER.format(heap=args.heap) + "".join(
            TEST.format(i=i, leak="KEPT.append(obj)" if i % 50 == 49 else "pass")
            for i in range(args.tests))
        with open(os.path.join(d, "test_suite.py"), "w") as f:
            f.write(textwrap.dedent(body))
        with open(os.path.join(d, "pytest.ini"), "w") as f:
            f.write("[pytest]\n")
        env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
        base = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:django",
                "test_suite.py"]
        kinds = {"plugin off (-p no:heapwatch)": ["-p", "no:heapwatch"],
                 "plugin installed, no flag": [],
                 "--heapwatch-leaks": ["--heapwatch-leaks"]}
        best = {k: float("inf") for k in kinds}
        outcome = {}
        for _ in range(args.repeats):
            for kind, extra in kinds.items():
                t = time.perf_counter()
                r = subprocess.run(base + extra, cwd=d, env=env, capture_output=True, text=True)
                best[kind] = min(best[kind], time.perf_counter() - t)
                outcome[kind] = r.stdout.strip().splitlines()[-1]
    print(f"pytest, {args.tests} small tests ({args.tests // 50} leak), "
          f"{args.heap:,} extra objects; best of {args.repeats}, whole pytest process")
    print(f"{'run':<32}{'wall':>10}{'vs no flag':>12}   outcome")
    for kind in kinds:
        ratio = best[kind] / best["plugin installed, no flag"]
        print(f"{kind:<32}{best[kind]:>9.2f}s{ratio:>11.2f}x   {outcome[kind]}")
    per_test = (best["--heapwatch-leaks"] - best["plugin installed, no flag"]) / args.tests
    print(f"cost of the check per test: {per_test * 1e3:.1f} ms")
    off = best["plugin installed, no flag"] / best["plugin off (-p no:heapwatch)"]
    print(f"{'PASS' if off < 1.05 else 'FAIL'}  the plugin without the flag costs nothing "
          f"measurable: {off:.2f}x the run without it (limit 1.05x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
