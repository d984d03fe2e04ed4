# Every target that runs the product depends on .venv, so each works alone on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1

.PHONY: install demo test lint synth build deploy destroy emulator bench clean

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt lambdas/requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

demo: install
	$(BIN)/bwp-lake demo --lake-dir lake

test: install
	$(BIN)/python -m pytest -n 2 -q

lint: install
	$(BIN)/ruff check .

emulator: install
	$(BIN)/bwp-lake emulator

bench: install
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) build cdk.out lake .pytest_cache
