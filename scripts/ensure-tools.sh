#!/usr/bin/env bash
# Installs, idempotently, everything the build and tests need beyond rustup and Node/npm:
# the wasm32 target, clippy and rustfmt, worker-build, the wasm-bindgen CLI (same version as the crate) and
# the pinned npm packages (wrangler, binaryen's wasm-opt, esbuild).
set -euo pipefail
cd "$(dirname "$0")/.."

WORKER_BUILD_VERSION=0.8.7
# Must equal the wasm-bindgen crate version pinned in Cargo.toml.
WASM_BINDGEN_VERSION=$(sed -n 's/^wasm-bindgen = "=\(.*\)"$/\1/p' Cargo.toml)
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  echo "==> rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

for component in clippy rustfmt; do
  if ! rustup component list --installed | grep -q "^$component"; then
    echo "==> rustup component add $component"
    rustup component add "$component"
  fi
done

if [[ "$("$CARGO_BIN/worker-build" --version 2>/dev/null || true)" != *"$WORKER_BUILD_VERSION"* ]]; then
  echo "==> installing worker-build $WORKER_BUILD_VERSION (once, about 5 minutes)"
  cargo install worker-build --version "$WORKER_BUILD_VERSION" --locked --force
fi

if [[ "$("$CARGO_BIN/wasm-bindgen" --version 2>/dev/null || true)" != *"$WASM_BINDGEN_VERSION"* ]]; then
  echo "==> installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (once, about 3 minutes)"
  # Not --locked: its lockfile names a crate version the registry lacks.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "==> npm ci"
  npm ci --no-audit --no-fund
fi
