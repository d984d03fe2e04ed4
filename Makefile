# Every target that runs the product depends on .venv, so each works alone on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Node.js and the CDK CLI come from package-lock.json (Node 24 as a registry package, whatever Node
# the machine has): the CDK's jsii runtime and the CLI run on it.
NODE_STAMP := node_modules/.installed
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1

.PHONY: install node demo test lint synth build deploy destroy emulator bench bench-quick clean

install: $(STAMP)

node: $(NODE_STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

$(STAMP): requirements.txt requirements-dev.txt lambdas/requirements.txt lambdas/requirements-landing.txt \
		lambdas/requirements-iceberg.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

demo: install
	$(BIN)/bwp-lake demo --lake-dir lake

test: install node
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

# What CI checks besides the tests: lint, formatting, and the Lambda code's types.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The Lambda bundles, for arm64 and the functions' Python, without Docker: wheels only. Three of them:
# build/lambda/landing for land_report (pyarrow), build/lambda/iceberg for commit_curated (pyarrow and
# pyiceberg, the only function that imports pyiceberg), and build/lambda/core for the others. pip runs again only when a bundle's requirements changed; the code is copied fresh
# every time. manylinux_2_28 as well as 2014: pyarrow ships only 2_28 wheels, and Lambda's
# Python 3.14 runs on Amazon Linux 2023 (glibc 2.34).
BUNDLES := build/lambda
HANDLERS := $(wildcard lambdas/*/handler.py)
PIP_ARM64 := $(BIN)/pip install --quiet --disable-pip-version-check --platform manylinux2014_aarch64 \
	--platform manylinux_2_28_aarch64 --implementation cp --python-version 3.14 --only-binary=:all: \
	--no-warn-conflicts

build: $(BUNDLES)/core.wheels $(BUNDLES)/landing.wheels $(BUNDLES)/iceberg.wheels
	for bundle in core landing iceberg; do \
		rm -rf $(BUNDLES)/$$bundle/bwp $(patsubst lambdas/%/handler.py,$(BUNDLES)/$$bundle/%,$(HANDLERS)) && \
		cp -R lambdas/bwp $(patsubst %/handler.py,%,$(HANDLERS)) $(BUNDLES)/$$bundle/ || exit 1; \
	done
	find $(BUNDLES) -name __pycache__ -prune -exec rm -rf {} +

$(BUNDLES)/core.wheels: lambdas/requirements.txt $(STAMP)
	rm -rf $(BUNDLES)/core
	$(PIP_ARM64) --target $(BUNDLES)/core -r lambdas/requirements.txt
	touch $@

$(BUNDLES)/landing.wheels: lambdas/requirements-landing.txt lambdas/requirements.txt $(STAMP)
	rm -rf $(BUNDLES)/landing
	$(PIP_ARM64) --target $(BUNDLES)/landing -r lambdas/requirements-landing.txt
	touch $@

$(BUNDLES)/iceberg.wheels: lambdas/requirements-iceberg.txt lambdas/requirements-landing.txt lambdas/requirements.txt \
		$(STAMP)
	rm -rf $(BUNDLES)/iceberg
	$(PIP_ARM64) --target $(BUNDLES)/iceberg -r lambdas/requirements-iceberg.txt
	touch $@

# Offline: no AWS credentials, no Docker; cdk-nag runs as part of it.
synth: build node
	$(BIN)/python app.py

# The CDK CLI pinned in package-lock.json; pass e.g. CDK_ARGS="--require-approval never".
deploy: build node
	node_modules/.bin/cdk deploy $(CDK_ARGS)

# The data and access-log buckets are retained: landed reports outlive the stack.
destroy: build node
	node_modules/.bin/cdk destroy $(CDK_ARGS)

emulator: install
	$(BIN)/bwp-lake emulator

# bench writes benchmarks/BENCHMARKS.md, bench-quick build/BENCHMARKS-quick.md (untracked); the last
# line printed is one JSON object of the headline figures.
bench: install
	$(BIN)/python -m benchmarks.run

bench-quick: install
	$(BIN)/python -m benchmarks.run --quick

clean:
	rm -rf $(VENV) build cdk.out lake .pytest_cache
