#!/usr/bin/env bash
# Builds the worker bundle (crates/edge/build) with worker-build, using only the tools that
# scripts/setup.sh installed from crates.io and npm: worker-build would otherwise try to
# download wasm-bindgen and wasm-opt.
#
#   AERO2_SKIP_BUILD=1      reuse the existing bundle (tests start wrangler many times)
#   AERO2_WORKER_FEATURES   cargo features, e.g. fault-injection for the fault tests
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ "${AERO2_SKIP_BUILD:-}" = 1 ] && [ -f "$root/crates/edge/build/index.js" ]; then
  exit 0
fi
export PATH="$HOME/.cargo/bin:$PATH"
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$(command -v wasm-bindgen)}"
export WASM_OPT_BIN="${WASM_OPT_BIN:-$root/node_modules/binaryen/bin/wasm-opt}"
export ESBUILD_BIN="${ESBUILD_BIN:-$root/node_modules/.bin/esbuild}"
cd "$root/crates/edge"
args=(--release)
if [ -n "${AERO2_WORKER_FEATURES:-}" ]; then
  args+=(--features "$AERO2_WORKER_FEATURES")
fi
echo "==> Building the worker (worker-build ${args[*]})" >&2
worker-build "${args[@]}"
# worker-build keeps the wasm name section (about 170 KB) for readable stack traces; the
# deployed bundle drops it to stay small. Panics are bugs, and tests catch them by code.
cp build/index_bg.wasm "$root/target/worker-with-names.wasm"  # for twiggy when profiling size
"$WASM_OPT_BIN" --strip-debug --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int \
  --enable-bulk-memory --enable-multivalue --enable-reference-types --enable-exception-handling \
  build/index_bg.wasm -o build/index_bg.wasm
