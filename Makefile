# Drivetrain — two commands for a newcomer: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: demo test serve lint assets install clean bench

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "need Python 3.11 (python3.11 or python3 on PATH)"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "need Python 3.11 or newer"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(STAMP)

install: $(STAMP)

## make demo: install, migrate, seed the demo world into ./var/ and serve http://127.0.0.1:8000
demo: $(STAMP)
	$(BIN)/drivetrain demo --customers $${DEMO_CUSTOMERS:-5000}

## make serve: serve whatever ./var/ (or DRIVETRAIN_DATABASE_URL) holds
serve: $(STAMP)
	$(BIN)/drivetrain migrate
	$(BIN)/drivetrain serve

## make test: the whole suite (PostgreSQL too when DRIVETRAIN_TEST_DATABASE_URL is set; browser tests need chromium)
test: $(TEST_STAMP) lint
	$(BIN)/python tests/e2e/ensure_chromium.py
	$(BIN)/python -m pytest -n 2 --dist loadgroup --durations=25 $(PYTEST_ARGS)

lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

## make assets: refresh vendored front-end libraries from the npm lock file
assets:
	npm ci --no-audit --no-fund
	cp node_modules/htmx.org/dist/htmx.min.js src/drivetrain/web/static/vendor/htmx.min.js
	cp node_modules/echarts/dist/echarts.min.js src/drivetrain/web/static/vendor/echarts.min.js

## make bench: the customer-search benchmark (1,000,000 customers; slow)
bench: $(TEST_STAMP)
	$(BIN)/python bench/customer_search.py

clean:
	rm -rf $(VENV) var build *.egg-info
