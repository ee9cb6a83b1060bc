#!/usr/bin/env bash
# `make dev`: builds the two Workers (the gate and the control plane), runs them in one
# workerd (wrangler dev -c … -c …) with local KV and
# Durable Objects, starts a demo origin, seeds a demo application and says where to go.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export PATH="$HOME/.cargo/bin:$PATH"
export WRANGLER_SEND_METRICS=false
PORT="${PORT:-8787}"
ORIGIN_PORT="${ORIGIN_PORT:-8788}"
# Where this run keeps its state, logs and demo files: .wrangler, unless AERO2_DEV_DIR
# names another directory (tests/dev runs make dev there, apart from a developer's own).
DEV_DIR="${AERO2_DEV_DIR:-$root/.wrangler}"
DEV_SHOWN="${DEV_DIR#"$root"/}" # as the messages name it: relative when inside the project
STATE_DIR="$DEV_DIR/state"
DEMO_FILE="$DEV_DIR/demo-application.json"
step() { printf '\033[1m==> %s\033[0m\n' "$*"; }

bash scripts/setup.sh
bash scripts/build-worker.sh

# The operator token lives in .dev.vars (git-ignored), as wrangler expects for secrets.
if ! grep -q '^ADMIN_TOKEN=' .dev.vars 2>/dev/null; then
  step "Creating .dev.vars with a random ADMIN_TOKEN"
  umask 077
  printf 'ADMIN_TOKEN=%s\n' "$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" >> .dev.vars
fi
ADMIN_TOKEN="$(sed -n 's/^ADMIN_TOKEN=//p' .dev.vars | head -n 1)"
# The key that signs X-Aero2-Assertion for the origin: an Ed25519 private JWK, also a secret.
if ! grep -q '^ORIGIN_SIGNING_KEY=' .dev.vars; then
  step "Adding a new ORIGIN_SIGNING_KEY (Ed25519) to .dev.vars"
  printf "ORIGIN_SIGNING_KEY='%s'\n" "$(node scripts/support/signing-key.mjs)" >> .dev.vars
fi

# Webhooks: every endpoint's signing secret is derived from this one (never stored).
if ! grep -q '^WEBHOOK_SECRET=' .dev.vars; then
  step "Adding a new WEBHOOK_SECRET to .dev.vars"
  printf "WEBHOOK_SECRET='%s'\n" "$(head -c 32 /dev/urandom | base64 | tr -d '\n')" >> .dev.vars
fi

for port in "$PORT" "$ORIGIN_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "Port $port on 127.0.0.1 is already in use (another make dev?). Stop it, or set PORT / ORIGIN_PORT." >&2
    exit 1
  fi
done

pids=()
cleanup() { for pid in "${pids[@]}"; do kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

mkdir -p "$DEV_DIR"
step "Starting the demo origin on http://127.0.0.1:$ORIGIN_PORT"
setsid node scripts/origin.mjs "$ORIGIN_PORT" --jwks "http://127.0.0.1:$PORT/.well-known/jwks.json" \
  > "$DEV_DIR/origin.log" 2>&1 &
pids+=($!)

step "Starting wrangler dev on http://127.0.0.1:$PORT (log: $DEV_SHOWN/dev.log)"
setsid node scripts/support/wrangler-dev.mjs --port "$PORT" --state "$STATE_DIR" --secrets .dev.vars \
  --var "ORIGIN_URL:http://127.0.0.1:$ORIGIN_PORT" --var "WEBHOOK_ALLOW_HTTP:true" \
  --var "DASHBOARD_ORIGIN:http://localhost:$PORT" > "$DEV_DIR/dev.log" 2>&1 &
pids+=($!)
up=""
for _ in $(seq 1 120); do
  curl -fsS "http://127.0.0.1:$PORT/openapi.json" >/dev/null 2>&1 && { up=1; break; }
  if ! kill -0 "${pids[1]}" 2>/dev/null; then cat "$DEV_DIR/dev.log"; echo "wrangler dev exited" >&2; exit 1; fi
  sleep 1
done
if [ -z "$up" ]; then
  echo "wrangler dev did not answer on http://127.0.0.1:$PORT within 120 s; its log is $DEV_SHOWN/dev.log" >&2
  exit 1
fi

ACCOUNT_FILE="$DEV_DIR/demo-account.json"
INVITATION=""
if [ ! -s "$DEMO_FILE" ]; then
  step "Seeding a demo account, its owner's invitation and a demo application"
  umask 077
  if ! curl -fsS -X POST "http://127.0.0.1:$PORT/v1/accounts" \
    -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
    -d '{"name":"Demo account"}' > "$ACCOUNT_FILE"; then
    echo "Could not create the demo account; see $DEV_SHOWN/dev.log" >&2
    exit 1
  fi
  ACCOUNT_ID="$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).account.id)' "$ACCOUNT_FILE")"
  INVITATION="$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).url)' "$ACCOUNT_FILE")"
  if ! curl -fsS -X POST "http://127.0.0.1:$PORT/v1/applications" \
    -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
    -d "{\"name\":\"Demo application\",\"environment\":\"development\",\"account_id\":\"$ACCOUNT_ID\"}" > "$DEMO_FILE.tmp"; then
    rm -f "$DEMO_FILE.tmp"
    echo "Could not create the demo application; see $DEV_SHOWN/dev.log" >&2
    exit 1
  fi
  mv "$DEMO_FILE.tmp" "$DEMO_FILE"
fi
# The publishable key is printed: it is public by design. The secret key is not (not even
# on this terminal, whose output may be logged or pasted): its hint is, and a command that
# reads it from the file into AERO2_SECRET_KEY, which the curl examples and the aero2
# command line use.
read -r APP_ID PK SK_HINT < <(node -e '
  const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const key = (k) => d.keys.find((x) => x.kind === k);
  console.log(d.application.id, key("publishable").value, key("secret").hint);' "$DEMO_FILE")
READ_SECRET="node -p 'require(\"$DEMO_FILE\").keys.find((k) => k.kind === \"secret\").value'"

cat <<MSG

  Aero2 Keys is running locally.

  Dashboard:            http://localhost:$PORT/dashboard/   (localhost: passkeys take no IP address)
  Gate (and the API):   http://127.0.0.1:$PORT   (the control plane has no address of its own)
  OpenAPI document:     http://127.0.0.1:$PORT/openapi.json
  Demo origin:          http://127.0.0.1:$ORIGIN_PORT   (verifies X-Aero2-Assertion against the JWKS)
  Assertion keys:       http://127.0.0.1:$PORT/.well-known/jwks.json
  Demo application:     $APP_ID   (keys saved in $DEV_SHOWN/demo-application.json)
  Publishable key:      $PK
  Secret key:           $SK_HINT   (not shown: read it from the file, as below)
  Operator token:       in .dev.vars (the dashboard's "Platform operator" sign-in)
MSG
if [ -n "$INVITATION" ]; then
  cat <<MSG
  Join the demo account as its owner, with a passkey (the link works once, for 72 hours):
    $INVITATION
MSG
else
  cat <<MSG
  Sign in with your passkey; a new owner invitation: POST /v1/accounts/{id}/invitations as
  the operator (the account is in $DEV_SHOWN/demo-account.json).
MSG
fi
cat <<MSG

  Try it (the first line puts the secret key in your shell, without showing it):
    export AERO2_SECRET_KEY="\$($READ_SECRET)"
    curl -s http://127.0.0.1:$PORT/v1/client/session -H "Authorization: Bearer $PK"
    curl -s http://127.0.0.1:$PORT/v1/users -H "Authorization: Bearer \$AERO2_SECRET_KEY"
    curl -s http://127.0.0.1:$PORT/v1/keys -H "Authorization: Bearer \$AERO2_SECRET_KEY"
    curl -s http://127.0.0.1:$PORT/v1/users -H "Authorization: Bearer $PK"        # 403: needs a secret key
    curl -s http://127.0.0.1:$PORT/v1/users -H "Authorization: Bearer sk_test_x"  # 401: malformed

  The command line (cargo install --path crates/cli), with the same AERO2_SECRET_KEY:
    aero2 keys list

  Press Ctrl-C to stop.
MSG
wait "${pids[1]}"
