#!/usr/bin/env bash
# `make deploy`: builds and deploys both Workers with wrangler. The control plane goes
# first: the gate binds it (its Durable Objects and the CONTROL service), and a new
# control plane still answers the previous release's gates (tests/e2e/tests/protocol_skew.rs),
# while a new gate needs the new control plane.
#   make deploy ARGS=--dry-run    checks both without deploying
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
step() { printf '\033[1m==> %s\033[0m\n' "$*"; }

bash scripts/setup.sh
bash scripts/build-worker.sh
step "Deploying the control plane (crates/control/wrangler.toml)"
AERO2_SKIP_BUILD=1 npx wrangler deploy --config crates/control/wrangler.toml "$@"
step "Deploying the gate (wrangler.toml)"
AERO2_SKIP_BUILD=1 npx wrangler deploy --config wrangler.toml "$@"
