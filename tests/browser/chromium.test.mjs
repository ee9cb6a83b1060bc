// The installed package in real headless Chromium, imported by a plain module script.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { installPackedPackage, launchChromium, mintKeys, root, serveStatic } from "../../scripts/support/browser.mjs";

const keys = mintKeys();
let browser, server, page;

before(async () => {
  const { installed } = installPackedPackage();
  const served = await serveStatic({ "/pkg/": installed, "/": join(root, "tests/browser") });
  server = served.server;
  browser = await launchChromium();
  page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (err) => errors.push(err.message));
  await page.goto(`${served.base}/page.html`);
  await page.waitForFunction(() => document.getElementById("status").textContent === "ready", null, { timeout: 15_000 })
    .catch((err) => { throw new Error(`page did not load: ${errors.join("; ") || err.message}`); });
});

after(async () => {
  await browser?.close();
  server?.close();
});

test("Chromium parses a real publishable key from the core crate", async () => {
  const parsed = await page.evaluate((key) => window.aero2.parsePublishableKey(key), keys.publishable_live);
  assert.deepEqual(parsed, { applicationId: keys.live_application_id, environment: "live" });
  assert.equal(await page.evaluate((key) => window.aero2.isPublishableKey(key), keys.publishable_test), true);
});

test("Chromium gets secret_key_exposed for a secret key", async () => {
  const error = await page.evaluate((key) => {
    try { window.aero2.parsePublishableKey(key); return null; }
    catch (e) { return { code: e.code, name: e.name, message: e.message }; }
  }, keys.secret_live);
  assert.equal(error.code, "secret_key_exposed");
  assert.equal(error.name, "Aero2KeyError");
  assert.ok(!error.message.includes(keys.secret_live.slice(8, 58)));
});

test("the wasm parser and the plain JavaScript parser agree (smoke run of the benchmark)", async () => {
  const result = await page.evaluate((appBody) => {
    const { parsePublishableKey, parsePublishableKeyJs, makePublishableKeys } = window.aero2;
    const batch = makePublishableKeys(appBody, 200);
    let agree = 0;
    for (const key of batch) {
      const a = parsePublishableKey(key);
      const b = parsePublishableKeyJs(key);
      if (a.applicationId === b.applicationId && a.environment === b.environment) agree++;
    }
    return { agree, total: batch.length };
  }, keys.live_application_id.slice(4));
  assert.equal(result.agree, result.total);
});
