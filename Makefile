# django-mysqlpool developer commands. Each target installs what it needs by itself.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The test server: tests/support/ensure_mariadb.py finds one (or starts a throwaway one
# and records where in .mysqlpool-db.env, which every target below reads).
WITH_DB = if [ -f .mysqlpool-db.env ]; then set -a; . ./.mysqlpool-db.env; set +a; fi;

.PHONY: install db test test-fast test-fallback browser-test faults compat compat-full lint format demo bench bench-chart tox test-sqlalchemy-next clean docs dist

install: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml requirements/test.txt requirements/lint.txt
	bash .ci/system-deps.sh
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e . -r requirements/test.txt -r requirements/lint.txt
	touch $@

db:
	$(PYTHON) tests/support/ensure_mariadb.py

test: install db
	$(WITH_DB) $(PY) -m pytest

test-fast: install db
	$(WITH_DB) $(PY) -m pytest -m "not slow and not browser"

# The suite again with the status word read through the library call instead of from
# libmariadb's MYSQL struct (connection/native.py): the fallback path stays tested.
test-fallback: install db
	$(WITH_DB) MYSQLPOOL_STRUCT_READ=0 $(PY) -m pytest -m "not slow and not browser" -q

# The debug-toolbar panel and Django's debug page in headless Chromium at 1280x800, under
# runserver (tests/browser; make test leaves them out). Chromium and chromedriver are Debian's.
browser-test: install db
	bash .ci/browser-deps.sh
	$(PY) -c "import selenium" 2>/dev/null || $(PY) -m pip install -q selenium
	$(WITH_DB) $(PY) -m pytest -m browser tests/browser

# The fault scenarios alone, with their table (they also run in make test).
faults: install db
	$(WITH_DB) $(PY) -m pytest tests/faults -q

compat: install db
	$(WITH_DB) $(PY) tests/compat/run_compat.py

compat-full: install db
	$(WITH_DB) $(PY) tests/compat/run_compat.py --full

lint: install
	$(VENV)/bin/ruff check django_mysqlpool tests benchmarks
	$(VENV)/bin/ruff format --check django_mysqlpool
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff format django_mysqlpool tests
	$(VENV)/bin/ruff check --fix django_mysqlpool tests

demo: install db
	$(WITH_DB) $(PY) -m tests.demo.run_demo

# Interpreters pyenv installed are put on PATH so tox finds python3.11 ... python3.13.
PYENV_PATHS = $(subst $(eval) ,:,$(wildcard $(HOME)/.pyenv/versions/3.1[1-3]*/bin))

# The benchmark compares with django-db-connection-pool and Django's PostgreSQL pool
# (psycopg, psycopg_pool), installed only in its own venv.
BENCH_VENV ?= .venv-bench

$(BENCH_VENV)/.installed: setup.cfg pyproject.toml Makefile
	bash .ci/system-deps.sh
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install -q --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install -q -e . django-db-connection-pool matplotlib 'psycopg[binary]' psycopg_pool
	touch $@

# PostgreSQL (Django's own pool, the reference row) runs on a throwaway cluster bench.py
# starts and stops; postgres-deps.sh installs it when missing and never fails.
bench: $(BENCH_VENV)/.installed db
	bash benchmarks/postgres-deps.sh
	$(WITH_DB) $(BENCH_VENV)/bin/python benchmarks/bench.py

# Runs the benchmark again, keeps its figures in benchmarks/results.json, draws them and
# writes the figures every page quotes (docs/_generated/figures.rst, README.rst's Performance).
bench-chart: $(BENCH_VENV)/.installed db
	bash benchmarks/postgres-deps.sh
	$(WITH_DB) $(BENCH_VENV)/bin/python benchmarks/bench.py --save benchmarks/results.json
	$(BENCH_VENV)/bin/python benchmarks/chart.py benchmarks/results.json docs/benchmark.png
	$(BENCH_VENV)/bin/python benchmarks/docs_figures.py benchmarks/results.json

tox: install
	$(PY) -m pip install -q tox
	$(WITH_DB) PATH="$(PYENV_PATHS):$$PATH" $(VENV)/bin/tox  # one env at a time: they share the test server

# The suite against the newest SQLAlchemy, pre-releases included, in a venv of its own:
# breakage of the internals the hot path uses (sqlalchemy_contract.py) shows here first.
SA_NEXT_VENV ?= .venv-sa-next

test-sqlalchemy-next: db
	bash .ci/system-deps.sh
	$(PYTHON) -m venv $(SA_NEXT_VENV)
	$(SA_NEXT_VENV)/bin/python -m pip install -q --upgrade pip
	$(SA_NEXT_VENV)/bin/python -m pip install -q -e . -r requirements/test.txt
	$(SA_NEXT_VENV)/bin/python -m pip install -q --pre --upgrade SQLAlchemy 2>&1 | grep -v "incompatible" || true
	$(SA_NEXT_VENV)/bin/python -c "import sqlalchemy; print('SQLAlchemy', sqlalchemy.__version__)"
	$(WITH_DB) $(SA_NEXT_VENV)/bin/python -m pytest -m "not slow"

# The documentation (docs/), built with Sphinx in a venv of its own, from scratch each time
# so that a warning in any page fails the build (-W), as on Read the Docs.
DOCS_VENV ?= .venv-docs

$(DOCS_VENV)/.installed: docs/requirements.txt
	$(PYTHON) -m venv $(DOCS_VENV)
	$(DOCS_VENV)/bin/python -m pip install -q --upgrade pip
	$(DOCS_VENV)/bin/python -m pip install -q -r docs/requirements.txt
	touch $@

docs: $(DOCS_VENV)/.installed
	rm -rf build/docs
	$(DOCS_VENV)/bin/sphinx-build -W --keep-going -q -b html -d build/docs/doctrees docs build/docs/html
	@echo "docs: build/docs/html/index.html"

# The sdist and wheel for PyPI, built and checked (metadata, README rendering) in a venv
# of its own. Upload with: $(DIST_VENV)/bin/twine upload dist/*
# (PYTHONDONTWRITEBYTECODE, if set, only makes setuptools warn that it skips byte-compiling.)
DIST_VENV ?= .venv-dist

dist:
	$(PYTHON) -m venv $(DIST_VENV)
	$(DIST_VENV)/bin/python -m pip install -q --upgrade pip build twine
	rm -rf dist build/lib build/bdist.* django_mysqlpool.egg-info
	env -u PYTHONDONTWRITEBYTECODE $(DIST_VENV)/bin/python -m build
	$(DIST_VENV)/bin/twine check --strict dist/*

clean:
	rm -rf $(VENV) $(SA_NEXT_VENV) build dist *.egg-info .tox .mypy_cache .ruff_cache
