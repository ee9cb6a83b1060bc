// Measures the browser package: its gzipped size, and parsing 100,000 publishable keys in
// headless Chromium with the wasm package against a plain-JavaScript parser of the same
// format, in the same page and run. It also times the boundary alone: what the package
// does for every call whatever the wasm computes (the key's UTF-8 copied into wasm memory
// with TextEncoder.encodeInto, a number back, the id sliced and the result object built),
// with no parsing at all: the floor of any wasm parser called this way. Prints a JSON
// report.
//   node scripts/measure-browser.mjs [--keys N] [--rounds R]
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { installPackedPackage, launchChromium, mintKeys, root, serveStatic } from "./support/browser.mjs";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const keyCount = arg("--keys", 100_000);
const rounds = arg("--rounds", 7);

const { installed } = installPackedPackage();
const shipped = ["index.js", "aero2_keys_wasm.js"];
const gzipBytes = shipped.reduce((sum, f) => sum + gzipSync(readFileSync(join(installed, f)), { level: 9 }).length, 0);

const served = await serveStatic({ "/pkg/": installed, "/": join(root, "tests/browser") });
const browser = await launchChromium();
try {
  const page = await browser.newPage();
  await page.goto(`${served.base}/page.html`);
  await page.waitForFunction(() => document.getElementById("status").textContent === "ready");
  const appBody = mintKeys().live_application_id.slice(4);
  const result = await page.evaluate(({ appBody, keyCount, rounds }) => {
    const { parsePublishableKey, parsePublishableKeyJs, makePublishableKeys } = window.aero2;
    const keys = makePublishableKeys(appBody, 1000);
    const run = (parse) => {
      const start = performance.now();
      let sink = 0;
      for (let i = 0; i < keyCount; i++) sink += parse(keys[i % keys.length]).applicationId.length;
      const ms = performance.now() - start;
      if (sink === 0) throw new Error("nothing parsed");
      return ms;
    };
    // The package's work per call apart from the parse itself: the key's UTF-8 copied into
    // wasm memory (what wasm-bindgen's glue does for a &str), a number back, and the id
    // sliced from the string and the result object built. The floor of any wasm parser
    // called from JavaScript this way.
    const encoder = new TextEncoder();
    const memory = new Uint8Array(1 << 16);
    const boundaryOnly = (key) => {
      const { written } = encoder.encodeInto(key, memory.subarray(64));
      const layout = written > 0 ? 0x100803 : 0;
      const start = (layout >> 8) & 0xff;
      return { applicationId: "app_" + key.slice(start, start + ((layout >> 16) & 0xff)), environment: layout & 2 ? "live" : "test" };
    };
    run(parsePublishableKey); run(parsePublishableKeyJs); run(boundaryOnly); // warm up all three
    const wasm = [], js = [], boundary = [];
    for (let r = 0; r < rounds; r++) { wasm.push(run(parsePublishableKey)); js.push(run(parsePublishableKeyJs)); boundary.push(run(boundaryOnly)); }
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    return { wasm_ms: median(wasm), js_ms: median(js), boundary_ms: median(boundary), wasm_all: wasm, js_all: js };
  }, { appBody, keyCount, rounds });
  const round2 = (x) => Math.round(x * 100) / 100;
  console.log(JSON.stringify({
    package_gzip_bytes: gzipBytes,
    keys: keyCount,
    rounds,
    wasm_median_ms: round2(result.wasm_ms),
    js_median_ms: round2(result.js_ms),
    wasm_ns_per_key: round2((result.wasm_ms * 1e6) / keyCount),
    js_ns_per_key: round2((result.js_ms * 1e6) / keyCount),
    wasm_over_js_time_ratio: round2(result.wasm_ms / result.js_ms),
    boundary_only_ns_per_key: round2((result.boundary_ms * 1e6) / keyCount),
    boundary_share_of_wasm: round2(result.boundary_ms / result.wasm_ms),
    wasm_spread_ms: [round2(Math.min(...result.wasm_all)), round2(Math.max(...result.wasm_all))],
    js_spread_ms: [round2(Math.min(...result.js_all)), round2(Math.max(...result.js_all))],
  }, null, 2));
} finally {
  await browser.close();
  served.server.close();
}
