#!/usr/bin/env bash
# Builds the worker bundle with worker-build, and (for the release build) the browser
# package, which it copies into the dashboard's assets (www/dashboard/vendor). Only the
# tools scripts/setup.sh installed from crates.io and npm are used: worker-build would
# otherwise try to download wasm-bindgen and wasm-opt.
#
#   AERO2_SKIP_BUILD=1      reuse the existing bundle (tests start wrangler many times)
#   AERO2_WORKER_FEATURES   cargo features, e.g. "fault-injection" for the tests. Such a
#                           build goes to crates/edge/build-<features> with its own target
#                           directory, so it never replaces or invalidates the release bundle.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
features="${AERO2_WORKER_FEATURES:-}"
out_dir="build"
if [ -n "$features" ]; then
  out_dir="build-${features//,/-}"
  export CARGO_TARGET_DIR="$root/target/worker-${features//,/-}"
fi
if [ "${AERO2_SKIP_BUILD:-}" = 1 ] && [ -f "$root/crates/edge/$out_dir/index.js" ]; then
  exit 0
fi
export PATH="$HOME/.cargo/bin:$PATH"
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$(command -v wasm-bindgen)}"
export WASM_OPT_BIN="${WASM_OPT_BIN:-$root/node_modules/binaryen/bin/wasm-opt}"
export ESBUILD_BIN="${ESBUILD_BIN:-$root/node_modules/.bin/esbuild}"
cd "$root/crates/edge"
args=(--release --out-dir "$out_dir")
if [ -n "$features" ]; then
  args+=(--features "$features")
fi
echo "==> Building the worker (worker-build ${args[*]})" >&2
worker-build "${args[@]}"
# worker-build keeps the wasm name section (about 170 KB) for readable stack traces; the
# deployed bundle drops it to stay small. An unstripped copy is kept for size profiling
# (scripts/support/wasm-size.mjs; one file per feature set); panics are bugs, and the tests catch them by their error codes.
mkdir -p "$root/target"
cp "$out_dir/index_bg.wasm" "$root/target/worker-with-names${features:+-${features//,/-}}.wasm"
"$WASM_OPT_BIN" --strip-debug --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int \
  --enable-bulk-memory --enable-multivalue --enable-reference-types --enable-exception-handling \
  "$out_dir/index_bg.wasm" -o "$out_dir/index_bg.wasm"

# The dashboard imports the browser package from its own assets (no CDN).
if [ -z "$features" ]; then
  node "$root/scripts/build-browser.mjs" >/dev/null
  vendor="$root/www/dashboard/vendor/aero2-keys"
  rm -rf "$vendor" && mkdir -p "$vendor"
  cp "$root/crates/browser/pkg/index.js" "$root/crates/browser/pkg/aero2_keys_wasm.js" "$vendor/"
fi
