// Accounts and passkeys in real headless Chromium, against both Workers in workerd: each
// person is a browser profile with a virtual passkey authenticator (the DevTools
// protocol's WebAuthn domain: CTAP2, resident keys, user verification). The dashboard is
// opened at http://localhost:<port>, its DASHBOARD_ORIGIN: WebAuthn takes no IP address.
//
// An owner is invited, registers, creates applications and invites a developer; the
// developer signs in and can rotate a development key but not a production one; a viewer
// sees no working rotate button and the API refuses them; a removed member's open tab is
// signed out on its next request. Screenshots go to tests/artifacts/.
import assert from "node:assert/strict";
import { join as path } from "node:path";
import { after, before, test } from "node:test";
import { artifacts, axeViolations, openRowMenu, passkeyProfile, rowItem, startForPasskeys } from "./support.mjs";

const ADMIN_TOKEN = "accounts-dashboard-operator-token-77";
let run, origin, worker, browser, dashboard, operator;

before(async () => {
  run = await startForPasskeys("accounts", ADMIN_TOKEN);
  ({ origin, worker, browser, dashboard, operator } = run);
});

after(() => run?.stop());

/** A person: a browser profile of their own with a virtual passkey authenticator. */
const person = () => passkeyProfile(browser, { permissions: ["clipboard-read", "clipboard-write"], origin: dashboard });

/** Opens an invitation's link, makes a passkey and joins. */
async function join(page, url, name) {
  await page.goto(url);
  await page.getByLabel("Your name").fill(name);
  await page.getByRole("button", { name: "Create passkey and join" }).click();
  await page.getByRole("button", { name: "Sign out", exact: true }).waitFor({ timeout: 10_000 }).catch(async (error) => {
    throw new Error(`${name} did not join: ${await page.locator("#join-error").textContent()} (${error.message})`);
  });
  assert.equal(new URL(page.url()).hash, "#/", "the spent link leaves the address bar");
}

/** Creates an invitation from the Members page and reads its link. */
async function invite(page, role) {
  await page.getByRole("link", { name: "Members" }).click();
  await page.getByRole("heading", { name: /^Members of / }).waitFor();
  await page.getByLabel("Role", { exact: true }).selectOption(role);
  await page.getByRole("button", { name: "Create invitation link" }).click();
  await page.locator("#invite-result").waitFor();
  return page.locator("#invite-link").textContent();
}

async function createApplication(page, name, environment) {
  await page.getByRole("link", { name: "Applications", exact: true }).click();
  await page.locator("#app-name").fill(name);
  await page.locator("#app-environment").selectOption(environment);
  await page.getByRole("button", { name: "Create application" }).click();
  await page.locator("#reveal-dialog").getByRole("button", { name: "Done" }).click();
  await page.getByRole("heading", { name, exact: true }).waitFor();
}

async function openApplication(page, name) {
  await page.getByRole("link", { name: "Applications", exact: true }).click();
  await page.getByRole("link", { name, exact: true }).click();
  await page.getByRole("heading", { name, exact: true }).waitFor();
  await page.waitForFunction(() => document.querySelectorAll("#keys-table tbody tr").length >= 2);
}

/** The page's own API call, with its session's CSRF token: what a crafted request could do. */
const apiFrom = (page, method, path, body) => page.evaluate(async ([method, path, body]) => {
  const { csrf } = await fetch("/v1/dashboard/session").then((r) => r.json());
  const response = await fetch(path, { method, headers: { "content-type": "application/json", "x-csrf-token": csrf }, body: body && JSON.stringify(body) });
  return { status: response.status, code: (await response.json()).error?.code };
}, [method, path, body]);

test("an owner invites a developer and a viewer; each role meets its limits; a removed member is signed out", async () => {
  const created = await operator("POST", "/v1/accounts", { name: "Acme" });
  assert.equal(created.status, 201);
  assert.ok(created.json.url.startsWith(`${dashboard}/dashboard/#invitation=`), created.json.url);

  // The owner joins with the operator's invitation and creates two applications.
  const owner = await person();
  await join(owner.page, created.json.url, "Ada");
  await owner.page.getByRole("heading", { name: "Applications of Acme" }).waitFor();
  await createApplication(owner.page, "Shop dev", "development");
  await createApplication(owner.page, "Shop prod", "production");

  // A developer is invited, joins, signs out, and signs in again with the passkey alone.
  const developerLink = await invite(owner.page, "developer");
  await owner.page.screenshot({ path: path(artifacts, "accounts-members.png"), fullPage: true });
  const developer = await person();
  await join(developer.page, developerLink, "Grace");
  await developer.page.getByRole("button", { name: "Sign out", exact: true }).click();
  await developer.page.getByRole("button", { name: "Continue with a passkey" }).click();
  await developer.page.getByRole("heading", { name: "Applications of Acme" }).waitFor();

  // The developer rotates a development key...
  await openApplication(developer.page, "Shop dev");
  const secretRow = developer.page.locator("#keys-table tbody tr", { hasText: "secret" }).first();
  await openRowMenu(secretRow);
  await rowItem(secretRow, /^Rotate/).click();
  await developer.page.getByLabel("Stop now").check();
  await developer.page.locator("#rotate-dialog").getByRole("button", { name: "Rotate" }).click();
  assert.match(await developer.page.locator("#reveal-dialog .secret-value").inputValue(), /^sk_test_/);
  await developer.page.locator("#reveal-dialog").getByRole("button", { name: "Done" }).click();
  // ...but has no working rotate button on a production application, and the API refuses.
  const prodApp = (await operator("GET", "/v1/applications")).json.applications.find((a) => a.name === "Shop prod");
  const keys = (await operator("GET", `/v1/applications/${prodApp.id}/keys`)).json.keys;
  const prodSecret = keys.find((k) => k.kind === "secret");
  await openApplication(developer.page, "Shop prod");
  // The production application's own rows, not the previous table's.
  await developer.page.locator(`#keys-table tbody tr[data-key-id="${prodSecret.id}"]`).waitFor();
  assert.equal(await developer.page.getByRole("menuitem", { name: /^Rotate/, includeHidden: true }).count(), 0);
  assert.equal(await developer.page.getByRole("button", { name: "Create key" }).isVisible(), false);
  const refused = await apiFrom(developer.page, "POST", `/v1/applications/${prodApp.id}/keys/${prodSecret.id}/rotate`, { grace_period_seconds: 0 });
  assert.deepEqual(refused, { status: 403, code: "insufficient_role" });

  // A viewer sees keys, with no working rotate button, and the API refuses them too.
  const viewerLink = await invite(owner.page, "viewer");
  const viewer = await person();
  await join(viewer.page, viewerLink, "Vic");
  await openApplication(viewer.page, "Shop dev");
  assert.equal(await viewer.page.getByRole("menuitem", { name: /^Rotate/, includeHidden: true }).count(), 0);
  const devApp = (await operator("GET", "/v1/applications")).json.applications.find((a) => a.name === "Shop dev");
  const devSecret = (await operator("GET", `/v1/applications/${devApp.id}/keys`)).json.keys.find((k) => k.kind === "secret" && k.status === "active");
  assert.deepEqual(
    await apiFrom(viewer.page, "POST", `/v1/applications/${devApp.id}/keys/${devSecret.id}/rotate`, { grace_period_seconds: 0 }),
    { status: 403, code: "insufficient_role" });

  // The account log names who did what.
  await owner.page.getByRole("link", { name: "Account log" }).click();
  await owner.page.waitForFunction(() => document.querySelector("#account-log-table").textContent.includes("member.joined"));
  const log = await owner.page.locator("#account-log-table").textContent();
  for (const text of ["Grace", "Vic", "member.invited", "passkey.added", "session.signed_in"]) assert.ok(log.includes(text), `the log shows ${text}`);

  // The owner removes the developer: the developer's open tab is signed out on its next request.
  await owner.page.getByRole("link", { name: "Members" }).click();
  // A removal asks first, names the person, and starts on Cancel: Cancel changes nothing.
  await owner.page.getByRole("button", { name: "Remove Grace" }).click();
  const confirm = owner.page.locator("#confirm-dialog");
  await confirm.waitFor();
  assert.match(await confirm.textContent(), /Grace/);
  assert.equal(await owner.page.evaluate(() => document.activeElement?.textContent), "Cancel");
  assert.deepEqual(await axeViolations(owner.page, "#confirm-dialog"), []);
  await owner.page.keyboard.press("Enter");
  await confirm.waitFor({ state: "hidden" });
  assert.equal(await owner.page.getByRole("button", { name: "Remove Grace" }).count(), 1, "Cancel removed no one");
  await owner.page.getByRole("button", { name: "Remove Grace" }).click();
  await confirm.getByRole("button", { name: "Remove Grace" }).click();
  await owner.page.locator("#status", { hasText: "Grace was removed" }).waitFor();
  await developer.page.getByRole("link", { name: "Applications", exact: true }).click();
  await developer.page.getByRole("heading", { name: "Sign in" }).waitFor();

  // The owner's passkeys page.
  await owner.page.getByRole("link", { name: "Passkeys" }).click();
  await owner.page.locator("#passkeys-table tbody tr").first().waitFor();
  assert.equal(await owner.page.locator("#passkeys-table tbody tr").count(), 1);
  assert.equal(await owner.page.getByRole("button", { name: /^Remove / }).isDisabled(), true, "the last passkey cannot be removed");
  await owner.page.screenshot({ path: path(artifacts, "accounts-passkeys.png"), fullPage: true });

  for (const { errors } of [owner, developer, viewer]) assert.deepEqual(errors, []);
  await Promise.all([owner, developer, viewer].map(({ context }) => context.close()));
});

test("a made-up invitation link says so and makes no passkey", async () => {
  const visitor = await person();
  await visitor.page.goto(`${dashboard}/dashboard/#invitation=${"A".repeat(43)}`);
  await visitor.page.getByLabel("Your name").fill("Mallory");
  await visitor.page.getByRole("button", { name: "Create passkey and join" }).click();
  await visitor.page.locator("#join-error", { hasText: "cannot be used" }).waitFor();
  assert.deepEqual(visitor.errors, []);
  await visitor.context.close();
});
