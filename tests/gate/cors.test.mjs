// The gate from a real browser on another origin: headless Chromium loads a page from one
// local origin, and the page calls the gate (wrangler dev) on another with fetch(). With a
// publishable key the browser's preflight passes and the page reads the origin's answer;
// with a secret key the page reads the gate's refusal, secret_key_in_browser.
import assert from "node:assert/strict";
import http from "node:http";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { launchChromium, root, serveStatic } from "../../scripts/support/browser.mjs";
import { freePort, startOrigin, startWrangler } from "../../scripts/support/processes.mjs";

const ADMIN_TOKEN = "cors-test-operator-token-7731";
const env = { ...process.env, PATH: `${process.env.HOME}/.cargo/bin:${process.env.PATH}` };
let origin, worker, site, browser, app;

function createApplication() {
  return new Promise((resolve, reject) => {
    const req = http.request(`${worker.base}/v1/applications`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
    }, (res) => {
      let body = "";
      res.on("data", (c) => { body += c; });
      res.on("end", () => (res.statusCode === 201 ? resolve(JSON.parse(body)) : reject(new Error(body))));
    });
    req.on("error", reject);
    req.end(JSON.stringify({ name: "Browser", environment: "production" }));
  });
}

before(async () => {
  const runDir = join(root, "target/gate-browser");
  mkdirSync(runDir, { recursive: true });
  const logDir = mkdtempSync(join(runDir, "logs-"));
  const gatePort = await freePort();
  // The origin verifies every assertion against the gate's JWKS.
  origin = await startOrigin(root, env, logDir, ["--jwks", `http://127.0.0.1:${gatePort}/.well-known/jwks.json`]);
  worker = await startWrangler(root, env, {
    name: "gate-cors", stateDir: mkdtempSync(join(runDir, "state-")), logDir,
    port: gatePort, vars: { ORIGIN_URL: origin.url }, secrets: { ADMIN_TOKEN },
  });
  const created = await createApplication();
  const key = (kind) => created.keys.find((k) => k.kind === kind).value;
  app = { publishable: key("publishable"), secret: key("secret") };
  // The page: served from a different origin (another port) than the gate.
  const pageDir = mkdtempSync(join(runDir, "page-"));
  writeFileSync(join(pageDir, "index.html"), "<!doctype html><title>Shop</title><p>A shop on another origin</p>");
  site = await serveStatic({ "/": pageDir });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  site?.server.close();
  await worker?.stop();
  await origin?.stop();
});

/** fetch() from the page, with a header that forces a preflight. */
async function callFromPage(page, key, path) {
  return page.evaluate(async ({ gate, key, path }) => {
    const response = await fetch(gate + path, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json", "x-request-id": "page-1" },
      body: JSON.stringify({ hello: "world" }),
    });
    return { status: response.status, body: await response.json() };
  }, { gate: worker.base, key, path });
}

test("a page on another origin uses a publishable key and reads the refusal of a secret key", async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${site.base}/index.html`);
  assert.notEqual(new URL(site.base).origin, new URL(worker.base).origin, "two origins");

  const ok = await callFromPage(page, app.publishable, "/v1/client/session");
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal(ok.body.origin, "aero2-demo-origin");
  assert.equal(ok.body.method, "POST");
  assert.equal(ok.body.headers["x-request-id"], "page-1");
  assert.equal(ok.body.headers.origin, new URL(site.base).origin);
  assert.equal(ok.body.assertion.claims.kind, "publishable", "the origin verified the gate's assertion");

  const refused = await callFromPage(page, app.secret, "/v1/client/session");
  assert.equal(refused.status, 403);
  assert.equal(refused.body.error.code, "secret_key_in_browser");
  assert.doesNotMatch(JSON.stringify(refused.body), new RegExp(app.secret.slice(8, 40)));

  // A secret-key route has no CORS: the browser blocks the page from even reading it.
  const blocked = await page.evaluate(async ({ gate, key }) => {
    try {
      await fetch(`${gate}/v1/users`, { headers: { authorization: `Bearer ${key}` } });
      return "read";
    } catch (error) {
      return error.name;
    }
  }, { gate: worker.base, key: app.publishable });
  assert.equal(blocked, "TypeError");
  assert.deepEqual(errors, []);
  await page.close();
});
