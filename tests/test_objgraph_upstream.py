"""objgraph 3.7.0's own test suite and documentation recipes, run against
heapwatch.objgraph.

The suite is not copied here: its sdist is downloaded with pip at test time
(pinned by hash, kept in build/upstream/, which git ignores), and its
tests.py and docs/*.txt are extracted to a temporary directory.  There,
beside them, a two-line ``objgraph.py`` of ours replaces itself in
sys.modules with heapwatch.objgraph, so that ``import objgraph`` and
``mock.patch("objgraph....")`` in the suite reach heapwatch.objgraph.  The
suite runs in a process of its own (it disables the collector, changes
directory, swaps sys.stdout and keeps get_new_ids() state) under a small
runner of ours that leaves out the tests listed in EXCLUDED and reports
every other test's outcome.

Without the sdist in build/upstream/, a download that fails (offline) skips
these tests, except in CI (the CI environment variable is not empty), where it
fails them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import pytest

import heapwatch

VERSION = "3.7.0"
SDIST = f"objgraph-{VERSION}.tar.gz"
SDIST_SHA256 = "b6ef4b244217410509b257970413b01a979d54df48d2d4055b6941e8679ddbbb"
CACHE = Path(__file__).resolve().parent.parent / "build" / "upstream"

# Upstream tests not run, by class or test name, and why.  All of them call
# objgraph's private helpers, whose names and signatures heapwatch does not
# have (its drawing is its own: see heapwatch.objgraph's docstring), or
# test objgraph's packaging.  Where the behaviour is public, the test named
# in the reason checks heapwatch's through the public API.
EXCLUDED = {
    "ShowGraphTest": (
        "private _show_graph(objs, edge_func, swap_source_target, ...) and _obj_node_id, "
        "and objgraph's exact DOT text (node ids, repr labels, colours), which heapwatch "
        "draws differently on purpose.  Public counterparts in tests/test_objgraph_chains.py: "
        "test_show_argument_errors (filename and output), test_callbacks "
        "(extra_node_attrs), test_show_backrefs_draws_the_holders_with_edge_names and "
        "test_show_backrefs_goes_past_modules_not_in_sys_modules (cull_func: is_proper_module), "
        "test_is_interactive_returns_a_graphviz_source (test_ipython)"
    ),
    "FindChainTest": (
        "private _find_chain(obj, predicate, edge_func); public counterpart: "
        "tests/test_objgraph_chains.py::test_no_chain_gives_the_object_alone"
    ),
    "StringRepresentationTest": (
        "private label and repr helpers of objgraph's DOT writer (_obj_label, _obj_attrs, "
        "_long_typename, _safe_repr, _short_repr, _gradient, _edge_label); heapwatch shows "
        "no reprs unless reprs=True and names edges from its own graph"
    ),
    "PresentGraphTest": (
        "private _present_graph(dot_filename, filename) and _program_in_path, with "
        "objgraph.subprocess replaced by a stub; heapwatch renders through heapwatch.dot.  "
        "Public counterparts in tests/test_objgraph_chains.py: test_dot_file_is_private, "
        "test_image_file, test_no_filename_makes_a_png_or_says_why, test_graphviz_missing, "
        "test_no_filename_starts_xdot_when_installed"
    ),
    "doctest_setup_py_works": "objgraph's packaging: imports its setup.py",
}

# The tests of public functions in objgraph's tests.py, all expected to run
# and pass (the doctests of docs/*.txt are checked in test_doc_recipes).
PUBLIC = {
    "AtAddrsTest.test_at_addrs",
    "ByTypeTest.test_long_type_names",
    "ByTypeTest.test_new_garbage",
    "CountTest.test_long_type_names",
    "CountTest.test_no_new_reference_cycles",
    "GetNewIdsTest.test_get_new_ids",
    "GetNewIdsTest.test_get_new_ids_long_typename",
    "GetNewIdsTest.test_get_new_ids_skip_update",
    "GrowthTest.test_growth",
    "GrowthTest.test_show_growth_custom_peak_stats",
    "TypestatsFilterArguTest.test_with_filter",
    "TypestatsFilterArguTest.test_without_filter",
    "TypestatsTest.test_long_type_names",
    "TypestatsTest.test_no_new_reference_cycles",
    "doctest_get_new_ids_prints",
}

# Our objgraph.py beside the suite: it is found before the real objgraph
# (the script's directory comes first on sys.path) and puts heapwatch's in
# its place before anything else imports it.
ALIAS = """\
import sys, heapwatch.objgraph
sys.modules[__name__] = heapwatch.objgraph
"""

# Runs the suite as objgraph's tests.py assembles it (test_suite(): its
# unit tests, its docstring doctests, and docs/*.txt as doctests with its
# own output checker and option flags), leaving out the excluded tests, and
# writes {name: [outcome, details]} as JSON.  Names are test ids without
# the module name ("CountTest.test_long_type_names"; "index_txt" for
# docs/index.txt).
RUNNER = """\
import json, sys, traceback, unittest
import heapwatch.objgraph, objgraph
if objgraph is not heapwatch.objgraph:
    sys.exit("the objgraph alias did not resolve to heapwatch.objgraph")
import tests
excluded, report = json.loads(sys.argv[1]), sys.argv[2]

def name(test):
    return test.id().removeprefix("tests.")

def leaves(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from leaves(t)
        else:
            yield t

outcomes = {}

class Record(unittest.TestResult):
    def addSuccess(self, test):
        outcomes[name(test)] = ["ok", ""]
    def addFailure(self, test, err):
        outcomes[name(test)] = ["fail", "".join(traceback.format_exception(*err))]
    addError = addFailure
    def addSkip(self, test, reason):
        outcomes[name(test)] = ["skip", reason]
    def addUnexpectedSuccess(self, test):
        outcomes[name(test)] = ["fail", "unexpected success"]

kept = []
for test in leaves(tests.test_suite()):
    n = name(test)
    if n in excluded or n.split(".")[0] in excluded:
        outcomes[n] = ["excluded", ""]
    else:
        kept.append(test)
unittest.TestSuite(kept).run(Record())
with open(report, "w") as f:
    json.dump(outcomes, f)
"""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def download_failed(done: subprocess.CompletedProcess[str]) -> None:
    """Skip (offline, outside CI) or fail, with what pip said."""
    said = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
    message = (f"could not download objgraph {VERSION}'s sdist into {CACHE} "
               f"(pip exit status {done.returncode}):\n{said}")
    if "do not match the hashes" in said.lower() or os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(f"{message}\n(offline?  In CI, where CI is not empty, this fails instead.)")


def sdist() -> Path:
    """objgraph's sdist: from the cache if it is there and intact, else
    from pip, written to the cache in one rename (other test runs may be
    reading it)."""
    cached = CACHE / SDIST
    if cached.is_file() and sha256(cached) == SDIST_SHA256:
        return cached
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        requirements = Path(tmp) / "requirements.txt"
        requirements.write_text(f"objgraph=={VERSION} --hash=sha256:{SDIST_SHA256}\n")
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--disable-pip-version-check",
             "--no-deps", "--no-binary", ":all:", "--require-hashes", "--retries", "2",
             "--timeout", "20", "-r", str(requirements), "-d", tmp],
            capture_output=True, text=True, timeout=600, check=False)
        got = Path(tmp) / SDIST
        if done.returncode != 0 or not got.is_file():
            download_failed(done)
        assert sha256(got) == SDIST_SHA256, "pip checked the hash; the file must match it"
        os.replace(got, cached)
    return cached


def extract(archive: Path, into: Path) -> None:
    """tests.py and docs/*.txt, by name: nothing else is written."""
    (into / "docs").mkdir()
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            top, _, rel = member.name.partition("/")
            wanted = rel == "tests.py" or re.fullmatch(r"docs/[\w.-]+\.txt", rel)
            if top == f"objgraph-{VERSION}" and member.isfile() and wanted:
                data = tar.extractfile(member)
                assert data is not None
                (into / rel).write_bytes(data.read())


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[str]]]:
    """The extracted suite's directory, and each test's [outcome, details]."""
    work = tmp_path_factory.mktemp("objgraph-upstream")
    extract(sdist(), work)
    (work / "objgraph.py").write_text(ALIAS)
    (work / "run_upstream.py").write_text(RUNNER)
    report = work / "report.json"
    # heapwatch from where this process has it (an editable install, or
    # the sanitizer venv's site-packages).
    where = str(Path(heapwatch.__file__).resolve().parent.parent)
    path = [where] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path))
    done = subprocess.run(
        [sys.executable, "-W", "error", "run_upstream.py", json.dumps(sorted(EXCLUDED)),
         str(report)],
        cwd=work, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0 and report.is_file(), done.stdout + done.stderr
    outcomes: dict[str, list[str]] = json.loads(report.read_text())
    return work, outcomes


def problems(outcomes: dict[str, list[str]], names: set[str]) -> str:
    return "\n\n".join(f"{n}: {outcomes[n][0]}\n{outcomes[n][1]}" for n in sorted(names)
                       if outcomes[n][0] != "ok")


def test_unit_tests(upstream: tuple[Path, dict[str, Any]]) -> None:
    _, outcomes = upstream
    unit = {n for n in outcomes if not n.endswith("_txt")}
    excluded = {n for n in unit if outcomes[n][0] == "excluded"}
    # Every entry of EXCLUDED left out at least one test (no stale entries),
    # and every test left out is one of them.
    assert {n.split(".")[0] for n in excluded} | excluded >= set(EXCLUDED)
    assert unit - excluded == PUBLIC, "objgraph's suite is not the one reviewed"
    assert not problems(outcomes, PUBLIC), problems(outcomes, PUBLIC)


def test_doc_recipes(upstream: tuple[Path, dict[str, Any]]) -> None:
    """docs/*.txt as objgraph runs them: with ELLIPSIS, and its own checker,
    which takes any node count in "Graph written to ... (N nodes)" where the
    example says NODES_VARY, and any non-empty output where it says
    RANDOM_OUTPUT (tables of the live heap).  Nothing is loosened here:
    every other line must match, exact node counts included, and "Image
    generated as ..." needs Graphviz's dot.  objgraph itself leaves out
    docs/uncollectable.txt on Python 3.4 and later (a finalizer no longer
    keeps a cycle in gc.garbage); so does this run."""
    work, outcomes = upstream
    if shutil.which("dot") is None and not os.environ.get("CI"):
        pytest.skip("Graphviz's dot is not installed: the recipes render images")
    docs = {p.name.replace(".", "_"): p.read_text(encoding="utf-8")
            for p in (work / "docs").glob("*.txt")}
    with_examples = {n for n, text in docs.items() if re.search(r"^\s*>>> ", text, re.M)}
    # The recipes that pass is_proper_module to find_backref_chain.
    assert {"index_txt", "generator-sample_txt"} <= with_examples
    ran = {n for n in outcomes if n.endswith("_txt")}
    assert ran == set(docs) - {"uncollectable_txt"}
    assert not problems(outcomes, with_examples & ran), problems(outcomes, with_examples & ran)
    # Files without examples pass, or are reported as skipped (3.13).
    assert all(outcomes[n][0] in ("ok", "skip") for n in ran - with_examples)

