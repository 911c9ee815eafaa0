# The single entry point. `make run` starts the system, `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export LD_LIBRARY_PATH := /usr/lib/llvm-22/lib$(if $(LD_LIBRARY_PATH),:$(LD_LIBRARY_PATH))

.PHONY: totp bench-lag browser help venv toolchain program program-release verify-program idl test test-rust test-python test-js client-js bench-program run clean node-deps localnet

help:
	@echo "make run              the whole system on embedded PostgreSQL/Redis + the local validator:"
	@echo "                      web (API, admin, /ws), indexer, Celery worker and beat (Ctrl-C stops)"
	@echo "make run DEMO=1       the same, with demo vaults and live deposits, withdrawals, locks and unlocks"
	@echo "make totp             the current authenticator (TOTP) codes of the staff logins make run created"
	@echo "make test             every test: reproducible build, Rust unit tests, SVM, back office, browser"
	@echo "make program          build both programs to target/deploy/*.so (offline SBF toolchain)"
	@echo "make program-release  build and commit-stage the binaries in programs/deploy/"
	@echo "make idl              regenerate idl/*.json from the program sources"
	@echo "make client-js        regenerate the Codama TypeScript client (clients/js/) from idl/*.json"
	@echo "make bench-program    compute units per instruction, written to docs/benchmarks.md"
	@echo "make bench-lag        indexer lag (confirmation → DB row, → WebSocket) over 500 deposits"
	@echo "make localnet         only the local validator (Surfpool) with both programs, the mint and dev wallets"

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

toolchain:
	bash scripts/install-sbf-toolchain.sh

program: toolchain
	bash scripts/build-programs.sh

program-release: program
	cp target/deploy/collateral_vault.so target/deploy/position_manager.so target/deploy/caller_proxy.so programs/deploy/
	cd programs/deploy && sha256sum collateral_vault.so position_manager.so caller_proxy.so > SHA256SUMS

verify-program: toolchain
	bash scripts/build-programs.sh --verify

idl:
	UPDATE_IDL=1 cargo test --quiet -p collateral-vault -p position-manager idl

test-rust:
	cargo test --quiet --workspace

browser:
	bash scripts/install-browser.sh

test-python: venv node-deps browser
	$(PY) -m pytest -q

# The Codama-generated TypeScript client against an in-process local validator (Surfpool).
test-js: node-deps
	npx tsx --test clients/js/test/generated.test.ts clients/js/test/client.test.ts

client-js: node-deps
	node clients/js/scripts/generate.mjs

test: verify-program test-rust test-python test-js

# solders 0.29 carries the p-token SPL Token build that mainnet runs (the CU goals are set on it);
# anchorpy3 pins solders 0.26, so the benchmark gets its own small environment.
BENCH_VENV := .venv-bench
$(BENCH_VENV)/.installed:
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install -q solders==0.29.0
	touch $@

bench-program: venv $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python scripts/bench_program.py --update docs/benchmarks.md
	$(PY) scripts/bench_program.py --update docs/benchmarks.md

bench-lag: venv node-deps
	$(PY) scripts/bench_lag.py --update docs/benchmarks.md

run: venv node-deps
	$(PY) scripts/run.py

totp: venv
	@$(PY) scripts/totp.py

clean:
	rm -rf target

# ---- back office (Django) and the local validator ----
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

node-deps: node_modules/.installed

localnet: node-deps
	node scripts/localnet/localnet.js
