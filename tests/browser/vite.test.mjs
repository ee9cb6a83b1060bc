// A Vite production build of an app that imports the installed package, run in Chromium.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { installPackedPackage, launchChromium, mintKeys, root, serveStatic } from "../../scripts/support/browser.mjs";

test("a Vite build of an app that imports @aero2/keys works in Chromium", async () => {
  const keys = mintKeys();
  const { project } = installPackedPackage();
  mkdirSync(join(project, "src"));
  writeFileSync(join(project, "index.html"), `<!doctype html><html><body><pre id="out">…</pre>
<script type="module" src="/src/main.js"></script></body></html>`);
  writeFileSync(join(project, "src/main.js"), `
import { parsePublishableKey, isPublishableKey } from "@aero2/keys";
let exposed = null;
try { parsePublishableKey(${JSON.stringify(keys.secret_live)}); } catch (e) { exposed = e.code; }
document.getElementById("out").textContent = JSON.stringify({
  parsed: parsePublishableKey(${JSON.stringify(keys.publishable_test)}),
  valid: isPublishableKey("pk_live_nope"),
  exposed,
});`);
  execFileSync(join(root, "node_modules/.bin/vite"), ["build", "--logLevel", "warn"], { cwd: project, stdio: "inherit" });

  const served = await serveStatic({ "/": join(project, "dist") });
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(`${served.base}/index.html`);
    await page.waitForFunction(() => document.getElementById("out").textContent.startsWith("{"), null, { timeout: 15_000 });
    const result = JSON.parse(await page.textContent("#out"));
    assert.deepEqual(result.parsed, { applicationId: keys.test_application_id, environment: "test" });
    assert.equal(result.valid, false);
    assert.equal(result.exposed, "secret_key_exposed");
  } finally {
    await browser.close();
    served.server.close();
  }
});
