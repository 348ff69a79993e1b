# The two commands of the README:
#   make run    set up (venv, bubblewrap) and run the bot; with no platform secrets: the console chat
#   make test   set up and run the whole check: format, lint, types, import rules, tests
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CONFIG ?= config.yaml

.PHONY: run test setup system bench clean

# The example's show_env tool prints the secret it is given, to show that output is redacted.
DEMO_API_KEY ?= demo-value-not-a-real-key-7f3a9c

run: setup $(CONFIG)
	DEMO_API_KEY=$(DEMO_API_KEY) $(BIN)/frontdoor run --config $(CONFIG)

test: setup
	scripts/check

setup: system $(VENV)/.installed

$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11 or newer is needed")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

# bubblewrap (the sandbox), util-linux and python3-venv from the distribution when missing (root, or via sudo).
system:
	@PYTHON=$(PYTHON) scripts/install-system-deps

$(CONFIG):
	cp config.example.yaml $(CONFIG)
	@echo "created $(CONFIG) from config.example.yaml"

BENCHES := sandbox_latency pipeline_latency storage_audit redaction_corpus redaction_speed injection_eval injection_speed

bench: setup
	@for b in $(BENCHES); do echo "== bench/$$b.py"; $(BIN)/python bench/$$b.py || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
