// Where an isolate's first response goes: a fresh workerd for the Rust gate and one for the
// JavaScript gate, each with V8's sampling profiler (100 µs) running around its first
// request (a malformed key: no storage). By hand, when BENCHMARKS.md's cold-start row
// needs explaining:
//   AERO2_SKIP_BUILD=1 node scripts/support/first-response-profile.mjs
// Writes target/bench/first-response-{rust,js}.cpuprofile (open them in Chrome's DevTools).
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startDirect } from "./direct.mjs";
import { freePort, startOrigin } from "./processes.mjs";
import { profile } from "./cpu-profile.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const adminToken = "profile-operator-token-0123456789";
const edge = { SECRET_KEY_VALIDATION: "edge", PUBLISHABLE_KEY_VALIDATION: "edge", ADMIN_TOKEN: adminToken };
const malformed = "sk_live_" + "x".repeat(20);
const out = join(root, "target/bench");
mkdirSync(out, { recursive: true });
const origin = await startOrigin(root, process.env, out, ["--unsigned"]);
try {
  for (const [name, options, worker] of [
    ["rust", { rust: { gate: edge } }, "gate"],
    ["js", { js: ["baseline"] }, "baseline"],
  ]) {
    const inspectorPort = await freePort();
    const fresh = await startDirect(root, { ...options, origin: origin.url, adminToken, inspectorPort });
    try {
      let firstMs;
      const summary = await profile(inspectorPort, worker, async () => {
        const started = performance.now();
        await fetch(`${fresh.bases[worker]}/v1/orders`, { headers: { authorization: `Bearer ${malformed}` } });
        firstMs = performance.now() - started;
      }, join(out, `first-response-${name}.cpuprofile`));
      console.log(`${name}: first response ${firstMs.toFixed(2)} ms, ${summary.samples} samples`);
      for (const { place, percent } of summary.by_place) console.log(`  ${percent}%  ${place}`);
      for (const { name: fn, percent } of summary.top_functions.slice(0, 10)) console.log(`    ${percent}%  ${fn}`);
    } finally {
      await fresh.stop();
    }
  }
} finally {
  await origin.stop();
}
