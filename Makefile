# shoplake: `make demo` and `make test` each do all of their own set-up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# The demo's own lake: never ./lake, the default place of a user's own data.
DEMO_LAKE ?= demo-lake
DEMO_START ?= $(shell date -u -d '30 days ago' +%Y-%m-%d)
DEMO_DAYS  ?= 30

.PHONY: setup postgres chromium java demo test lint sql-lint dbt-parse format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## setup: virtual environment with shoplake and its development tools
setup: $(STAMP)

## postgres: make sure PostgreSQL server binaries exist (tests start their own server)
postgres:
	@scripts/ensure_postgres.sh

## chromium: make sure a Chromium browser exists (the page checks drive it headless)
chromium:
	@scripts/ensure_chromium.sh

## java: make sure a Java runtime exists (the Spark ingest engine's tests start a local Spark)
java:
	@scripts/ensure_java.sh

## demo: generate the last 30 days of raw data with bad input mixed in, then the daily run on it
## (in $(DEMO_LAKE); a directory it did not create itself is never deleted)
demo: setup
	@if [ -n "$$(ls -A $(DEMO_LAKE) 2>/dev/null)" ] && [ ! -f $(DEMO_LAKE)/.shoplake-demo ]; then \
		echo "make demo: $(DEMO_LAKE) exists and was not made by make demo; move it or pass DEMO_LAKE=DIR" >&2; exit 1; fi
	rm -rf $(DEMO_LAKE)
	mkdir -p $(DEMO_LAKE) && touch $(DEMO_LAKE)/.shoplake-demo
	$(BIN)/shoplake generate --lake $(DEMO_LAKE) --start $(DEMO_START) --days $(DEMO_DAYS) --faults
	$(BIN)/shoplake run --lake $(DEMO_LAKE)
	@echo
	@echo "Where to look:"
	@echo "  dashboard:   $(DEMO_LAKE)/site/dashboard.html (open it in a browser)"
	@echo "  docs site:   $(BIN)/shoplake serve --lake $(DEMO_LAKE)   (then http://127.0.0.1:8080/)"
	@echo "  warehouse:   $(DEMO_LAKE)/warehouse.duckdb (marts in main, staging in main_staging, intermediate in main_intermediate, run history in shoplake_ops)"
	@echo "  run history: $(BIN)/shoplake status --lake $(DEMO_LAKE)"
	@echo "  lake:        $(DEMO_LAKE)/silver/, $(DEMO_LAKE)/quarantine/, $(DEMO_LAKE)/_state/"

## lint: ruff (lint + format check) and mypy (the package's types)
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## sql-lint: SQLFluff (dbt templater) on the models, tests and analyses; with
## SQL_BASE=<git ref> only on the SQL changed since that ref (a pull request's CI)
sql-lint: setup
	$(BIN)/python -m shoplake.dev_checks sqlfluff $(if $(SQL_BASE),--changed-since $(SQL_BASE))

## dbt-parse: `dbt parse` of the project (no lake or warehouse needed)
dbt-parse: setup
	$(BIN)/python -m shoplake.dev_checks dbt-parse

## test: lint, then the whole test suite (starts PostgreSQL and a local Spark itself).
## Three workers on two cores: the tests wait on child processes and servers much of the
## time (measured on 2 cores: 882 s with 2 workers, 696 s with 3, 810 s with 4);
## TEST_WORKERS=N to change it.
TEST_WORKERS ?= 3
test: setup postgres chromium java lint
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadscope

## format: apply ruff's formatter and autofixes
format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## bench: ingest (bare DuckDB COPY vs shoplake vs PySpark), build and freshness benchmarks
bench: setup java
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python scripts/bench_ingest.py
	$(BIN)/python scripts/bench_build.py
	$(BIN)/python scripts/bench_freshness.py

clean:
	rm -rf $(VENV) $(LAKE) .pytest_cache .ruff_cache
