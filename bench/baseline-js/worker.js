// The benchmark's baseline: the same gating as the Rust gate's edge mode, written in plain
// JavaScript as a team would write it instead. Same key format and checksum, same KV
// schema (SHA-256 hex -> the compact record the key rings write: a version line, then
// "<application id> <key id> <s|p> <a | e expires_at | r revoked_at reason>"), SHA-256
// through WebCrypto, the same record cache (EDGE_CACHE_SECONDS, 5 s by default, 0: off),
// same capability rules, the same headers kept from the origin, and the same signed
// assertion (an Ed25519 JWT, X-Aero2-Assertion) on every forwarded request: the work the
// gate does for a request with a key that has no policy.
const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const CRC_TABLE = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
const LENGTHS = { pk: 46, sk: 62 };
const BASE62 = /^[0-9A-Za-z]+$/;

function checksum(text, end) {
  let crc = 0xffffffff;
  for (let i = 0; i < end; i++) crc = CRC_TABLE[(crc ^ text.charCodeAt(i)) & 0xff] ^ (crc >>> 8);
  let value = (crc ^ 0xffffffff) >>> 0;
  let out = "";
  for (let i = 0; i < 6; i++) {
    out = ALPHABET[value % 62] + out;
    value = Math.floor(value / 62);
  }
  return out;
}

function error(status, code, message) {
  const headers = { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" };
  if (status === 401) headers["www-authenticate"] = `Bearer realm="aero2", error="invalid_token"`;
  return new Response(JSON.stringify({ error: { code, message } }), { status, headers });
}

function parseKey(header) {
  if (!header || !header.trim()) return { error: error(401, "missing_key", "send an API key") };
  const match = /^bearer\s+(\S+)$/i.exec(header.trim());
  if (!match) return { error: error(401, "malformed_key", "use Authorization: Bearer <key>") };
  const key = match[1];
  const prefix = key.slice(0, 8);
  const kind = prefix === "pk_live_" || prefix === "pk_test_" ? "pk" : prefix === "sk_live_" || prefix === "sk_test_" ? "sk" : null;
  if (!kind || key.length !== LENGTHS[kind] || !BASE62.test(key.slice(8))) {
    return { error: error(401, "malformed_key", "not an API key") };
  }
  if (checksum(key, key.length - 6) !== key.slice(-6)) return { error: error(401, "bad_checksum", "checksum mismatch") };
  return { key, kind: kind === "pk" ? "publishable" : "secret", applicationId: "app_" + key.slice(8, 24), environment: prefix.slice(3, 7) };
}

// With SCAN_OUTSIDE_AUTHORIZATION=1 (a second baseline in the bench), a request whose
// Authorization holds no key is also searched for a secret key sent elsewhere: the URL and
// every other header, as sent or percent-decoded up to three times. The Rust gate does this
// (it answers 400 secret_key_outside_authorization and records the exposure; this baseline
// only answers), so the plain baseline's malformed-key rate is of less work than the gate's.
const SECRET_KEY_CANDIDATE = /sk_(?:live|test)_[0-9A-Za-z]{54}/g;
const decodeLossy = (text) => text.replace(/\+/g, " ").replace(/%([0-9A-Fa-f]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));

function secretKeyIn(text) {
  let layer = text;
  for (let round = 0; round < 4; round++) {
    for (const [candidate] of layer.matchAll(SECRET_KEY_CANDIDATE)) {
      if (checksum(candidate, candidate.length - 6) === candidate.slice(-6)) return true;
    }
    if (!/[%+]/.test(layer)) return false;
    const decoded = decodeLossy(layer);
    if (decoded === layer) return false;
    layer = decoded;
  }
  return false;
}

function secretKeyOutsideAuthorization(request) {
  if (secretKeyIn(request.url)) return true;
  for (const [name, value] of request.headers) {
    if (name !== "authorization" && secretKeyIn(value)) return true;
  }
  return false;
}

async function sha256Hex(text) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  let hex = "";
  for (const byte of digest) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

function isFrontendRoute(path, routes) {
  return routes.split(",").map((r) => r.trim()).some((route) =>
    route.endsWith("/*") ? path === route.slice(0, -2) || path.startsWith(route.slice(0, -1)) : path === route);
}

// Headers a client states about itself, or the worker's own: never forwarded.
const DROPPED = new Set(["authorization", "host", "cookie", "connection", "keep-alive", "proxy-connection",
  "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade", "x-real-ip",
  "true-client-ip", "forwarded", "x-client-ip", "x-cluster-client-ip", "client-ip"]);
const dropped = (name) => DROPPED.has(name) || name.startsWith("x-aero2-") || name.startsWith("x-forwarded-")
  || name.startsWith("x-original-") || name.startsWith("cf-");

let signing; // { key, kid }, imported once per isolate
async function signer(env) {
  if (!signing) {
    const jwk = JSON.parse(env.ORIGIN_SIGNING_KEY);
    const key = await crypto.subtle.importKey("jwk", { kty: jwk.kty, crv: jwk.crv, d: jwk.d, x: jwk.x }, { name: "Ed25519" }, false, ["sign"]);
    signing = { key, kid: jwk.kid };
  }
  return signing;
}

export const base64url = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const encoder = new TextEncoder();

/** The signed assertion a forwarded request carries (also the signing pass-through's,
 *  bench/passthrough, so that both pay the same signature). */
export async function assertion(env, claims) {
  const { key, kid } = await signer(env);
  const header = base64url(encoder.encode(JSON.stringify({ alg: "EdDSA", typ: "JWT", kid })));
  const body = base64url(encoder.encode(JSON.stringify(claims)));
  const signature = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, key, encoder.encode(`${header}.${body}`)));
  return `${header}.${body}.${base64url(signature)}`;
}

/** The compact record's head: application, key, kind and status. */
function parseRecord(text) {
  if (!text) return null;
  const lines = text.split("\n");
  if (lines[0] !== "r1") return null;
  const [application_id, key_id, kind, status, at, reason] = lines[1].split(" ");
  return {
    application_id, key_id, kind: kind === "s" ? "secret" : "publishable",
    status: status === "a" ? "active" : status === "e" ? "expiring" : "revoked",
    expires_at: status === "e" ? Number(at) : undefined, reason,
  };
}

// Records read in the last EDGE_CACHE_SECONDS, as the Rust gate keeps them.
const cache = new Map();
async function lookUp(env, hash) {
  const ttl = Number(env.EDGE_CACHE_SECONDS ?? 5) * 1000;
  const hit = cache.get(hash);
  if (hit && Date.now() < hit.at + ttl) return hit.record;
  const record = parseRecord(await env.KEYS.get(hash));
  if (record && ttl > 0) {
    if (cache.size >= 10000) cache.clear();
    cache.set(hash, { record, at: Date.now() });
  }
  return record;
}

export default {
  async fetch(request, env) {
    const parsed = parseKey(request.headers.get("authorization"));
    if (parsed.error) {
      if (env.SCAN_OUTSIDE_AUTHORIZATION === "1" && secretKeyOutsideAuthorization(request)) {
        return error(400, "secret_key_outside_authorization", "send the key in Authorization only");
      }
      return parsed.error;
    }
    const record = await lookUp(env, await sha256Hex(parsed.key));
    if (!record || record.application_id !== parsed.applicationId || record.kind !== parsed.kind) {
      return error(401, "unknown_key", "this API key does not exist");
    }
    if (record.status === "revoked") return error(401, record.reason === "grace_expired" ? "expired_key" : "revoked_key", "revoked");
    if (record.status === "expiring" && Date.now() >= record.expires_at) return error(401, "expired_key", "expired");
    const url = new URL(request.url);
    const fromBrowser = request.headers.has("origin") || (!!request.headers.get("sec-fetch-mode") && !!request.headers.get("sec-fetch-site"));
    if (parsed.kind === "secret" && fromBrowser) return error(403, "secret_key_in_browser", "secret key sent from a browser");
    if (parsed.kind === "publishable" && !isFrontendRoute(url.pathname, env.FRONTEND_ROUTES || "/v1/client/*")) {
      return error(403, "publishable_key_not_allowed", "this route requires a secret key");
    }
    const headers = new Headers();
    for (const [name, value] of request.headers) {
      if (!dropped(name.replace(/_/g, "-"))) headers.append(name, value);
    }
    headers.set("x-aero2-application-id", record.application_id);
    headers.set("x-aero2-environment", parsed.environment);
    headers.set("x-aero2-key-id", record.key_id);
    headers.set("x-aero2-key-kind", record.kind);
    const now = Math.floor(Date.now() / 1000);
    const jti = base64url(crypto.getRandomValues(new Uint8Array(16)));
    headers.set("x-aero2-assertion", await assertion(env, {
      iss: url.origin, aud: env.ORIGIN_URL, sub: record.key_id, app: record.application_id, env: parsed.environment,
      kind: record.kind, htm: request.method, htu: url.pathname + url.search, iat: now, exp: now + 60, jti,
    }));
    const hasBody = request.method !== "GET" && request.method !== "HEAD";
    return fetch(env.ORIGIN_URL + url.pathname + url.search, {
      method: request.method, headers, body: hasBody ? request.body : undefined, redirect: "manual",
    });
  },
};
