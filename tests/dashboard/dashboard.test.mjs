// The dashboard in real headless Chromium against the worker in workerd (wrangler dev):
// sign in, create an application, create, revoke and rotate keys, and check the results
// both on the page and at the gate. Screenshots go to tests/artifacts/.
import assert from "node:assert/strict";
import { generateKeyPairSync, sign } from "node:crypto";
import { mkdirSync, mkdtempSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { launchChromium, root } from "../../scripts/support/browser.mjs";
import { startOrigin, startWrangler } from "../../scripts/support/processes.mjs";

const ADMIN_TOKEN = "dashboard-test-operator-token-42";
// A stand-in for GitHub's secret-scanning signing key.
const scanner = generateKeyPairSync("ec", { namedCurve: "P-256" });
const SCANNER_KEYS = JSON.stringify([{ key_identifier: "test-key", key: scanner.publicKey.export({ type: "spki", format: "pem" }) }]);
const artifacts = join(root, "tests/artifacts");
const env = { ...process.env, PATH: `${process.env.HOME}/.cargo/bin:${process.env.PATH}` };
let origin, worker, browser;

/** A request as a server sends it (no browser headers), with a JSON body if given. */
function post(path, headers, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(worker.base + path, { method: "POST", headers: { "content-type": "application/json", ...headers } }, (res) => {
      let text = "";
      res.on("data", (c) => { text += c; });
      res.on("end", () => resolve({ status: res.statusCode, json: JSON.parse(text || "{}") }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** Waits until the keys table shows `n` rows: the table fills in after the page's fetches. */
async function keyRows(page, n) {
  await page.waitForFunction((count) => document.querySelectorAll("#keys-table tbody tr").length === count, n, { timeout: 10_000 });
}

/** A request as a server sends it, with no browser headers. */
function gate(path, key, headers = {}) {
  return new Promise((resolve, reject) => {
    http.get(worker.base + path, { headers: { authorization: `Bearer ${key}`, ...headers } }, (res) => {
      let body = "";
      res.on("data", (c) => { body += c; });
      res.on("end", () => resolve({ status: res.statusCode, json: JSON.parse(body || "{}") }));
    }).on("error", reject);
  });
}

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  // Under target/ so that scripts/scan-secrets.mjs checks this run's state and logs too.
  const runDir = join(root, "target/dashboard");
  mkdirSync(runDir, { recursive: true });
  const logDir = mkdtempSync(join(runDir, "logs-"));
  origin = await startOrigin(root, env, logDir);
  worker = await startWrangler(root, env, {
    name: "dashboard", config: "wrangler.toml", stateDir: mkdtempSync(join(runDir, "state-")), logDir,
    vars: { ORIGIN_URL: origin.url, ADMIN_TOKEN, GITHUB_SECRET_SCANNING_KEYS: SCANNER_KEYS },
  });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await worker?.stop();
  await origin?.stop();
});

test("an operator manages keys end to end in the dashboard", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: worker.base });
  const page = await context.newPage();
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(e.message));
  await page.goto(`${worker.base}/dashboard/`);

  // Sign in: the token becomes an HttpOnly, Secure, SameSite=Strict cookie.
  await page.getByLabel("Operator token (ADMIN_TOKEN)").fill("not-the-token-at-all");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByText("that is not the operator token").waitFor();
  await page.getByLabel("Operator token (ADMIN_TOKEN)").fill(ADMIN_TOKEN);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Applications" }).waitFor();
  const [cookie] = (await context.cookies()).filter((c) => c.name === "__Host-aero2_session");
  assert.ok(cookie, "session cookie set");
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.secure, true);
  assert.equal(cookie.sameSite, "Strict");
  assert.ok(cookie.expires > Date.now() / 1000, "the session expires");
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie);
  assert.ok(!stored.includes(ADMIN_TOKEN), "the token is not kept in JavaScript storage");

  // A state-changing request with the cookie but without the CSRF token is refused.
  const forged = await new Promise((resolve) => {
    const req = http.request(`${worker.base}/v1/applications`, {
      method: "POST", headers: { cookie: `__Host-aero2_session=${cookie.value}`, "content-type": "application/json", origin: worker.base },
    }, (res) => { let b = ""; res.on("data", (c) => { b += c; }); res.on("end", () => resolve({ status: res.statusCode, body: b })); });
    req.end(JSON.stringify({ name: "forged", environment: "production" }));
  });
  assert.equal(forged.status, 403, forged.body);
  assert.match(forged.body, /csrf_check_failed/);

  // Create an application: its first keys are shown once.
  await page.getByLabel("Name").fill("Shop");
  await page.getByLabel("Environment").selectOption("production");
  await page.getByRole("button", { name: "Create application" }).click();
  const reveal = page.locator("#reveal-dialog");
  await reveal.getByText("it will not be shown again").waitFor();
  const firstKeys = await reveal.locator(".secret-value").evaluateAll((inputs) => inputs.map((i) => i.value));
  const publishable = firstKeys.find((k) => k.startsWith("pk_live_"));
  const secret = firstKeys.find((k) => k.startsWith("sk_live_"));
  assert.ok(publishable && secret, `keys revealed: ${firstKeys.length}`);
  await reveal.getByRole("button", { name: "Done" }).click();
  await page.getByRole("heading", { name: "Shop" }).waitFor();
  await keyRows(page, 2);
  assert.equal((await gate("/v1/users", secret)).status, 200);

  // Create a secret key, with the copy button.
  await page.getByRole("button", { name: "Create key" }).click();
  await page.locator("#new-key-kind").selectOption("secret");
  await page.getByLabel("Label").fill("billing");
  await page.locator("#create-key-dialog").getByRole("button", { name: "Create" }).click();
  const billing = await reveal.locator(".secret-value").inputValue();
  assert.match(billing, /^sk_live_/);
  await reveal.getByText("environment variable").waitFor();
  await reveal.getByRole("button", { name: "Copy" }).click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), billing);
  await reveal.getByRole("button", { name: "Done" }).click();
  await keyRows(page, 3);
  assert.equal((await gate("/v1/users", billing)).status, 200);
  assert.ok(!(await page.content()).includes(billing), "the value is gone from the page once the dialog closes");

  // Revoke it: a confirmation names the key; the row turns revoked without a reload.
  await page.evaluate(() => { window.notReloaded = true; });
  const billingRow = page.locator("#keys-table tbody tr", { hasText: "billing" });
  await billingRow.getByRole("button", { name: /^Revoke billing/ }).click();
  await page.locator("#revoke-what").getByText("billing").waitFor();
  await page.locator("#revoke-dialog").getByRole("button", { name: "Revoke" }).click();
  await billingRow.locator(".badge.revoked").waitFor();
  assert.equal(await page.evaluate(() => window.notReloaded), true);
  const refused = await gate("/v1/users", billing);
  assert.deepEqual([refused.status, refused.json.error.code], [401, "revoked_key"]);

  // Rotate the publishable key with a 1-hour grace period: a live countdown appears.
  const publishableRow = page.locator("#keys-table tbody tr", { hasText: "publishable" });
  await publishableRow.getByRole("button", { name: /^Rotate/ }).click();
  await page.getByLabel("1 hour").check();
  await page.locator("#rotate-dialog").getByRole("button", { name: "Rotate" }).click();
  const rotated = await reveal.locator(".secret-value").inputValue();
  assert.match(rotated, /^pk_live_/);
  await reveal.getByText("keeps working until").waitFor();
  await reveal.getByRole("button", { name: "Done" }).click();
  const countdown = page.locator("#keys-table .countdown");
  await countdown.waitFor();
  const first = await countdown.textContent();
  assert.match(first, /^00:59:\d\d left$|^01:00:00 left$/);
  // The display ticks once a second, so two seconds always show a change.
  await page.waitForTimeout(2200);
  assert.notEqual(await countdown.textContent(), first, "the countdown is live");
  assert.equal((await gate("/v1/client/session", publishable)).status, 200, "the old key works during its grace period");
  assert.equal((await gate("/v1/client/session", rotated)).status, 200);

  // The audit log shows every action, and filters by event.
  await page.waitForFunction(() => document.querySelector("#audit-table").textContent.includes("key.rotated"), null, { timeout: 10_000 });
  const auditText = await page.locator("#audit-table").textContent();
  for (const event of ["application.created", "key.created", "key.revoked", "key.rotated"]) assert.ok(auditText.includes(event), `audit shows ${event}`);
  await page.getByLabel("Event").selectOption("key.revoked");
  await page.waitForFunction(() => [...document.querySelectorAll("#audit-table tbody tr")].every((r) => r.textContent.includes("key.revoked")));
  assert.equal(await page.locator("#audit-table tbody tr").count(), 1);

  // The browser package says which application a publishable key belongs to.
  await page.getByRole("textbox", { name: "Publishable key" }).fill(rotated);
  await page.getByRole("button", { name: "Check" }).click();
  await page.locator("#check-result").getByText("this application").waitFor();
  await page.getByRole("textbox", { name: "Publishable key" }).fill(secret);
  await page.getByRole("button", { name: "Check" }).click();
  await page.locator("#check-result").getByText("secret key").waitFor();

  // A secret key used from a browser shows up as a warning.
  await gate("/v1/users", secret, { origin: "https://shop.example" });
  await page.getByLabel("Event").selectOption("");
  await page.locator("#banners").getByText("A secret key was sent from a browser").waitFor();

  // A secret key reported by secret scanning shows as "revoked: leaked" with a banner.
  const appId = (await page.locator("#app-meta").textContent()).split(" · ")[1];
  const ci = await post(`/v1/applications/${appId}/keys`, { authorization: `Bearer ${ADMIN_TOKEN}` }, JSON.stringify({ kind: "secret", label: "ci" }));
  const leakedUrl = "https://github.com/example/app/blob/main/.env";
  const report = JSON.stringify([{ token: ci.json.key.value, type: "aero2_secret_key", url: leakedUrl, source: "content" }]);
  const signature = sign("sha256", Buffer.from(report), scanner.privateKey).toString("base64");
  const reported = await post("/v1/leaks/github", { "github-public-key-identifier": "test-key", "github-public-key-signature": signature }, report);
  assert.equal(reported.status, 200);
  await page.reload();
  await page.getByLabel("Show revoked keys").check();
  await page.locator("#keys-table tbody tr", { hasText: "ci" }).getByText("revoked: leaked").waitFor();
  await page.locator("#banners").getByText(leakedUrl).waitFor();

  // Usage chart and keyboard use: Tab to a button and press Enter.
  await page.locator("#keys-table tbody tr", { hasText: "secret" }).first().getByRole("button", { name: /^Usage/ }).click();
  await page.locator("#usage-chart svg rect").first().waitFor();
  assert.equal(await page.locator("#usage-chart svg rect").count(), 24);
  await page.getByRole("button", { name: "Create key" }).focus();
  await page.keyboard.press("Enter");
  assert.equal(await page.locator("#create-key-dialog").evaluate((d) => d.open), true);
  await page.keyboard.press("Escape");

  // Every form control has a label and every button a name.
  const unlabeled = await page.evaluate(() => [...document.querySelectorAll("input, select")]
    .filter((el) => el.type !== "hidden" && el.labels?.length === 0 && !el.getAttribute("aria-label") && el.offsetParent !== null).length);
  assert.equal(unlabeled, 0);

  await page.evaluate(() => { document.activeElement?.blur(); window.scrollTo(0, 0); });
  await page.screenshot({ path: join(artifacts, "dashboard-1280x800.png"), fullPage: false });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(200);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `no horizontal scrolling at 390 px (overflow ${overflow}px)`);
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(artifacts, "dashboard-390x844.png"), fullPage: false });

  // Sign out.
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  await page.reload();
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  assert.deepEqual(pageErrors, []);
  await context.close();
});
