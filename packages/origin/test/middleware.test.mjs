// The Express and Hono middleware, in front of real apps: verified requests reach the
// handler with their claims, the rest get 401 (503 when the keys cannot be fetched) JSON.
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, test } from "node:test";
import express from "express";
import { Hono } from "hono";
import { createVerifier } from "@aero2/origin";
import { aero2Express } from "@aero2/origin/express";
import { aero2Hono } from "@aero2/origin/hono";
import { AUDIENCE, claimsFor, ISSUER, JWKS_URL, jwksServer, newKey, sign } from "../test-support/helpers.mjs";

const key = await newKey();
const options = (server) => ({ jwksUrl: JWKS_URL, issuer: ISSUER, audience: AUDIENCE, fetch: server.fetch });

describe("Express", () => {
  const jwks = jwksServer([key.jwk]);
  const refusals = [];
  let base, server;

  before(async () => {
    const app = express();
    const api = express.Router();
    api.use(aero2Express(options(jwks), { onRefused: (error) => refusals.push(error) }));
    api.all("/*rest", (req, res) => res.json({ claims: req.aero2, url: req.url, originalUrl: req.originalUrl }));
    // Mounted under a path: the target checked is still the whole one (originalUrl).
    app.use("/v1", api);
    server = http.createServer(app);
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${server.address().port}`;
  });
  after(() => server?.close());

  const call = (target, { method = "GET", token, headers = {} } = {}) => fetch(base + target, {
    method, headers: { ...(token ? { "x-aero2-assertion": token } : {}), ...headers },
  });

  test("passes a verified request on with req.aero2", async () => {
    const claims = claimsFor({ method: "POST", target: "/v1/orders?page=2" });
    const res = await call("/v1/orders?page=2", { method: "POST", token: await sign(key, claims) });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.deepEqual(body.claims, { ...claims, kid: key.kid });
    assert.equal(body.originalUrl, "/v1/orders?page=2");
    assert.equal(body.url, "/orders?page=2");
  });

  test("answers 401 JSON to a missing, replayed or misdirected assertion", async () => {
    const token = await sign(key, claimsFor({ target: "/v1/a" }));
    assert.equal((await call("/v1/a", { token })).status, 200);
    for (const [target, opts, reason] of [
      ["/v1/a", {}, "missing"],
      ["/v1/a", { token }, "replayed"],
      ["/v1/b", { token: await sign(key, claimsFor({ target: "/v1/a" })) }, "wrong_target"],
      ["/v1/a", { method: "DELETE", token: await sign(key, claimsFor({ target: "/v1/a" })) }, "wrong_method"],
      ["/v1/a", { token: `${token.slice(0, -6)}AAAAAA` }, "bad_signature"],
    ]) {
      const res = await call(target, opts);
      assert.equal(res.status, 401, reason);
      assert.equal(res.headers.get("content-type"), "application/json");
      assert.equal(res.headers.get("cache-control"), "no-store");
      assert.deepEqual(await res.json(), { error: { code: "assertion_refused", reason } });
    }
    assert.deepEqual(refusals.slice(-5).map((e) => e.reason), ["missing", "replayed", "wrong_target", "wrong_method", "bad_signature"]);
  });

  test("checks the target as received, not as a URL parser would rewrite it", async () => {
    // A raw request target a URL parser would normalise to /v1/a: its token is for /v1/a.
    for (const raw of ["/v1/x/../a", "/v1/%61", "//v1/a"]) {
      const token = await sign(key, claimsFor({ target: "/v1/a" }));
      const status = await new Promise((resolve, reject) => {
        const req = http.request(`${base}/`, { path: raw, headers: { "x-aero2-assertion": token } }, (res) => { res.resume(); resolve(res.statusCode); });
        req.on("error", reject);
        req.end();
      });
      assert.ok(status === 401 || status === 404, `${raw}: ${status}`);
    }
  });

  test("answers 503 when the gate's keys cannot be fetched", async () => {
    const down = jwksServer([key.jwk]);
    down.fail = 502;
    const app = express();
    app.use(aero2Express(createVerifier(options(down))));
    app.get("/x", (req, res) => res.send("reached"));
    const s = http.createServer(app);
    await new Promise((resolve) => s.listen(0, "127.0.0.1", resolve));
    try {
      const res = await fetch(`http://127.0.0.1:${s.address().port}/x`, { headers: { "x-aero2-assertion": await sign(key, claimsFor({ target: "/x" })) } });
      assert.equal(res.status, 503);
      assert.deepEqual(await res.json(), { error: { code: "assertion_refused", reason: "jwks_unavailable" } });
    } finally {
      s.close();
    }
  });

  test("passes errors that are not refusals to Express", async () => {
    const broken = Object.assign(async () => { throw new Error("bug"); }, { verifyParts: async () => { throw new Error("bug"); } });
    const app = express();
    app.use(aero2Express(broken));
    app.use((error, req, res, next) => res.status(500).send(`handled: ${error.message}`));
    const s = http.createServer(app);
    await new Promise((resolve) => s.listen(0, "127.0.0.1", resolve));
    try {
      const res = await fetch(`http://127.0.0.1:${s.address().port}/x`);
      assert.equal(res.status, 500);
      assert.equal(await res.text(), "handled: bug");
    } finally {
      s.close();
    }
  });
});

describe("Hono", () => {
  const jwks = jwksServer([key.jwk]);
  const app = new Hono();
  app.use("/v1/*", aero2Hono(options(jwks)));
  app.all("/v1/*", (c) => c.json({ claims: c.get("aero2") }));

  test("sets c.get('aero2') on a verified request", async () => {
    const claims = claimsFor({ method: "PUT", target: "/v1/items/7?x=1" });
    const res = await app.request("https://api.example/v1/items/7?x=1", { method: "PUT", headers: { "x-aero2-assertion": await sign(key, claims) } });
    assert.equal(res.status, 200);
    assert.deepEqual((await res.json()).claims, { ...claims, kid: key.kid });
  });

  test("answers 401 JSON otherwise, and never calls the handler", async () => {
    const other = await newKey();
    for (const [headers, reason] of [
      [{}, "missing"],
      [{ "x-aero2-assertion": await sign(key, claimsFor({ target: "/v1/items/7?x=1", aud: "https://elsewhere.example" })) }, "wrong_audience"],
      [{ "x-aero2-assertion": await sign(key, claimsFor({ target: "/v1/items/7?x=1" }), { typ: "aero2-checkpoint+jwt" }) }, "wrong_type"],
      [{ "x-aero2-assertion": await sign(other, claimsFor({ target: "/v1/items/7?x=1" })) }, "unknown_key"],
    ]) {
      const res = await app.request("https://api.example/v1/items/7?x=1", { headers });
      assert.equal(res.status, 401, reason);
      assert.deepEqual(await res.json(), { error: { code: "assertion_refused", reason } });
    }
  });
});
