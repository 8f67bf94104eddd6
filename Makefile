# The two commands of the README:
#   make demo   installs everything into .venv and runs `moneytrail demo`
#   make test   installs everything into .venv and runs the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install demo test lint docs bench

$(BIN)/moneytrail: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/moneytrail

install: $(BIN)/moneytrail
	bash scripts/web_assets.sh

demo: install
	$(BIN)/moneytrail demo

test: install
	$(BIN)/pytest -n 2 -q

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

docs: install
	$(BIN)/mkdocs build --strict

bench: install
	$(BIN)/python bench/ingest.py
