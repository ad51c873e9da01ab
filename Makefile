# Two commands matter: `make run` (set up everything, serve the portal with the reference
# catalog on http://127.0.0.1:8000) and `make test` (the test suite). Both create the
# project's own virtual environment from the pinned requirements.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test venv viewer migrate catalog lint format bench bench-small bench-explain bench-convert worker clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

# The self-hosted Neuroglancer client, rebuilt when its sources change; without Node the
# portal links to the public viewer instead.
VIEWER_SOURCES := viewer/package.json viewer/package-lock.json viewer/vite.config.js viewer/index.html $(wildcard viewer/src/*)

viewer:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory viewer/dist/index.html; \
	else echo "make viewer: Node.js/npm not found; the portal will open datasets in the public Neuroglancer viewer."; fi

viewer/dist/index.html: $(VIEWER_SOURCES)
	bash viewer/build.sh

migrate: venv
	$(PY) manage.py migrate --no-input

catalog: migrate
	$(PY) manage.py load_catalog

run: venv viewer catalog
	$(PY) manage.py runserver $(HOST):$(PORT)

test: venv viewer
	$(PY) -m pytest

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The worker also runs the beat (the periodic sweep of lost and stale jobs); run exactly one
# worker with --beat when there are several.
worker: venv
	$(VENV)/bin/celery -A portal worker --beat --schedule=$(VENV)/celerybeat-schedule --loglevel=info

# The catalog-scale benchmark (bench/README.md): both request mixes, the datasette side-by-side,
# 1,000 and 10,000 datasets. bench-small: 1,000 datasets only, shorter runs.
bench: venv
	$(PY) -m bench.run

# Conversion throughput with 1 and 2 workers and peak memory per worker (bench/convert.py);
# BENCH_CONVERT_ARGS="--megabytes 512" for a shorter run.
bench-convert: venv
	$(PY) -m bench.convert $(BENCH_CONVERT_ARGS)

bench-small: venv
	$(PY) -m bench.run --small

# EXPLAIN (ANALYZE, BUFFERS) of the search, facet and detail queries on the benchmark database.
bench-explain: venv
	$(PY) -m bench.explain --plans --markdown

clean:
	rm -rf $(VENV) staticfiles test-artifacts .pytest_cache
