// What the dashboard tests share: their run directories, requests as a server sends them,
// and a browser page signed in to the dashboard that records page errors and
// Content-Security-Policy refusals.
import { mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";
import { launchChromium, root } from "../../scripts/support/browser.mjs";
import { freePort, startOrigin, startWrangler } from "../../scripts/support/processes.mjs";
import AxeBuilder from "@axe-core/playwright";

/** Where the tests' screenshots go. */
export const artifacts = join(root, "tests/artifacts");

/**
 * A fresh log and state directory for one test file's worker, under target/dashboard so
 * that scripts/scan-secrets.mjs checks this run's state and logs too.
 */
export function runDirectories() {
  mkdirSync(artifacts, { recursive: true });
  const runDir = join(root, "target/dashboard");
  mkdirSync(runDir, { recursive: true });
  return { logDir: mkdtempSync(join(runDir, "logs-")), stateDir: mkdtempSync(join(runDir, "state-")) };
}

/** A request as a server sends it (no browser headers), with a JSON body (text) if given. */
export function send(base, method, path, headers = {}, body = undefined) {
  return new Promise((resolve, reject) => {
    const allHeaders = body === undefined ? headers : { "content-type": "application/json", ...headers };
    const req = http.request(base + path, { method, headers: allHeaders }, (res) => {
      let text = "";
      res.on("data", (c) => { text += c; });
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, json: JSON.parse(text || "{}") }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/**
 * Chromium on the dashboard at `base`, signed in with `adminToken`: `{ browser, context,
 * page, pageErrors }`. The page's `window.cspViolations` lists what the CSP refused.
 */
export async function signedInDashboard(base, adminToken, { timezoneId, permissions } = {}) {
  const browser = await launchChromium();
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...(timezoneId ? { timezoneId } : {}) });
  if (permissions) await context.grantPermissions(permissions, { origin: base });
  await context.addInitScript(() => {
    window.cspViolations = [];
    document.addEventListener("securitypolicyviolation", (e) => window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const page = await context.newPage();
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(e.message));
  recordFailedAnswers(page);
  await page.goto(`${base}/dashboard/`);
  await page.getByLabel("Operator token (ADMIN_TOKEN)").fill(adminToken);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Applications" }).waitFor();
  return { browser, context, page, pageErrors };
}

/** Opens a keys-table row's Actions menu (every row action is in it). */
export async function openRowMenu(row) {
  await row.getByRole("button", { name: /^Actions for/ }).click();
}

/** An item of a row's Actions menu, found whether or not the menu is open. */
export const rowItem = (row, name) => row.getByRole("menuitem", { name, includeHidden: true });

/**
 * A person: a browser profile of their own (cookies) with a virtual passkey authenticator
 * (the DevTools protocol's WebAuthn domain) that always confirms. `{ context, page, errors }`.
 */
export async function passkeyProfile(browser, { viewport = { width: 1280, height: 800 }, colorScheme, permissions, origin } = {}) {
  const context = await browser.newContext({ viewport, ...(colorScheme ? { colorScheme } : {}) });
  if (permissions) await context.grantPermissions(permissions, { origin });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  recordFailedAnswers(page);
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  return { context, page, errors };
}

/**
 * For the passkey tests: the worker in wrangler dev on `localhost` (passkeys take no IP
 * address, so DASHBOARD_ORIGIN is that origin), an origin behind it, and Chromium.
 * `{ origin, worker, browser, dashboard, operator(method, path, body), stop() }`.
 */
export async function startForPasskeys(name, adminToken, vars = {}) {
  const { logDir, stateDir } = runDirectories();
  const env = { ...process.env, PATH: `${process.env.HOME}/.cargo/bin:${process.env.PATH}` };
  const origin = await startOrigin(root, env, logDir);
  const port = await freePort();
  const dashboard = `http://localhost:${port}`;
  const worker = await startWrangler(root, env, {
    name, stateDir, logDir, port, trace: true,
    vars: { ORIGIN_URL: origin.url, ADMIN_TOKEN: adminToken, DASHBOARD_ORIGIN: dashboard, ...vars },
  });
  const browser = await launchChromium();
  const operator = (method, path, body) =>
    send(worker.base, method, path, { authorization: `Bearer ${adminToken}` }, body === undefined ? undefined : JSON.stringify(body));
  const stop = async () => {
    await browser?.close();
    await worker?.stop();
    await origin?.stop();
  };
  return { origin, worker, browser, dashboard, operator, stop };
}

/** axe's serious and critical violations, as "rule: target" lines. */
export async function axeViolations(page, include) {
  let builder = new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]);
  if (include) builder = builder.include(include);
  const { violations } = await builder.analyze();
  return violations.filter((v) => ["serious", "critical"].includes(v.impact))
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`);
}

// Per page, the API answers that were not 2xx and the API requests still unanswered, for
// waitForRows and pageReport to name on a timeout.
const answersOf = new WeakMap();

/** Records the page's API answers that are not 2xx (method, path, status) and its API
 *  requests in flight, from now on: when each was sent and, once its answer's headers
 *  came, after how long (a request whose body never ends is told apart from one that got
 *  no answer at all). */
export function recordFailedAnswers(page) {
  const failed = [];
  const pending = new Map(); // request → { sentAt, headersAfter }
  answersOf.set(page, { failed, pending });
  page.on("request", (request) => { if (isApi(request)) pending.set(request, { sentAt: Date.now(), headersAfter: null }); });
  page.on("requestfinished", (request) => pending.delete(request));
  page.on("requestfailed", (request) => {
    pending.delete(request);
    failed.push(`${named(request)} failed: ${request.failure()?.errorText}`);
  });
  page.on("response", (response) => {
    const request = response.request();
    const waiting = pending.get(request);
    if (waiting) waiting.headersAfter = Date.now() - waiting.sentAt;
    if (isApi(request) && response.status() >= 300) failed.push(`${named(request)} ${response.status()}`);
  });
}

/** The requests still in flight, each with how long ago it was sent and whether its
 *  answer's headers came. */
function inFlight(pending) {
  const now = Date.now();
  return [...pending].map(([request, { sentAt, headersAfter }]) => `${named(request)} (sent ${now - sentAt} ms ago; `
    + (headersAfter === null ? "no answer)" : `its headers came after ${headersAfter} ms, its body never ended)`));
}

const isApi = (request) => new URL(request.url()).pathname.startsWith("/v1/");
/** A request as the messages name it: method, path and query. */
function named(request) {
  const url = new URL(request.url());
  return `${request.method()} ${url.pathname}${url.search}`;
}

/**
 * Waits until `selector` matches `n` elements: tables fill in after the page's fetches.
 * On a timeout the error says what the page showed instead (how many matched, the status
 * line, the page's loading or error state, the address, the view shown and, when
 * recorded, the API answers that failed and the requests still unanswered), so that a
 * failure in CI can be told apart from a slow machine without running it again. With `log`
 * (a worker's log, `startWrangler`'s `log`), it also names the requests the worker's trace
 * shows unanswered, and ends with the log's last 40 lines other than the trace's: at the
 * info level, one line per request the worker answered, with its duration.
 */
export async function waitForRows(page, selector, n, { timeout = 10_000, log } = {}) {
  try {
    await page.waitForFunction(([s, count]) => document.querySelectorAll(s).length === count, [selector, n], { timeout });
  } catch (error) {
    const matched = await page.evaluate((s) => document.querySelectorAll(s).length, selector).catch(() => null);
    const seen = { matched, ...await pageReport(page, { log }) };
    let message = `expected ${n} of ${selector} within ${timeout} ms; the page showed ${JSON.stringify(seen)}`;
    if (log) message += `\nThe end of ${log} (trace lines left out):\n${logLines(log).filter((l) => l.trim() && !l.includes("TRACE ")).slice(-40).join("\n")}`;
    throw new Error(message, { cause: error });
  }
}

const logLines = (log) => readFileSync(log, "utf8").replace(/\x1b\[[0-9;]*m/g, "").split("\n");

/**
 * The requests a worker's trace (startWrangler's `trace`) shows entered and not answered,
 * with how long ago they entered: at the gate (`g12 GET /v1/…`, and whether the control
 * plane had it and answered), at the control plane's entry and at each Durable Object.
 * A request whose handler the runtime cancelled (its client went away) stays listed.
 */
export function openTraces(log) {
  const open = new Map();
  const now = Date.now();
  for (const line of logLines(log)) {
    const at = line.indexOf("TRACE ");
    if (at < 0) continue;
    const match = /^(\S+) @(\d+) (control )?([<>])(.*)$/.exec(line.slice(at + 6));
    if (!match) continue;
    const [, id, time, control, direction, rest] = match;
    if (direction === ">" && !control) {
      open.set(id, { named: `${id}${rest} (entered ${now - Number(time)} ms ago)`, control: "" });
    } else if (open.has(id)) {
      const entry = open.get(id);
      if (!control) open.delete(id);
      else entry.control = direction === ">" ? "; passed to the control plane: no answer" : `; the control plane's call ended: ${rest.trim()}`;
    }
  }
  return [...open.values()].map(({ named, control }) => named + control);
}

/**
 * What a page shows and waits for, for a failed wait's message: the status line, the
 * page's loading or error state, the address, the view shown and, when recorded
 * (`recordFailedAnswers`), the API answers that failed and the requests still unanswered;
 * with `log` (a traced worker's), the requests its trace shows unanswered (openTraces).
 */
export async function pageReport(page, { log } = {}) {
  const seen = await page.evaluate(() => ({
    status: document.querySelector("#status")?.textContent ?? null,
    pageState: document.querySelector("#page-state")?.hidden === false ? document.querySelector("#page-state").textContent : null,
    hash: location.hash,
    views: [...document.querySelectorAll("main > section")].filter((v) => !v.hidden).map((v) => v.id),
  })).catch((e) => ({ unreadable: e.message }));
  const answers = answersOf.get(page);
  seen.failedAnswers = answers?.failed ?? "not recorded";
  seen.unanswered = answers ? inFlight(answers.pending) : "not recorded";
  if (log) seen.workerTraceUnanswered = openTraces(log);
  return seen;
}
