// Keys, tokens and a JWK Set server for the unit tests: tokens are made here exactly as the
// gate makes them (the same header and claims), and then bent one way or another.
import { CompactSign, exportJWK, generateKeyPair } from "jose";
import { randomBytes } from "node:crypto";

export const ISSUER = "https://keys.example";
export const AUDIENCE = "https://api.example";
export const JWKS_URL = "https://keys.example/.well-known/jwks.json";

/** A new Ed25519 key pair with its public JWK as the gate publishes it. */
export async function newKey(kid = `gate-${randomBytes(6).toString("hex")}`) {
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const jwk = await exportJWK(publicKey);
  return { kid, privateKey, publicKey, jwk: { ...jwk, kid, alg: "EdDSA", use: "sig" } };
}

/** The claims the gate would sign for `method target` at `nowSeconds`. */
export function claimsFor({ method = "GET", target = "/v1/orders?page=2", iat = Math.floor(Date.now() / 1000), ...rest } = {}) {
  return {
    iss: ISSUER, aud: AUDIENCE, sub: "key_AAAAAAAAAAAAAAAA", app: "app_BBBBBBBBBBBBBBBB", env: "live", kind: "secret",
    htm: method, htu: target, iat, exp: iat + 60, jti: randomBytes(16).toString("base64url"), ...rest,
  };
}

/** A compact JWS of `claims` signed with `key`, under `header` (the gate's by default). */
export async function sign(key, claims, header = {}) {
  const payload = typeof claims === "string" ? claims : JSON.stringify(claims);
  return new CompactSign(new TextEncoder().encode(payload))
    .setProtectedHeader({ alg: "EdDSA", kid: key.kid, typ: "aero2-assertion+jwt", ...header })
    .sign(key.privateKey);
}

export const b64 = (value) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");

/**
 * A fake fetch serving a JWK Set that the test can change, counting the fetches. `fail`
 * makes it answer with that status, or throw when it is "throw".
 */
export function jwksServer(keys) {
  const server = {
    keys: [...keys],
    fetches: 0,
    fail: undefined,
    body: undefined,
    fetch: async (url) => {
      server.fetches += 1;
      if (url !== JWKS_URL) throw new Error(`unexpected fetch of ${url}`);
      if (server.fail === "throw") throw new TypeError("fetch failed");
      if (server.fail) return new Response("no", { status: server.fail });
      return new Response(server.body ?? JSON.stringify({ keys: server.keys }), { headers: { "content-type": "application/jwk-set+json" } });
    },
  };
  return server;
}

/** A request as the gate forwards it, carrying `token`. */
export function forwarded(token, { method = "GET", target = "/v1/orders?page=2", headers = {} } = {}) {
  const init = { method, headers: { ...(token === undefined ? {} : { "x-aero2-assertion": token }), ...headers } };
  return new Request(`https://api.example${target}`, init);
}

/** Calls `fn` and answers the error it throws (fails when it does not throw). */
export async function refusal(fn) {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected a refusal, but it was accepted");
}
