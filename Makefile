# The README names these targets. Set-up is part of every target that needs it: on a fresh machine
# `make demo` and `make test` are all it takes (Python 3.11, Node 20 and npm on PATH).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# pytest-xdist workers for `make test`: one per core (CI has two). Every fixture is per worker (tests/conftest.py);
# loadfile gives each test file whole to one worker, so a module's shared fixtures start once (worksteal split
# files between workers and back again, starting a module's fixture twice in one worker on the same storage).
TEST_WORKERS ?= auto

.PHONY: setup browser demo serve test lint bench schema infra-check clean

setup: $(STAMP) node_modules/.installed

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

# The browser tests drive Debian's chromium (Playwright with executable_path; never `playwright install`, which
# downloads a browser). Only the tests need it: `make demo` does not install it.
browser:
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium)

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

demo: setup  ## the main job: local stack, demo tenant, sample documents delivered, traces shown
	$(VENV)/bin/bilagsbro demo

serve: setup
	$(VENV)/bin/bilagsbro serve

test: setup browser  ## everything CI runs
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	sh infra/check.sh
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: setup
	$(PY) bench/bench_stack.py
	$(PY) bench/bench_cold_start.py
	$(PY) bench/bench_parsers.py

infra-check:  ## checkov on infra/ (its own venv, .venv-checkov/)
	sh infra/check.sh

schema: setup  ## regenerate docs/shared-form.schema.json from the model
	$(PY) -m api.openapi > docs/shared-form.schema.json

clean:
	rm -rf $(VENV) .venv-checkov node_modules .bilagsbro
