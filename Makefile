# The README's two commands: `make chat` (set up, then the chat REPL on the embedded default models)
# and `make test` (set up, then the tests CI runs). Both are idempotent: the venv is rebuilt only when
# pyproject.toml changes, and `sensorium models prepare` skips what is already there.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: setup models sysdeps chat test lint bench

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[all]'
	touch $@

# Debian tools the tests drive: tmux (the REPL in a real terminal), espeak-ng (real speech audio),
# postgresql (a throwaway server for the Postgres checkpointer test).
sysdeps:
	@missing=""; for t in tmux espeak-ng; do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	      || echo "warning: could not install$$missing; tests that need them are skipped"; \
	  else echo "warning: install$$missing for the terminal and speech tests"; fi; fi

setup: $(STAMP)

models: $(STAMP)
	$(BIN)/sensorium models prepare

chat: models
	$(BIN)/sensorium chat

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m mypy

test: models sysdeps lint
	$(BIN)/python -m pytest -m "not slow and not gpu"
