# zkFL dApp. Two commands do everything on a fresh machine:
#   make demo   - install, build the circuit, run a 5-hospital consortium for 5 proven rounds: anvil, the
#                 aggregator and each hospital as separate processes, each with its own keyfile
#   make test   - install, build the circuit, run the whole test suite
# Needs: python3.11 (venv), node >= 20 with npm. Everything else is installed from this repo's files.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)
export SOLCX_BINARY_PATH := $(CURDIR)/.toolchain/solcx
export PYTHONUNBUFFERED := 1

.PHONY: install solc-shim frontend browser circuits demo demo-large parties-measure test test-fast forge-test fuzz bench bench-large chunk-sweep attack-eval privacy-eval lint clean \
	flower-env flower-bench gbsg2
.DEFAULT_GOAL := demo

$(VENV)/.installed: requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==24.3.1
	@# torch first and pinned: an unpinned torch pulls several GB of CUDA wheels
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@

# The Flower integration's own environment (zkfl_flower, examples/flower-app): flwr and ape cannot share one
# (packaging, protobuf and certifi pins). Torch first, then the pinned lock, then the project without its
# dependencies: only its ape-free layers and zkfl_flower are used there.
FLOWER_VENV := .venv-flower
FLOWER_PY := $(FLOWER_VENV)/bin/python
$(FLOWER_VENV)/.installed: flower/requirements.lock pyproject.toml
	@test -x $(FLOWER_PY) || $(PYTHON) -m venv $(FLOWER_VENV)
	$(FLOWER_PY) -m pip install --quiet --upgrade pip==24.3.1
	$(FLOWER_PY) -m pip install --quiet torch==2.13.0
	$(FLOWER_PY) -m pip install --quiet -r flower/requirements.lock
	$(FLOWER_PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@

flower-env: $(FLOWER_VENV)/.installed

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Always (re)written, it is cheap: the wrappers in .toolchain/ must point into *this* checkout.
solc-shim: node_modules/.installed $(VENV)/.installed
	$(PY) tools/install_solc_shim.py

# ape's compiled contracts (.build/): the web UI's ABIs and enums are generated from them.
CONTRACT_SOURCES := $(shell find contracts -name '*.sol')
.build/__local__.json: $(VENV)/.installed $(CONTRACT_SOURCES) | solc-shim
	$(VENV)/bin/ape compile
	@touch $@

# The web UI (frontend/src -> frontend/dist, bundled by esbuild); served by `ape run serve`. build.mjs first
# writes frontend/src/generated/contracts.js from .build/ (frontend/gen-contracts.mjs).
FRONTEND_SOURCES := $(shell find frontend/src -type f -not -path 'frontend/src/generated/*')
frontend/dist/index.html: node_modules/.installed .build/__local__.json frontend/build.mjs frontend/gen-contracts.mjs $(FRONTEND_SOURCES)
	node frontend/build.mjs

frontend: frontend/dist/index.html

# Headless Chromium for the UI tests (Debian's package; Playwright drives it, it downloads no browser).
browser:
	@command -v chromium >/dev/null || (apt-get update && apt-get install -y --no-install-recommends chromium)

install: $(VENV)/.installed node_modules/.installed solc-shim frontend

circuits: install
	$(PY) -m zkfl_dapp circuits

# Every party its own process (zkfl_dapp/apps/launcher.py); `ape run demo` is the in-process runner.
demo: circuits
	$(VENV)/bin/zkfl demo

# Round wall time: separate party processes against the in-process runner, in one run.
parties-measure: circuits flower-env
	$(PY) -m zkfl_dapp.experiments.parties_measure --rounds 3 --with-flower --out build/parties-measure.json

# Foundry tests of the contracts (forge/: invariant campaigns over RoundManager + ConsortiumRegistry, fuzzed entry
# points), offline, compiled by the project's solc shim. CI-sized here (forge/foundry.toml: fuzz 256 runs,
# invariant 128 runs x depth 32); `make fuzz` is the long campaign (10,000 runs of each, a fresh seed).
forge-test: node_modules/.installed solc-shim
	cd forge && forge test --offline

fuzz: node_modules/.installed solc-shim
	cd forge && FOUNDRY_PROFILE=fuzz forge test --offline --fuzz-seed $$(od -An -N8 -tu8 /dev/urandom | tr -d ' ')

test: circuits browser forge-test flower-env
	$(VENV)/bin/ape test tests
	FLWR_TELEMETRY_ENABLED=0 $(FLOWER_PY) -m pytest tests/flower --confcutdir tests/flower -p no:cacheprovider

test-fast: circuits
	$(VENV)/bin/ape test tests -m "not e2e and not ui"

# The bench's JSON is copied into docs/bench/ and the docs' tables are rewritten from it
# (zkfl_dapp/experiments/bench/docs.py): a figure in the docs is always one a run printed.
bench: circuits
	$(PY) -m zkfl_dapp.experiments.bench
	$(PY) -m zkfl_dapp.experiments.bench.docs --from build/bench/results.json

# The chunk norm circuit's parameters swept (values per chunk, inner columns, range-check decomposition):
# CPU-s per 1,000 values, prover memory, proof size; docs/benchmarks.md ("Choosing the chunk circuit").
chunk-sweep: install
	$(PY) -m zkfl_dapp.experiments.chunk_sweep --chunks 31 --cols 1,2 --decomps 9x4
	$(PY) -m zkfl_dapp.experiments.chunk_sweep --chunks 4096 --cols 1,8 --decomps 12x3,9x4 --append
	$(PY) -m zkfl_dapp.experiments.bench.docs --from build/chunk-sweep/chunk-sweep.json

# The ~114k-parameter model (SUPPORT2, MLP 59-256-256-128-1) committed and norm-proven in 28 chunks of 4,096
# values: 2 rounds of 2 hospitals, each proving its chunks with 2 prover processes (~7 min per hospital on 2
# idle cores; the chunk circuit's key takes ~2 min to build once), then the audit of those rounds. Figures:
# build/bench/large.json and docs/benchmarks.md ("The large model").
LARGE_ENV := ZKFL_DATASET=support2 ZKFL_MODEL=mlp-large ZKFL_WEIGHT_DECAY=0.03 ZKFL_NORM_BOUND_INITIAL=15
demo-large: install
	$(LARGE_ENV) $(PY) -m zkfl_dapp circuits
	$(LARGE_ENV) ZKFL_HOSPITALS=2 ZKFL_QUORUM=2 $(VENV)/bin/ape run demo --rounds 2 --dropout '' --workdir build/large --anvil-port 8547
	$(LARGE_ENV) ZKFL_HOSPITALS=2 ZKFL_QUORUM=2 $(VENV)/bin/ape run audit --workdir build/large --anvil-port 8547

bench-large: install
	$(LARGE_ENV) $(PY) -m zkfl_dapp circuits
	@# the docs get the figures also when a target is missed (the bench then exits 1, and so does make)
	status=0; $(PY) -m zkfl_dapp.experiments.bench.large --workdir build/large || status=$$?; \
		$(PY) -m zkfl_dapp.experiments.bench.docs --from build/bench/large.json && exit $$status
	$(LARGE_ENV) ZKFL_HOSPITALS=2 ZKFL_QUORUM=2 $(VENV)/bin/ape run audit --workdir build/large --anvil-port 8547

# A consortium on a foreign data set (examples/gbsg2: GBSG2, 3 hospitals, 2 CSV + 1 Parquet file), every party a
# separate `zkfl` process with a fresh passphrase key, 5 rounds, `ape run audit`, accuracy/AUC against a central
# model and plain FedAvg: build/gbsg2/gbsg2-report.json (about 3 min; not part of `make test`, which runs
# tests/unit/test_gbsg2.py). Its deploy installs the d = 9 verifier: `make circuits` installs the default again.
gbsg2: install
	$(PY) -m zkfl_dapp.experiments.gbsg2.run --rounds 5 --workdir build/gbsg2

# One Flower FedAvg round against one zkFL round (ZkflStrategy + zkfl_mod) on the same data, in one run.
flower-bench: circuits flower-env
	FLWR_TELEMETRY_ENABLED=0 $(FLOWER_PY) -m zkfl_flower.bench

# Poisoning attacks against plain FedAvg, norm proofs and the median rule: every scenario on the
# circuits' reference semantics (docs/attack-eval.md), then one scenario on the real stack with real
# proofs (docs/attack-eval-proven.md).
attack-eval: circuits
	$(PY) -m zkfl_dapp.experiments.attack_eval --report-dir docs
	$(VENV)/bin/ape run attack --report docs/attack-eval-proven.md
	$(PY) -m zkfl_dapp.experiments.attack_eval.inflation --report docs/attack-eval-inflation.md

# The measured leakage report (docs/privacy-eval.md, from build/privacy-eval/results.json): reconstruction from
# small shards, differencing with and without DP, the round report's figures, prediction receipts, membership
# inference, accuracy against the DP noise. Not part of `make test` (its small cases are).
privacy-eval:
	$(PY) -m zkfl_dapp.experiments.privacy_eval --report docs/privacy-eval.md

# Slither (slither.config.json: fails on any medium or high finding; contracts/generated/ and contracts/test/
# filtered out) on the project's own solc shim, through standard JSON (the only mode the shim answers): no
# solc-select download. VIRTUAL_ENV keeps solc-select's import-time .solc-select/ directory inside .venv.
lint: install
	$(VENV)/bin/ruff check zkfl_dapp scripts tests tools
	$(VENV)/bin/mypy
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(VENV)/bin/slither contracts \
		--solc .toolchain/solcx/solc-v$$(node -p "require('./node_modules/solc/package.json').version")

clean:
	rm -rf build .build contracts/generated frontend/src/generated
