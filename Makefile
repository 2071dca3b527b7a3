# Receivables — the few things people do. `make help` lists them.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
# Two workers: the suite waits on PostgreSQL, Kafka and subprocesses as much as on the CPU, so
# two keep `make test` well inside its 15 minutes on a 2-core machine (each PostgreSQL test has
# a database of its own and each Kafka test a topic of its own, so workers never meet).
PYTEST_ARGS ?= -n 2

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: env
env: ## Create or update the Python environment (.venv) from uv.lock
	@deploy/local/python-env.sh

.PHONY: run
run: env ## Start the API on the embedded default (SQLite in ./var, no servers needed)
	@$(UV) run --frozen ar serve

.PHONY: test
test: env infra-up ## Install everything, start PostgreSQL and Kafka, run every test
	@$(UV) run --frozen pytest $(PYTEST_ARGS) || { rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests; the suite must never be empty" >&2; fi; \
	  exit $$rc; }

.PHONY: test-fast
test-fast: env ## Unit, service and API tests on embedded SQLite only: no servers needed
	@$(UV) run --frozen pytest tests/unit tests/service tests/api tests/remittances -m "not integration" -q -n auto

.PHONY: lint
lint: env ## Ruff: lint rules and formatting
	@$(UV) run --frozen ruff check .
	@$(UV) run --frozen ruff format --check .

.PHONY: typecheck
typecheck: env ## mypy: strict on domain/, services/, projections/; bench/ and examples/ as configured
	@$(UV) run --frozen mypy --strict domain services projections
	@$(UV) run --frozen mypy bench examples

.PHONY: check
check: lint typecheck test ## What CI runs: lint, types, then every test

.PHONY: infra-up
infra-up: ## Install (if needed) and start PostgreSQL and Kafka on 127.0.0.1
	@deploy/local/services.sh up

.PHONY: infra-down
infra-down: ## Stop the local PostgreSQL and Kafka
	@deploy/local/services.sh down

.PHONY: infra-status
infra-status: ## Say whether the local services are running
	@deploy/local/services.sh status

.PHONY: bench
BENCH_ARGS ?=
bench: env infra-up ## Run the benchmark harness against the local services (BENCH_ARGS="--no-scale ..." to narrow it), then write the README's table from its results
	@$(UV) run --frozen python -m bench $(BENCH_ARGS)
	@$(UV) run --frozen python -m bench.table --readme

.PHONY: bench-directory
bench-directory: env infra-up ## Only the account search figure (ACCOUNTS=100000 by default)
	@$(UV) run --frozen python -m bench.directory --accounts $(or $(ACCOUNTS),100000)

.PHONY: bench-remittances
bench-remittances: env infra-up ## Only the 835 posting figure (CLAIMS=10000 by default)
	@$(UV) run --frozen python -m bench.remittances --claims $(or $(CLAIMS),10000)

.PHONY: bench-documents
bench-documents: env infra-up ## Only the statement run figure (ACCOUNTS=10000 by default)
	@$(UV) run --frozen python -m bench.documents --accounts $(or $(ACCOUNTS),10000)

SEED ?= 1
MINUTES ?= 10
.PHONY: soak
soak: env infra-up ## Seeded fault simulation for MINUTES from SEED on (make soak SEED=7 MINUTES=30)
	@$(UV) run --frozen python -m tests.simulation --seed $(SEED) --minutes $(MINUTES)
