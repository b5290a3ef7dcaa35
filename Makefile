# halbench developer commands. `make demo` and `make test` set themselves up.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.halbench-installed
export HF_HUB_OFFLINE := 1

.PHONY: setup demo test lint perf clean

## setup: virtualenv in .venv, halbench + dev extras + CPU torch pin, NLTK data
setup: $(STAMP)
	@$(BIN)/halbench -q setup nltk --install-debian > $(VENV)/.nltk-setup.log 2>&1 \
	  || { cat $(VENV)/.nltk-setup.log; exit 1; }

$(STAMP): pyproject.toml constraints-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -c constraints-dev.txt torch==2.13.0
	$(BIN)/python -m pip install -q -c constraints-dev.txt -e '.[dev]'
	@touch $@

## demo: score the bundled demo answers and print the result table
demo: setup
	$(BIN)/halbench demo --out runs/demo

## test: run the test suite
test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check halbench benchmarks tests perf reference_models
	$(BIN)/ruff format --check halbench benchmarks tests perf reference_models

## perf: speed benchmarks (not part of the tests)
perf: setup
	$(BIN)/python perf/bench_object_halbench.py
	$(BIN)/python perf/bench_run.py
	$(BIN)/python perf/bench_vqa.py
	$(BIN)/python perf/bench_judge.py
	$(BIN)/python perf/bench_annotate.py
	$(BIN)/python perf/bench_ddpo.py
	$(BIN)/python perf/bench_ddpo_distributed.py

clean:
	rm -rf $(VENV) runs build *.egg-info .pytest_cache
