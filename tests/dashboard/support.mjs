// What the dashboard tests share: requests as a server sends them, and a browser page
// signed in to the dashboard that records page errors and Content-Security-Policy refusals.
import http from "node:http";
import { launchChromium } from "../../scripts/support/browser.mjs";

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
  await page.goto(`${base}/dashboard/`);
  await page.getByLabel("Operator token (ADMIN_TOKEN)").fill(adminToken);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Applications" }).waitFor();
  return { browser, context, page, pageErrors };
}
