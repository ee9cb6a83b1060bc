#!/usr/bin/env bash
# Builds the two Workers, and (for the release build) the browser package, which it copies
# into the dashboard's assets (www/dashboard/vendor):
#   - the gate (crates/gate): cargo for wasm32, wasm-bindgen (--target web) and wasm-opt
#     into crates/gate/build; its JavaScript host is crates/gate/js/worker.mjs;
#   - the control plane (crates/control): worker-build into crates/control/build.
# Only the tools scripts/setup.sh installed from crates.io and npm are used: worker-build
# would otherwise try to download wasm-bindgen and wasm-opt.
#
#   AERO2_SKIP_BUILD=1      reuse the existing bundles (tests start wrangler many times)
#   AERO2_WORKER_FEATURES   cargo features of the control plane, e.g. "fault-injection" for
#                           the tests. Such a build goes to crates/control/build-<features>
#                           with its own target directory, so it never replaces or
#                           invalidates the release bundle. (The gate has no features: its
#                           test build is another host, crates/gate/js/test-worker.mjs.)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
features="${AERO2_WORKER_FEATURES:-}"
out_dir="build"
if [ -n "$features" ]; then
  out_dir="build-${features//,/-}"
fi
if [ "${AERO2_SKIP_BUILD:-}" = 1 ] && [ -f "$root/crates/control/$out_dir/index.js" ] \
  && [ -f "$root/crates/gate/build/aero2_gate_bg.wasm" ]; then
  exit 0
fi
export PATH="$HOME/.cargo/bin:$PATH"
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$(command -v wasm-bindgen)}"
export WASM_OPT_BIN="${WASM_OPT_BIN:-$root/node_modules/binaryen/bin/wasm-opt}"
export ESBUILD_BIN="${ESBUILD_BIN:-$root/node_modules/.bin/esbuild}"
WASM_FEATURES=(--enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int
  --enable-bulk-memory --enable-multivalue --enable-reference-types --enable-exception-handling)
mkdir -p "$root/target"

if [ -z "$features" ]; then
  echo "==> Building the gate (cargo for wasm32, wasm-bindgen, wasm-opt -Oz)" >&2
  cargo build -p aero2-gate --target wasm32-unknown-unknown --release --quiet
  gate_build="$root/crates/gate/build"
  rm -rf "$gate_build" && mkdir -p "$gate_build"
  "$WASM_BINDGEN_BIN" --target web --out-dir "$gate_build" \
    "$root/target/wasm32-unknown-unknown/release/aero2_gate.wasm"
  # A copy with the function names, for size profiling (scripts/support/wasm-size.mjs).
  cp "$gate_build/aero2_gate_bg.wasm" "$root/target/gate-with-names.wasm"
  "$WASM_OPT_BIN" -Oz --strip-debug --strip-producers "${WASM_FEATURES[@]}" \
    "$gate_build/aero2_gate_bg.wasm" -o "$gate_build/aero2_gate_bg.wasm"
fi

if [ -n "$features" ]; then
  export CARGO_TARGET_DIR="$root/target/worker-${features//,/-}"
fi
cd "$root/crates/control"
args=(--release --out-dir "$out_dir")
if [ -n "$features" ]; then
  args+=(--features "$features")
fi
echo "==> Building the control plane (worker-build ${args[*]})" >&2
worker-build "${args[@]}"
# worker-build keeps the wasm name section (about 170 KB) for readable stack traces; the
# deployed bundle drops it to stay small. An unstripped copy is kept for size profiling.
# A second -Oz pass, on the module without its names, saves about 2 KB gzipped more; GUFA
# (whole-program flow analysis) before it, about 500 bytes more (measured 2026-12-05; it
# makes the gate larger, so the gate's pass does not run it).
cp "$out_dir/index_bg.wasm" "$root/target/control-with-names${features:+-${features//,/-}}.wasm"
"$WASM_OPT_BIN" --gufa -Oz --strip-debug --strip-producers "${WASM_FEATURES[@]}" \
  "$out_dir/index_bg.wasm" -o "$out_dir/index_bg.wasm"

# The dashboard imports the browser package from its own assets (no CDN).
if [ -z "$features" ]; then
  node "$root/scripts/build-browser.mjs" >/dev/null
  vendor="$root/www/dashboard/vendor/aero2-keys"
  rm -rf "$vendor" && mkdir -p "$vendor"
  cp "$root/crates/browser/pkg/index.js" "$root/crates/browser/pkg/aero2_keys_wasm.js" "$vendor/"
fi
