# Beacon — every target installs what it needs into .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

CHROMIUM ?= /usr/bin/chromium
export CHROMIUM

# make test runs the suite on this many processes (one per core, at most 4: each holds its own moto,
# up to ~3 GB at peak); a module and its shared fixtures stay on one process (--dist loadscope).
# WORKERS=0 runs it in this process.
WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ $$n -gt 4 ] && n=4; echo $$n)

.PHONY: install demo dev test unit integration e2e browser chromium lint bench build validate clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/beacon demo --keep

dev: $(STAMP)
	$(BIN)/beacon dev

# The browser tests drive Debian's chromium (Playwright cannot download its own browser here). As root
# with apt (CI, a fresh Debian machine) it is installed once, quietly; otherwise say how to get it.
chromium:
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's chromium for the browser tests (once)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -qq chromium >/dev/null 2>&1 \
			|| { apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null; }; \
	else \
		echo "The browser tests need Chromium at $(CHROMIUM): run 'sudo apt-get install chromium' (Debian/Ubuntu)"; \
		echo "or set CHROMIUM=/path/to/chromium; until then tests/browser fail and say so."; \
	fi

test: $(STAMP) chromium
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/mypy bench
	$(BIN)/pytest -n $(WORKERS) --dist loadscope --durations=15

unit: $(STAMP)
	$(BIN)/pytest tests/unit

integration: $(STAMP)
	$(BIN)/pytest tests/integration

e2e: $(STAMP)
	$(BIN)/pytest tests/e2e

browser: $(STAMP) chromium
	$(BIN)/pytest tests/browser

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/mypy bench

bench: $(STAMP)
	$(BIN)/python bench/run.py

-include mk/deploy.mk

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache .beacon
