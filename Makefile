# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest docs bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev,docs,bench]"
	touch $(STAMP)

## The main job: the nightly invoice DAG against the bundled dev server (no account, no network).
demo: $(STAMP)
	PYTHONPATH=example_dags $(BIN)/python -m vlm_demo

## Lint, type-check and the whole test suite (dev server and Airflow started by the tests).
test: $(STAMP) lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check airflow_provider_vlm example_dags tests bench
	$(BIN)/ruff format --check airflow_provider_vlm example_dags tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider

docs: $(STAMP)
	$(BIN)/mkdocs build --strict

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .venv-sdk site .demo
