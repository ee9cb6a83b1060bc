// Benchmark upper bound (c): proxies to the origin with no validation at all.
//
// With SIGN_ASSERTION=1 (a second worker in the bench, `passthrough_signed`), it also signs
// an assertion on every forwarded request, as both gates must: the same Ed25519 key through
// WebCrypto (imported once per isolate), claims of the same shape and size as the gates'.
// It validates nothing, so a gate's rate over this one's is what the gate's own work costs
// on top of the signature the product requires of every forwarded request.
const encoder = new TextEncoder();
const base64url = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

let signing; // Promise<{ key, header }>, once per isolate
function signer(env) {
  signing ??= (async () => {
    const jwk = JSON.parse(env.ORIGIN_SIGNING_KEY);
    const key = await crypto.subtle.importKey("jwk", { kty: jwk.kty, crv: jwk.crv, d: jwk.d, x: jwk.x }, { name: "Ed25519" }, false, ["sign"]);
    return { key, header: base64url(encoder.encode(JSON.stringify({ alg: "EdDSA", typ: "JWT", kid: jwk.kid }))) };
  })();
  return signing;
}

async function assertion(env, url, method) {
  const { key, header } = await signer(env);
  const now = Math.floor(Date.now() / 1000);
  // Placeholders of the gate's claims' lengths: nothing here is validated.
  const claims = {
    iss: url.origin, aud: env.ORIGIN_URL, sub: "key_0000000000000000", app: "app_0000000000000000", env: "live",
    kind: "secret", htm: method, htu: url.pathname + url.search, iat: now, exp: now + 60,
    jti: base64url(crypto.getRandomValues(new Uint8Array(16))),
  };
  const body = base64url(encoder.encode(JSON.stringify(claims)));
  const signature = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, key, encoder.encode(`${header}.${body}`)));
  return `${header}.${body}.${base64url(signature)}`;
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const headers = new Headers(request.headers);
    headers.delete("host");
    if (env.SIGN_ASSERTION === "1") headers.set("x-aero2-assertion", await assertion(env, url, request.method));
    const hasBody = request.method !== "GET" && request.method !== "HEAD";
    return fetch(env.ORIGIN_URL + url.pathname + url.search, {
      method: request.method, headers, body: hasBody ? request.body : undefined, redirect: "manual",
    });
  },
};
