// The real gate for the package's tests: the worker in workerd through wrangler dev (the
// repository's own launcher, scripts/support/processes.mjs), in front of an origin that
// runs in the test process. The bundle must be built first: bash scripts/build-worker.sh.
import { existsSync, mkdirSync, mkdtempSync } from "node:fs";
import http from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, startWrangler } from "../../../scripts/support/processes.mjs";
import { newSigningKey, publicJwk } from "../../../scripts/support/signing-key.mjs";

export const root = join(dirname(fileURLToPath(import.meta.url)), "../../..");
export const ADMIN_TOKEN = "origin-package-operator-token-51f2";
const env = { ...process.env, PATH: `${process.env.HOME}/.cargo/bin:${process.env.PATH}` };
export { newSigningKey, publicJwk };

/**
 * An origin on 127.0.0.1 that records every request it gets (method, target as received,
 * headers) and answers with `handler(req, res)` or, without one, a JSON echo of them.
 */
export async function startOrigin(handler) {
  const received = [];
  const server = http.createServer((req, res) => {
    received.push({ method: req.method, target: req.url, headers: { ...req.headers } });
    if (handler) return handler(req, res);
    req.resume();
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ method: req.method, target: req.url, headers: req.headers }));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return { url, received, server, close: () => new Promise((resolve) => server.close(resolve)) };
}

/**
 * The gate on `port` (a free one by default), forwarding to `originUrl`, signing with
 * `signingKey` (a private JWK) and publishing `previousKeys` (public JWKs) beside it.
 * Started again on the same port and state, it keeps its applications.
 */
export async function startGate({ name, originUrl, port, stateDir, signingKey = newSigningKey(), previousKeys = [] }) {
  if (!existsSync(join(root, "crates/gate/build/aero2_gate.js")) || !existsSync(join(root, "crates/control/build/index.js"))) {
    throw new Error("the worker bundle is missing: run bash scripts/build-worker.sh first");
  }
  const runDir = join(root, "target/origin-package");
  mkdirSync(runDir, { recursive: true });
  const logDir = mkdtempSync(join(runDir, `${name}-`));
  stateDir ??= mkdtempSync(join(runDir, `${name}-state-`));
  port ??= await freePort();
  const worker = await startWrangler(root, env, {
    name, stateDir, logDir, port,
    vars: { ORIGIN_URL: originUrl, ORIGIN_PREVIOUS_PUBLIC_KEYS: JSON.stringify(previousKeys), EDGE_CACHE_SECONDS: "0" },
    secrets: { ADMIN_TOKEN, ORIGIN_SIGNING_KEY: JSON.stringify(signingKey) },
  });
  return { ...worker, stateDir, signingKey, jwksUrl: `${worker.base}/.well-known/jwks.json`, issuer: worker.base };
}

/** Creates an application through the operator API; answers its secret key's value and id. */
export async function createApplication(gate, name = "Origin package") {
  const res = await fetch(`${gate.base}/v1/applications`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ name, environment: "production" }),
  });
  const body = await res.json();
  if (res.status !== 201) throw new Error(`create application: ${res.status} ${JSON.stringify(body)}`);
  const secret = body.keys.find((k) => k.kind === "secret");
  return { id: body.application.id, secret: secret.value, secretId: secret.id };
}

/**
 * A request through the gate with the secret key. Sent again once when the socket was
 * closed under it: fetch reuses idle connections that wrangler's proxy may have closed.
 */
export async function throughGate(gate, app, target, { method = "GET", headers = {}, body } = {}) {
  const send = () => fetch(gate.base + target, { method, headers: { authorization: `Bearer ${app.secret}`, ...headers }, body });
  try {
    return await send();
  } catch (error) {
    if (error?.cause?.code !== "UND_ERR_SOCKET") throw error;
    return send();
  }
}
