# The two commands of the README:
#   make run    set up (venv, bubblewrap) and run the bot; with no platform secrets: the console chat
#   make test   set up and run the whole check: format, lint, types, import rules, tests
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CONFIG ?= config.yaml

.PHONY: run test setup bwrap check bench clean

# The example's show_env tool prints the secret it is given, to show that output is redacted.
DEMO_API_KEY ?= demo-value-not-a-real-key-7f3a9c

run: setup $(CONFIG)
	DEMO_API_KEY=$(DEMO_API_KEY) $(BIN)/frontdoor run --config $(CONFIG)

test: setup
	scripts/check

setup: $(VENV)/.installed bwrap

$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11 or newer is needed")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

# bubblewrap is the sandbox; install it from Debian when missing (root, or via sudo).
bwrap:
	@command -v bwrap >/dev/null 2>&1 || scripts/install-bwrap

$(CONFIG):
	cp config.example.yaml $(CONFIG)
	@echo "created $(CONFIG) from config.example.yaml"

bench: setup
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
