#!/usr/bin/env bash
# `make test`: installs what is missing, then runs every check and test.
set -euo pipefail
shopt -s inherit_errexit 2>/dev/null || true
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export WRANGLER_SEND_METRICS=false
step() { printf '\033[1m==> %s\033[0m\n' "$*"; }

bash scripts/setup.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (native and wasm32), warnings are errors"
cargo clippy --workspace --exclude aero2-control --all-targets -- -D warnings
# One at a time: built together, the control plane's std features would reach the no_std
# browser crate.
cargo clippy -p aero2-control --target wasm32-unknown-unknown -- -D warnings
cargo clippy -p aero2-control --target wasm32-unknown-unknown --features fault-injection -- -D warnings
cargo clippy -p aero2-control --all-targets -- -D warnings   # its native unit tests
cargo clippy -p aero2-gate --target wasm32-unknown-unknown -- -D warnings
cargo clippy -p aero2-browser --target wasm32-unknown-unknown -- -D warnings
cargo clippy -p aero2-origin --features axum --all-targets -- -D warnings   # its tower Layer

step "Core crate on wasm32-unknown-unknown"
cargo build -p aero2-keys --target wasm32-unknown-unknown

results="$(mktemp)"
trap 'rm -f "$results"' EXIT

step "Unit and property tests"
# The core alone first: in a workspace build the browser crate switches on its
# table-free checksum, so this is the run that tests the table the worker uses.
cargo test -p aero2-keys 2>&1 | tee -a "$results"
cargo test --workspace --exclude aero2-control --exclude aero2-e2e 2>&1 | tee -a "$results"
# The control plane's own unit tests, natively (its Durable Object messages).
cargo test -p aero2-control 2>&1 | tee -a "$results"
# The Rust origin verifier's axum Layer (a feature, so not in the workspace run above).
cargo test -p aero2-origin --features axum 2>&1 | tee -a "$results"

step "Browser package: build, then test in Node (packed and installed) and in headless Chromium"
node scripts/build-browser.mjs
node --test tests/browser/ 2>&1 | tee -a "$results"

step "Building the two Workers (the gate and the control plane), and the control plane's test build"
bash scripts/build-worker.sh
AERO2_WORKER_FEATURES=fault-injection bash scripts/build-worker.sh
# The test-only hooks (the region header, fault injection, the counters) are in the test
# builds only (the control plane's fault-injection build, the gate's test host): the
# release bundles must not even name them.
for hook in x-aero2-test-region __faults __instrumentation; do
  if grep -qaiF "$hook" crates/control/build/index_bg.wasm crates/control/build/index.js \
    crates/gate/build/aero2_gate_bg.wasm crates/gate/build/aero2_gate.js crates/gate/js/worker.mjs; then
    echo "a release bundle contains the test-only hook $hook" >&2; exit 1
  fi
  grep -qaiF "$hook" crates/gate/js/test-worker.mjs \
    || { echo "the check for $hook is broken: not even the gate's test host has it" >&2; exit 1; }
done
# The control plane's own test hooks (the region header lives in the gate's test host only).
for hook in __faults __instrumentation; do
  grep -qaiF "$hook" crates/control/build-fault-injection/index_bg.wasm \
    || { echo "the check for $hook is broken: not even the control plane's test build has it" >&2; exit 1; }
done

step "Origin verifier @aero2/origin: against the real gate, and packed into a new TypeScript project (ESM and CJS)"
npm run build --workspace @aero2/origin
node --test packages/origin/test/ 2>&1 | tee -a "$results"

step "End-to-end tests: the worker in workerd through wrangler, with local KV and Durable Objects"
rm -rf target/e2e target/dashboard target/gate-browser
AERO2_SKIP_BUILD=1 cargo test -p aero2-e2e -- --test-threads 4 2>&1 | tee -a "$results"

step "The gate's suite again, in edge and in regional mode (both key kinds)"
for mode in edge regional; do
  AERO2_GATE_MODE=$mode AERO2_SKIP_BUILD=1 cargo test -p aero2-e2e --test gate 2>&1 | tee -a "$results"
done

step "wrangler deploy --dry-run: both Workers and their wrangler.toml files are deployable"
for pair in control:crates/control/wrangler.toml gate:wrangler.toml; do
  name="${pair%%:*}" config="${pair#*:}"
  AERO2_SKIP_BUILD=1 npx wrangler deploy --dry-run --config "$config" --outdir "$PWD/target/deploy-dry-run/$name" \
    > "target/deploy-dry-run-$name.log" 2>&1 || { cat "target/deploy-dry-run-$name.log"; exit 1; }
  tail -n 1 "target/deploy-dry-run-$name.log"
done

step "make dev as the README runs it: its banner, its Try it lines, no secret key in its output; wrangler's dev proxy, patched"
node --test tests/dev/ 2>&1 | tee -a "$results"

step "Dashboard and gate in headless Chromium against wrangler dev (screenshots in tests/artifacts)"
node --test tests/dashboard/ tests/gate/ 2>&1 | tee -a "$results"

step "Secrets at rest and in logs: no key value in any persisted state or log of the runs above"
node scripts/scan-secrets.mjs target/e2e target/dashboard target/gate-browser

step "Benchmark smoke run: every part of make bench, for a second each, with its checks"
# The bundles built above are reused (AERO2_SKIP_BUILD), not built a second time.
AERO2_SKIP_BUILD=1 node scripts/bench.mjs --smoke

# One closing line over every test run above.
awk '/^test result:/ { passed += $4; failed += $6 }
     /^# pass / { passed += $3 } /^# fail / { failed += $3 } END { printf "all tests: %d passed, %d failed\n", passed, failed }' "$results"
