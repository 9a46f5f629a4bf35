# Two commands matter: `make demo` (set up, seed, serve) and `make test` (set up, run every test).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
NODE_STAMP := node_modules/.installed-stamp
PYTEST_ARGS ?=

.PHONY: setup demo serve test lint messages clean

$(STAMP): pyproject.toml requirements.lock
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

setup: $(STAMP) $(NODE_STAMP)

demo: setup
	CHAOYUN_SIMULATE=1 $(BIN)/chaoyun demo --serve

serve: setup
	$(BIN)/chaoyun serve

test: setup
	$(BIN)/pytest -n 2 --dist loadfile $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check chaoyun tests benchmarks
	$(BIN)/mypy chaoyun

messages: setup
	$(BIN)/python -m chaoyun.i18n_tools update

clean:
	rm -rf $(VENV) node_modules var
