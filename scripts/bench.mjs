// `make bench`: the benchmark suite. Every figure comes from this run of the committed
// code, and comparisons are made within the run, as ratios, because these machines are
// shared and noisy. Load goes to 127.0.0.1 only and every load run is bounded in time.
//
//   node scripts/bench.mjs            full run, writes BENCHMARKS.md
//   node scripts/bench.mjs --smoke    a few seconds per part, writes target/bench/, and
//                                     fails if any part is broken (run by `make test`)
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, totalmem, tmpdir } from "node:os";
import http from "node:http";
import { freePort, startOrigin, startProcess, startWrangler, waitForHttp } from "./support/processes.mjs";
import { startDirect } from "./support/direct.mjs";
import { newSigningKey } from "./support/signing-key.mjs";
import { profile } from "./support/cpu-profile.mjs";
import { sizeProfile } from "./support/wasm-size.mjs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const smoke = process.argv.includes("--smoke");
const settings = smoke
  ? { duration: 1, rounds: 1, directRuns: 1, coldStarts: 3, connections: 8, managementOps: 5, rotationSeconds: 1, countRequests: 20, ringBound: false }
  : { duration: 10, rounds: 3, directRuns: 5, coldStarts: 5, connections: 16, managementOps: 50, rotationSeconds: 10, countRequests: 200, ringBound: true };
// What a gated request loads (the gate: its wasm, its wasm-bindgen glue and its host) may
// not grow past 150 KB gzipped: the smoke pass in `make test` fails above it. The whole
// deployment (the gate and the control plane) has the budget the single Worker had,
// 400,000 bytes, reported with its verdict. See BENCHMARKS.md for where the size goes.
const GATE_BUDGET_BYTES = 153_600;
const BUNDLE_BUDGET_BYTES = 400_000;
// The deployment is over that budget, so it may not grow while it is: the smoke pass fails
// above this ceiling, the size it reached on 2026-12-05 (550,700 bytes) rounded up to
// 500. A change that must pass it raises this number in the same commit and says why; a
// change that makes room lowers it.
const DEPLOYMENT_CEILING_BYTES = 551_000;
const env = { ...process.env, PATH: `${process.env.HOME}/.cargo/bin:${process.env.PATH}`, WRANGLER_SEND_METRICS: "false" };
const ADMIN_TOKEN = "bench-operator-token-0123456789";
const step = (text) => console.log(`==> ${text}`);
const failures = [];
const check = (ok, message) => { if (!ok) failures.push(message); };
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN; };
const round = (x, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { cwd: root, env, ...opts });
// --render: BENCHMARKS.md again from the last full run's report (target/bench/full), for a
// change to the page's wording or targets; the figures are the run's, untouched.
if (process.argv.includes("--render")) {
  const last = JSON.parse(readFileSync(join(root, "target/bench/full/report.json"), "utf8"));
  const history = previousHistory().filter((line) => !line.includes(`| ${last.commit} |`));
  writeFileSync(join(root, "BENCHMARKS.md"), renderMarkdown(last, history));
  console.log("BENCHMARKS.md rendered from target/bench/full/report.json");
  process.exit(0);
}

/** wrangler dev on the shared local state: the two Aero2 Workers (`testBuild`: their test
 *  builds, with counters), or one plain JavaScript worker's config (`plain`). */
async function startWorker(name, { plain, testBuild = false, vars = {} }) {
  if (!plain) return startWrangler(root, env, { name, testBuild, stateDir, logDir, vars: { ORIGIN_URL: originUrl, ...vars } });
  const port = await freePort();
  const args = ["dev", "-c", plain, "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(await freePort()),
    "--persist-to", stateDir, "--log-level", "warn", "--var", `ORIGIN_URL:${originUrl}`,
    // The JavaScript gate signs every forwarded request too (the pass-through ignores it).
    "--var", `ORIGIN_SIGNING_KEY:${JSON.stringify(newSigningKey())}`];
  for (const [key, value] of Object.entries(vars)) args.push("--var", `${key}:${value}`);
  const proc = startProcess(root, { ...env, CLOUDFLARE_CF_FETCH_ENABLED: "false" }, join(root, "node_modules/.bin/wrangler"), args, join(logDir, `${name}.log`));
  const base = `http://127.0.0.1:${port}`;
  await waitForHttp(base, proc, `wrangler dev (${name})`);
  return { base, port, stop: proc.stop };
}

function wrk(url, key, seconds = settings.duration, headers = {}) {
  const extra = Object.entries(headers).flatMap(([name, value]) => ["-H", `${name}: ${value}`]);
  const out = run("wrk", ["-t2", `-c${settings.connections}`, `-d${seconds}s`, "--latency", "-H", `Authorization: Bearer ${key}`, ...extra, url],
    { stdio: ["ignore", "pipe", "pipe"] }).toString();
  const unit = (v, u) => Number(v) * ({ us: 0.001, ms: 1, s: 1000 }[u] ?? NaN);
  const pct = (p) => { const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)`, "m").exec(out); return m ? unit(m[1], m[2]) : NaN; };
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const total = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const errors = /Socket errors: (.*)/.exec(out)?.[1] ?? "";
  return { rps, p50: pct(50), p99: pct(99), total, non2xx, errors };
}

/** A request as a server would send it. (Node's fetch adds Sec-Fetch-Mode; http does not.) */
function send(base, method, path, token, body, extraHeaders = {}) {
  const payload = body ? JSON.stringify(body) : undefined;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(base + path, {
      method, agent: keepAlive,
      headers: { authorization: `Bearer ${token}`, ...(payload ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) } : {}), ...extraHeaders },
    }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => { text += chunk; });
      res.on("end", () => {
        let json = null;
        try { json = JSON.parse(text); } catch {}
        resolve({ status: res.statusCode, json, ms: performance.now() - started });
      });
    });
    req.on("error", reject);
    req.end(payload);
  });
}
const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 16 });
const api = send;

function gz(path) { return gzipSync(readFileSync(path), { level: 9 }).length; }

// ---------------------------------------------------------------------------------------

const report = { smoke, settings, started_at: new Date().toISOString() };
const logDir = join(root, "target/bench", smoke ? "smoke" : "full");
rmSync(logDir, { recursive: true, force: true });
mkdirSync(logDir, { recursive: true });
const stateDir = mkdtempSync(join(tmpdir(), "aero2-bench-state-"));

// With AERO2_SKIP_BUILD=1 (make test, which has just built both) the bundles are reused.
step("Building the release Workers (and with them the browser package) and the test builds");
run("bash", ["scripts/build-worker.sh"], { stdio: ["ignore", "ignore", "inherit"] });
// The test builds: counters, fault injection and the test-only region header (regional mode).
run("bash", ["scripts/build-worker.sh"], { env: { ...env, AERO2_WORKER_FEATURES: "fault-injection" }, stdio: ["ignore", "ignore", "inherit"] });

step("1. Core cost, native (criterion): full validation against a bare SHA-256");
const criterionArgs = smoke ? ["--warm-up-time", "0.2", "--measurement-time", "0.5", "--sample-size", "10"] : ["--warm-up-time", "2", "--measurement-time", "5"];
run("cargo", ["bench", "-p", "aero2-keys", "--bench", "validation", "--", ...criterionArgs], { stdio: ["ignore", "ignore", "inherit"] });
const estimate = (name) => {
  const e = JSON.parse(readFileSync(join(root, "target/criterion/validation", name, "new/estimates.json"), "utf8"));
  return { median_ns: round(e.median.point_estimate), ci95_ns: [round(e.median.confidence_interval.lower_bound), round(e.median.confidence_interval.upper_bound)] };
};
report.core = {
  bare_sha256: estimate("bare_sha256"),
  full_validation: estimate("full_validation"),
  parse_only: estimate("parse_only"),
  reject_bad_checksum: estimate("reject_bad_checksum"),
};
report.core.validation_over_sha256 = round(report.core.full_validation.median_ns / report.core.bare_sha256.median_ns);
check(report.core.validation_over_sha256 > 0, "core ratio missing");

step("Starting the origin");
const origin = await startOrigin(root, env, logDir);
const originUrl = origin.url;

const workers = {
  rust: {},
  rustInstrumented: { testBuild: true },
  baseline: { plain: "bench/baseline-js/wrangler.toml" },
  passthrough: { plain: "bench/passthrough/wrangler.toml" },
};
const edgeVars = { SECRET_KEY_VALIDATION: "edge", PUBLISHABLE_KEY_VALIDATION: "edge", ADMIN_TOKEN };
const strictVars = { SECRET_KEY_VALIDATION: "strict", PUBLISHABLE_KEY_VALIDATION: "strict", ADMIN_TOKEN };
const regionalVars = { SECRET_KEY_VALIDATION: "regional", PUBLISHABLE_KEY_VALIDATION: "regional", ADMIN_TOKEN };

try {
  step("Seeding an application through the worker's API");
  let w = await startWorker("seed", { ...workers.rust, vars: edgeVars });
  const app = (await api(w.base, "POST", "/v1/applications", ADMIN_TOKEN, { name: "Bench", environment: "production" })).json;
  const secret = app.keys.find((k) => k.kind === "secret").value;
  const publishable = app.keys.find((k) => k.kind === "publishable").value;
  const malformed = "sk_live_" + "x".repeat(20);
  const badChecksum = secret.slice(0, 30) + (secret[30] === "A" ? "B" : "A") + secret.slice(31);
  const unknownKey = run("cargo", ["run", "-q", "-p", "aero2-keys", "--example", "mint_keys"]).toString();
  const unknown = JSON.parse(unknownKey).secret_live;
  // Well-formed keys naming this application that it never issued.
  const forged = JSON.parse(run("cargo", ["run", "-q", "-p", "aero2-keys", "--example", "mint_keys", app.application.id]).toString()).secret_live;
  // The cost of policies: keys with every field that applies to their kind, each list
  // full (50 entries) with the entry that matches last, so every check runs to its end.
  const clientIp = "203.0.113.77";
  const siteOrigin = "https://shop.example";
  const fullSecretPolicy = {
    expires_in_seconds: 86400,
    scopes: ["keys:read"],
    allowed_ips: [...Array.from({ length: 49 }, (_, i) => `10.${i}.0.0/16`), `${clientIp}/32`],
    routes: [...Array.from({ length: 49 }, (_, i) => ({ methods: ["POST"], path: `/v1/other${i}/*` })), { methods: ["GET", "HEAD"], path: "/v1/users" }],
    rate_limit: { requests: 1000000, per_seconds: 1 },
  };
  const fullPublishablePolicy = {
    expires_in_seconds: 86400,
    allowed_origins: [...Array.from({ length: 49 }, (_, i) => `https://site${i}.example`), siteOrigin],
    origin_policy: "enforce",
    rate_limit: { requests: 1000000, per_seconds: 1 },
  };
  const made = async (body) => {
    const reply = await api(w.base, "POST", "/v1/keys", secret, body);
    check(reply.status === 201, `creating a key with a full policy failed: ${JSON.stringify(reply.json)}`);
    return reply.json?.key?.value;
  };
  const secretWithPolicy = await made({ kind: "secret", label: "bench policy", ...fullSecretPolicy });
  const publishableWithPolicy = await made({ kind: "publishable", label: "bench policy", ...fullPublishablePolicy });
  await w.stop();
  const path = "/v1/users";
  const frontendPath = "/v1/client/config";
  const serverHeaders = { "CF-Connecting-IP": clientIp };
  const pageHeaders = { "CF-Connecting-IP": clientIp, Origin: siteOrigin };

  step(`2/3. Gating in workerd: ${settings.rounds} round(s) of ${settings.duration} s per case, ${settings.connections} connections`);
  const cases = {
    a_edge: { worker: "rust", vars: edgeVars, key: secret },
    a_strict: { worker: "rust", vars: strictVars, key: secret },
    a_regional: { worker: "rust", vars: regionalVars, key: secret },
    b_baseline_js: { worker: "baseline", key: secret },
    c_passthrough: { worker: "passthrough", key: secret },
    policy_none_edge: { worker: "rust", vars: edgeVars, key: secret, headers: serverHeaders },
    policy_full_edge: { worker: "rust", vars: edgeVars, key: secretWithPolicy, headers: serverHeaders },
    policy_none_strict: { worker: "rust", vars: strictVars, key: secret, headers: serverHeaders },
    policy_full_strict: { worker: "rust", vars: strictVars, key: secretWithPolicy, headers: serverHeaders },
    publishable_none_edge: { worker: "rust", vars: edgeVars, key: publishable, path: frontendPath, headers: pageHeaders },
    publishable_full_edge: { worker: "rust", vars: edgeVars, key: publishableWithPolicy, path: frontendPath, headers: pageHeaders },
    reject_malformed: { worker: "rust", vars: edgeVars, key: malformed, expect: 401 },
    reject_bad_checksum: { worker: "rust", vars: edgeVars, key: badChecksum, expect: 401 },
  };
  const samples = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (let r = 0; r < settings.rounds; r++) {
    // Rotate the order each round so no case always runs first or last.
    const names = Object.keys(cases);
    const order = names.slice(r % names.length).concat(names.slice(0, r % names.length));
    for (const name of order) {
      const c = cases[name];
      w = await startWorker(name, { ...workers[c.worker], vars: c.vars });
      const url = `${w.base}${c.path ?? path}`;
      wrk(url, c.key, 1, c.headers); // warm-up
      const result = wrk(url, c.key, settings.duration, c.headers);
      await w.stop();
      samples[name].push(result);
      console.log(`    ${name}: ${round(result.rps, 0)} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms`);
      check(result.total > 0, `${name}: no requests completed`);
      if (c.expect) check(result.non2xx === result.total, `${name}: expected every response to be ${c.expect}`);
      else check(result.non2xx === 0, `${name}: ${result.non2xx} non-2xx responses`);
    }
  }
  const summary = (name) => {
    const s = samples[name];
    return {
      rps: round(median(s.map((x) => x.rps)), 0), rps_spread: [round(Math.min(...s.map((x) => x.rps)), 0), round(Math.max(...s.map((x) => x.rps)), 0)],
      p50_ms: round(median(s.map((x) => x.p50))), p99_ms: round(median(s.map((x) => x.p99))),
      p99_spread_ms: [round(Math.min(...s.map((x) => x.p99))), round(Math.max(...s.map((x) => x.p99)))],
      requests: s.reduce((a, x) => a + x.total, 0),
    };
  };
  report.gating = Object.fromEntries(Object.keys(cases).map((k) => [k, summary(k)]));
  const g = report.gating;
  report.ratios = {
    edge_over_baseline_js: round(g.a_edge.rps / g.b_baseline_js.rps),
    edge_over_passthrough: round(g.a_edge.rps / g.c_passthrough.rps),
    strict_over_passthrough: round(g.a_strict.rps / g.c_passthrough.rps),
    regional_over_passthrough: round(g.a_regional.rps / g.c_passthrough.rps),
    regional_over_strict: round(g.a_regional.rps / g.a_strict.rps),
    edge_p99_added_over_passthrough_ms: round(g.a_edge.p99_ms - g.c_passthrough.p99_ms),
    strict_p99_added_over_passthrough_ms: round(g.a_strict.p99_ms - g.c_passthrough.p99_ms),
    full_policy_over_none_edge: round(g.policy_full_edge.rps / g.policy_none_edge.rps),
    full_policy_over_none_strict: round(g.policy_full_strict.rps / g.policy_none_strict.rps),
    full_policy_over_none_publishable_edge: round(g.publishable_full_edge.rps / g.publishable_none_edge.rps),
    malformed_over_valid: round(g.reject_malformed.rps / g.a_edge.rps),
    bad_checksum_over_valid: round(g.reject_bad_checksum.rps / g.a_edge.rps),
  };

  step(`2d. Without wrangler's proxy: workerd through Miniflare's direct sockets, ${settings.directRuns} interleaved run(s) of ${settings.duration} s per case`);
  const directState = mkdtempSync(join(tmpdir(), "aero2-bench-direct-"));
  const direct = await startDirect(root, {
    rust: { rust_edge: edgeVars, rust_edge_no_cache: { ...edgeVars, EDGE_CACHE_SECONDS: "0" }, rust_strict: strictVars, rust_regional: regionalVars },
    js: ["baseline", "baseline_no_cache", "baseline_scan", "passthrough", "passthrough_signed"],
    jsVars: { baseline_no_cache: { EDGE_CACHE_SECONDS: "0" }, baseline_scan: { SCAN_OUTSIDE_AUTHORIZATION: "1" }, passthrough_signed: { SIGN_ASSERTION: "1" } },
    origin: originUrl, adminToken: ADMIN_TOKEN, stateDir: directState,
  });
  const directSamples = {};
  try {
    const seeded = (await api(direct.bases.rust_edge, "POST", "/v1/applications", ADMIN_TOKEN, { name: "Direct", environment: "production" })).json;
    const directSecret = seeded.keys.find((k) => k.kind === "secret").value;
    const directBad = directSecret.slice(0, 30) + (directSecret[30] === "A" ? "B" : "A") + directSecret.slice(31);
    const directCases = {
      rust_edge: { base: "rust_edge", key: directSecret },
      rust_edge_no_cache: { base: "rust_edge_no_cache", key: directSecret },
      rust_strict: { base: "rust_strict", key: directSecret },
      rust_regional: { base: "rust_regional", key: directSecret },
      js_baseline: { base: "baseline", key: directSecret },
      js_baseline_no_cache: { base: "baseline_no_cache", key: directSecret },
      passthrough: { base: "passthrough", key: directSecret },
      // The pass-through that also signs an assertion, as every forwarded request must be
      // (bench/passthrough, SIGN_ASSERTION): the floor a gate is compared with below.
      passthrough_signed: { base: "passthrough_signed", key: directSecret },
      rust_reject_malformed: { base: "rust_edge", key: malformed, expect: 401 },
      rust_reject_bad_checksum: { base: "rust_edge", key: directBad, expect: 401 },
      js_reject_malformed: { base: "baseline", key: malformed, expect: 401 },
      // The same, by a JavaScript gate that also looks for a secret key outside
      // Authorization, as the Rust gate does (bench/baseline-js, SCAN_OUTSIDE_AUTHORIZATION).
      js_scan_reject_malformed: { base: "baseline_scan", key: malformed, expect: 401 },
    };
    for (const name of Object.keys(directCases)) directSamples[name] = [];
    for (let r = 0; r < settings.directRuns; r++) {
      const names = Object.keys(directCases);
      const order = names.slice(r % names.length).concat(names.slice(0, r % names.length));
      for (const name of order) {
        const c = directCases[name];
        const url = `${direct.bases[c.base]}${path}`;
        wrk(url, c.key, 1); // warm-up
        const result = wrk(url, c.key);
        directSamples[name].push(result);
        console.log(`    ${name}: ${round(result.rps, 0)} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms`);
        check(result.total > 0, `direct ${name}: no requests completed`);
        if (c.expect) check(result.non2xx === result.total, `direct ${name}: expected every response to be refused`);
        else check(result.non2xx === 0, `direct ${name}: ${result.non2xx} non-2xx responses`);
      }
    }
  } finally {
    await direct.stop();
    rmSync(directState, { recursive: true, force: true });
  }
  const spread = (xs) => ({ median: round(median(xs), 1), min: round(Math.min(...xs), 1), max: round(Math.max(...xs), 1) });
  report.direct = Object.fromEntries(Object.entries(directSamples).map(([name, xs]) => [name, {
    rps: spread(xs.map((x) => x.rps)), p50_ms: spread(xs.map((x) => x.p50)), p99_ms: spread(xs.map((x) => x.p99)),
    requests: xs.reduce((a, x) => a + x.total, 0),
  }]));
  const dr = (name) => report.direct[name].rps.median;
  report.direct_ratios = {
    rust_over_js: round(dr("rust_edge") / dr("js_baseline")),
    rust_no_cache_over_js_no_cache: round(dr("rust_edge_no_cache") / dr("js_baseline_no_cache")),
    cache_over_no_cache: round(dr("rust_edge") / dr("rust_edge_no_cache")),
    js_cache_over_no_cache: round(dr("js_baseline") / dr("js_baseline_no_cache")),
    rust_over_passthrough: round(dr("rust_edge") / dr("passthrough")),
    rust_over_signed_passthrough: round(dr("rust_edge") / dr("passthrough_signed")),
    js_over_signed_passthrough: round(dr("js_baseline") / dr("passthrough_signed")),
    signed_passthrough_over_passthrough: round(dr("passthrough_signed") / dr("passthrough")),
    strict_over_edge: round(dr("rust_strict") / dr("rust_edge")),
    regional_over_edge: round(dr("rust_regional") / dr("rust_edge")),
    malformed_over_valid: round(dr("rust_reject_malformed") / dr("rust_edge")),
    bad_checksum_over_valid: round(dr("rust_reject_bad_checksum") / dr("rust_edge")),
    js_malformed_over_valid: round(dr("js_reject_malformed") / dr("js_baseline")),
    rust_malformed_over_js_malformed: round(dr("rust_reject_malformed") / dr("js_reject_malformed")),
    rust_malformed_over_js_scan_malformed: round(dr("rust_reject_malformed") / dr("js_scan_reject_malformed")),
  };

  step("2f. Where the time goes: a CPU profile of the gate inside workerd (V8's inspector), under load");
  {
    const inspectorPort = await freePort();
    const profState = mkdtempSync(join(tmpdir(), "aero2-bench-profile-"));
    const profiled = await startDirect(root, {
      rust: { gate: edgeVars }, js: ["baseline"], origin: originUrl, adminToken: ADMIN_TOKEN, stateDir: profState, inspectorPort,
    });
    try {
      const made = (await api(profiled.bases.gate, "POST", "/v1/applications", ADMIN_TOKEN, { name: "Profile", environment: "production" })).json;
      const key = made.keys.find((k) => k.kind === "secret").value;
      report.cpu_profile = {};
      for (const [name, worker, presented] of [["gate_valid", "gate", key], ["gate_malformed", "gate", malformed], ["js_valid", "baseline", key], ["js_malformed", "baseline", malformed]]) {
        const base = profiled.bases[worker];
        wrk(`${base}${path}`, presented, 1); // warm-up
        report.cpu_profile[name] = await profile(inspectorPort, worker, async () => { wrk(`${base}${path}`, presented, smoke ? 1 : 5); },
          join(logDir, `${name}.cpuprofile`));
        check(report.cpu_profile[name].samples > 0, `the CPU profile ${name} has no samples`);
      }
    } finally {
      await profiled.stop();
      rmSync(profState, { recursive: true, force: true });
    }
  }

  step(`2e. Cold start: a fresh workerd's first response, ${settings.coldStarts} time(s) each, alternating`);
  report.cold_start = {};
  const coldWorkers = [["rust", { rust: { rust: edgeVars } }], ["js_baseline", { js: ["baseline"] }]];
  const cold = Object.fromEntries(coldWorkers.map(([name]) => [name, { ready: [], first: [], second: [] }]));
  // Alternating, so that neither worker always starts on a warmer machine.
  for (let i = 0; i < settings.coldStarts; i++) {
    for (const [name, options] of coldWorkers) {
      const fresh = await startDirect(root, { ...options, origin: originUrl, adminToken: ADMIN_TOKEN });
      const base = fresh.bases[name === "rust" ? "rust" : "baseline"];
      const timed = async () => { const t = performance.now(); await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${malformed}` } }); return performance.now() - t; };
      try {
        cold[name].ready.push(fresh.readyMs);
        cold[name].first.push(await timed());
        cold[name].second.push(await timed());
      } finally {
        await fresh.stop();
      }
    }
  }
  for (const [name, { ready, first, second }] of Object.entries(cold)) {
    report.cold_start[name] = { ready_ms: round(median(ready), 1), first_response_ms: round(median(first), 2), second_response_ms: round(median(second), 2), starts: first.length };
  }
  report.cold_start.rust_first_over_js_first = round(report.cold_start.rust.first_response_ms / report.cold_start.js_baseline.first_response_ms);

  step("4. KV reads and Durable Object calls per request, counted by the test build");
  report.counts = {};
  // Edge mode's record cache off, so that every KV read is counted.
  for (const [mode, vars] of [["edge", { ...edgeVars, EDGE_CACHE_SECONDS: "0" }], ["strict", strictVars], ["regional", regionalVars]]) {
    w = await startWorker(`count-${mode}`, { ...workers.rustInstrumented, vars });
    const counters = async () => (await fetch(`${w.base}/__instrumentation`)).json();
    // The first request of an isolate for an application reads the application's KV
    // record once (strict mode, see README "Forged keys"); the rows count what follows.
    await send(w.base, "GET", path, secret);
    for (const [name, key] of [["valid", secret], ["repeated", secret], ["unknown", unknown], ["forged", forged], ["malformed", malformed], ["bad_checksum", badChecksum]]) {
      const before = await counters();
      // Each request from its own address: past 100 failures a minute, an address gets
      // 429 before any lookup, and the rows would count that instead of the key's cost.
      for (let i = 0; i < settings.countRequests; i++) {
        await send(w.base, "GET", path, key, undefined, { "cf-connecting-ip": `10.77.${i >> 8}.${i & 255}` });
      }
      const after = await counters();
      const per = (field) => round((after[field] - before[field]) / settings.countRequests);
      report.counts[`${mode}_${name}`] = {
        kv_reads_per_request: per("kv_reads"),
        durable_object_calls_per_request: per("durable_object_calls"),
        key_ring_calls_per_request: per("key_ring_calls"),
      };
    }
    await w.stop();
  }
  const c = report.counts;
  check(c.edge_valid.kv_reads_per_request === 1 && c.edge_valid.durable_object_calls_per_request === 0, "edge mode: a valid key must cost exactly one KV read");
  check(c.edge_malformed.kv_reads_per_request === 0 && c.edge_bad_checksum.kv_reads_per_request === 0, "malformed keys must cost no KV read");
  check(c.strict_valid.kv_reads_per_request === 0 && c.strict_valid.durable_object_calls_per_request === 1, "strict mode: one Durable Object call, no KV read");
  check(c.regional_valid.durable_object_calls_per_request === 1 && c.regional_valid.key_ring_calls_per_request === 0, "regional mode: one replica call, none to the key ring");
  check(c.regional_forged.key_ring_calls_per_request === 0, "regional mode: forged keys never reach the key ring");
  check(c.strict_forged.key_ring_calls_per_request === 1, "strict mode: a forged key of an existing application costs one key ring call");
  for (const mode of ["edge", "strict", "regional"]) {
    const u = c[`${mode}_unknown`];
    check(u.kv_reads_per_request === 1 && u.durable_object_calls_per_request === 0, `${mode} mode: a key of an application that does not exist costs one KV read and no Durable Object call`);
  }

  step("7. Regional mode: push fan-out against the number of replicas (revocations, strict clock)");
  report.fanout = [];
  w = await startWorker("fanout", { ...workers.rustInstrumented, vars: regionalVars });
  const regions = ["enam", "weur", "apac", "wnam", "eeur", "sam", "oc", "afr", "me"];
  const fanoutRounds = smoke ? 3 : 20;
  for (const replicas of [0, 1, 3, 9]) {
    const times = [];
    for (let i = 0; i < fanoutRounds; i++) {
      const created = await api(w.base, "POST", "/v1/keys", secret, { kind: "publishable", label: `fan ${replicas} ${i}` });
      const key = created.json.key;
      // Every region asks for the key once: its replica then holds a lease.
      for (const region of regions.slice(0, replicas)) {
        const leased = await fetch(`${w.base}/v1/client/x`, { headers: { authorization: `Bearer ${key.value}`, "x-aero2-test-region": region } });
        check(leased.status === 200, `fan-out: the ${region} replica did not serve the key (${leased.status}), so it holds no lease`);
      }
      const revoked = await api(w.base, "POST", `/v1/keys/${key.id}/revoke`, secret);
      check(revoked.status === 200, `fan-out revoke failed: ${JSON.stringify(revoked.json)}`);
      times.push(revoked.ms);
    }
    report.fanout.push({ replicas, revoke_p50_ms: round(median(times)), revoke_max_ms: round(Math.max(...times)) });
  }
  await w.stop();

  step("6. Management: latency of create, revoke and rotate, and rotations per second on one key ring");
  w = await startWorker("management", { ...workers.rust, vars: strictVars });
  const latencies = { create: [], revoke: [], rotate: [] };
  for (let i = 0; i < settings.managementOps; i++) {
    const created = await api(w.base, "POST", "/v1/keys", secret, { kind: "publishable", label: `bench ${i}` });
    latencies.create.push(created.ms);
    if (created.status !== 201) { check(false, `create failed: ${JSON.stringify(created.json)}`); break; }
    const rotated = await api(w.base, "POST", `/v1/keys/${created.json.key.id}/rotate`, secret, { grace_period_seconds: 0 });
    latencies.rotate.push(rotated.ms);
    const revoked = await api(w.base, "POST", `/v1/keys/${rotated.json.key.id}/revoke`, secret);
    latencies.revoke.push(revoked.ms);
    check(created.status === 201 && rotated.status === 200 && revoked.status === 200, `management round ${i} failed: ${JSON.stringify([created.json, rotated.json, revoked.json])}`);
  }
  const clients = 8;
  const chains = [];
  for (let i = 0; i < clients; i++) chains.push((await api(w.base, "POST", "/v1/keys", secret, { kind: "publishable", label: `chain ${i}` })).json.key.id);
  let rotations = 0;
  const deadline = performance.now() + settings.rotationSeconds * 1000;
  const started = performance.now();
  await Promise.all(chains.map(async (id) => {
    let current = id;
    while (performance.now() < deadline) {
      const r = await api(w.base, "POST", `/v1/keys/${current}/rotate`, secret, { grace_period_seconds: 0 });
      if (r.status !== 200) { check(false, `rotation failed: ${JSON.stringify(r.json)}`); return; }
      current = r.json.key.id;
      rotations++;
    }
  }));
  const elapsed = (performance.now() - started) / 1000;
  await w.stop();
  const lat = (xs) => ({ p50_ms: round(median(xs)), max_ms: round(Math.max(...xs)) });
  report.management = {
    create: lat(latencies.create), rotate: lat(latencies.rotate), revoke: lat(latencies.revoke),
    rotations_per_second: round(rotations / elapsed, 1), rotation_clients: clients,
  };
  check(rotations > 0, "no rotations completed");

  if (settings.ringBound) {
    step("6b. A key ring at its bound (1,000 records): its cold load and strict validation, against a ring of two");
    // A ring filled by create-and-revoke loops to KeyRing::MAX_RECORDS (live and revoked
    // records together), and a fresh one, each in a workerd started afresh on its state:
    // the first strict request loads the ring from SQLite; then a wrk run in strict mode.
    const ringState = mkdtempSync(join(tmpdir(), "aero2-bench-ring-"));
    const setUp = await startDirect(root, { rust: { gate: strictVars }, origin: originUrl, adminToken: ADMIN_TOKEN, stateDir: ringState });
    const rings = {};
    try {
      for (const [name, churn] of [["small", 0], ["full", 1000]]) {
        const made = (await api(setUp.bases.gate, "POST", "/v1/applications", ADMIN_TOKEN, { name: `Ring ${name}`, environment: "production" })).json;
        const key = made.keys.find((k) => k.kind === "secret").value;
        for (let i = 0; i < churn; i++) {
          const created = await api(setUp.bases.gate, "POST", "/v1/keys", key, { kind: "publishable", label: "churn" });
          await api(setUp.bases.gate, "POST", `/v1/keys/${created.json.key.id}/revoke`, key);
        }
        const listed = (await api(setUp.bases.gate, "GET", "/v1/keys?include_revoked=true", key)).json.keys.length;
        rings[name] = { key, records: listed };
      }
    } finally {
      await setUp.stop();
    }
    check(rings.full.records === 1000, `the full ring holds ${rings.full.records} records, not 1,000`);
    report.ring_bound = {};
    for (const [name, ring] of Object.entries(rings)) {
      const loads = [];
      let result;
      for (let i = 0; i < 3; i++) {
        const fresh = await startDirect(root, { rust: { gate: strictVars }, origin: originUrl, adminToken: ADMIN_TOKEN, stateDir: ringState });
        try {
          const t = performance.now();
          const first = await send(fresh.bases.gate, "GET", path, ring.key);
          loads.push(performance.now() - t);
          check(first.status === 200, `ring ${name}: the first request got ${first.status}`);
          if (i === 2) {
            wrk(`${fresh.bases.gate}${path}`, ring.key, 1);
            result = wrk(`${fresh.bases.gate}${path}`, ring.key);
          }
        } finally {
          await fresh.stop();
        }
      }
      report.ring_bound[name] = { records: ring.records, cold_load_ms: round(median(loads), 1), strict_rps: round(result.rps, 0), strict_p99_ms: result.p99 };
    }
    report.ring_bound.full_over_small_rps = round(report.ring_bound.full.strict_rps / report.ring_bound.small.strict_rps);
    rmSync(ringState, { recursive: true, force: true });
  }
} finally {
  await origin.stop();
  rmSync(stateDir, { recursive: true, force: true });
}

step("5. Sizes, gzipped: what `wrangler deploy` uploads (its --dry-run output, minified)");
const browserFiles = ["index.js", "aero2_keys_wasm.js"].map((f) => join(root, "crates/browser/pkg", f));
/** The files wrangler would upload for a Worker: its bundled JavaScript and its wasm. */
function deployed(name, config) {
  const outdir = join(logDir, "deployed", name);
  rmSync(outdir, { recursive: true, force: true });
  run("npx", ["wrangler", "deploy", "--dry-run", "--config", config, "--outdir", outdir],
    { env: { ...env, AERO2_SKIP_BUILD: "1" }, stdio: ["ignore", "ignore", "inherit"] });
  const files = readdirSync(outdir).filter((f) => f.endsWith(".js") || f.endsWith(".mjs") || f.endsWith(".wasm"));
  const bytes = (suffix) => files.filter((f) => f.endsWith(suffix)).reduce((total, f) => total + gz(join(outdir, f)), 0);
  return { wasm: bytes(".wasm"), js: bytes(".js") + bytes(".mjs") };
}
const gateDeployed = deployed("gate", "wrangler.toml");
const controlDeployed = deployed("control", "crates/control/wrangler.toml");
report.sizes = {
  gate_budget_bytes: GATE_BUDGET_BYTES,
  budget_bytes: BUNDLE_BUDGET_BYTES,
  deployment_ceiling_bytes: DEPLOYMENT_CEILING_BYTES,
  // What a gated request loads: the gate's wasm, and its JavaScript (host and wasm-bindgen
  // glue, bundled and minified by wrangler).
  gate_only_wasm_plus_js_gzip: gateDeployed.wasm + gateDeployed.js,
  gate_wasm_gzip: gateDeployed.wasm,
  gate_js_gzip: gateDeployed.js,
  control_wasm_plus_js_gzip: controlDeployed.wasm + controlDeployed.js,
  control_wasm_gzip: controlDeployed.wasm,
  deployment_gzip: gateDeployed.wasm + gateDeployed.js + controlDeployed.wasm + controlDeployed.js,
  browser_package_gzip: browserFiles.reduce((s, f) => s + gz(f), 0),
  baseline_js_worker_gzip: gz(join(root, "bench/baseline-js/worker.js")),
  // Where the code goes, from the unstripped copies build-worker.sh keeps (function names).
  gate_profile: sizeProfile(join(root, "target/gate-with-names.wasm")),
  control_profile: sizeProfile(join(root, "target/control-with-names.wasm")),
};

// wrk prints its version and exits 1, so the output is read whatever the exit status.
const version = (cmd, args) => {
  try { return run(cmd, args, { stdio: ["ignore", "pipe", "pipe"] }).toString().trim().split("\n")[0]; }
  catch (error) { return (error.stdout?.toString() || error.stderr?.toString() || "unknown").trim().split("\n")[0]; }
};
check(report.sizes.gate_only_wasm_plus_js_gzip <= GATE_BUDGET_BYTES, `the gate is ${report.sizes.gate_only_wasm_plus_js_gzip} bytes gzipped, over its budget of ${GATE_BUDGET_BYTES}`);
// The whole deployment's budget is the single Worker's (400,000 bytes), reported with its
// verdict in report.json and BENCHMARKS.md; the smoke pass fails on the gate's budget, the
// bytes every gated request loads, and on the deployment's ceiling while it is over budget.
check(report.sizes.deployment_gzip <= DEPLOYMENT_CEILING_BYTES,
  `the deployment is ${report.sizes.deployment_gzip} bytes gzipped, over its ceiling of ${DEPLOYMENT_CEILING_BYTES} (scripts/bench.mjs, DEPLOYMENT_CEILING_BYTES): make room, or raise the ceiling in this commit and say why`);
report.sizes.deployment_within_budget = report.sizes.deployment_gzip <= BUNDLE_BUDGET_BYTES;
if (!report.sizes.deployment_within_budget) {
  console.warn(`bench: the deployment (gate and control plane) is ${report.sizes.deployment_gzip} bytes gzipped, over its budget of ${BUNDLE_BUDGET_BYTES} (reported, see BENCHMARKS.md §5)`);
}
report.machine = {
  cpu: cpus()[0]?.model ?? "unknown", cores: cpus().length, memory_gib: round(totalmem() / 2 ** 30, 1),
  rustc: version("rustc", ["--version"]), node: process.version,
  wrangler: JSON.parse(readFileSync(join(root, "node_modules/wrangler/package.json"), "utf8")).version,
  workerd: JSON.parse(readFileSync(join(root, "node_modules/workerd/package.json"), "utf8")).version,
  wrk: version("wrk", ["--version"]).split(" [")[0],
};
report.finished_at = new Date().toISOString();
writeFileSync(join(logDir, "report.json"), JSON.stringify(report, null, 2) + "\n");
report.commit = (() => { try { return run("git", ["rev-parse", "--short", "HEAD"], { stdio: ["ignore", "pipe", "ignore"] }).toString().trim(); } catch { return "unknown"; } })();
if (!smoke) writeFileSync(join(root, "BENCHMARKS.md"), renderMarkdown(report, previousHistory()));
step(`Report: ${join(logDir, "report.json")}${smoke ? "" : " and BENCHMARKS.md"}`);
if (failures.length) {
  console.error(`bench: ${failures.length} check(s) failed:\n  ${failures.join("\n  ")}`);
  process.exit(1);
}
console.log(`bench${smoke ? " smoke" : ""}: every part ran and every check held`);

/** The history rows of the BENCHMARKS.md this run replaces. */
function previousHistory() {
  try {
    const text = readFileSync(join(root, "BENCHMARKS.md"), "utf8");
    const section = text.split("## History")[1] ?? "";
    return section.split("\n").filter((line) => /^\| \d{4}-\d{2}-\d{2} /.test(line));
  } catch {
    return [];
  }
}

function sizeRows(s) {
  const control = new Map(s.control_profile.crates.map((c) => [c.crate, c.bytes]));
  const gate = new Map(s.gate_profile.crates.map((c) => [c.crate, c.bytes]));
  const crates = [...new Set([...gate.keys(), ...control.keys()])]
    .sort((a, b) => (gate.get(b) ?? 0) + (control.get(b) ?? 0) - (gate.get(a) ?? 0) - (control.get(a) ?? 0));
  const rows = crates.map((c) => `| ${c} | ${gate.get(c) ?? "–"} | ${control.get(c) ?? "–"} |`);
  rows.push(`| all code | ${s.gate_profile.code_bytes} | ${s.control_profile.code_bytes} |`);
  return rows.join("\n");
}

function renderMarkdown(r, history) {
  const g = r.gating, x = r.ratios, m = r.management, s = r.sizes, c = r.core;
  const verdict = (ok) => (ok ? "met" : "**missed**");
  const row = (name, label) => `| ${label} | ${g[name].rps} (${g[name].rps_spread.join("–")}) | ${g[name].p50_ms} | ${g[name].p99_ms} (${g[name].p99_spread_ms.join("–")}) | ${g[name].requests} |`;
  const count = (k) => `${r.counts[k].kv_reads_per_request} | ${r.counts[k].durable_object_calls_per_request}`;
  return `# Benchmarks

Generated by \`make bench\` (\`node scripts/bench.mjs\`) on ${r.finished_at.slice(0, 10)}. Every figure is from
that one run of the committed code. The machine is shared and noisy, so the comparisons
that matter are the ratios within the run. Medians over ${r.settings.rounds} rounds; the spread is
min–max over rounds.

Machine: ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memory_gib} GiB. ${r.machine.rustc}; Node ${r.machine.node};
wrangler ${r.machine.wrangler} with workerd ${r.machine.workerd}; ${r.machine.wrk}.

## 1. Core cost, native (criterion)

| | median | 95% CI |
|---|---|---|
| bare SHA-256 of the key (the floor) | ${c.bare_sha256.median_ns} ns | ${c.bare_sha256.ci95_ns.join("–")} ns |
| full validation: parse, checksum, storage id | ${c.full_validation.median_ns} ns | ${c.full_validation.ci95_ns.join("–")} ns |
| parse and checksum only | ${c.parse_only.median_ns} ns | ${c.parse_only.ci95_ns.join("–")} ns |
| rejecting a bad checksum | ${c.reject_bad_checksum.median_ns} ns | ${c.reject_bad_checksum.ci95_ns.join("–")} ns |

Full validation / bare SHA-256: **${c.validation_over_sha256}×** (target ≤ 1.5×: ${verdict(c.validation_over_sha256 <= 1.5)}).

## 2. Gating at the edge, in workerd

\`wrk -t2 -c${r.settings.connections} -d${r.settings.duration}s\` on 127.0.0.1 against \`wrangler dev\`, one worker at a time, a secret key on
\`GET /v1/users\`, proxied to the same local origin (a Node.js echo server).

| worker | requests/s (spread) | p50 ms | p99 ms (spread) | requests |
|---|---|---|---|---|
${row("a_edge", "(a) this worker, edge mode (KV)")}
${row("a_strict", "(a) this worker, strict mode (Durable Object)")}
${row("a_regional", "(a) this worker, regional mode (the region's replica)")}
${row("b_baseline_js", "(b) the same gating in plain JavaScript")}
${row("c_passthrough", "(c) pass-through, no validation")}

| ratio | value | target |
|---|---|---|
| a/b, edge mode | ${x.edge_over_baseline_js} | ≥ 1.0: ${verdict(x.edge_over_baseline_js >= 1.0)} |
| a/c, edge mode | ${x.edge_over_passthrough} | ≥ 0.85: ${verdict(x.edge_over_passthrough >= 0.85)} |
| a/c, strict mode | ${x.strict_over_passthrough} | (no target) |
| a/c, regional mode | ${x.regional_over_passthrough} | (no target; locally one replica in the same process, so this shows the cost of the call, not of geography) |
| p99 added over (c), edge mode | ${x.edge_p99_added_over_passthrough_ms} ms | ≤ 1 ms: ${verdict(x.edge_p99_added_over_passthrough_ms <= 1)} |
| p99 added over (c), strict mode | ${x.strict_p99_added_over_passthrough_ms} ms | (no target) |

## 2b. The cost of key policies

The same secret key route, by a key with no policy and by one with every field that applies
to secret keys (expiry, scopes, 50 address ranges, 50 routes, a rate limit never reached),
each list matching on its last entry; and a publishable key on a frontend route from a page,
with no policy and with expiry, 50 allowed origins (the last one matching) and a rate limit.
Both are run in the same rounds, in rotating order.

| case | requests/s (spread) | p50 ms | p99 ms (spread) | requests |
|---|---|---|---|---|
${row("policy_none_edge", "secret key, no policy, edge mode")}
${row("policy_full_edge", "secret key, full policy, edge mode")}
${row("policy_none_strict", "secret key, no policy, strict mode")}
${row("policy_full_strict", "secret key, full policy, strict mode")}
${row("publishable_none_edge", "publishable key from a page, no policy, edge mode")}
${row("publishable_full_edge", "publishable key from a page, full policy, edge mode")}

| ratio: full policy / no policy | value |
|---|---|
| secret key, edge mode | ${x.full_policy_over_none_edge} |
| secret key, strict mode (the Durable Object counts the rate limit exactly) | ${x.full_policy_over_none_strict} |
| publishable key, edge mode | ${x.full_policy_over_none_publishable_edge} |

## 2c. The worker itself: workerd with no proxy in the way

\`wrangler dev\` puts a Node.js proxy in front of workerd, which caps even rejections. Here the
three workers run in one workerd started through Miniflare's API, each with a direct
socket, and \`wrk\` talks to workerd itself (same origin, same KV namespace, edge mode unless
named; \`rust_edge\` has its 5 s record cache, as deployed). Both gates sign the assertion on
every forwarded request. Medians of ${r.settings.directRuns} interleaved runs of ${r.settings.duration} s; min–max in brackets.

| case | requests/s | p50 ms | p99 ms | requests |
|---|---|---|---|---|
${Object.entries(r.direct).map(([name, d]) => `| ${name} | ${d.rps.median} (${d.rps.min}–${d.rps.max}) | ${d.p50_ms.median} | ${d.p99_ms.median} | ${d.requests} |`).join("\n")}

| ratio | value | target |
|---|---|---|
| Rust gate / JavaScript gate, the 5 s record cache in both | ${r.direct_ratios.rust_over_js} | ≥ 1.2: ${verdict(r.direct_ratios.rust_over_js >= 1.2)} |
| Rust gate / JavaScript gate, no record cache in either | ${r.direct_ratios.rust_no_cache_over_js_no_cache} | ≥ 1.2: ${verdict(r.direct_ratios.rust_no_cache_over_js_no_cache >= 1.2)} |
| malformed-key rejections, Rust / JavaScript | ${r.direct_ratios.rust_malformed_over_js_malformed} | ≥ 1.0: ${verdict(r.direct_ratios.rust_malformed_over_js_malformed >= 1.0)} |
| malformed-key rejections, Rust / a JavaScript gate that also scans for a secret key outside Authorization, as the Rust gate does | ${r.direct_ratios.rust_malformed_over_js_scan_malformed ?? "(not measured)"} | (for comparison: the plain baseline does not look) |
| Rust gate, record cache on / off | ${r.direct_ratios.cache_over_no_cache} | (the cache is kept only if it wins: > 1) |
| Rust gate / pass-through | ${r.direct_ratios.rust_over_passthrough} | ≥ 0.85: ${verdict(r.direct_ratios.rust_over_passthrough >= 0.85)} |
| a pass-through that signs the assertion and validates nothing / pass-through | ${r.direct_ratios.signed_passthrough_over_passthrough ?? "(not measured)"} | (what the signature alone costs) |
| Rust gate / the signing pass-through | ${r.direct_ratios.rust_over_signed_passthrough ?? "(not measured)"} | (for comparison: the gate's own work over the signature every forwarded request needs) |
| JavaScript gate / the signing pass-through | ${r.direct_ratios.js_over_signed_passthrough ?? "(not measured)"} | (for comparison) |
| malformed key / valid key (Rust) | ${r.direct_ratios.malformed_over_valid} | ≥ 2: ${verdict(r.direct_ratios.malformed_over_valid >= 2)} |
| bad checksum / valid key (Rust) | ${r.direct_ratios.bad_checksum_over_valid} | ≥ 2: ${verdict(r.direct_ratios.bad_checksum_over_valid >= 2)} |
| malformed key / valid key (JavaScript) | ${r.direct_ratios.js_malformed_over_valid} | (for comparison) |
| strict mode / edge mode | ${r.direct_ratios.strict_over_edge} | (the cost of the Durable Object round trip) |
| regional mode / edge mode | ${r.direct_ratios.regional_over_edge} | (locally the replica is in the same process) |

### Where the time goes

A CPU profile of each worker inside workerd, taken through V8's inspector while \`wrk\`
runs against it (direct sockets, edge mode, record cache on, ${r.settings.duration > 1 ? 5 : 1} s each): the share of the
samples by where the code lives, and the functions with the most self time. The
\`.cpuprofile\` files are in \`target/bench/full/\` (open them in Chrome's DevTools).

${Object.entries(r.cpu_profile).map(([name, p]) => `**${name}** (${p.samples} samples, busy ${p.busy_share_percent} %): ${p.by_place.map((x) => `${x.place} ${x.percent} %`).join(", ")}

| self time % | function |
|---|---|
${p.top_functions.slice(0, 10).map((f) => `| ${f.percent} | \`${f.name.replace(/\|/g, "\\|")}\` |`).join("\n")}
`).join("\n")}
### Cold start

A fresh workerd for one worker: time until it is ready (the script and, for Rust, the wasm
module compiled), then the first and second responses (a malformed key: no storage).
Medians of ${r.settings.coldStarts}.

| worker | ready ms | first response ms | second response ms |
|---|---|---|---|
| Rust gate | ${r.cold_start.rust.ready_ms} | ${r.cold_start.rust.first_response_ms} | ${r.cold_start.rust.second_response_ms} |
| JavaScript gate | ${r.cold_start.js_baseline.ready_ms} | ${r.cold_start.js_baseline.first_response_ms} | ${r.cold_start.js_baseline.second_response_ms} |
| Rust / JavaScript | ${round(r.cold_start.rust.ready_ms / r.cold_start.js_baseline.ready_ms)}× | ${round(r.cold_start.rust.first_response_ms / r.cold_start.js_baseline.first_response_ms)}× (target ≤ 2×: ${verdict(r.cold_start.rust.first_response_ms <= 2 * r.cold_start.js_baseline.first_response_ms)}) | ${round(r.cold_start.rust.second_response_ms / r.cold_start.js_baseline.second_response_ms)}× |

## 3. Rejection

| key | requests/s | p99 ms | / valid-key rate | target |
|---|---|---|---|---|
| malformed | ${g.reject_malformed.rps} | ${g.reject_malformed.p99_ms} | ${x.malformed_over_valid}× | ≥ 2×: ${verdict(x.malformed_over_valid >= 2)} |
| bad checksum | ${g.reject_bad_checksum.rps} | ${g.reject_bad_checksum.p99_ms} | ${x.bad_checksum_over_valid}× | ≥ 2×: ${verdict(x.bad_checksum_over_valid >= 2)} |

## 4. KV reads and Durable Object calls per request

Counted by the test build (\`--features fault-injection\`, which has the counters), ${r.settings.countRequests} requests per row, after one
request that warms the isolate (in strict mode, an isolate's first request for an application also reads
the application's KV record, once). An unknown key here names an application that does not exist, so
strict mode answers it from that KV read without a Durable Object call.

| key | edge mode: KV reads | edge: DO calls | strict mode: KV reads | strict: DO calls | regional mode: KV reads | regional: DO calls | regional: key ring calls |
|---|---|---|---|---|---|---|---|
| valid | ${count("edge_valid")} | ${count("strict_valid")} | ${count("regional_valid")} | ${r.counts.regional_valid.key_ring_calls_per_request} |
| the same valid key again | ${count("edge_repeated")} | ${count("strict_repeated")} | ${count("regional_repeated")} | ${r.counts.regional_repeated.key_ring_calls_per_request} |
| unknown (an application that does not exist) | ${count("edge_unknown")} | ${count("strict_unknown")} | ${count("regional_unknown")} | ${r.counts.regional_unknown.key_ring_calls_per_request} |
| forged (this application's id, never issued) | ${count("edge_forged")} | ${count("strict_forged")} | ${count("regional_forged")} | ${r.counts.regional_forged.key_ring_calls_per_request} |
| malformed | ${count("edge_malformed")} | ${count("strict_malformed")} | ${count("regional_malformed")} | ${r.counts.regional_malformed.key_ring_calls_per_request} |
| bad checksum | ${count("edge_bad_checksum")} | ${count("strict_bad_checksum")} | ${count("regional_bad_checksum")} | ${r.counts.regional_bad_checksum.key_ring_calls_per_request} |

Strict mode's key ring calls are its Durable Object calls. A forged key of an existing
application costs strict mode one key ring call; regional mode answers it from the replica's
memory, with no key ring call.

### Regional mode: push fan-out

Revocation latency (the API's answer, which waits for every replica's acknowledgement),
against the number of replicas holding a lease, in one local workerd (no geography: see
SCALE.md for the model with inter-region latencies).

| replicas | revoke p50 ms | revoke max ms |
|---|---|---|
${r.fanout.map((f) => `| ${f.replicas} | ${f.revoke_p50_ms} | ${f.revoke_max_ms} |`).join("\n")}

## 5. Size (gzip -9)

Two Workers: the gate, which every gated request loads, and the control plane (the API,
the dashboard's API and the Durable Objects), which only the API's own paths and the gate's
lookups reach, through a service binding. Each is measured as \`wrangler deploy\` would
upload it (its \`--dry-run\` output: the JavaScript bundled and minified, and the wasm).

| artifact | bytes | target |
|---|---|---|
| the gate: wasm + JavaScript (its host and wasm-bindgen glue, bundled): what a gated request loads | ${s.gate_only_wasm_plus_js_gzip} | ≤ 150 KB (153,600): ${verdict(s.gate_only_wasm_plus_js_gzip <= s.gate_budget_bytes)}; the smoke pass fails above |
| of which the gate's wasm; JavaScript | ${s.gate_wasm_gzip}; ${s.gate_js_gzip} | |
| the control plane: wasm + JavaScript | ${s.control_wasm_plus_js_gzip} | (reported) |
| the whole deployment: both Workers | ${s.deployment_gzip} | ≤ ${s.budget_bytes}: ${verdict(s.deployment_gzip <= s.budget_bytes)}${s.deployment_ceiling_bytes ? `; while over it, no growth past ${s.deployment_ceiling_bytes}: ${verdict(s.deployment_gzip <= s.deployment_ceiling_bytes)}, the smoke pass fails above` : ""} |
| browser package: JavaScript + wasm | ${s.browser_package_gzip} | ≤ 10 KB (10,240): ${verdict(s.browser_package_gzip <= 10240)} |
| JavaScript baseline worker, for comparison | ${s.baseline_js_worker_gzip} | |

Where the wasm's code goes (bytes of function bodies before compression, by crate, from
the name section; \`node scripts/support/wasm-size.mjs target/gate-with-names.wasm\` prints more):

| crate | gate | control plane |
|---|---|---|
${sizeRows(s)}

The largest functions of the gate:

| bytes | function |
|---|---|
${s.gate_profile.largest_functions.map((f) => `| ${f.bytes} | \`${f.name.replace(/\|/g, "\\|")}\` |`).join("\n")}

The largest functions of the control plane:

| bytes | function |
|---|---|
${s.control_profile.largest_functions.map((f) => `| ${f.bytes} | \`${f.name.replace(/\|/g, "\\|")}\` |`).join("\n")}

## 6. Management (strict mode, one application's Durable Object)

| operation | p50 ms | max ms |
|---|---|---|
| create | ${m.create.p50_ms} | ${m.create.max_ms} |
| rotate | ${m.rotate.p50_ms} | ${m.rotate.max_ms} |
| revoke | ${m.revoke.p50_ms} | ${m.revoke.max_ms} |

Sustained rotations on one key ring with ${m.rotation_clients} concurrent clients: **${m.rotations_per_second} per second**.
${r.ring_bound ? `
### 6b. A key ring at its bound

A ring filled by create-and-revoke loops to its bound (1,000 records, live and revoked
together) against a ring of two, each loaded cold by a workerd started afresh on its
state, then a \`wrk\` run in strict mode (every request decided by the ring).

| ring | records | cold load ms (median) | strict requests/s | strict p99 ms |
|---|---|---|---|---|
| small | ${r.ring_bound.small.records} | ${r.ring_bound.small.cold_load_ms} | ${r.ring_bound.small.strict_rps} | ${r.ring_bound.small.strict_p99_ms} |
| at its bound | ${r.ring_bound.full.records} | ${r.ring_bound.full.cold_load_ms} | ${r.ring_bound.full.strict_rps} | ${r.ring_bound.full.strict_p99_ms} |

Strict validation at the bound / with two records: **${r.ring_bound.full_over_small_rps}×**.
` : ""}
## History

Each full run adds a row, so that a regression shows.

| date | commit | Rust/JS (direct) | Rust/pass-through (direct) | Rust edge req/s (direct) | gzip bytes (gate; whole deployment from 2026-12-04) | wrangler dev edge req/s |
|---|---|---|---|---|---|---|
${[...history, `| ${r.finished_at.slice(0, 10)} | ${r.commit} | ${r.direct_ratios.rust_over_js} | ${r.direct_ratios.rust_over_passthrough} | ${r.direct.rust_edge.rps.median} | ${s.gate_only_wasm_plus_js_gzip}; ${s.deployment_gzip} | ${g.a_edge.rps} |`].join("\n")}
`;
}
