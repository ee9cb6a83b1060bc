// @aero2/origin against the real gate: the worker in workerd (wrangler dev) forwards to an
// Express origin in this process that uses aero2Express. Requests through the gate pass;
// tokens presented to the origin directly, replayed, altered, moved to another method or
// path, checked for another audience or at another time are refused; a rotated signing
// key with the previous one still published keeps both kinds of tokens verifiable.
//
// Needs the worker bundle: bash scripts/build-worker.sh.
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, test } from "node:test";
import express from "express";
import { createVerifier } from "@aero2/origin";
import { aero2Express } from "@aero2/origin/express";
import { freePort } from "../../../scripts/support/processes.mjs";
import { createApplication, newSigningKey, publicJwk, startGate, startOrigin, throughGate } from "../test-support/gate.mjs";

let gate, origin, app, gatePort;
const jwksFetches = [];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The options every verifier here shares: this gate, this origin. */
const options = () => ({ jwksUrl: `http://127.0.0.1:${gatePort}/.well-known/jwks.json`, issuer: `http://127.0.0.1:${gatePort}`, audience: origin.url });

async function setUp() {
  gatePort = await freePort();
  // The origin's URL is the verifier's audience: listen first, then build the app.
  let server;
  origin = await startOrigin((req, res) => server(req, res));
  server = express();
  // A request marked x-test-capture is answered without verification, with its token: a
  // stand-in for a token stolen on the way (from a log, a proxy), still unused.
  server.use((req, res, next) => {
    if (!req.headers["x-test-capture"]) return next();
    res.json({ token: req.headers["x-aero2-assertion"], target: req.originalUrl });
  });
  server.use(aero2Express({
    ...options(),
    // A rotation is tested below without waiting a minute; the default (60 s) is tested
    // with a mocked clock in verifier.test.mjs.
    jwksCooldownMs: 1_000,
    fetch: (url, init) => { jwksFetches.push(Date.now()); return fetch(url, init); },
  }));
  server.all("/*rest", (req, res) => res.json({ claims: req.aero2, token: req.headers["x-aero2-assertion"] }));
  gate = await startGate({ name: "origin-package-gate", originUrl: origin.url, port: gatePort });
  app = await createApplication(gate);
}

/** A genuine token for `method target`, captured on its way and not yet used. */
async function capture(target, method = "GET") {
  const res = await throughGate(gate, app, target, { method, headers: { "x-test-capture": "1" } });
  assert.equal(res.status, 200);
  const { token } = await res.json();
  assert.ok(token, "the gate sent an assertion");
  return token;
}

/** Presents `token` to the origin directly, as an attacker who reached it would. */
async function direct(target, token, method = "GET") {
  const res = await fetch(origin.url + target, { method, headers: token ? { "x-aero2-assertion": token } : {} });
  return { status: res.status, body: await res.json() };
}

const refusedFor = (reason) => ({ status: 401, body: { error: { code: "assertion_refused", reason } } });

describe("through the real gate", () => {
  before(setUp);
  after(async () => {
    await gate?.stop();
    await origin?.close();
  });

  test("a request with a valid key reaches the handler with verified claims", async () => {
    const res = await throughGate(gate, app, "/v1/orders?page=2&q=%22x%22");
    assert.equal(res.status, 200);
    const { claims } = await res.json();
    assert.equal(claims.sub, app.secretId);
    assert.equal(claims.app, app.id);
    assert.deepEqual([claims.env, claims.kind, claims.htm, claims.htu], ["live", "secret", "GET", "/v1/orders?page=2&q=%22x%22"]);
    assert.deepEqual([claims.iss, claims.aud, claims.kid], [gate.issuer, origin.url, gate.signingKey.kid]);
    assert.equal(claims.exp - claims.iat, 60);

    const posted = await throughGate(gate, app, "/v1/orders", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    assert.equal(posted.status, 200);
    assert.equal((await posted.json()).claims.htm, "POST");
    // An empty query: whether its "?" survives the way to the worker depends on the proxy in
    // front (wrangler's drops it), but what the gate signs is what the origin gets.
    const emptyQuery = await new Promise((resolve, reject) => {
      const req = http.request(`${gate.base}/v1/empty?`, { headers: { authorization: `Bearer ${app.secret}` } }, (res) => {
        let body = "";
        res.on("data", (chunk) => { body += chunk; });
        res.on("end", () => resolve({ status: res.statusCode, body: JSON.parse(body) }));
      });
      req.on("error", reject);
      req.end();
    });
    assert.equal(emptyQuery.status, 200, JSON.stringify(emptyQuery.body));
    assert.equal(emptyQuery.body.claims.htu, origin.received.at(-1).target);
  });

  test("no assertion, or a replayed one, is refused at the origin", async () => {
    assert.deepEqual(await direct("/v1/orders", undefined), refusedFor("missing"));
    const res = await throughGate(gate, app, "/v1/orders/7");
    const { token } = await res.json();
    assert.deepEqual(await direct("/v1/orders/7", token), refusedFor("replayed"));
  });

  test("an altered token is refused", async () => {
    const token = await capture("/v1/orders/8");
    const [header, payload, signature] = token.split(".");
    const claims = JSON.parse(Buffer.from(payload, "base64url"));
    const moved = Buffer.from(JSON.stringify({ ...claims, htu: "/v1/admin" })).toString("base64url");
    assert.deepEqual(await direct("/v1/admin", `${header}.${moved}.${signature}`), refusedFor("bad_signature"));
    const flipped = signature.slice(0, 5) + (signature[5] === "A" ? "B" : "A") + signature.slice(6);
    assert.deepEqual(await direct("/v1/orders/8", `${header}.${payload}.${flipped}`), refusedFor("bad_signature"));
    const retyped = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(header, "base64url")), typ: "aero2-receipt+jwt" })).toString("base64url");
    assert.deepEqual(await direct("/v1/orders/8", `${retyped}.${payload}.${signature}`), refusedFor("wrong_type"));
    // The genuine one, still unused, passes once.
    assert.equal((await direct("/v1/orders/8", token)).status, 200);
  });

  test("a token is good for its own method and path only", async () => {
    const token = await capture("/v1/orders/9?view=full");
    assert.deepEqual(await direct("/v1/orders/9?view=full", token, "DELETE"), refusedFor("wrong_method"));
    assert.deepEqual(await direct("/v1/orders/10?view=full", token), refusedFor("wrong_target"));
    assert.deepEqual(await direct("/v1/orders/9", token), refusedFor("wrong_target"));
    assert.deepEqual(await direct("/v1/orders/9?view=full&x=1", token), refusedFor("wrong_target"));
    const reached = await direct("/v1/orders/9?view=full", token);
    assert.equal(reached.status, 200);
    assert.equal(reached.body.claims.htu, "/v1/orders/9?view=full");
  });

  test("a token made for another origin, or checked outside its minute, is refused", async () => {
    const token = await capture("/v1/orders/11");
    const parts = { method: "GET", target: "/v1/orders/11", headers: { "x-aero2-assertion": token } };
    const elsewhere = createVerifier({ ...options(), audience: "https://another-origin.example" });
    await assert.rejects(elsewhere.verifyParts(parts), { reason: "wrong_audience" });
    const later = createVerifier({ ...options(), now: () => Date.now() + 70_000 });
    await assert.rejects(later.verifyParts(parts), { reason: "expired" });
    const earlier = createVerifier({ ...options(), now: () => Date.now() - 30_000 });
    await assert.rejects(earlier.verifyParts(parts), { reason: "not_yet_valid" });
    // No clock tolerance and a clock 61 s ahead: expired as well.
    const strict = createVerifier({ ...options(), clockToleranceSeconds: 0, now: () => Date.now() + 61_000 });
    await assert.rejects(strict.verifyParts(parts), { reason: "expired" });
    const otherIssuer = createVerifier({ ...options(), issuer: "https://keys.example" });
    await assert.rejects(otherIssuer.verifyParts(parts), { reason: "wrong_issuer" });
    const now = createVerifier(options());
    assert.equal((await now.verifyParts(parts)).htu, "/v1/orders/11");
  });

  test("a rotated signing key, with the previous one still published: both verify", async () => {
    const previous = gate.signingKey;
    const oldToken = await capture("/v1/rotation/old");
    const oldTokenForLater = await capture("/v1/rotation/old-later");
    const fetchesBefore = jwksFetches.length;
    assert.ok(fetchesBefore >= 1);

    // Rotate: a new private key, the old public key in ORIGIN_PREVIOUS_PUBLIC_KEYS.
    await gate.stop();
    const next = newSigningKey();
    gate = await startGate({ name: "origin-package-gate-rotated", originUrl: origin.url, port: gatePort, stateDir: gate.stateDir, signingKey: next, previousKeys: [publicJwk(previous)] });
    const jwks = await (await fetch(`${gate.base}/.well-known/jwks.json`)).json();
    assert.deepEqual(jwks.keys.map((k) => k.kid), [next.kid, previous.kid]);
    // Past the origin's refetch cooldown (1 s here).
    while (Date.now() - jwksFetches.at(-1) < 1_100) await sleep(100);

    const res = await throughGate(gate, app, "/v1/rotation/new");
    assert.equal(res.status, 200);
    assert.equal((await res.json()).claims.kid, next.kid, "signed with the new key");
    assert.equal(jwksFetches.length, fetchesBefore + 1, "one refetch, for the unknown kid");
    const old = await direct("/v1/rotation/old", oldToken);
    assert.equal(old.status, 200);
    assert.equal(old.body.claims.kid, previous.kid, "the previous key still verifies");
    const more = await throughGate(gate, app, "/v1/rotation/new-2");
    assert.equal(more.status, 200);
    assert.equal(jwksFetches.length, fetchesBefore + 1, "no further fetch");

    // The previous key withdrawn: an origin that fetches the set now refuses its tokens.
    await gate.stop();
    gate = await startGate({ name: "origin-package-gate-withdrawn", originUrl: origin.url, port: gatePort, stateDir: gate.stateDir, signingKey: next });
    const fresh = createVerifier(options());
    await assert.rejects(fresh.verifyParts({ method: "GET", target: "/v1/rotation/old-later", headers: { "x-aero2-assertion": oldTokenForLater } }), { reason: "unknown_key" });
  });
});
