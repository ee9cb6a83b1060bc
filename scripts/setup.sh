#!/usr/bin/env bash
# Installs every tool the build and the tests need, from crates.io, npm and Debian only.
# Idempotent: each tool is skipped when the pinned version is already installed.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }
have() { command -v "$1" >/dev/null 2>&1; }

# Versions are pinned here and in Cargo.toml / package.json; see ../shared/TOOLCHAIN.md.
WORKER_BUILD_VERSION=0.8.7
# wasm-bindgen-cli must equal the wasm-bindgen library in Cargo.lock exactly.
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock 2>/dev/null || true)
WASM_BINDGEN_VERSION=${WASM_BINDGEN_VERSION:-0.2.130}
export PATH="$HOME/.cargo/bin:$PATH"

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "Adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
else
  step "wasm32-unknown-unknown target: present"
fi

if have wasm-bindgen && [ "$(wasm-bindgen --version)" = "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  step "wasm-bindgen-cli $WASM_BINDGEN_VERSION: present"
else
  step "Installing wasm-bindgen-cli $WASM_BINDGEN_VERSION from crates.io (about 8 minutes on 2 cores)"
  cargo install wasm-bindgen-cli --version "=$WASM_BINDGEN_VERSION" --force
fi

if have worker-build && worker-build --version 2>/dev/null | grep -Eq "(^| )$WORKER_BUILD_VERSION\$"; then
  step "worker-build $WORKER_BUILD_VERSION: present"
else
  # No --locked: with it, one install failed on a crate missing from the registry index.
  step "Installing worker-build $WORKER_BUILD_VERSION from crates.io (4 to 6 minutes on 2 cores)"
  cargo install worker-build --version "=$WORKER_BUILD_VERSION" --force
fi

if [ node_modules/.package-lock.json -nt package-lock.json ] && [ -x node_modules/.bin/wrangler ]; then
  step "npm tools (wrangler, binaryen, esbuild, playwright-core, standardwebhooks): present"
else
  step "Installing npm tools from package-lock.json (wrangler, binaryen, esbuild, playwright-core)"
  npm ci --no-audit --no-fund
fi
# wrangler 4.86's dev proxy holds a GET whose way to the Worker failed until its next
# request; this makes it send the GET again at once (the file says why).
node scripts/support/patch-wrangler.mjs

# From PyPI, into a virtual environment of the project's own: schemathesis checks the
# worker against /openapi.json in the end-to-end suite.
SCHEMATHESIS_VERSION=4.32.5
venv="target/tools/python"
if [ -x "$venv/bin/schemathesis" ] && [ "$("$venv/bin/schemathesis" --version 2>/dev/null)" = "schemathesis, version $SCHEMATHESIS_VERSION" ]; then
  step "schemathesis $SCHEMATHESIS_VERSION: present"
else
  step "Installing schemathesis $SCHEMATHESIS_VERSION from PyPI (under a minute)"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

# From Debian: Chromium drives the browser tests (playwright-core cannot download a browser
# here) and wrk generates the benchmark's load.
CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"
missing=()
[ -x "$CHROMIUM_PATH" ] || missing+=(chromium)
have wrk || missing+=(wrk)
if [ ${#missing[@]} -eq 0 ]; then
  step "Debian packages (chromium, wrk): present"
elif command -v apt-get >/dev/null 2>&1; then
  step "Installing Debian packages: ${missing[*]} (a minute or two)"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "Missing ${missing[*]} and apt-get is unavailable (set CHROMIUM_PATH for Chromium)." >&2
  exit 1
fi

step "Toolchain ready"
