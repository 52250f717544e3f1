# Oja — every target is listed by `make help`.
.DEFAULT_GOAL := help
SHELL := /bin/bash
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
RUN := $(UV) run --frozen --no-sync

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

# uv lives in its own small venv so that `uv sync` (which removes what the lock does not name) never
# removes it from under itself.
$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

# Bytecode is compiled once here (--compile-bytecode, compileall for the editable src): where
# PYTHONDONTWRITEBYTECODE is set (as on the CI machine) nothing else writes .pyc files, and every
# process — each test worker, each `oja worker`/`oja serve` a test starts — would otherwise compile
# every module it imports from source again (`import oja.main`: 5.8 s of CPU uncached).
.PHONY: install
install: $(UV) ## Install Oja and its development tools from the lock file into .venv
	$(UV) sync --frozen --quiet --compile-bytecode
	.venv/bin/python -m compileall -q src >/dev/null

.PHONY: run
run: install ## Install, migrate and start Oja on embedded defaults (API :8000 + worker + beat)
	$(RUN) oja serve

.PHONY: test
# Three pytest workers (the suite mostly waits on databases, brokers and subprocesses, so three beat
# one per core even on two cores): each worker has its own PostgreSQL database and Redis
# database; whole files go to one worker, so a module's fixtures are built once. Files start in
# collection order (tests/conftest.py puts the slowest first): xdist would otherwise reorder them
# by their number of tests, and a one-test file that takes minutes (the load test) ran last.
# PYTHONDONTWRITEBYTECODE is cleared for the run so that pytest keeps its rewritten test modules and
# the processes tests start keep what they compile (the CI machine sets it).
TEST_WORKERS ?= 3
test: install ## Install and run the whole test suite (TEST_WORKERS=0 to run in one process)
	PYTHONDONTWRITEBYTECODE= $(RUN) pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

.PHONY: fmt
fmt: install ## Format the code
	$(RUN) ruff format src tests bench
	$(RUN) ruff check --fix src tests bench

.PHONY: lint
lint: install ## Format check, lint and import layers
	$(RUN) ruff format --check src tests bench
	$(RUN) ruff check src tests bench
	$(RUN) lint-imports

.PHONY: types
types: install ## mypy (strict on src/)
	$(RUN) mypy

.PHONY: migrations-check
migrations-check: install ## Migrations apply from scratch and match the models (alembic check)
	rm -rf var/check && mkdir -p var/check
	$(RUN) alembic -x url=sqlite+aiosqlite:///var/check/check.db upgrade head
	$(RUN) alembic -x url=sqlite+aiosqlite:///var/check/check.db check

.PHONY: audit
audit: install ## Supply chain: pip-audit of the locked environment, bandit (high), secrets scan
	RUN="$(RUN) " bash .ci/audit.sh

.PHONY: soak
soak: install ## Reliability harness at soak size: fuzz 300/op, 20 chaos runs (OJA_SOAK=1)
	OJA_SOAK=1 $(RUN) pytest tests/reliability $(PYTEST_ARGS)

.PHONY: check
check: lint types migrations-check audit test ## Everything CI checks: format, lint, layers, types, migrations, supply chain, tests

.PHONY: migrate
migrate: install ## Apply migrations to OJA_DATABASE_URL (default: SQLite under ./var)
	$(RUN) oja migrate

.PHONY: migration
migration: install ## New migration from model changes: make migration m="what changed"
	rm -rf var/autogen && mkdir -p var/autogen
	$(RUN) alembic -x url=sqlite+aiosqlite:///var/autogen/a.db upgrade head
	$(RUN) alembic -x url=sqlite+aiosqlite:///var/autogen/a.db revision --autogenerate -m "$(m)"
	$(RUN) ruff format src/oja/migrations

.PHONY: openapi
openapi: install ## Write the OpenAPI document to docs/openapi.json
	mkdir -p docs
	$(RUN) oja openapi --output docs/openapi.json

.PHONY: postman
postman: install ## Regenerate the Postman collection (docs/postman/) from the OpenAPI document
	$(RUN) python scripts/postman.py

# Every bench/*.py that is a benchmark (run as modules: bench/http.py must not shadow stdlib http).
BENCHES := $(filter-out __init__ common %_fixture,$(basename $(notdir $(wildcard bench/*.py))))

.PHONY: bench
bench: install ## Run every benchmark and print its table (bench/*.py)
	@for name in $(BENCHES); do echo "== bench/$$name.py"; $(RUN) python -m bench.$$name || exit 1; done

.PHONY: eval
eval: install ## Retrieval quality on the synthetic and SQuAD sets, next to BM25 and dense baselines
	$(RUN) python -m oja.rag.eval

.PHONY: clean
clean: ## Remove local state (./var) and caches
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
