// Key policies in the dashboard (#13), in real headless Chromium against the worker in
// workerd (wrangler dev): the key dialog's presets and fields, editing with PATCH (only
// what changed, null for a restriction removed), the API's refusals shown in the dialog,
// the restriction badges and expiry countdowns, and suspend/resume. Every result is read
// back from the API (or the gate), not only from the page.
//
// One browser sign-in for the whole file (sign-ins are limited to 10 a minute per address);
// each test makes its own application through the operator API.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { artifacts, runDirectories, send as sendTo, signedInDashboard, openRowMenu, rowItem, waitForRows } from "./support.mjs";
import { root } from "../../scripts/support/browser.mjs";
import { startOrigin, startWrangler } from "../../scripts/support/processes.mjs";

const ADMIN_TOKEN = "policies-test-operator-token-42";
const DAY_MS = 24 * 60 * 60 * 1000;
// The browser runs in New York time, so that a date typed in the dialog must be converted
// from the browser's time zone to be right.
const TIME_ZONE = "America/New_York";
const POLICY_FIELDS = ["scopes", "routes", "allowed_origins", "origin_policy", "allowed_ips", "rate_limit"];
const env = { ...process.env, PATH: `${process.env.HOME}/.cargo/bin:${process.env.PATH}` };
let origin, worker, browser, context, page, pageErrors;

/** A request as a server sends it (no browser headers), with a JSON body (text) if given. */
const send = (method, path, headers = {}, body = undefined) => sendTo(worker.base, method, path, headers, body);

/** The operator API with ADMIN_TOKEN, as a script would call it. */
const operator = (method, path, body) =>
  send(method, path, { authorization: `Bearer ${ADMIN_TOKEN}` }, body === undefined ? undefined : JSON.stringify(body));

/** A request through the gate with `key`, as a server sends it. */
const gate = (path, key, headers = {}) => send("GET", path, { authorization: `Bearer ${key}`, ...headers });
const gateStatus = async (...args) => {
  const { status, json } = await gate(...args);
  return [status, json.error?.code ?? null];
};

/** A key as the API lists it. */
async function findKey(appId, match) {
  const { json } = await operator("GET", `/v1/applications/${appId}/keys?include_revoked=true`);
  const found = json.keys.filter((k) => k.id === match || k.label === match);
  assert.equal(found.length, 1, `one key ${match} in ${JSON.stringify(json.keys.map((k) => k.label))}`);
  return found[0];
}

/** The restrictions a listed key has: only the fields present, so that any other fails. */
const restrictions = (key) => Object.fromEntries(POLICY_FIELDS.filter((f) => key[f] !== undefined && key[f] !== null).map((f) => [f, key[f]]));

/** Waits until the keys table has `n` rows. */
const keyRows = (n) => waitForRows(page, "#keys-table tbody tr", n);
const keyRow = (id) => page.locator(`#keys-table tbody tr[data-key-id="${id}"]`);
const badgesOf = (id) => keyRow(id).locator('[data-label="Restrictions"] .badge').allTextContents();
const dialog = () => page.locator("#key-dialog");
const isOpen = (locator) => locator.evaluate((d) => d.open);

/** The scope checkboxes, checked or not. */
const scopeState = () => dialog().locator('input[name="scope"]').evaluateAll((boxes) => Object.fromEntries(boxes.map((b) => [b.value, b.checked])));

/** A new application (and any extra keys, by their policies), shown in the dashboard. */
async function openApp(name, extraKeys = []) {
  const created = await operator("POST", "/v1/applications", { name, environment: "production" });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  const appId = created.json.application.id;
  const keys = {};
  for (const spec of extraKeys) {
    const made = await operator("POST", `/v1/applications/${appId}/keys`, spec);
    assert.equal(made.status, 201, JSON.stringify(made.json));
    keys[spec.label] = made.json.key;
  }
  // A fresh page load, so that nothing a previous test left open (a dialog) stays.
  await page.goto("about:blank");
  await page.goto(`${worker.base}/dashboard/#/apps/${appId}`);
  await page.getByRole("heading", { name, exact: true }).waitFor();
  await keyRows(2 + extraKeys.length);
  const first = Object.fromEntries(created.json.keys.map((k) => [k.kind, k]));
  return { appId, first, keys };
}

/** The value shown once after creating a key; closes the reveal dialog. */
async function revealedValue() {
  const reveal = page.locator("#reveal-dialog");
  await reveal.getByText("it will not be shown again").waitFor();
  const value = await reveal.locator(".secret-value").inputValue();
  await reveal.getByRole("button", { name: "Done" }).click();
  return value;
}

/** `ms` as a datetime-local value in TIME_ZONE. */
function localInput(ms) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-CA", {
    timeZone: TIME_ZONE, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  }).formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
}

/** Form controls that are visible and have neither a label nor an aria-label. */
const unlabeledControls = () => page.evaluate(() => [...document.querySelectorAll("input, select, textarea")]
  .filter((el) => el.type !== "hidden" && el.labels?.length === 0 && !el.getAttribute("aria-label") && el.offsetParent !== null)
  .map((el) => el.id || el.name));

before(async () => {
  const { logDir, stateDir } = runDirectories();
  origin = await startOrigin(root, env, logDir);
  worker = await startWrangler(root, env, {
    name: "policies", stateDir, logDir, trace: true,
    vars: { ORIGIN_URL: origin.url, ADMIN_TOKEN },
  });
  ({ browser, context, page, pageErrors } = await signedInDashboard(worker.base, ADMIN_TOKEN, { timezoneId: TIME_ZONE }));
});

after(async () => {
  await browser?.close();
  await worker?.stop();
  await origin?.stop();
});

test("the dashboard is served with a Content-Security-Policy, and nothing on it is refused", async () => {
  const response = await fetch(`${worker.base}/dashboard/`);
  const csp = response.headers.get("content-security-policy") ?? "";
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'(;|$)/, "no inline scripts, no eval");
  assert.match(csp, /style-src 'self'(;|$)/, "no inline styles");
  // The page under it: open every dialog and check a publishable key with the browser
  // package (WebAssembly), then look for refusals.
  const { first } = await openApp("Policy check");
  await page.getByRole("button", { name: "Create key" }).click();
  await dialog().getByRole("button", { name: "This website only" }).click();
  await dialog().getByRole("button", { name: "Cancel" }).click();
  await page.getByRole("textbox", { name: "Publishable key" }).fill(first.publishable.value);
  await page.getByRole("button", { name: "Check" }).click();
  await page.locator("#check-result").getByText("this application").waitFor();
  assert.deepEqual(await page.evaluate(() => window.cspViolations), []);
  assert.deepEqual(pageErrors, []);
});

test("the key dialog creates keys with presets and custom restrictions, exactly as chosen", async () => {
  const { appId } = await openApp("Presets");
  const d = dialog();

  // A secret key: read-only preset, 100 a minute, 30 days, two routes, two address ranges.
  await page.getByRole("button", { name: "Create key" }).click();
  await d.getByLabel("Kind").selectOption("secret");
  assert.equal(await d.getByLabel("Allowed IP addresses").isVisible(), true);
  assert.equal(await d.getByLabel("Allowed requests (routes)").isVisible(), true);
  assert.equal(await d.getByLabel("Allowed websites (origins)").isVisible(), false, "origins are for publishable keys");
  assert.deepEqual(await scopeState(), {
    "keys:read": true, "keys:write": true, "audit:read": true, "webhooks:read": true, "webhooks:write": true,
  }, "a new key starts with every right");
  await d.getByRole("button", { name: "Read-only management key" }).click();
  assert.deepEqual(await scopeState(), { "keys:read": true, "keys:write": false, "audit:read": true, "webhooks:read": true, "webhooks:write": false });
  await d.getByRole("button", { name: "100 requests per minute" }).click();
  assert.deepEqual([await d.getByLabel("Maximum requests").inputValue(), await d.getByLabel("Per", { exact: true }).inputValue()], ["100", "60"]);
  await d.getByLabel("Label").fill("reporting");
  await d.getByLabel("Expires", { exact: true }).selectOption({ label: "In 30 days" });
  await d.getByLabel("Allowed requests (routes)").fill("GET head /v1/orders/*\n\nPOST /v1/webhooks");
  await d.getByLabel("Allowed IP addresses").fill("203.0.113.0/24\n2001:db8::/32");
  assert.deepEqual(await unlabeledControls(), []);
  const sentAt = Date.now();
  await d.getByRole("button", { name: "Create", exact: true }).click();
  const secret = await revealedValue();
  const answeredAt = Date.now();
  const reporting = await findKey(appId, "reporting");
  assert.equal(reporting.kind, "secret");
  assert.deepEqual(restrictions(reporting), {
    scopes: ["keys:read", "audit:read", "webhooks:read"],
    routes: [{ methods: ["GET", "HEAD"], path: "/v1/orders/*" }, { methods: ["POST"], path: "/v1/webhooks" }],
    allowed_ips: ["203.0.113.0/24", "2001:db8::/32"],
    rate_limit: { requests: 100, per_seconds: 60 },
  });
  const expires = Date.parse(reporting.expires_at);
  assert.ok(expires >= sentAt + 30 * DAY_MS - 1000 && expires <= answeredAt + 30 * DAY_MS + 1000, reporting.expires_at);
  // The gate applies it.
  assert.deepEqual(await gateStatus("/v1/orders/7", secret, { "cf-connecting-ip": "203.0.113.9" }), [200, null]);
  assert.deepEqual(await gateStatus("/v1/orders/7", secret, { "cf-connecting-ip": "198.51.100.9" }), [403, "ip_not_allowed"]);
  assert.deepEqual(await gateStatus("/v1/users", secret, { "cf-connecting-ip": "203.0.113.9" }), [403, "route_not_allowed"]);

  // "This website only": a publishable key for the one origin typed, enforced.
  await page.getByRole("button", { name: "Create key" }).click();
  assert.equal(await d.getByLabel("Label").inputValue(), "", "the dialog starts blank again");
  assert.equal(await d.getByLabel("Allowed requests (routes)").inputValue(), "");
  await d.getByRole("button", { name: "This website only" }).click();
  assert.equal(await d.getByLabel("Kind").inputValue(), "publishable");
  for (const secretOnly of ["Allowed IP addresses", "Allowed requests (routes)"]) {
    assert.equal(await d.getByLabel(secretOnly).isVisible(), false, `${secretOnly} is hidden for publishable keys`);
  }
  assert.equal(await d.locator("#key-scopes-field").isVisible(), false, "scopes are hidden for publishable keys");
  assert.equal(await d.getByLabel("Allowed websites (origins)").evaluate((el) => el === document.activeElement), true);
  await page.keyboard.type("https://shop.example");
  assert.equal(await d.getByLabel("Refuse them (enforce)").isChecked(), true);
  await d.getByLabel("Label").fill("storefront");
  assert.deepEqual(await unlabeledControls(), []);
  await d.getByRole("button", { name: "Create", exact: true }).click();
  const storefront = await revealedValue();
  assert.match(storefront, /^pk_live_/);
  const shop = await findKey(appId, "storefront");
  assert.deepEqual(restrictions(shop), { allowed_origins: ["https://shop.example"], origin_policy: "enforce" });
  assert.equal(shop.expires_at, null);
  assert.deepEqual(await gateStatus("/v1/client/session", storefront, { origin: "https://shop.example" }), [200, null]);
  assert.deepEqual(await gateStatus("/v1/client/session", storefront, { origin: "https://elsewhere.example" }), [403, "origin_not_allowed"]);

  // A publishable key in report mode, with an expiry date typed in the browser's time
  // zone and a custom rate limit; the secret-only fields filled earlier are not sent.
  const at = new Date(Date.now() + 100 * DAY_MS);
  const expiresAt = Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate(), 17, 0); // noon or 1 pm in New York
  await page.getByRole("button", { name: "Create key" }).click();
  await d.getByRole("button", { name: "Read-only management key" }).click();
  await d.getByLabel("Allowed IP addresses").fill("192.0.2.0/24");
  await d.getByLabel("Kind").selectOption("publishable");
  await d.getByLabel("Label").fill("widget");
  await d.getByLabel("Allowed websites (origins)").fill("https://shop.example\nhttps://*.shop.example");
  await d.getByLabel("Let them through and record them (report)").check();
  await d.getByLabel("Expires", { exact: true }).selectOption({ label: "At a date and time…" });
  await d.getByLabel("Expiry date and time").fill(localInput(expiresAt));
  await d.getByLabel("Maximum requests").fill("5000");
  await d.getByLabel("Per", { exact: true }).selectOption({ label: "hour" });
  const [created] = await Promise.all([
    page.waitForRequest((r) => r.method() === "POST" && r.url().endsWith(`/v1/applications/${appId}/keys`)),
    d.getByRole("button", { name: "Create", exact: true }).click(),
  ]);
  assert.deepEqual(created.postDataJSON(), {
    kind: "publishable", label: "widget", expires_at: new Date(expiresAt).toISOString(),
    allowed_origins: ["https://shop.example", "https://*.shop.example"], origin_policy: "report",
    rate_limit: { requests: 5000, per_seconds: 3600 },
  });
  await revealedValue();
  const widget = await findKey(appId, "widget");
  assert.deepEqual(restrictions(widget), {
    allowed_origins: ["https://shop.example", "https://*.shop.example"], origin_policy: "report",
    rate_limit: { requests: 5000, per_seconds: 3600 },
  });
  assert.equal(Date.parse(widget.expires_at), expiresAt, widget.expires_at);
  assert.deepEqual(pageErrors, []);
});

test("editing a key sends only what changed, and null for a restriction removed", async () => {
  const { appId, first, keys } = await openApp("Editing", [{
    kind: "secret", label: "ops", scopes: ["keys:read"], routes: [{ path: "/v1/orders/*" }],
    allowed_ips: ["198.51.100.0/24"], rate_limit: { requests: 100, per_seconds: 60 }, expires_in_seconds: 7 * 24 * 3600,
  }]);
  const { id } = keys.ops;
  const d = dialog();
  const patches = [];
  page.on("request", (r) => { if (r.method() === "PATCH") patches.push(r.postDataJSON()); });

  // The dialog shows the key as it is; the kind cannot change.
  await openRowMenu(keyRow(id));
  await rowItem(keyRow(id), /^Edit/).click();
  assert.equal(await d.locator("#key-dialog-title").textContent(), "Edit key");
  assert.equal(await d.getByLabel("Kind").isDisabled(), true);
  assert.equal(await d.getByLabel("Label").inputValue(), "ops");
  assert.deepEqual(await scopeState(), { "keys:read": true, "keys:write": false, "audit:read": false, "webhooks:read": false, "webhooks:write": false });
  assert.equal(await d.getByLabel("Allowed requests (routes)").inputValue(), "/v1/orders/*");
  assert.equal(await d.getByLabel("Allowed IP addresses").inputValue(), "198.51.100.0/24");
  assert.deepEqual([await d.getByLabel("Maximum requests").inputValue(), await d.getByLabel("Per", { exact: true }).inputValue()], ["100", "60"]);
  assert.match(await d.getByLabel("Expires", { exact: true }).locator("option:checked").textContent(), /^Keep: expires /);
  assert.equal(await d.getByLabel("Allowed websites (origins)").isVisible(), false);
  assert.equal(await d.getByRole("button", { name: "This website only" }).isVisible(), false, "no preset for the other kind");

  // Change the rate limit; remove the address list and the expiry.
  await d.getByLabel("Maximum requests").fill("20");
  await d.getByLabel("Per", { exact: true }).selectOption({ label: "hour" });
  await d.getByLabel("Allowed IP addresses").fill("");
  await d.getByLabel("Expires", { exact: true }).selectOption({ label: "Never (remove the expiry)" });
  await d.getByRole("button", { name: "Save changes" }).click();
  await d.waitFor({ state: "hidden" });
  assert.deepEqual(patches, [{ allowed_ips: null, expires_at: null, rate_limit: { requests: 20, per_seconds: 3600 } }]);
  const edited = await findKey(appId, id);
  assert.deepEqual(restrictions(edited), { scopes: ["keys:read"], routes: [{ path: "/v1/orders/*" }], rate_limit: { requests: 20, per_seconds: 3600 } });
  assert.deepEqual([edited.label, edited.expires_at], ["ops", null]);
  // The row shows it at once, and the audit log names the fields (never their values).
  await page.waitForFunction((keyId) => document.querySelector(`#keys-table tr[data-key-id="${keyId}"]`)?.textContent.includes("20/h"), id);
  assert.deepEqual(await badgesOf(id), ["read-only: keys", "1 route", "20/h"]);
  assert.equal(await keyRow(id).locator('td[data-label="Expires"]').textContent(), "—");
  await page.locator("#audit-table").getByText("key.updated: expires_at, allowed_ips, rate_limit").waitFor();

  // Saving with nothing changed sends nothing.
  await openRowMenu(keyRow(id));
  await rowItem(keyRow(id), /^Edit/).click();
  await d.getByRole("button", { name: "Save changes" }).click();
  await d.waitFor({ state: "hidden" });
  await page.locator("#status").getByText("Nothing changed").waitFor();
  assert.equal(patches.length, 1);

  // Every right again (no scopes restriction: null), a new label, one more route.
  await openRowMenu(keyRow(id));
  await rowItem(keyRow(id), /^Edit/).click();
  await d.getByLabel("Create, change, rotate, suspend and revoke keys (keys:write)").check();
  await d.getByLabel("Read the audit log (audit:read)").check();
  await d.getByLabel("List webhook endpoints and their deliveries (webhooks:read)").check();
  await d.getByLabel("Add (with reading keys and the audit log), delete and test webhook endpoints, rotate their secrets, resend messages (webhooks:write)").check();
  await d.getByLabel("Label").fill("ops team");
  await d.getByLabel("Allowed requests (routes)").fill("/v1/orders/*\nDELETE,PUT /v1/carts/*");
  await d.getByRole("button", { name: "Save changes" }).click();
  await d.waitFor({ state: "hidden" });
  assert.deepEqual(patches[1], { label: "ops team", scopes: null, routes: [{ path: "/v1/orders/*" }, { methods: ["DELETE", "PUT"], path: "/v1/carts/*" }] });
  const again = await findKey(appId, id);
  assert.deepEqual(restrictions(again), {
    routes: [{ path: "/v1/orders/*" }, { methods: ["PUT", "DELETE"], path: "/v1/carts/*" }],
    rate_limit: { requests: 20, per_seconds: 3600 },
  });
  assert.equal(again.label, "ops team");
  await keyRow(id).locator(".label-text", { hasText: "ops team" }).waitFor();
  assert.deepEqual(await badgesOf(id), ["2 routes", "20/h"]);

  // A publishable key: switching report mode to enforce sends only origin_policy; emptying
  // the list removes both fields.
  const pk = first.publishable;
  const set = await operator("PATCH", `/v1/applications/${appId}/keys/${pk.id}`, { allowed_origins: ["https://shop.example"], origin_policy: "report" });
  assert.equal(set.status, 200, JSON.stringify(set.json));
  await page.reload();
  await keyRows(3);
  await openRowMenu(keyRow(pk.id));
  await rowItem(keyRow(pk.id), /^Edit/).click();
  assert.equal(await d.getByLabel("Let them through and record them (report)").isChecked(), true);
  assert.equal(await d.getByLabel("Allowed IP addresses").isVisible(), false);
  await d.getByLabel("Refuse them (enforce)").check();
  await d.getByRole("button", { name: "Save changes" }).click();
  await d.waitFor({ state: "hidden" });
  assert.deepEqual(patches[2], { origin_policy: "enforce" });
  assert.deepEqual(restrictions(await findKey(appId, pk.id)), { allowed_origins: ["https://shop.example"], origin_policy: "enforce" });
  await openRowMenu(keyRow(pk.id));
  await rowItem(keyRow(pk.id), /^Edit/).click();
  await d.getByLabel("Allowed websites (origins)").fill("");
  await d.getByRole("button", { name: "Save changes" }).click();
  await d.waitFor({ state: "hidden" });
  assert.deepEqual(patches[3], { allowed_origins: null, origin_policy: null });
  assert.deepEqual(restrictions(await findKey(appId, pk.id)), {});
  assert.equal(patches.length, 4);
  assert.deepEqual(pageErrors, []);
});

test("a refusal shows the API's message in the dialog, which stays open with what was typed", async () => {
  const { appId } = await openApp("Refusals");
  const d = dialog();
  // What the API says about an address range with host bits set, asked directly.
  const direct = await operator("POST", `/v1/applications/${appId}/keys`, { kind: "secret", label: "vpn", allowed_ips: ["10.0.0.1/8"] });
  assert.deepEqual([direct.status, direct.json.error?.code], [400, "invalid_policy"]);
  assert.match(direct.json.error.message, /^allowed_ips: /, "the message names the field");

  await page.getByRole("button", { name: "Create key" }).click();
  await d.getByLabel("Label").fill("vpn");
  await d.getByLabel("Allowed requests (routes)").fill("GET /v1/orders/*");
  await d.getByLabel("Allowed IP addresses").fill("10.0.0.1/8");
  const [refused] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === "POST" && r.url().endsWith(`/v1/applications/${appId}/keys`)),
    d.getByRole("button", { name: "Create", exact: true }).click(),
  ]);
  assert.equal(refused.status(), 400);
  const error = d.locator("#key-dialog-error");
  await error.getByText(direct.json.error.message, { exact: true }).waitFor();
  assert.equal(await error.getAttribute("role"), "alert");
  assert.equal(await isOpen(d), true, "the dialog stays open");
  assert.equal(await d.getByLabel("Label").inputValue(), "vpn");
  assert.equal(await d.getByLabel("Allowed requests (routes)").inputValue(), "GET /v1/orders/*");
  const ips = d.getByLabel("Allowed IP addresses");
  assert.equal(await ips.inputValue(), "10.0.0.1/8");
  assert.equal(await ips.getAttribute("aria-invalid"), "true");
  assert.equal(await ips.evaluate((el) => el === document.activeElement), true, "the field named is focused");
  assert.equal((await operator("GET", `/v1/applications/${appId}/keys`)).json.keys.length, 2, "no key was made");

  // A mistake the dialog can see itself is named before anything is sent.
  let posts = 0;
  const countPosts = (r) => { if (r.method() === "POST") posts++; };
  page.on("request", countPosts);
  await d.getByLabel("Allowed requests (routes)").fill("FETCH /v1/orders/*");
  await d.getByRole("button", { name: "Create", exact: true }).click();
  await error.getByText("Allowed requests, line 1: “FETCH” is not a method").waitFor();
  assert.equal(posts, 0);
  page.off("request", countPosts);

  // Corrected, it goes through.
  await d.getByLabel("Allowed requests (routes)").fill("GET /v1/orders/*");
  await ips.fill("10.0.0.0/8");
  await d.getByRole("button", { name: "Create", exact: true }).click();
  await revealedValue();
  const vpn = await findKey(appId, "vpn");
  assert.deepEqual(restrictions(vpn), { routes: [{ methods: ["GET"], path: "/v1/orders/*" }], allowed_ips: ["10.0.0.0/8"] });

  // The edit dialog does the same, and Cancel then leaves the key as it was.
  await keyRows(3);
  await openRowMenu(keyRow(vpn.id));
  await rowItem(keyRow(vpn.id), /^Edit/).click();
  assert.equal(await error.textContent(), "", "no message left from before");
  await ips.fill("10.0.0.0/8\n10.0.0.1/8");
  await d.getByRole("button", { name: "Save changes" }).click();
  await error.getByText(direct.json.error.message, { exact: true }).waitFor();
  assert.equal(await isOpen(d), true);
  assert.equal(await ips.inputValue(), "10.0.0.0/8\n10.0.0.1/8");
  await d.getByRole("button", { name: "Cancel" }).click();
  assert.equal(await isOpen(d), false);
  assert.deepEqual((await findKey(appId, vpn.id)).allowed_ips, ["10.0.0.0/8"]);
  assert.deepEqual(pageErrors, []);
});

test("the keys table shows each key's restrictions and expiry at a glance", async () => {
  const label = '<img src=x onerror="window.injected=1">';
  const { first, keys } = await openApp("Badges", [
    {
      kind: "secret", label: "reader", scopes: ["keys:read", "audit:read"],
      routes: [{ methods: ["GET"], path: "/v1/orders/*" }, { path: "/v1/users" }],
      allowed_ips: ["203.0.113.0/24"], rate_limit: { requests: 100, per_seconds: 60 }, expires_in_seconds: 2 * 24 * 3600,
    },
    { kind: "publishable", label: "widget", allowed_origins: ["https://shop.example"], origin_policy: "report", rate_limit: { requests: 5, per_seconds: 1 } },
    { kind: "secret", label, scopes: [], allowed_ips: ["192.0.2.0/24", "2001:db8::/32"], expires_in_seconds: 600 },
  ]);
  // Without webhooks:read it reads less than a read-only key: the badge says what.
  assert.deepEqual(await badgesOf(keys.reader.id), ["read-only: keys, audit log", "2 routes", "IP: 1 range", "100/min"]);
  assert.equal(await keyRow(keys.reader.id).locator(".badge", { hasText: "2 routes" }).getAttribute("title"), "Routes: GET /v1/orders/*; /v1/users");
  assert.deepEqual(await badgesOf(keys.widget.id), ["1 origin (report)", "5/s"]);
  assert.deepEqual(await badgesOf(keys[label].id), ["no management", "IP: 2 ranges"]);
  for (const plain of [first.secret.id, first.publishable.id]) {
    assert.deepEqual(await badgesOf(plain), []);
    assert.equal(await keyRow(plain).locator('[data-label="Restrictions"]').textContent(), "none");
    assert.equal(await keyRow(plain).locator('td[data-label="Expires"]').textContent(), "—");
  }
  // An API-provided label is text, never markup.
  assert.equal(await keyRow(keys[label].id).locator(".label-text").textContent(), label);
  assert.equal(await page.locator("#keys-table img").count(), 0);
  // Had it become markup, the CSP would have refused the image and its inline handler (so
  // `window.injected` could never be set); the refusal is what would show.
  assert.deepEqual(await page.evaluate(() => window.cspViolations), []);

  // Live countdowns to each key's own expiry.
  const reader = keyRow(keys.reader.id).locator(".countdown");
  assert.match(await reader.textContent(), /^1d 23:59:\d\d left$|^2d 00:00:00 left$/);
  const soon = keyRow(keys[label].id).locator(".countdown");
  const before = await soon.textContent();
  assert.match(before, /^00:(09:\d\d|10:00) left$/);
  await page.waitForTimeout(2200);
  assert.notEqual(await soon.textContent(), before, "the countdown is live");

  await page.evaluate(() => { document.activeElement?.blur(); window.scrollTo(0, 0); });
  await page.locator("#keys-table").scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(artifacts, "dashboard-policies-1280x800.png") });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(200);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `no horizontal scrolling at 390 px (overflow ${overflow}px)`);
  await openRowMenu(keyRow(keys.reader.id));
  await rowItem(keyRow(keys.reader.id), `Edit reader ${keys.reader.hint}`).click();
  await page.screenshot({ path: join(artifacts, "dashboard-edit-key-390x844.png") });
  const dialogOverflow = await dialog().evaluate((d) => d.scrollWidth - d.clientWidth);
  assert.ok(dialogOverflow <= 1, `the dialog fits at 390 px (overflow ${dialogOverflow}px)`);
  await dialog().getByRole("button", { name: "Cancel" }).click();
  await page.setViewportSize({ width: 1280, height: 800 });
  assert.deepEqual(pageErrors, []);
});

test("suspend asks first and refuses the key until it is resumed; the last working secret key cannot be suspended", async () => {
  const { appId, first, keys } = await openApp("Suspension", [{ kind: "secret", label: "worker" }]);
  const { id, value } = keys.worker;
  const confirm = page.locator("#suspend-dialog");
  assert.deepEqual(await gateStatus("/v1/users", value), [200, null]);

  // Cancel changes nothing.
  await openRowMenu(keyRow(id));
  await rowItem(keyRow(id), /^Suspend/).click();
  await confirm.locator("#suspend-what").getByText("worker").waitFor();
  await confirm.getByRole("button", { name: "Cancel" }).click();
  assert.equal(await isOpen(confirm), false);
  assert.equal((await findKey(appId, id)).suspended_at, null);
  assert.deepEqual(await gateStatus("/v1/users", value), [200, null]);

  // Suspended: the gate refuses the key, and the row says so.
  await openRowMenu(keyRow(id));
  await rowItem(keyRow(id), /^Suspend/).click();
  await confirm.getByRole("button", { name: "Suspend" }).click();
  await keyRow(id).locator(".badge.suspended", { hasText: "suspended" }).waitFor();
  assert.equal(await isOpen(confirm), false);
  assert.ok((await findKey(appId, id)).suspended_at, "the API shows suspended_at");
  assert.deepEqual(await gateStatus("/v1/users", value), [401, "suspended_key"]);

  // The application's first secret key is now the only one that works: suspending it is
  // refused, and the dialog says why.
  const lastWorking = await operator("POST", `/v1/applications/${appId}/keys/${first.secret.id}/suspend`);
  assert.deepEqual([lastWorking.status, lastWorking.json.error?.code], [409, "last_active_secret_key"]);
  await openRowMenu(keyRow(first.secret.id));
  await rowItem(keyRow(first.secret.id), /^Suspend/).click();
  await confirm.getByRole("button", { name: "Suspend" }).click();
  await confirm.locator("#suspend-error").getByText(lastWorking.json.error.message, { exact: true }).waitFor();
  assert.equal(await isOpen(confirm), true);
  await confirm.getByRole("button", { name: "Cancel" }).click();
  assert.equal((await findKey(appId, first.secret.id)).suspended_at, null);
  assert.deepEqual(await gateStatus("/v1/users", first.secret.value), [200, null]);

  // Resumed: it works again.
  await openRowMenu(keyRow(id));
  await rowItem(keyRow(id), /^Resume/).click();
  await keyRow(id).locator(".badge.active").waitFor();
  assert.equal(await keyRow(id).getByRole("menuitem", { name: /^Suspend/, includeHidden: true }).count(), 1);
  assert.equal((await findKey(appId, id)).suspended_at, null);
  assert.deepEqual(await gateStatus("/v1/users", value), [200, null]);
  const { json } = await operator("GET", `/v1/applications/${appId}/audit_log?key_id=${id}`);
  assert.deepEqual(json.entries.map((e) => e.event), ["key.resumed", "key.suspended", "key.created"]);
  assert.deepEqual(pageErrors, []);
});
