// Benchmark upper bound (c): proxies to the origin with no validation at all.
//
// With SIGN_ASSERTION=1 (a second worker in the bench, `passthrough_signed`), it also signs
// an assertion on every forwarded request, as both gates must, with the JavaScript
// baseline's own signing (the same Ed25519 key through WebCrypto, imported once per
// isolate) and claims of the same shape and size as the gates'. It validates nothing, so
// a gate's rate over this one's is what the gate's own work costs on top of the signature
// the product requires of every forwarded request.
import { assertion, base64url } from "../baseline-js/worker.js";

/** Placeholders of the gate's claims' lengths: nothing here is validated. */
function claims(env, url, method) {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: url.origin, aud: env.ORIGIN_URL, sub: "key_0000000000000000", app: "app_0000000000000000", env: "live",
    kind: "secret", htm: method, htu: url.pathname + url.search, iat: now, exp: now + 60,
    jti: base64url(crypto.getRandomValues(new Uint8Array(16))),
  };
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const headers = new Headers(request.headers);
    headers.delete("host");
    if (env.SIGN_ASSERTION === "1") headers.set("x-aero2-assertion", await assertion(env, claims(env, url, request.method)));
    const hasBody = request.method !== "GET" && request.method !== "HEAD";
    return fetch(env.ORIGIN_URL + url.pathname + url.search, {
      method: request.method, headers, body: hasBody ? request.body : undefined, redirect: "manual",
    });
  },
};
