# The two front doors: `make demo` runs the main job end to end, `make test` runs every test.
# Both create or refresh the local virtual environment first, so nothing is installed by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LEADS ?= 20000

.PHONY: help venv browser demo test lint bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml setup.py serving/decode/json_reader.c serving/scoring/tree_shap.c
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)  ## create or refresh .venv

browser:  ## Debian's chromium for the browser test (Playwright cannot download browsers here)
	@command -v chromium >/dev/null 2>&1 || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

demo: $(STAMP)  ## simulate, build training sets, train, compare, log and register; one CRM import
	$(BIN)/leadscore demo --leads $(LEADS)

test: $(STAMP) browser  ## ruff, the import contract, the whole test suite (slow tests included)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/pytest

lint: $(STAMP)  ## ruff and the import contract
	$(BIN)/ruff check .
	$(BIN)/lint-imports

bench: $(STAMP)  ## run the benchmarks (minutes; prints figures)
	@command -v wrk >/dev/null 2>&1 || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk)
	$(BIN)/python benchmarks/features.py
	$(BIN)/python benchmarks/quality.py
	$(BIN)/python benchmarks/import.py
	$(BIN)/python benchmarks/learning_curve.py
	$(BIN)/python benchmarks/serving.py
	$(BIN)/python benchmarks/monitoring.py
	$(BIN)/python benchmarks/timing.py
	$(BIN)/python benchmarks/distributed.py

clean:  ## remove generated data and stores (keeps .venv)
	rm -rf data mlruns mlartifacts mlflow.db scored_leads.db reports
