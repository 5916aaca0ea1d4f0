# entra-edge — `make dev` runs the gateway locally; `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help

CARGO_BIN := $(or $(CARGO_HOME),$(HOME)/.cargo)/bin
# worker-build would download these from GitHub; supply the pinned local ones instead.
BUILD_ENV := WASM_BINDGEN_BIN=$(CARGO_BIN)/wasm-bindgen \
             WASM_OPT_BIN=$(CURDIR)/scripts/wasm-opt \
             ESBUILD_BIN=$(CURDIR)/node_modules/.bin/esbuild

# `--env NAME` when ENV is given on the command line at all: `ENV=""` (the top level only)
# differs from no ENV. An `ENV` from the shell's environment (sh uses it for its startup file)
# is not a wrangler environment and is ignored. The value reaches the command as the shell's
# "$ENV" (make exports command-line variables), never spliced into the command text.
ENV_FLAG = $(if $(filter command line,$(origin ENV)),--env "$$ENV")
# `make deploy`: the named environment, or the top level ("").
DEPLOY_ENV = $(if $(filter command line,$(origin ENV)),"$$ENV","")

SOURCES := $(shell find src -name '*.rs' -o -name '*.js') Cargo.toml Cargo.lock

.PHONY: help tools build dev token test lint unit e2e check-config explain deploy size bench soak fuzz fuzz-cmin clean assertion-key assertion-jwks revoke revocations unrevoke

help:
	@echo "make dev    run the gateway locally (wrangler dev + local Entra authority + example origin)"
	@echo "            ports: make dev PORT=8787 AUTHORITY_PORT=8790 ORIGIN_PORT=8791"
	@echo "make token  print a token the local gateway accepts: make token SCOPES=Orders.Read [ROLES= APP=1 CLIENT= TENANT= AUDIENCE= VERSION=1.0 ACRS=c1 XMS_CC=cp1 IDTYP= OID= LIFETIME= CLAIM='name=value;name=value']"
	@echo "make test   run every test (format and lint checks, host unit tests, end-to-end tests under wrangler dev, the request collection with newman)"
	@echo "make build  release build of the worker into build/"
	@echo "make size   print the release wasm size (raw and gzip)"
	@echo "make bench  benchmark against a pass-through and a jose worker under plain workerd (not part of make test)"
	@echo "make soak   steady-rate soak under plain workerd, default 10 minutes: make soak [SOAK_SECONDS=600 SOAK_RATE=100 SOAK_NEW_TOKENS=10] (not part of make test)"
	@echo "make fuzz   coverage-guided fuzzing of every parser and decision (nightly + cargo-fuzz, installed if missing; not part of make test)"
	@echo "            make fuzz FUZZ_SECONDS=60 FUZZ_TARGETS='token path' FUZZ_SECONDS_token=600; make fuzz-cmin minimizes the corpora"
	@echo "make revoke USER=<oid> | TENANT=<tid> | CLIENT=<app id> | TOKEN_FILE=<file|-> REASON=\"…\" [BEFORE=<time>] [EXPIRES=<time|+28h>] [BY=] [REMOTE=1] [ENV=]"
	@echo "            add an emergency revocation entry (local make dev state, or the deployed KV with REMOTE=1)"
	@echo "make revocations [REMOTE=1] [ENV=]   list the entries;  make unrevoke ID=<entry id> [REMOTE=1] [ENV=]   remove one"
	@echo "make check-config [CONFIG=wrangler.toml] [ENV=name] [STRICT=1]   validate the gateway configuration offline"
	@echo "make explain TOKEN=… | TOKEN=- | TOKEN_FILE=path [ROUTE=\"GET /api/orders\"] [CONFIG=wrangler.toml] [ENV=name] [JWKS=file] [SKIP_SIGNATURE=1] [AT=time] [JSON=1]"
	@echo "             why the gateway accepts or refuses a token (the worker's own checks; never prints the token)"
	@echo "make deploy [ENV=name]   check the configuration strictly, build, and wrangler deploy (top level unless ENV)"
	@echo "make assertion-key [OUT=file]   new ES256 key for the signed identity assertion (prints the wrangler secret put line and the JWKS)"
	@echo "make assertion-jwks KEY=file [MORE='file …']   the assertion JWKS for these keys (for origins that cannot fetch it)"

tools:
	@scripts/ensure-tools.sh

build: tools build/index.js

build/index.js: $(SOURCES)
	$(BUILD_ENV) $(CARGO_BIN)/worker-build --release
	@touch build/index.js

dev: build
	node dev/run.mjs

# Command-line variables (SCOPES=…) reach the script through the environment.
token: tools
	@ENTRA_EDGE_TOKEN_FROM_MAKE=1 node dev/token.mjs

lint: tools
	cargo fmt --check
	cargo clippy --locked --all-targets --features cli -- -D warnings

unit: tools
	cargo test --locked --features cli

e2e: build
	node --test --test-concurrency=1 tests/e2e/

test: lint unit e2e

# The emergency revocation list (dev/revoke.mjs). Only variables given on the command line
# count (USER is also the login name in every environment); values reach the script quoted.
revoke_arg = $(if $(filter command line,$(origin $(1))),--$(2) "$$$(1)")
REVOKE_TARGET = $(if $(REMOTE),--remote) $(call revoke_arg,ENV,env)

revoke: tools
	@node dev/revoke.mjs add $(call revoke_arg,USER,user) $(call revoke_arg,TENANT,tenant) $(call revoke_arg,CLIENT,client) \
	  $(call revoke_arg,TOKEN_FILE,token-file) $(call revoke_arg,REASON,reason) $(call revoke_arg,BEFORE,before) \
	  $(call revoke_arg,EXPIRES,expires) $(call revoke_arg,BY,by) $(REVOKE_TARGET)

revocations: tools
	@node dev/revoke.mjs list $(REVOKE_TARGET)

unrevoke: tools
	@node dev/revoke.mjs remove $(call revoke_arg,ID,id) $(REVOKE_TARGET)

# Like wrangler: wrangler.json, wrangler.jsonc or wrangler.toml, whichever exists.
CONFIG ?= $(or $(firstword $(wildcard wrangler.json wrangler.jsonc wrangler.toml)),wrangler.toml)
CHECKER_NOTE = @test -x target/debug/entra-edge-check || echo "compiling the configuration checker (first run only, about a minute)…"
check-config:
	$(CHECKER_NOTE)
	@cargo run --quiet --locked --features cli --bin entra-edge-check -- $(CONFIG) $(ENV_FLAG) $(if $(STRICT),--strict)

# The token reaches the command through the environment (make exports command-line
# variables), never through its arguments or this recipe's echo: it stays out of `ps` and logs.
explain:
	@test -x target/debug/entra-edge || echo "compiling entra-edge (first run only, about a minute)…"
	@cargo run --quiet --locked --features cli --bin entra-edge -- explain \
	  $(if $(TOKEN_FILE),--token-file "$(TOKEN_FILE)",--token-env TOKEN) \
	  --config $(CONFIG) $(ENV_FLAG) $(if $(ROUTE),--route "$(ROUTE)") \
	  $(if $(JWKS),--jwks "$(JWKS)") $(if $(METADATA),--metadata "$(METADATA)") $(if $(SKIP_SIGNATURE),--skip-signature) \
	  $(if $(AT),--at "$(AT)") $(if $(JSON),--json)

# Placeholders and loopback addresses that would deploy but never work are errors here.
deploy: build
	$(CHECKER_NOTE)
	@cargo run --quiet --locked --features cli --bin entra-edge-check -- $(CONFIG) --env $(DEPLOY_ENV) --strict
	npx wrangler deploy --config $(CONFIG) --env=$(DEPLOY_ENV) $(if $(DRY_RUN),--dry-run --outdir dist)

assertion-key:
	@node dev/assertion-key.mjs $(if $(OUT),--out $(OUT))

assertion-jwks:
	@test -n "$(KEY)" || { echo "make assertion-jwks: KEY=file (the private or public JWK the secret holds) is required" >&2; exit 2; }
	@node dev/assertion-key.mjs --jwks $(KEY) $(MORE)

# Each target for FUZZ_SECONDS (default 60) or FUZZ_SECONDS_<target>; prints execs and coverage.
fuzz:
	@scripts/fuzz.sh run

# Merges fuzz/seeds and the working corpora into the committed, minimized fuzz/corpus.
fuzz-cmin:
	@scripts/fuzz.sh cmin

bench: build
	node bench/run.mjs

# Variables on the command line (SOAK_SECONDS=…) reach the script through the environment.
soak: build
	node bench/soak.mjs

size: build
	@raw=$$(stat -c %s build/index_bg.wasm); gz=$$(gzip -9c build/index_bg.wasm | wc -c); \
	  echo "build/index_bg.wasm: $$((raw / 1024)) KiB raw, $$((gz / 1024)) KiB gzip"

clean:
	rm -rf build target
