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

$(STAMP): requirements.txt requirements-dev.txt lambdas/requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

demo: install
	$(BIN)/bwp-lake demo --lake-dir lake

test: install node
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

lint: install
	$(BIN)/ruff check .

# The Lambda bundle, for arm64 and the functions' Python, without Docker: wheels only. pip runs
# again only when lambdas/requirements.txt changed; the code is copied fresh every time.
# manylinux_2_28 as well as 2014: pyarrow ships only 2_28 wheels, and Lambda's Python 3.14 runs on
# Amazon Linux 2023 (glibc 2.34).
build: install
	@if ! cmp -s lambdas/requirements.txt build/lambda-requirements.txt; then \
		rm -rf build/lambda build/lambda-requirements.txt && \
		$(BIN)/pip install --quiet --disable-pip-version-check --platform manylinux2014_aarch64 \
			--platform manylinux_2_28_aarch64 \
			--implementation cp --python-version 3.14 --only-binary=:all: --no-warn-conflicts \
			--target build/lambda -r lambdas/requirements.txt && \
		cp lambdas/requirements.txt build/lambda-requirements.txt; \
	fi
	rm -rf build/lambda/bwp $(patsubst lambdas/%/handler.py,build/lambda/%,$(wildcard lambdas/*/handler.py))
	cp -R lambdas/bwp $(patsubst %/handler.py,%,$(wildcard lambdas/*/handler.py)) build/lambda/
	find build/lambda -name __pycache__ -prune -exec rm -rf {} +

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
