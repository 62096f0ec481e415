# heapwatch: two commands on a fresh machine.
#   make demo   set everything up and run the demo
#   make test   set everything up and run every test (all CPythons present,
#               ASan+UBSan build, valgrind subset, type stubs)

SHELL := /bin/bash
PY311 := $(shell tools/pythons.sh | head -n1)
PYTHONS := $(shell tools/pythons.sh)
VENV := .venv
PIP_FLAGS := -q --disable-pip-version-check
export HEAPWATCH_WERROR := 1
# What the non-editable (sanitizer, debug) venvs need besides heapwatch.
TEST_DEPS := pytest hypothesis objgraph==3.7.0 pytest-django pytest-asyncio 'psycopg[binary]' psutil 'Django>=4.2,<6' prometheus-client gunicorn pytest-xdist selenium 'django-debug-toolbar>=5'
# plotly.js for the HTML report and the staff page, taken from PyPI at build
# time (pinned by hash; tools/vendor_plotly.py says why it is not in git).
VENDOR := src/heapwatch/_vendor/plotly.min.js

.PHONY: demo demo-plain test test-py test-all-pythons test-asan test-valgrind test-types clean

$(VENDOR): tools/vendor_plotly.py
	$(PY311) tools/vendor_plotly.py

$(VENV)/.ok: pyproject.toml setup.py $(wildcard src/heapwatch/_engine/*.[ch]) $(VENDOR)
	test -x $(VENV)/bin/python || $(PY311) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_FLAGS) -U pip setuptools wheel
	$(VENV)/bin/pip install $(PIP_FLAGS) -e '.[test,demo]' 'django-debug-toolbar>=6,<7'
	touch $@

demo: $(VENV)/.ok
	$(VENV)/bin/python examples/run_demo.py

# The plain-Python version of the same story (no Django, no server).
demo-plain: $(VENV)/.ok
	$(VENV)/bin/python examples/growth_demo.py

test: test-py test-all-pythons test-types test-asan test-valgrind
	@echo "make test: all suites passed"

# The main suite on 3.11, in the dev venv.
test-py: $(VENV)/.ok
	$(VENV)/bin/python -m pytest -q

# Every other supported CPython on the machine, each in its own venv with a
# fresh build of the extension.  Django: 5.2 LTS on 3.11 (the dev venv),
# 4.2 LTS on 3.12, the newest (6.x) on 3.13.  The long leak runs (marked
# slow) run once, on 3.11.
test-all-pythons: $(VENDOR)
	@set -e; for py in $(wordlist 2,9,$(PYTHONS)); do \
	  v=$$($$py -c 'import sys; print("%d.%d" % sys.version_info[:2])'); \
	  echo "== CPython $$v ($$py)"; \
	  test -x .venv-$$v/bin/python || $$py -m venv .venv-$$v; \
	  .venv-$$v/bin/pip install $(PIP_FLAGS) -U pip setuptools wheel; \
	  .venv-$$v/bin/pip install $(PIP_FLAGS) --force-reinstall --no-deps --no-build-isolation -e . ; \
	  .venv-$$v/bin/pip install $(PIP_FLAGS) -e '.[test]' "$$(case $$v in 3.12) echo 'Django>=4.2,<5';; *) echo 'Django>=4.2';; esac)" \
	    "$$(case $$v in 3.12) echo 'django-debug-toolbar>=5,<6';; *) echo 'django-debug-toolbar>=5';; esac)"; \
	  .venv-$$v/bin/python -m pytest -q -p no:cacheprovider -m "not slow"; \
	done

# The stubs, checked by mypy against a sample that uses the whole API.
test-types: $(VENV)/.ok
	$(VENV)/bin/python -m mypy --strict tests/typing_sample.py src/heapwatch

# AddressSanitizer + UndefinedBehaviorSanitizer build of the extension,
# whole suite, Python's allocator off so ASan sees every block.
ASAN_LIBS := $(shell gcc -print-file-name=libasan.so) $(shell gcc -print-file-name=libubsan.so)
test-asan: $(VENV)/.ok
	test -x .venv-asan/bin/python || $(PY311) -m venv .venv-asan
	.venv-asan/bin/pip install $(PIP_FLAGS) -U pip setuptools wheel
	HEAPWATCH_SANITIZE=1 .venv-asan/bin/pip install $(PIP_FLAGS) --force-reinstall --no-deps --no-build-isolation .
	.venv-asan/bin/pip install $(PIP_FLAGS) $(TEST_DEPS)
	HEAPWATCH_SANITIZE=1 PYTHONMALLOC=malloc LD_PRELOAD="$(ASAN_LIBS)" \
	  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:strict_string_checks=1 \
	  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  .venv-asan/bin/python -m pytest -q -p no:cacheprovider -m "not slow"

# A small subset under valgrind (memcheck), on a debug build; any error with
# an engine frame fails (tools/valgrind_check.py).
test-valgrind: $(VENV)/.ok
	command -v valgrind >/dev/null || (apt-get update -qq && apt-get install -y -qq valgrind)
	test -x .venv-debug/bin/python || $(PY311) -m venv .venv-debug
	.venv-debug/bin/pip install $(PIP_FLAGS) -U pip setuptools wheel
	HEAPWATCH_DEBUG=1 .venv-debug/bin/pip install $(PIP_FLAGS) --force-reinstall --no-deps --no-build-isolation .
	.venv-debug/bin/pip install $(PIP_FLAGS) pytest hypothesis objgraph==3.7.0
	.venv-debug/bin/python tools/valgrind_check.py -- \
	  .venv-debug/bin/python -m pytest -q -p no:cacheprovider -p no:django -p no:asyncio \
	  -W ignore::pytest.PytestConfigWarning -m valgrind \
	  tests/test_census.py tests/test_growth.py tests/test_safety.py tests/test_tools.py \
	  tests/test_graph.py

clean:
	rm -rf .venv .venv-* build src/*.egg-info src/heapwatch/*.so
