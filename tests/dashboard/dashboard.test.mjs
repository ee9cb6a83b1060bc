// The dashboard in real headless Chromium against the worker in workerd (wrangler dev):
// sign in, create an application, create, revoke and rotate keys, and check the results
// both on the page and at the gate; sessions (list, end one, sign out everywhere), audit
// paging and the sign-in limit. Screenshots go to tests/artifacts/.
//
// Sign-ins are limited to 10 a minute per client address: the browser sign-ins from
// 127.0.0.1 here stay under that (6), and the test of the limit uses an address of its own.
import assert from "node:assert/strict";
import { generateKeyPairSync, sign } from "node:crypto";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { artifacts, runDirectories, send as sendTo, signedInDashboard, openRowMenu, rowItem, recordFailedAnswers, waitForRows } from "./support.mjs";
import { launchChromium, root } from "../../scripts/support/browser.mjs";
import { startOrigin, startWrangler } from "../../scripts/support/processes.mjs";

const ADMIN_TOKEN = "dashboard-test-operator-token-42";
const COOKIE = "__Host-aero2_session";
// A stand-in for GitHub's secret-scanning signing key.
const scanner = generateKeyPairSync("ec", { namedCurve: "P-256" });
const SCANNER_KEYS = JSON.stringify([{ key_identifier: "test-key", key: scanner.publicKey.export({ type: "spki", format: "pem" }) }]);
const env = { ...process.env, PATH: `${process.env.HOME}/.cargo/bin:${process.env.PATH}` };
let origin, worker, browser;

/** A request as a server sends it (no browser headers), with a JSON body (text) if given. */
const send = (method, path, headers = {}, body = undefined) => sendTo(worker.base, method, path, headers, body);

const post = (path, headers, body) => send("POST", path, headers, body);

/** The operator API with ADMIN_TOKEN, as a script would call it. */
const operator = (method, path, body) =>
  send(method, path, { authorization: `Bearer ${ADMIN_TOKEN}` }, body === undefined ? undefined : JSON.stringify(body));

/** The operator API with a copied session cookie and nothing else. */
const withCookie = (value) => send("GET", "/v1/applications", { cookie: `${COOKIE}=${value}` });

/** A secret-scanning report signed as GitHub signs it. */
function signedReport(tokens) {
  const report = JSON.stringify(tokens);
  const signature = sign("sha256", Buffer.from(report), scanner.privateKey).toString("base64");
  return post("/v1/leaks/github", { "github-public-key-identifier": "test-key", "github-public-key-signature": signature }, report);
}


/** A request through the gate with `key`, as a server sends it. */
const gate = (path, key, headers = {}) => send("GET", path, { authorization: `Bearer ${key}`, ...headers });

/** A fresh browser profile (its own cookies) on the dashboard, collecting page errors;
 *  `permissions` are granted to the worker's origin first. */
async function openDashboard({ permissions } = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  if (permissions) await context.grantPermissions(permissions, { origin: worker.base });
  const page = await context.newPage();
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(e.message));
  recordFailedAnswers(page);
  await page.goto(`${worker.base}/dashboard/`);
  return { context, page, pageErrors };
}

async function signIn(page) {
  await page.getByLabel("Operator token (ADMIN_TOKEN)").fill(ADMIN_TOKEN);
  await page.getByRole("button", { name: "Sign in" }).click();
  // The page then shows the view its address names: wait for the header's Sign out.
  await page.getByRole("button", { name: "Sign out", exact: true }).waitFor();
}

const sessionCookie = async (context) => (await context.cookies()).find((c) => c.name === COOKIE);
/** What the page's own session is, asked from inside the page. */
const sessionOf = (page) => page.evaluate(() => fetch("/v1/dashboard/session").then((r) => r.json()));
/** The status of the page's next operator API call. */
const apiStatus = (page) => page.evaluate(() => fetch("/v1/applications").then((r) => r.status));
/** The audit table's entry ids, top to bottom. */
const shownEntries = (page) => page.locator("#audit-table tbody tr").evaluateAll((rows) => rows.map((r) => r.dataset.entryId));

/** waitForRows, whose timeout ends with the end of the worker's log (logged at info: one
 *  line per request the worker answered, and how long it took). */
const rowCount = (page, selector, n) => waitForRows(page, selector, n, { log: worker.log });
const keyRows = (page, n) => rowCount(page, "#keys-table tbody tr", n);

before(async () => {
  const { logDir, stateDir } = runDirectories();
  origin = await startOrigin(root, env, logDir);
  worker = await startWrangler(root, env, {
    name: "dashboard", stateDir, logDir, logLevel: "info", trace: true,
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
  const { context, page, pageErrors } = await openDashboard({ permissions: ["clipboard-read", "clipboard-write"] });

  // Sign in: the token becomes an HttpOnly, Secure, SameSite=Strict cookie.
  await page.getByLabel("Operator token (ADMIN_TOKEN)").fill("not-the-token-at-all");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByText("that is not the operator token").waitFor();
  await page.getByLabel("Operator token (ADMIN_TOKEN)").fill(ADMIN_TOKEN);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Applications" }).waitFor();
  const cookies = await context.cookies();
  assert.deepEqual(cookies.map((c) => c.name), [COOKIE], "one cookie, with the __Host- prefix");
  const [cookie] = cookies;
  // __Host- cookies are host-only and on the whole site, or the browser refuses them.
  assert.equal(cookie.path, "/");
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.secure, true);
  assert.equal(cookie.sameSite, "Strict");
  assert.ok(cookie.expires > Date.now() / 1000, "the session expires");
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie);
  assert.ok(!stored.includes(ADMIN_TOKEN), "the token is not kept in JavaScript storage");

  // A state-changing request with the cookie but without the CSRF token is refused.
  const forged = await send("POST", "/v1/applications", { cookie: `${COOKIE}=${cookie.value}`, origin: worker.base },
    JSON.stringify({ name: "forged", environment: "production" }));
  assert.deepEqual([forged.status, forged.json.error?.code], [403, "csrf_check_failed"]);

  // Create an application: its first keys are shown once.
  await page.getByLabel("Name", { exact: true }).fill("Shop");
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
  await page.locator("#key-kind").selectOption("secret");
  await page.getByLabel("Label").fill("billing");
  await page.locator("#key-dialog").getByRole("button", { name: "Create" }).click();
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
  await openRowMenu(billingRow);
  await rowItem(billingRow, /^Revoke billing/).click();
  await page.locator("#revoke-what").getByText("billing").waitFor();
  await page.locator("#revoke-dialog").getByRole("button", { name: "Revoke" }).click();
  await billingRow.locator(".badge.revoked").waitFor();
  assert.equal(await page.evaluate(() => window.notReloaded), true);
  // The receipt: when the revocation holds everywhere.
  assert.match(await page.locator("#status").textContent(), /^Revoked sk_live_…\w{4}: refused everywhere from /);
  // The audit log keeps the receipt beside the revocation.
  await page.locator("#audit-table tbody tr", { hasText: "key.revoked" }).locator(".receipt", { hasText: /everywhere from / }).first().waitFor();
  const refused = await gate("/v1/users", billing);
  assert.deepEqual([refused.status, refused.json.error.code], [401, "revoked_key"]);

  // Escape dismisses a confirmation without acting, even right after a confirmed one.
  const publishableRow = page.locator("#keys-table tbody tr", { hasText: "publishable" });
  await openRowMenu(publishableRow);
  await rowItem(publishableRow, /^Revoke/).click();
  await page.locator("#revoke-what").getByText("publishable").waitFor();
  await page.keyboard.press("Escape");
  await page.waitForTimeout(500);
  assert.equal(await publishableRow.getAttribute("data-status"), "active");
  assert.equal((await gate("/v1/client/session", publishable)).status, 200, "Escape revoked nothing");

  // Rotate the publishable key with a 1-hour grace period: a live countdown appears.
  await openRowMenu(publishableRow);
  await rowItem(publishableRow, /^Rotate/).click();
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
  await page.getByLabel("Event", { exact: true }).selectOption("key.revoked");
  await page.waitForFunction(() => [...document.querySelectorAll("#audit-table tbody tr")].every((r) => r.textContent.includes("key.revoked")));
  assert.equal(await page.locator("#audit-table tbody tr").count(), 1);
  // The operator's own actions name the operator, with no address or browser.
  const revokedEntry = page.locator("#audit-table tbody tr").first();
  assert.equal(await revokedEntry.locator('td[data-label="By"]').textContent(), "operator");
  assert.equal(await revokedEntry.locator('td[data-label="Client"]').textContent(), "—");

  // The browser package says which application a publishable key belongs to.
  await page.getByRole("textbox", { name: "Publishable key" }).fill(rotated);
  await page.getByRole("button", { name: "Check" }).click();
  await page.locator("#check-result").getByText("this application").waitFor();
  await page.getByRole("textbox", { name: "Publishable key" }).fill(secret);
  await page.getByRole("button", { name: "Check" }).click();
  await page.locator("#check-result").getByText("secret key").waitFor();

  // A secret key used from browsers shows up as a warning that counts the requests: the
  // log keeps one entry per key and hour, with the count in it.
  for (let i = 0; i < 5; i++) {
    const fromBrowser = await gate("/v1/users", secret, { origin: "https://shop.example" });
    assert.equal(fromBrowser.json.error?.code, "secret_key_in_browser");
  }
  // The first is recorded at once, the repeats when their 10 s window ends: wait for the
  // API to count all five before the page loads the log.
  const exposures = async () => (await send("GET", "/v1/audit_log?event=key.secret_in_browser", { authorization: `Bearer ${secret}` }))
    .json.entries.reduce((sum, e) => sum + e.detail.count, 0);
  for (const deadline = Date.now() + 30_000; (await exposures()) !== 5;) {
    assert.ok(Date.now() < deadline, "the exposures were not all counted within 30 s");
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await page.getByLabel("Event", { exact: true }).selectOption("");
  await page.locator("#banners").getByText("A secret key was sent from a browser. 5 requests were refused").waitFor();
  const exposureCounts = await page.locator("#audit-table tbody tr", { hasText: "key.secret_in_browser" }).locator(".count")
    .allTextContents();
  // Two entries if the requests straddled the hour.
  assert.equal(exposureCounts.reduce((sum, text) => sum + Number(/^ ×(\d+)$/.exec(text)[1]), 0), 5, exposureCounts.join());

  // Secret keys reported by secret scanning show as "revoked: leaked" with a banner. The
  // report's URL is a link only when it is http(s): a javascript: URL stays text.
  const appId = (await page.locator("#app-meta").textContent()).split(" · ")[1];
  const ci = await operator("POST", `/v1/applications/${appId}/keys`, { kind: "secret", label: "ci" });
  const gist = await operator("POST", `/v1/applications/${appId}/keys`, { kind: "secret", label: "gist" });
  const leakedUrl = "https://github.com/example/app/blob/main/.env";
  const reported = await signedReport([
    { token: ci.json.key.value, type: "aero2_secret_key", url: leakedUrl, source: "content" },
    { token: gist.json.key.value, type: "aero2_secret_key", url: "javascript:alert(1)", source: "content" },
  ]);
  assert.deepEqual([reported.status, reported.json.map((f) => f.label)], [200, ["true_positive", "true_positive"]]);
  await page.reload();
  // The page has loaded its keys before the box is ticked (a reload can otherwise restore
  // the box's old state after the click).
  await page.locator("#keys-table tbody tr").first().waitFor();
  await page.getByLabel("Show revoked keys").check();
  for (const leaked of [ci, gist]) {
    await page.locator(`#keys-table tbody tr[data-key-id="${leaked.json.key.id}"]`).getByText("revoked: leaked").waitFor();
  }
  const link = page.locator("#banners a", { hasText: leakedUrl });
  await link.waitFor();
  assert.equal(await link.getAttribute("href"), leakedUrl);
  const scriptBanner = page.locator("#banners .banner", { hasText: "javascript:alert(1)" });
  await scriptBanner.waitFor();
  assert.match(await scriptBanner.textContent(), /gist \(.+\) was found in public at javascript:alert\(1\)\./);
  assert.equal(await scriptBanner.locator("a").count(), 0, "a javascript: URL is not a link");
  assert.equal(await page.locator('a[href^="javascript:"]').count(), 0);

  // Usage chart and keyboard use: Tab to a button and press Enter.
  await openRowMenu(page.locator("#keys-table tbody tr", { hasText: "secret" }).first());
  await rowItem(page.locator("#keys-table tbody tr", { hasText: "secret" }).first(), /^Usage/).click();
  await page.locator("#usage-chart svg rect").first().waitFor();
  assert.equal(await page.locator("#usage-chart svg rect").count(), 24);
  await page.getByRole("button", { name: "Create key" }).focus();
  await page.keyboard.press("Enter");
  assert.equal(await page.locator("#key-dialog").evaluate((d) => d.open), true);
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

  // Sign out: the session ends on the server, so a copy of the cookie stops working too.
  await page.setViewportSize({ width: 1280, height: 800 });
  assert.equal((await withCookie(cookie.value)).status, 200, "the copied cookie works while signed in");
  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  const copied = await withCookie(cookie.value);
  assert.deepEqual([copied.status, copied.json.error?.code], [401, "not_signed_in"]);
  await page.reload();
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  assert.deepEqual(pageErrors, []);
  await context.close();
});

test("the operator lists sessions, ends another one, and signs out everywhere", async () => {
  // Only this test's sessions, whatever the others left.
  assert.equal((await operator("DELETE", "/v1/dashboard/sessions")).status, 200);
  const first = await openDashboard();
  await signIn(first.page);
  const second = await openDashboard();
  await signIn(second.page);
  const firstId = (await sessionOf(first.page)).session_id;
  const secondId = (await sessionOf(second.page)).session_id;
  assert.match(firstId, /^ses_/);
  assert.notEqual(firstId, secondId);

  // The first browser's list: both sessions, its own marked, the other one with End.
  await first.page.getByRole("link", { name: "Sessions" }).click();
  await first.page.getByRole("heading", { name: "Sessions" }).waitFor();
  await rowCount(first.page, "#sessions-table tbody tr", 2);
  const rows = first.page.locator("#sessions-table tbody tr");
  assert.deepEqual((await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.sessionId))).sort(), [firstId, secondId].sort());
  const current = rows.filter({ hasText: "This session" });
  assert.equal(await current.count(), 1);
  assert.equal(await current.getAttribute("data-session-id"), firstId);
  assert.equal(await current.getByRole("button").count(), 0, "no End button on this session");
  const other = first.page.locator(`#sessions-table tbody tr[data-session-id="${secondId}"]`);
  assert.equal(await other.locator('td[data-label="Address"]').textContent(), "127.0.0.1");
  assert.match(await other.locator('td[data-label="Browser"]').textContent(), /Chrome/);

  // Ending the other session signs that browser out at once.
  assert.equal(await apiStatus(second.page), 200);
  await other.getByRole("button", { name: /^End/ }).click();
  // It asks first, naming the session's address; then ends it.
  const confirm = first.page.locator("#confirm-dialog");
  await confirm.waitFor();
  assert.match(await confirm.textContent(), /127\.0\.0\.1/);
  await confirm.getByRole("button", { name: "End session" }).click();
  await rowCount(first.page, "#sessions-table tbody tr", 1);
  assert.equal(await apiStatus(second.page), 401);
  await second.page.getByRole("link", { name: "Sessions" }).click();
  await second.page.getByRole("heading", { name: "Sign in" }).waitFor();
  await second.page.getByText("This session has ended").waitFor();
  assert.equal(await apiStatus(first.page), 200, "the first browser is still signed in");

  // No horizontal scrolling on a phone, even with a browser's long user agent.
  await signIn(second.page);
  await first.page.reload();
  await rowCount(first.page, "#sessions-table tbody tr", 2);
  await first.page.setViewportSize({ width: 390, height: 844 });
  await first.page.waitForTimeout(200);
  const overflow = await first.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `no horizontal scrolling at 390 px (overflow ${overflow}px)`);
  await first.page.setViewportSize({ width: 1280, height: 800 });

  // Sign out everywhere asks first; Cancel changes nothing.
  const dialog = first.page.locator("#sign-out-everywhere-dialog");
  await first.page.getByRole("button", { name: "Sign out everywhere" }).click();
  await dialog.getByRole("button", { name: "Cancel" }).click();
  assert.equal(await dialog.evaluate((d) => d.open), false);
  assert.deepEqual([await apiStatus(first.page), await apiStatus(second.page)], [200, 200]);
  const firstCookie = await sessionCookie(first.context);
  await first.page.getByRole("button", { name: "Sign out everywhere" }).click();
  await dialog.getByRole("button", { name: "Sign out everywhere" }).click();
  await first.page.getByRole("heading", { name: "Sign in" }).waitFor();
  assert.equal(await apiStatus(second.page), 401);
  assert.equal((await withCookie(firstCookie.value)).status, 401, "the first browser's copied cookie is refused");
  assert.deepEqual((await operator("GET", "/v1/dashboard/sessions")).json.sessions, []);

  for (const { context, pageErrors } of [first, second]) {
    assert.deepEqual(pageErrors, []);
    await context.close();
  }
});

test("the audit log pages back to older entries, with its filters", async () => {
  // 63 entries: the application, its 2 first keys, then 30 keys created and revoked.
  const created = await operator("POST", "/v1/applications", { name: "Paging", environment: "development" });
  const appId = created.json.application.id;
  const batch = [];
  for (let i = 0; i < 30; i++) {
    const { json } = await operator("POST", `/v1/applications/${appId}/keys`, { kind: "secret", label: `batch ${i}` });
    batch.push(json.key.id);
    assert.equal((await operator("POST", `/v1/applications/${appId}/keys/${json.key.id}/revoke`)).status, 200);
  }
  const everything = async (query) => {
    const { json } = await operator("GET", `/v1/applications/${appId}/audit_log?limit=100&${query}`);
    assert.equal(json.next_cursor, null);
    return json.entries.map((e) => e.id);
  };
  const all = await everything("");
  assert.equal(all.length, 63);

  const { context, page, pageErrors } = await openDashboard();
  await signIn(page);
  await page.goto(`${worker.base}/dashboard/#/apps/${appId}`);
  await page.getByRole("heading", { name: "Paging" }).waitFor();
  const older = page.getByRole("button", { name: "Older entries" });

  // One page of 25, then each click appends the next older page, until there is none.
  await rowCount(page, "#audit-table tbody tr", 25);
  assert.deepEqual(await shownEntries(page), all.slice(0, 25));
  await older.click();
  await rowCount(page, "#audit-table tbody tr", 50);
  await older.click();
  await rowCount(page, "#audit-table tbody tr", 63);
  await older.waitFor({ state: "hidden" });
  const shown = await shownEntries(page);
  assert.equal(new Set(shown).size, shown.length, "no entry is shown twice");
  assert.deepEqual(shown, all, "every entry, newest first");
  assert.match(await page.locator("#audit-table tbody tr").last().textContent(), /application\.created/);
  const by = await page.locator('#audit-table td[data-label="By"]').allTextContents();
  const client = await page.locator('#audit-table td[data-label="Client"]').allTextContents();
  assert.deepEqual([new Set(by), new Set(client)], [new Set(["operator"]), new Set(["—"])]);

  // A filter starts again from its newest page, and pages the same way.
  const revoked = await everything("event=key.revoked");
  await page.getByLabel("Event", { exact: true }).selectOption("key.revoked");
  await page.waitForFunction(() => document.querySelectorAll("#audit-table tbody tr").length === 25
    && [...document.querySelectorAll("#audit-table tbody tr")].every((r) => r.textContent.includes("key.revoked")));
  await older.click();
  await rowCount(page, "#audit-table tbody tr", 30);
  await older.waitFor({ state: "hidden" });
  assert.deepEqual(await shownEntries(page), revoked);

  // Both filters: one key's revocation, then all of that key's entries.
  await page.getByLabel("Key", { exact: true }).selectOption(batch[0]);
  await rowCount(page, "#audit-table tbody tr", 1);
  await page.getByLabel("Event", { exact: true }).selectOption("");
  await rowCount(page, "#audit-table tbody tr", 2);
  assert.deepEqual(await shownEntries(page), await everything(`key_id=${batch[0]}`));
  assert.equal(await older.isHidden(), true);

  assert.deepEqual(pageErrors, []);
  await context.close();
});

test("too many sign-in attempts from one address say how long to wait", async () => {
  const { context, page, pageErrors } = await openDashboard();
  // An address of its own (the worker takes the client's address from CF-Connecting-IP),
  // so that the other tests' sign-ins from 127.0.0.1 are not used up.
  await context.setExtraHTTPHeaders({ "cf-connecting-ip": "203.0.113.77" });
  // Rate limits count in windows aligned to the minute (locally, every count resets when
  // it turns): start with at least 20 seconds of this window left.
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 20_000) await new Promise((resolve) => setTimeout(resolve, left + 200));
  const statuses = [];
  let limited;
  for (let i = 0; i < 12 && !limited; i++) {
    await page.getByLabel("Operator token (ADMIN_TOKEN)").fill("not-the-operator-token");
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/v1/dashboard/session") && r.request().method() === "POST"),
      page.getByRole("button", { name: "Sign in" }).click(),
    ]);
    statuses.push(response.status());
    if (response.status() === 429) limited = response;
  }
  assert.deepEqual(statuses, [...Array(10).fill(401), 429], "10 attempts a minute, then 429");
  const wait = Number(await limited.headerValue("retry-after"));
  assert.ok(wait > 0 && wait <= 60, `Retry-After: ${wait}`);
  await page.locator("#sign-in-error").getByText(`Too many sign-in attempts from this address. Wait ${wait} seconds`).waitFor();
  assert.deepEqual(pageErrors, []);
  await context.close();
});
