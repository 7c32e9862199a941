# carbonstream: `make demo` runs the main job (a live plant), `make test` runs every check.
# Each creates its own virtual environment in .venv (Python 3.11+ needed).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo example test test-fast soak check lint types unit bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "carbonstream needs Python 3.11 or newer (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# The live plant: embedded PostgreSQL and MQTT broker, simulator, gateways, ingest,
# the API and the live page; prints the page's URL with a demo key. Ctrl-C stops it.
demo: $(STAMP)
	$(BIN)/carbonstream demo $(DEMO_ARGS)

# The batch accounting of the example readings (the former `make demo`).
example: $(STAMP)
	$(BIN)/carbonstream compute --config config/plant.example.yaml \
		--readings config/readings.example.csv --bucket day

test: $(STAMP) lint types unit

# lint-imports: the layering contracts in pyproject.toml (imports point down, no circles).
lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-logo

types: $(STAMP)
	$(BIN)/mypy

# The tests run on PYTEST_WORKERS processes (pytest-xdist): most of their time is spent
# waiting on PostgreSQL, Mosquitto, servers and Chromium, so 4 workers fit on 2 cores.
# `--dist load` hands out tests one by one, the known-long ones first (tests/conftest.py).
# PYTEST_WORKERS=0 runs them in this process, one after another (for debugging).
PYTEST_WORKERS ?= 4
XDIST := -n $(PYTEST_WORKERS) --dist load

unit: $(STAMP)
	$(BIN)/pytest -q $(XDIST)

# Quick local feedback: no tests marked slow, a tenth of the Hypothesis examples
# (tests/hypothesis_profiles.py). CI runs `make test` at full depth.
# Its tests are short and busy on the CPU: one worker per core (each worker pays the
# imports and the collection again; 4 workers took longer than 1).
PYTEST_FAST_WORKERS ?= 2
test-fast: $(STAMP)
	HYPOTHESIS_PROFILE=dev $(BIN)/pytest -q -n $(PYTEST_FAST_WORKERS) --dist load -m "not slow"

# Flake hunt: the integration tests SOAK_RUNS times, each in a new random order, with one
# core kept busy; stops at the first failure and prints the seed that replays it.
SOAK_RUNS ?= 10
soak: $(STAMP)
	scripts/soak.sh $(SOAK_RUNS) $(SOAK_TESTS)

bench: $(STAMP)
	$(BIN)/python benchmarks/core.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .import_linter_cache
