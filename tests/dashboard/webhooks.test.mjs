// The dashboard's webhooks page (#16), in real headless Chromium against the worker in
// workerd (wrangler dev), delivering to a local receiver that checks every signature with
// the `standardwebhooks` npm package (tests/e2e/webhook-receiver.mjs): adding an endpoint
// and its secret shown once, test events, failed attempts and their retries, Resend,
// a disabled endpoint and Enable, secret rotation, the API's refusals in the dialog, and
// the key dialog's webhook scopes. Every result is read back from the API or the
// receiver, not only from the page.
//
// One browser sign-in for the whole file (sign-ins are limited to 10 a minute per address);
// each test makes its own application through the operator API.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { artifacts, runDirectories, send, signedInDashboard, openRowMenu, rowItem } from "./support.mjs";
import { root } from "../../scripts/support/browser.mjs";
import { freePort, sleep, startProcess, startWrangler, waitForHttp } from "../../scripts/support/processes.mjs";

const ADMIN_TOKEN = "webhooks-test-operator-token-42";
const DAY_MS = 24 * 60 * 60 * 1000;
const SECRET_PATTERN = /^whsec_[A-Za-z0-9+/]{43}=$/;
const env = { ...process.env, PATH: `${process.env.HOME}/.cargo/bin:${process.env.PATH}` };
let receiver, worker, browser, context, page, pageErrors;


const json = (body) => (body === undefined ? undefined : JSON.stringify(body));
/** The operator API with ADMIN_TOKEN, as a script would call it. */
const operator = (method, path, body) => send(worker.base, method, path, { authorization: `Bearer ${ADMIN_TOKEN}` }, json(body));
/** The management API with a secret key. */
const withKey = (key, method, path, body) => send(worker.base, method, path, { authorization: `Bearer ${key}` }, json(body));

// ----- the receiver ----------------------------------------------------------------------

const hookUrl = (name) => `${receiver.url}/hooks/${name}`;
const configure = async (name, settings) => {
  const { status } = await send(receiver.url, "PUT", `/control/${name}`, {}, JSON.stringify(settings));
  assert.equal(status, 200);
};
/** What the receiver got at `name`, oldest first, with each body parsed. */
const received = async (name) => (await send(receiver.url, "GET", `/received/${name}`)).json
  .map((message) => ({ ...message, event: JSON.parse(message.body) }));

/** Polls `read` until `check` accepts what it returns; fails with the last value. */
async function waitUntil(what, read, check, timeout = 20_000) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    last = await read();
    if (check(last)) return last;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}: ${JSON.stringify(last)}`);
    await sleep(200);
  }
}

// ----- the page --------------------------------------------------------------------------

const card = (id) => page.locator(`#webhook-endpoints article[data-endpoint-id="${id}"]`);
/** An endpoint's deliveries table as shown, each row by its column labels. */
const shownDeliveries = (id) => card(id).locator("table.deliveries tbody tr").evaluateAll((rows) =>
  rows.map((row) => Object.fromEntries([...row.cells].map((cell) => [cell.dataset.label, cell.textContent]))));
const dialog = () => page.locator("#webhook-dialog");
const reveal = () => page.locator("#reveal-dialog");
const isOpen = (locator) => locator.evaluate((d) => d.open);
const note = (id) => card(id).locator(".endpoint-note");

/** Form controls that are visible and have neither a label nor an aria-label. */
const unlabeledControls = () => page.evaluate(() => [...document.querySelectorAll("input, select, textarea")]
  .filter((el) => el.type !== "hidden" && el.labels?.length === 0 && !el.getAttribute("aria-label") && el.offsetParent !== null)
  .map((el) => el.id || el.name));

/** A new application, with its webhooks page open (`endpoints` made first, through the API). */
async function openWebhooks(name, endpoints = []) {
  const created = await operator("POST", "/v1/applications", { name, environment: "production" });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  const appId = created.json.application.id;
  const made = [];
  for (const body of endpoints) {
    const answer = await operator("POST", `/v1/applications/${appId}/webhook_endpoints`, body);
    assert.equal(answer.status, 201, JSON.stringify(answer.json));
    made.push(answer.json);
  }
  // A fresh page load, so that nothing a previous test left open (a dialog) stays.
  await page.goto("about:blank");
  await page.goto(`${worker.base}/dashboard/#/apps/${appId}/webhooks`);
  await page.getByRole("heading", { name, exact: true }).waitFor();
  await page.getByRole("heading", { name: "Webhook endpoints" }).waitFor();
  await page.waitForFunction((n) => document.querySelectorAll("#webhook-endpoints article").length === n
    && (n > 0 || document.querySelector("#webhook-endpoints").textContent.includes("No endpoints yet")), made.length);
  return { appId, first: created.json.keys, made };
}

/** The endpoints as the API lists them. */
async function listed(appId) {
  const { status, json: body } = await operator("GET", `/v1/applications/${appId}/webhook_endpoints`);
  assert.equal(status, 200);
  return body.endpoints;
}

/** The value in the reveal dialog, after checking that it says it is shown once; closes it. */
async function revealedSecret() {
  await reveal().getByText("it will not be shown again").waitFor();
  assert.equal(await reveal().locator(".secret-value").count(), 1);
  const value = await reveal().locator(".secret-value").inputValue();
  assert.equal(await reveal().getByRole("button", { name: "Copy" }).count(), 1);
  return value;
}

const closeReveal = async () => {
  await reveal().getByRole("button", { name: "Done" }).click();
  assert.equal(await isOpen(reveal()), false);
};

before(async () => {
  const { logDir, stateDir } = runDirectories();
  const port = await freePort();
  const proc = startProcess(root, env, "node", ["tests/e2e/webhook-receiver.mjs", String(port)], join(logDir, "receiver.log"));
  receiver = { url: `http://127.0.0.1:${port}`, stop: proc.stop };
  await waitForHttp(`${receiver.url}/received/ping`, proc, "the webhook receiver");
  worker = await startWrangler(root, env, {
    name: "webhooks", stateDir, logDir, trace: true,
    vars: {
      ADMIN_TOKEN, WEBHOOK_ALLOW_HTTP: "true", WEBHOOK_FIRST_RETRY_MS: "300", WEBHOOK_MAX_RETRY_MS: "1000",
      WEBHOOK_TIMEOUT_MS: "1000", WEBHOOK_DISABLE_AFTER_SECONDS: "3",
    },
  });
  ({ browser, context, page, pageErrors } = await signedInDashboard(worker.base, ADMIN_TOKEN, {
    permissions: ["clipboard-read", "clipboard-write"],
  }));
});

after(async () => {
  await browser?.close();
  await worker?.stop();
  await receiver?.stop();
});

test("an endpoint added in the dialog shows its secret once, and a test event sent from the page verifies with it", async () => {
  const description = '<img src=x onerror="window.injected=1"> pager';
  const { appId } = await openWebhooks("Hooks");
  // The page is the application's second page, reached by its tabs too.
  assert.equal(await page.getByRole("link", { name: "Webhooks", exact: true }).getAttribute("aria-current"), "page");
  assert.equal(await page.locator("#keys-panel").isVisible(), false);
  await page.getByRole("link", { name: "Keys and audit log" }).click();
  await page.locator("#keys-table tbody tr").nth(1).waitFor();
  assert.equal(await page.locator("#webhooks-panel").isVisible(), false);
  await page.getByRole("link", { name: "Webhooks", exact: true }).click();
  await page.getByText("No endpoints yet").waitFor();
  assert.equal(page.url(), `${worker.base}/dashboard/#/apps/${appId}/webhooks`);

  await page.getByRole("button", { name: "Add endpoint" }).click();
  const d = dialog();
  assert.equal(await isOpen(d), true);
  assert.equal(await d.getByLabel("All events, including future ones").isChecked(), true, "every event is the default");
  assert.equal(await d.locator('input[name="webhook-event"]').first().isVisible(), false, "the list shows when asked for");
  await d.getByLabel("Only the events chosen below").check();
  // Every event an endpoint can choose, as the worker's /openapi.json lists them, and not
  // webhook.test, which always comes.
  const openapi = await (await fetch(`${worker.base}/openapi.json`)).json();
  const choosable = openapi.components.schemas.WebhookEventType.enum.filter((e) => e !== "webhook.test");
  assert.equal(choosable.length, 16);
  assert.deepEqual(await d.locator('input[name="webhook-event"]').evaluateAll((boxes) => boxes.map((b) => b.value)), choosable);
  await d.getByLabel("Endpoint URL").fill(hookUrl("first"));
  await d.getByLabel("Description (optional)").fill(description);
  await d.locator('input[value="key.leaked"]').check();
  await d.locator('input[value="key.revoked"]').check();
  assert.deepEqual(await unlabeledControls(), []);
  const [request] = await Promise.all([
    page.waitForRequest((r) => r.method() === "POST" && r.url().endsWith(`/v1/applications/${appId}/webhook_endpoints`)),
    d.getByRole("button", { name: "Add endpoint" }).click(),
  ]);
  assert.deepEqual(request.postDataJSON(), { url: hookUrl("first"), description, events: ["key.revoked", "key.leaked"] });

  // The secret, once, with a copy button that copies it.
  const secret = await revealedSecret();
  assert.match(secret, SECRET_PATTERN);
  assert.equal(await reveal().locator("#reveal-title").textContent(), "Your endpoint's signing secret");
  await reveal().getByText("webhook-signature").waitFor();
  await reveal().getByRole("button", { name: "Copy" }).click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);
  await closeReveal();
  assert.ok(!(await page.content()).includes(secret), "the secret is gone from the page once the dialog closes");

  const [endpoint] = await listed(appId);
  assert.deepEqual([endpoint.url, endpoint.description, [...endpoint.events].sort(), endpoint.status],
    [hookUrl("first"), description, ["key.leaked", "key.revoked"], "enabled"]);
  const shown = card(endpoint.id);
  await shown.waitFor();
  assert.equal(await shown.locator("h3").textContent(), hookUrl("first"));
  assert.equal(await shown.locator(".endpoint-description").textContent(), description, "API text is text, never markup");
  assert.equal(await page.locator("#webhook-endpoints img").count(), 0);
  assert.equal(await shown.locator(".badge").textContent(), "enabled");
  assert.match(await shown.locator(".facts").textContent(), new RegExp(`Events${endpoint.events.join(", ")}`));
  await shown.getByText("No deliveries yet").waitFor();

  // A test event, sent from the page, verifies with the secret read from the page.
  await configure("first", { secrets: [secret] });
  const [tested] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === "POST" && r.url().endsWith(`/webhook_endpoints/${endpoint.id}/test`)),
    shown.getByRole("button", { name: "Send test event" }).click(),
  ]);
  assert.equal(tested.status(), 202);
  const messageId = (await tested.json()).message_id;
  await note(endpoint.id).getByText(`Test event queued as ${messageId}`).waitFor();
  const [message] = await waitUntil("the test event", () => received("first"), (got) => got.length >= 1);
  assert.deepEqual([message.id, message.verified_by, message.event.type, message.event.data.endpoint_id],
    [messageId, [true], "webhook.test", endpoint.id]);
  // The table shows the delivery without a reload.
  const [row] = await waitUntil("the delivered row", () => shownDeliveries(endpoint.id), (rows) => rows.length === 1);
  assert.deepEqual([row.Event, row.Message, row.Attempt, row.Result, row.Delivered], ["webhook.test", messageId, "1", "204", "yes"]);
  assert.match(row.Latency, /^[\d,]+ ms$/);

  // Only the events chosen come: key.created does not, key.revoked does, verified.
  const key = await operator("POST", `/v1/applications/${appId}/keys`, { kind: "secret", label: "temp" });
  assert.equal((await operator("POST", `/v1/applications/${appId}/keys/${key.json.key.id}/revoke`)).status, 200);
  const got = await waitUntil("key.revoked", () => received("first"), (messages) => messages.length >= 2);
  await sleep(500);
  assert.deepEqual((await received("first")).map((m) => [m.event.type, m.verified_by]), [["webhook.test", [true]], ["key.revoked", [true]]]);
  await waitUntil("the key.revoked row", () => shownDeliveries(endpoint.id),
    (rows) => rows.length === 2 && rows[0].Event === "key.revoked" && rows[0].Message === got[1].id && rows[0].Delivered === "yes");
  // The description was shown as text: as markup, its image and inline handler would have
  // been refused by the CSP and listed here.
  assert.deepEqual(await page.evaluate(() => window.cspViolations), []);
  assert.deepEqual(pageErrors, []);
});

test("a failed attempt and its delivered retry both show, Resend sends the same message id again, and the page fits a phone", async () => {
  const { appId, made: [{ endpoint, secret }] } = await openWebhooks("Retries", [{ url: hookUrl("flaky"), description: "flaky receiver" }]);
  await configure("flaky", { secrets: [secret], fail_first: 1, status: 503 });
  const shown = card(endpoint.id);
  await shown.getByRole("button", { name: "Send test event" }).click();
  // Newest first: the retry that was delivered, then the attempt that failed.
  const rows = await waitUntil("a failed attempt and its retry", () => shownDeliveries(endpoint.id), (r) => r.length === 2);
  const messageId = rows[0].Message;
  assert.match(messageId, /^msg_[0-9A-Za-z]{16}$/);
  assert.deepEqual(rows.map((r) => [r.Message, r.Attempt, r.Result, r.Delivered]), [[messageId, "2", "204", "yes"], [messageId, "1", "503", "no"]]);
  const got = await received("flaky");
  assert.deepEqual(got.map((m) => [m.id, m.answer, m.verified_by]), [[messageId, 503, [true]], [messageId, 204, [true]]]);
  // The API agrees with the table.
  const { json: api } = await operator("GET", `/v1/applications/${appId}/webhook_endpoints/${endpoint.id}/deliveries`);
  assert.deepEqual(api.deliveries.map((r) => [r.message_id, r.attempt, r.status, r.delivered]), [[messageId, 2, 204, true], [messageId, 1, 503, false]]);

  // A second message, delivered at once, lists above the first.
  await shown.getByRole("button", { name: "Send test event" }).click();
  const newer = await waitUntil("a second message", () => shownDeliveries(endpoint.id), (r) => r.length === 3);
  const secondId = newer[0].Message;
  assert.notEqual(secondId, messageId);
  assert.deepEqual([newer[0].Attempt, newer[0].Delivered], ["1", "yes"]);

  // Resend, on the first message's failed attempt: that message id arrives again.
  const failedRow = shown.locator(`tbody tr[data-message-id="${messageId}"][data-attempt="1"]`);
  const [resent] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === "POST" && r.url().includes("/resend")),
    failedRow.getByRole("button", { name: `Resend ${messageId}` }).click(),
  ]);
  assert.equal(resent.url(), `${worker.base}/v1/applications/${appId}/webhook_endpoints/${endpoint.id}/messages/${messageId}/resend`);
  assert.equal(resent.status(), 202);
  await note(endpoint.id).getByText(`Resending ${messageId}`).waitFor();
  const again = await waitUntil("the resent message", () => received("flaky"), (messages) => messages.length >= 4);
  assert.deepEqual(again.map((m) => m.id), [messageId, messageId, secondId, messageId]);
  assert.deepEqual([again[3].answer, again[3].verified_by, again[3].body], [204, [true], got[0].body]);
  const after = await waitUntil("the resent row", () => shownDeliveries(endpoint.id), (r) => r.length === 4);
  assert.deepEqual([after[0].Message, after[0].Attempt, after[0].Delivered], [messageId, "3", "yes"]);

  // At 390 px wide: no sideways scrolling, and the dialog fits.
  await page.evaluate(() => { document.activeElement?.blur(); window.scrollTo(0, 0); });
  await page.screenshot({ path: join(artifacts, "dashboard-webhooks-1280x800.png") });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(200);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `no horizontal scrolling at 390 px (overflow ${overflow}px)`);
  assert.equal(await shown.locator("thead").isVisible(), false, "each delivery is a card of its own");
  assert.equal(await shown.locator('tbody tr td[data-label="Message"]').first().isVisible(), true);
  await page.screenshot({ path: join(artifacts, "dashboard-webhooks-390x844.png") });
  await page.getByRole("button", { name: "Add endpoint" }).click();
  await dialog().getByLabel("Only the events chosen below").check();
  const dialogOverflow = await dialog().evaluate((d) => d.scrollWidth - d.clientWidth);
  assert.ok(dialogOverflow <= 1, `the dialog fits at 390 px (overflow ${dialogOverflow}px)`);
  await page.screenshot({ path: join(artifacts, "dashboard-add-endpoint-390x844.png") });
  await dialog().getByRole("button", { name: "Cancel" }).click();
  await page.setViewportSize({ width: 1280, height: 800 });
  assert.deepEqual(pageErrors, []);
});

test("a receiver that never answers gets its endpoint disabled, shown as such; Test and Resend say why; Enable brings it back", async () => {
  const { appId, made: [{ endpoint, secret }] } = await openWebhooks("Silent", [{ url: hookUrl("silent") }]);
  await configure("silent", { secrets: [secret], hang: true });
  const shown = card(endpoint.id);
  assert.equal(await shown.getAttribute("data-status"), "enabled");
  assert.equal(await shown.getByRole("button", { name: /^Enable/ }).count(), 0, "no Enable on an enabled endpoint");
  await shown.getByRole("button", { name: "Send test event" }).click();
  // Failing first (it is retried), then disabled.
  await shown.locator(".banner.warning", { hasText: "Failing since" }).waitFor({ timeout: 15_000 });
  await page.locator(`#webhook-endpoints article[data-endpoint-id="${endpoint.id}"][data-status="disabled"]`).waitFor({ timeout: 30_000 });
  const [api] = await listed(appId);
  assert.equal(api.status, "disabled");
  assert.ok(api.disabled_at);
  assert.equal(await shown.locator(".badge").first().textContent(), "disabled");
  await shown.locator(".banner.danger", { hasText: "Disabled: nothing is sent to this endpoint." }).waitFor();
  assert.equal(await shown.locator(".banner.warning").count(), 0, "disabled, not merely failing");
  await page.evaluate(() => document.activeElement?.blur());
  await shown.scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(artifacts, "dashboard-webhook-disabled-1280x800.png") });
  const rows = await shownDeliveries(endpoint.id);
  assert.ok(rows.length >= 2, JSON.stringify(rows));
  for (const row of rows) assert.deepEqual([row.Result, row.Delivered], ["timeout", "no"], JSON.stringify(row));
  const messageId = rows[0].Message;

  // The keys page says so too, and links here.
  await page.getByRole("link", { name: "Keys and audit log" }).click();
  const banner = page.locator("#banners .banner", { hasText: "A webhook endpoint is disabled." });
  await banner.waitFor();
  assert.match(await banner.textContent(), new RegExp(hookUrl("silent").replaceAll(".", "\\.")));
  await page.locator("#audit-table").getByText("webhook_endpoint.disabled: 127.0.0.1").waitFor();
  await banner.getByRole("link", { name: "Open the webhooks page" }).click();
  await shown.waitFor();

  // The API refuses a test event and a resend to a disabled endpoint: the card says why.
  const direct = await operator("POST", `/v1/applications/${appId}/webhook_endpoints/${endpoint.id}/test`);
  assert.deepEqual([direct.status, direct.json.error?.code], [409, "webhook_endpoint_disabled"]);
  const sentBefore = (await received("silent")).length;
  await shown.getByRole("button", { name: "Send test event" }).click();
  await note(endpoint.id).getByText(direct.json.error.message, { exact: true }).waitFor();
  assert.match(await note(endpoint.id).getAttribute("class"), /\berror\b/);
  await page.evaluate(() => { document.querySelector("#status").textContent = ""; });
  const [refusedResend] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(`/webhook_endpoints/${endpoint.id}/messages/${messageId}/resend`)),
    shown.locator(`tbody tr[data-message-id="${messageId}"]`).first().getByRole("button", { name: "Resend" }).click(),
  ]);
  assert.equal(refusedResend.status(), 409);
  await page.locator("#status").getByText(`${hookUrl("silent")}: ${direct.json.error.message}`, { exact: true }).waitFor();
  await sleep(1500);
  assert.equal((await received("silent")).length, sentBefore, "nothing is sent to a disabled endpoint");

  // Fixed and enabled; the message resent by hand arrives, verified.
  await configure("silent", { secrets: [secret] });
  await shown.getByRole("button", { name: `Enable ${hookUrl("silent")}` }).click();
  await page.locator(`#webhook-endpoints article[data-endpoint-id="${endpoint.id}"][data-status="enabled"]`).waitFor();
  assert.equal((await listed(appId))[0].status, "enabled");
  assert.equal(await shown.locator(".banner.danger").count(), 0);
  await note(endpoint.id).getByText("Enabled: new events are sent to it again.").waitFor();
  await shown.locator(`tbody tr[data-message-id="${messageId}"]`).first().getByRole("button", { name: "Resend" }).click();
  const delivered = await waitUntil("the resent message", () => received("silent"), (got) => got.some((m) => m.answer === 204));
  const arrived = delivered.filter((m) => m.answer === 204);
  assert.deepEqual(arrived.map((m) => [m.id, m.verified_by]), [[messageId, [true]]]);
  await waitUntil("the delivered row", () => shownDeliveries(endpoint.id), (r) => r[0]?.Message === messageId && r[0].Delivered === "yes");
  assert.deepEqual(pageErrors, []);
});

test("rotating the secret asks first, shows a new secret once, and both secrets sign for 24 hours", async () => {
  const { appId, made: [{ endpoint, secret: first }] } = await openWebhooks("Rotation", [{ url: hookUrl("rotate") }]);
  const shown = card(endpoint.id);
  const confirm = page.locator("#webhook-rotate-dialog");

  // Cancel changes nothing.
  await shown.getByRole("button", { name: "Rotate secret" }).click();
  assert.equal(await confirm.locator("#webhook-rotate-what").textContent(), hookUrl("rotate"));
  await confirm.getByText("both the new and the current secret").waitFor();
  await confirm.getByRole("button", { name: "Cancel" }).click();
  assert.equal(await isOpen(confirm), false);
  await sleep(300);
  assert.equal(await isOpen(reveal()), false);
  assert.equal((await listed(appId))[0].previous_secret_expires_at, null);

  await shown.getByRole("button", { name: "Rotate secret" }).click();
  const [answer] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(`/webhook_endpoints/${endpoint.id}/rotate_secret`)),
    confirm.getByRole("button", { name: "Rotate secret" }).click(),
  ]);
  const rotatedAt = Date.now();
  assert.equal(answer.status(), 200);
  const second = await revealedSecret();
  assert.match(second, SECRET_PATTERN);
  assert.notEqual(second, first);
  assert.equal(await reveal().locator("#reveal-title").textContent(), "The endpoint's new signing secret");
  await reveal().getByText("every message is signed with both the new and the previous secret").waitFor();
  await closeReveal();
  const [api] = await listed(appId);
  const until = Date.parse(api.previous_secret_expires_at);
  assert.ok(Math.abs(until - (rotatedAt + DAY_MS)) < 60_000, api.previous_secret_expires_at);
  await shown.locator(".facts dd", { hasText: "also signs every message until" }).waitFor();

  // A test event carries both signatures: each secret verifies it.
  await configure("rotate", { secrets: [first, second, "whsec_" + Buffer.alloc(32, 7).toString("base64")] });
  await shown.getByRole("button", { name: "Send test event" }).click();
  const [message] = await waitUntil("the test event", () => received("rotate"), (got) => got.length >= 1);
  assert.deepEqual(message.verified_by, [true, true, false]);
  assert.deepEqual(pageErrors, []);
});

test("the dialog shows the API's refusals with what was typed kept, and Delete asks first", async () => {
  const { appId } = await openWebhooks("Refusals");
  const d = dialog();
  const error = d.locator("#webhook-dialog-error");
  const direct = await operator("POST", `/v1/applications/${appId}/webhook_endpoints`, { url: "ftp://x" });
  assert.deepEqual([direct.status, direct.json.error?.code], [400, "invalid_webhook_url"]);

  await page.getByRole("button", { name: "Add endpoint" }).click();
  const url = d.getByLabel("Endpoint URL");
  await url.fill("ftp://x");
  await d.getByLabel("Description (optional)").fill("backups");
  await d.getByLabel("Only the events chosen below").check();
  await d.locator('input[value="key.expiring_soon"]').check();
  const [refused] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === "POST" && r.url().endsWith(`/v1/applications/${appId}/webhook_endpoints`)),
    d.getByRole("button", { name: "Add endpoint" }).click(),
  ]);
  assert.equal(refused.status(), 400);
  await error.getByText(direct.json.error.message, { exact: true }).waitFor();
  assert.equal(await error.getAttribute("role"), "alert");
  assert.equal(await isOpen(d), true, "the dialog stays open");
  assert.equal(await url.inputValue(), "ftp://x");
  assert.equal(await d.getByLabel("Description (optional)").inputValue(), "backups");
  assert.equal(await d.locator('input[value="key.expiring_soon"]').isChecked(), true);
  assert.equal(await url.getAttribute("aria-invalid"), "true");
  assert.equal(await url.evaluate((el) => el === document.activeElement), true, "the URL field is focused");
  assert.deepEqual(await listed(appId), [], "nothing was made");
  await page.screenshot({ path: join(artifacts, "dashboard-add-endpoint-refused-1280x800.png") });

  // The session ends as the dialog is submitted: signing in again gives the dialog back as
  // it was, radio choice and checked events too.
  await context.clearCookies();
  await page.evaluate(() => { const w = document.querySelector("#webhook-dialog"); if (w.open) w.querySelector("form").requestSubmit(); });
  await page.getByLabel("Operator token (ADMIN_TOKEN)").fill(ADMIN_TOKEN);
  await page.getByRole("button", { name: "Sign in" }).click();
  await d.waitFor();
  assert.equal(await url.inputValue(), "ftp://x");
  assert.equal(await d.getByLabel("Description (optional)").inputValue(), "backups");
  assert.equal(await d.getByLabel("Only the events chosen below").isChecked(), true);
  assert.equal(await d.locator('input[value="key.expiring_soon"]').isChecked(), true);
  assert.equal(await d.locator('input[value="key.expiring_soon"]').isVisible(), true, "the chosen events show");
  assert.equal(await d.locator('input[value="key.revoked"]').isChecked(), false);
  assert.deepEqual(await listed(appId), [], "nothing was made");

  // Mistakes the dialog can see itself are named before anything is sent.
  let posts = 0;
  const countPosts = (r) => { if (r.method() === "POST") posts++; };
  page.on("request", countPosts);
  await d.locator('input[value="key.expiring_soon"]').uncheck();
  await d.getByRole("button", { name: "Add endpoint" }).click();
  await error.getByText("Events: choose at least one, or All events.").waitFor();
  await url.fill("  ");
  await d.getByRole("button", { name: "Add endpoint" }).click();
  await error.getByText("Endpoint URL: type the address").waitFor();
  assert.equal(posts, 0);
  page.off("request", countPosts);

  // Corrected, it is added, for every event (no list sent).
  await url.fill(hookUrl("refusals"));
  await d.getByLabel("All events, including future ones").check();
  const [created] = await Promise.all([
    page.waitForRequest((r) => r.method() === "POST" && r.url().endsWith(`/v1/applications/${appId}/webhook_endpoints`)),
    d.getByRole("button", { name: "Add endpoint" }).click(),
  ]);
  assert.deepEqual(created.postDataJSON(), { url: hookUrl("refusals"), description: "backups" });
  assert.match(await revealedSecret(), SECRET_PATTERN);
  await closeReveal();
  const [endpoint] = await listed(appId);
  assert.deepEqual(endpoint.events, ["*"]);
  await card(endpoint.id).locator(".facts dd", { hasText: "All events, including future ones" }).waitFor();

  // The eleventh endpoint: 409, in the dialog.
  for (let i = 2; i <= 10; i++) {
    assert.equal((await operator("POST", `/v1/applications/${appId}/webhook_endpoints`, { url: hookUrl(`more${i}`) })).status, 201);
  }
  const tooMany = await operator("POST", `/v1/applications/${appId}/webhook_endpoints`, { url: hookUrl("eleventh") });
  assert.deepEqual([tooMany.status, tooMany.json.error?.code], [409, "too_many_webhook_endpoints"]);
  await page.getByRole("button", { name: "Add endpoint" }).click();
  assert.equal(await url.inputValue(), "", "the dialog starts blank again");
  assert.equal(await error.textContent(), "");
  await url.fill(hookUrl("eleventh"));
  await d.getByRole("button", { name: "Add endpoint" }).click();
  await error.getByText(tooMany.json.error.message, { exact: true }).waitFor();
  assert.equal(await url.inputValue(), hookUrl("eleventh"));
  assert.equal(await isOpen(d), true);
  await d.getByRole("button", { name: "Cancel" }).click();
  await page.getByRole("button", { name: "Refresh" }).click();
  await page.locator("#webhook-endpoints article").nth(9).waitFor();
  assert.equal((await listed(appId)).length, 10);

  // Delete names the endpoint and asks first.
  const confirm = page.locator("#webhook-delete-dialog");
  await card(endpoint.id).getByRole("button", { name: `Delete ${hookUrl("refusals")}` }).click();
  assert.equal(await confirm.locator("#webhook-delete-what").textContent(), hookUrl("refusals"));
  await confirm.getByRole("button", { name: "Cancel" }).click();
  await sleep(300);
  assert.equal((await listed(appId)).length, 10);
  await card(endpoint.id).getByRole("button", { name: `Delete ${hookUrl("refusals")}` }).click();
  await confirm.getByRole("button", { name: "Delete" }).click();
  await card(endpoint.id).waitFor({ state: "detached" });
  const left = await listed(appId);
  assert.equal(left.length, 9);
  assert.ok(!left.some((e) => e.id === endpoint.id));
  assert.equal(await page.locator("#webhook-endpoints article").count(), 9);
  assert.deepEqual(pageErrors, []);
});

test("the key dialog offers the webhook scopes, and the read-only preset reads webhooks but changes nothing", async () => {
  const { appId } = await openWebhooks("Scopes");
  await page.getByRole("link", { name: "Keys and audit log" }).click();
  await page.locator("#keys-table tbody tr").nth(1).waitFor();
  const d = page.locator("#key-dialog");
  const scopeState = () => d.locator('input[name="scope"]').evaluateAll((boxes) => Object.fromEntries(boxes.map((b) => [b.value, b.checked])));
  const all = { "keys:read": true, "keys:write": true, "audit:read": true, "webhooks:read": true, "webhooks:write": true };

  await page.getByRole("button", { name: "Create key" }).click();
  assert.deepEqual(await scopeState(), all, "a new key starts with every right");
  await d.getByRole("button", { name: "Read-only management key" }).click();
  assert.deepEqual(await scopeState(), { ...all, "keys:write": false, "webhooks:write": false });
  await d.locator("#preset-note").getByText("list webhook endpoints and their deliveries").waitFor();
  await d.getByLabel("Label").fill("reader");
  await d.getByRole("button", { name: "Create", exact: true }).click();
  const reader = await revealedSecretKey();
  const readerKey = await findKey(appId, "reader");
  assert.deepEqual(readerKey.scopes, ["keys:read", "audit:read", "webhooks:read"]);
  assert.deepEqual(await badges(readerKey.id), ["read-only"]);
  // What the key may do with webhooks, asked of the API with the key.
  assert.equal((await withKey(reader, "GET", "/v1/webhook_endpoints")).status, 200);
  const write = await withKey(reader, "POST", "/v1/webhook_endpoints", { url: hookUrl("scoped") });
  assert.deepEqual([write.status, write.json.error?.code], [403, "insufficient_scope"]);

  // webhooks:write alone: a write right, so not read-only.
  await page.getByRole("button", { name: "Create key" }).click();
  for (const box of ["keys:read", "keys:write", "audit:read", "webhooks:read"]) await d.locator(`input[name="scope"][value="${box}"]`).uncheck();
  assert.equal(await d.getByLabel("Add (with reading keys and the audit log), delete and test webhook endpoints, rotate their secrets, resend messages (webhooks:write)").isChecked(), true);
  await d.getByLabel("Label").fill("hooks");
  await d.getByRole("button", { name: "Create", exact: true }).click();
  const hooks = await revealedSecretKey();
  const hooksKey = await findKey(appId, "hooks");
  assert.deepEqual(hooksKey.scopes, ["webhooks:write"]);
  assert.deepEqual(await badges(hooksKey.id), ["scopes: webhooks:write"]);
  // Alone it cannot add an endpoint: the events would carry keys and audit details that
  // this key may not read (it can still delete, test and rotate; see "mixed" below).
  const made = await withKey(hooks, "POST", "/v1/webhook_endpoints", { url: hookUrl("scoped") });
  assert.deepEqual([made.status, made.json.error?.code], [403, "insufficient_scope"]);
  assert.match(made.json.error.message, /keys:read/);
  const read = await withKey(hooks, "GET", "/v1/webhook_endpoints");
  assert.deepEqual([read.status, read.json.error?.code], [403, "insufficient_scope"]);

  // Keys made with other scopes through the API, and the badges they get.
  for (const [label, scopes, badge] of [
    ["old reader", ["keys:read", "audit:read"], "read-only: keys, audit log"],
    ["hook reader", ["webhooks:read"], "read-only: webhooks"],
    ["mixed", ["keys:read", "audit:read", "webhooks:write"], "scopes: keys:read, audit:read, webhooks:write"],
  ]) {
    const key = await operator("POST", `/v1/applications/${appId}/keys`, { kind: "secret", label, scopes });
    assert.equal(key.status, 201);
    await page.reload();
    await page.locator(`#keys-table tbody tr[data-key-id="${key.json.key.id}"]`).waitFor();
    assert.deepEqual(await badges(key.json.key.id), [badge], label);
    if (label === "mixed") {
      // With both read scopes beside webhooks:write, adding an endpoint works.
      const added = await withKey(key.json.key.value, "POST", "/v1/webhook_endpoints", { url: hookUrl("scoped") });
      assert.equal(added.status, 201, JSON.stringify(added.json));
    }
  }

  // Editing shows the key's rights as they are, and every right again means no restriction.
  await openRowMenu(page.locator(`#keys-table tbody tr[data-key-id="${readerKey.id}"]`));
  await rowItem(page.locator(`#keys-table tbody tr[data-key-id="${readerKey.id}"]`), /^Edit/).click();
  assert.deepEqual(await scopeState(), { ...all, "keys:write": false, "webhooks:write": false });
  await d.getByLabel("Create, change, rotate, suspend and revoke keys (keys:write)").check();
  const [patch] = await Promise.all([
    page.waitForRequest((r) => r.method() === "PATCH"),
    d.getByRole("button", { name: "Save changes" }).click(),
  ]);
  assert.deepEqual(patch.postDataJSON(), { scopes: ["keys:read", "keys:write", "audit:read", "webhooks:read"] });
  await d.waitFor({ state: "hidden" });
  await openRowMenu(page.locator(`#keys-table tbody tr[data-key-id="${readerKey.id}"]`));
  await rowItem(page.locator(`#keys-table tbody tr[data-key-id="${readerKey.id}"]`), /^Edit/).click();
  await d.getByLabel("Add (with reading keys and the audit log), delete and test webhook endpoints, rotate their secrets, resend messages (webhooks:write)").check();
  const [unrestricted] = await Promise.all([
    page.waitForRequest((r) => r.method() === "PATCH"),
    d.getByRole("button", { name: "Save changes" }).click(),
  ]);
  assert.deepEqual(unrestricted.postDataJSON(), { scopes: null });
  await d.waitFor({ state: "hidden" });
  assert.equal((await findKey(appId, "reader")).scopes ?? null, null);
  assert.equal((await withKey(reader, "POST", "/v1/webhook_endpoints", { url: hookUrl("scoped2") })).status, 201);
  assert.deepEqual(pageErrors, []);
});

/** A key's value from the reveal dialog; closes it. */
async function revealedSecretKey() {
  await reveal().getByText("it will not be shown again").waitFor();
  const value = await reveal().locator(".secret-value").inputValue();
  assert.match(value, /^sk_live_/);
  await closeReveal();
  return value;
}

async function findKey(appId, label) {
  const { json: body } = await operator("GET", `/v1/applications/${appId}/keys`);
  const found = body.keys.filter((k) => k.label === label);
  assert.equal(found.length, 1, label);
  return found[0];
}

const badges = async (id) => {
  await page.locator(`#keys-table tbody tr[data-key-id="${id}"]`).waitFor();
  return page.locator(`#keys-table tbody tr[data-key-id="${id}"] [data-label="Restrictions"] .badge`).allTextContents();
};
