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

# Debian tools sensorium and its tests drive: espeak-ng (phonemes for the spoken reply; real speech audio in
# tests), tesseract-ocr (text in images and video frames), tmux (the REPL in a real terminal), postgresql (a
# throwaway server for the Postgres checkpointer test). Each program's Debian package is named after the colon.
sysdeps:
	@missing=""; for t in tmux espeak-ng tesseract:tesseract-ocr; do \
	  command -v $${t%%:*} >/dev/null || missing="$$missing $${t##*:}"; done; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	      || echo "warning: could not install$$missing; tests that need them are skipped"; \
	  else echo "warning: install$$missing (speech out, text in images, terminal tests)"; fi; fi

setup: $(STAMP)

models: $(STAMP)
	$(BIN)/sensorium models prepare

chat: models sysdeps
	$(BIN)/sensorium chat

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python .ci/typecheck.py

test: models sysdeps lint
	$(BIN)/python -m pytest -m "not slow and not gpu"
