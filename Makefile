# `make lab` sets up .venv and opens the course; `make test` sets it up and runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# CI-sized settings for the notebook runs: short training, shipped checkpoints, small plots.
NOTEBOOK_ENV := TOYHELPERS_FAST=1 TOYHELPERS_PLOTLY_RENDERER=json

.PHONY: install lab test unit notebooks exercises lint benchmark

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

lab: install
	$(BIN)/jupyter lab notebooks/

# Everything CI runs: generated notebooks up to date, lint, unit tests, then every
# solution notebook (nbval) and every exercise notebook (stubs fail their checks).
test: install
	$(BIN)/python -m toyhelpers.exercises_build --check
	$(BIN)/ruff check .
	$(NOTEBOOK_ENV) $(BIN)/pytest tests solutions --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=900 --durations=15

unit: install
	$(BIN)/pytest tests

# Regenerate notebooks/ from solutions/ (and normalise the solutions), and README's lesson
# table from toyhelpers/lessons.py.
exercises: install
	$(BIN)/python -m toyhelpers.exercises_build

lint: install
	$(BIN)/ruff check .

benchmark: install
	$(BIN)/python benchmarks/train_throughput.py
	$(BIN)/python benchmarks/precision_speed.py
	$(BIN)/python benchmarks/import_cost.py
