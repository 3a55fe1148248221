# The two commands of the README: `make run` and `make test`. Both create .venv and install
# everything first (pinned by constraints.txt), so they work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint typecheck pytest clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Command 1: the service on embedded defaults (SQLite under ./var, nothing leaves the machine).
run: install
	bash scripts/run-service

# Command 2: every check CI runs (lint, types, the tests on SQLite and PostgreSQL).
test: install lint typecheck pytest

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy

pytest:
	bash scripts/ensure-postgres
	bash scripts/ensure-chromium
	bash scripts/ensure-libreoffice
	$(BIN)/pytest

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
