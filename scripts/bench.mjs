// `make bench`: the benchmark suite. Every figure comes from this run of the committed
// code, and comparisons are made within the run, as ratios, because these machines are
// shared and noisy. Load goes to 127.0.0.1 only and every load run is bounded in time.
//
//   node scripts/bench.mjs            full run, writes BENCHMARKS.md
//   node scripts/bench.mjs --smoke    a few seconds per part, writes target/bench/, and
//                                     fails if any part is broken (run by `make test`)
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, totalmem, tmpdir } from "node:os";
import http from "node:http";
import { startOrigin, startWrangler } from "./support/processes.mjs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const smoke = process.argv.includes("--smoke");
const settings = smoke
  ? { duration: 1, rounds: 1, connections: 8, managementOps: 5, rotationSeconds: 1, countRequests: 20 }
  : { duration: 10, rounds: 3, connections: 16, managementOps: 50, rotationSeconds: 10, countRequests: 200 };
const env = { ...process.env, PATH: `${process.env.HOME}/.cargo/bin:${process.env.PATH}`, WRANGLER_SEND_METRICS: "false" };
const ADMIN_TOKEN = "bench-operator-token-0123456789";
const step = (text) => console.log(`==> ${text}`);
const failures = [];
const check = (ok, message) => { if (!ok) failures.push(message); };
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN; };
const round = (x, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { cwd: root, env, ...opts });

/** wrangler dev for one worker on the shared local state. */
function startWorker(name, { config, script, vars = {} }) {
  return startWrangler(root, env, { name, config, script, stateDir, logDir, vars: { ORIGIN_URL: originUrl, ...vars } });
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
function send(base, method, path, token, body) {
  const payload = body ? JSON.stringify(body) : undefined;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(base + path, {
      method, agent: keepAlive,
      headers: { authorization: `Bearer ${token}`, ...(payload ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) } : {}) },
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

step("Building the release worker, the instrumented worker and the browser package");
run("bash", ["scripts/build-worker.sh"], { stdio: ["ignore", "ignore", "inherit"] });
// The test build: counters (instrumentation) and the test-only region header (regional mode).
run("bash", ["scripts/build-worker.sh"], { env: { ...env, AERO2_WORKER_FEATURES: "fault-injection" }, stdio: ["ignore", "ignore", "inherit"] });
run("node", ["scripts/build-browser.mjs"], { stdio: ["ignore", "ignore", "inherit"] });

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
  rust: { config: "wrangler.toml" },
  rustInstrumented: { config: "wrangler.toml", script: "crates/edge/build-fault-injection/index.js" },
  baseline: { config: "bench/baseline-js/wrangler.toml" },
  passthrough: { config: "bench/passthrough/wrangler.toml" },
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

  step("4. KV reads and Durable Object calls per request, counted by the instrumented build");
  report.counts = {};
  for (const [mode, vars] of [["edge", edgeVars], ["strict", strictVars], ["regional", regionalVars]]) {
    w = await startWorker(`count-${mode}`, { ...workers.rustInstrumented, vars });
    const counters = async () => (await fetch(`${w.base}/__instrumentation`)).json();
    // The first request of an isolate for an application reads the application's KV
    // record once (strict mode, see README "Forged keys"); the rows count what follows.
    await send(w.base, "GET", path, secret);
    for (const [name, key] of [["valid", secret], ["repeated", secret], ["unknown", unknown], ["forged", forged], ["malformed", malformed], ["bad_checksum", badChecksum]]) {
      const before = await counters();
      for (let i = 0; i < settings.countRequests; i++) await send(w.base, "GET", path, key);
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
        await fetch(`${w.base}/v1/client/x`, { headers: { authorization: `Bearer ${key.value}`, "x-aero2-test-region": region } });
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
} finally {
  await origin.stop();
  rmSync(stateDir, { recursive: true, force: true });
}

step("5. Sizes, gzipped");
const browserFiles = ["index.js", "aero2_keys_wasm.js"].map((f) => join(root, "crates/browser/pkg", f));
report.sizes = {
  worker_wasm_plus_js_gzip: gz(join(root, "crates/edge/build/index_bg.wasm")) + gz(join(root, "crates/edge/build/index.js")),
  worker_wasm_gzip: gz(join(root, "crates/edge/build/index_bg.wasm")),
  browser_package_gzip: browserFiles.reduce((s, f) => s + gz(f), 0),
  baseline_js_worker_gzip: gz(join(root, "bench/baseline-js/worker.js")),
};

// wrk prints its version and exits 1, so the output is read whatever the exit status.
const version = (cmd, args) => {
  try { return run(cmd, args, { stdio: ["ignore", "pipe", "pipe"] }).toString().trim().split("\n")[0]; }
  catch (error) { return (error.stdout?.toString() || error.stderr?.toString() || "unknown").trim().split("\n")[0]; }
};
report.machine = {
  cpu: cpus()[0]?.model ?? "unknown", cores: cpus().length, memory_gib: round(totalmem() / 2 ** 30, 1),
  rustc: version("rustc", ["--version"]), node: process.version,
  wrangler: JSON.parse(readFileSync(join(root, "node_modules/wrangler/package.json"), "utf8")).version,
  workerd: JSON.parse(readFileSync(join(root, "node_modules/workerd/package.json"), "utf8")).version,
  wrk: version("wrk", ["--version"]).split(" [")[0],
};
report.finished_at = new Date().toISOString();
writeFileSync(join(logDir, "report.json"), JSON.stringify(report, null, 2) + "\n");
if (!smoke) writeFileSync(join(root, "BENCHMARKS.md"), renderMarkdown(report));
step(`Report: ${join(logDir, "report.json")}${smoke ? "" : " and BENCHMARKS.md"}`);
if (failures.length) {
  console.error(`bench: ${failures.length} check(s) failed:\n  ${failures.join("\n  ")}`);
  process.exit(1);
}
console.log(`bench${smoke ? " smoke" : ""}: every part ran and every check held`);

function renderMarkdown(r) {
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

## 3. Rejection

| key | requests/s | p99 ms | / valid-key rate | target |
|---|---|---|---|---|
| malformed | ${g.reject_malformed.rps} | ${g.reject_malformed.p99_ms} | ${x.malformed_over_valid}× | ≥ 2×: ${verdict(x.malformed_over_valid >= 2)} |
| bad checksum | ${g.reject_bad_checksum.rps} | ${g.reject_bad_checksum.p99_ms} | ${x.bad_checksum_over_valid}× | ≥ 2×: ${verdict(x.bad_checksum_over_valid >= 2)} |

## 4. KV reads and Durable Object calls per request

Counted by the instrumented build (\`--features instrumentation\`), ${r.settings.countRequests} requests per row, after one
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
against the number of replicas holding a lease, ${r.fanout.length ? "" : ""}in one local workerd (no geography: see
SCALE.md for the model with inter-region latencies).

| replicas | revoke p50 ms | revoke max ms |
|---|---|---|
${r.fanout.map((f) => `| ${f.replicas} | ${f.revoke_p50_ms} | ${f.revoke_max_ms} |`).join("\n")}

## 5. Size (gzip -9)

| artifact | bytes | target |
|---|---|---|
| worker: wasm + JavaScript | ${s.worker_wasm_plus_js_gzip} | ≤ 150 KB (153,600): ${verdict(s.worker_wasm_plus_js_gzip <= 153600)} |
| browser package: JavaScript + wasm | ${s.browser_package_gzip} | ≤ 10 KB (10,240): ${verdict(s.browser_package_gzip <= 10240)} |
| JavaScript baseline worker, for comparison | ${s.baseline_js_worker_gzip} | |

## 6. Management (strict mode, one application's Durable Object)

| operation | p50 ms | max ms |
|---|---|---|
| create | ${m.create.p50_ms} | ${m.create.max_ms} |
| rotate | ${m.rotate.p50_ms} | ${m.rotate.max_ms} |
| revoke | ${m.revoke.p50_ms} | ${m.revoke.max_ms} |

Sustained rotations on one key ring with ${m.rotation_clients} concurrent clients: **${m.rotations_per_second} per second**.
`;
}
