# `make lab` sets up .venv and opens the course; `make test` sets it up and runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# CI-sized settings for the notebook runs: short training, shipped checkpoints, and plots
# as small html divs drawn by the website's own plotly.js.
NOTEBOOK_ENV := TOYHELPERS_FAST=1 TOYHELPERS_PLOTLY_RENDERER=page
# The solution notebooks, saved with their outputs by the nbval run (conftest.py), and
# the website made from them.
EXECUTED := _build/executed
SITE := _site
NBVAL := --nbval-lax --nbval-current-env
# `make site MODE=full` runs the notebooks in full mode (training from scratch: hours).
MODE ?= fast
ifeq ($(MODE),full)
SITE_ENV := TOYHELPERS_FAST=0 TOYHELPERS_PLOTLY_RENDERER=page
SITE_TIMEOUT := 86400
else
SITE_ENV := $(NOTEBOOK_ENV)
SITE_TIMEOUT := 900
endif

.PHONY: install lab test unit notebooks exercises lint benchmark site

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

lab: install
	$(BIN)/jupyter lab notebooks/

# Everything CI runs: generated notebooks up to date, lint, unit tests, every solution
# notebook (nbval) and every exercise notebook (stubs fail their checks); then the website
# from the solutions just run, and its test in a browser.
test: install
	$(BIN)/python -m toyhelpers.exercises_build --check
	$(BIN)/ruff check .
	rm -rf $(EXECUTED)
	$(NOTEBOOK_ENV) TOYHELPERS_EXECUTED_DIR=$(EXECUTED) $(BIN)/pytest tests solutions $(NBVAL) \
		--nbval-cell-timeout=900 --durations=15
	$(BIN)/python -m website.build --executed $(EXECUTED) --out $(SITE)
	$(BIN)/pytest tests/browser

# The course website in _site/ (serve it: python3 -m http.server -d _site 8000): runs every solution notebook, fast
# mode unless MODE=full, and renders them with their outputs.
site: install
	rm -rf $(EXECUTED)
	$(SITE_ENV) TOYHELPERS_EXECUTED_DIR=$(EXECUTED) $(BIN)/pytest solutions $(NBVAL) -q \
		--nbval-cell-timeout=$(SITE_TIMEOUT)
	$(BIN)/python -m website.build --executed $(EXECUTED) --out $(SITE) --mode $(MODE)

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
	$(BIN)/python benchmarks/othello_games.py --big 0
