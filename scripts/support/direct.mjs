// The benchmark's workers in workerd with nothing in the way: Miniflare's API starts
// workerd with a direct socket per worker (`unsafeDirectSockets`), so the load generator
// talks to workerd itself, not to wrangler dev's Node.js proxy. Every worker shares one KV
// namespace: the control plane's key rings write the records that the Rust gates and the
// JavaScript baseline read.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import { newSigningKey } from "./signing-key.mjs";
import { freePort } from "./wrangler-dev.mjs";

const COMPATIBILITY_DATE = "2026-04-01";
const CONTROL = "control";

/** A rate-limiting binding's limit, as the gate's wrangler.toml sets it. */
function limits(root, bindings) {
  const toml = readFileSync(join(root, "wrangler.toml"), "utf8");
  const limit = (binding) => Number(new RegExp(`name = "${binding}"[^\\[]*?limit = (\\d+)`, "s").exec(toml)?.[1] ?? 100);
  return Object.fromEntries(bindings.map((binding) => [binding, { simple: { limit: limit(binding), period: 60 } }]));
}

/** The control plane: the Durable Objects and the API, no socket of its own. */
function controlWorker(root, script, vars, secrets) {
  return {
    name: CONTROL,
    modules: true,
    scriptPath: join(root, script),
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: COMPATIBILITY_DATE,
    kvNamespaces: { KEYS: "keys" },
    durableObjects: {
      KEY_RING: { className: "KeyRingObject", useSQLite: true },
      REGISTRY: { className: "ApplicationRegistry", useSQLite: true },
      REPLICA: { className: "ValidationReplica", useSQLite: true },
    },
    bindings: { ...vars, ...secrets },
  };
}

/** A gate, as wrangler.toml describes it (without the dashboard's assets). */
function gateWorker(root, name, host, vars, secrets, port) {
  return {
    name,
    modules: true,
    scriptPath: join(root, host),
    modulesRoot: join(root, "crates/gate"),
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }, { type: "ESModule", include: ["**/*.js", "**/*.mjs"] }],
    compatibilityDate: COMPATIBILITY_DATE,
    kvNamespaces: { KEYS: "keys" },
    durableObjects: {
      KEY_RING: { className: "KeyRingObject", scriptName: CONTROL, useSQLite: true },
      REPLICA: { className: "ValidationReplica", scriptName: CONTROL, useSQLite: true },
    },
    serviceBindings: { CONTROL },
    ratelimits: limits(root, ["FAILED_AUTH_LIMITER", "FAILED_AUTH_APP_LIMITER", "SIGN_IN_LIMITER"]),
    bindings: { ...vars, ...secrets },
    unsafeDirectSockets: [{ host: "127.0.0.1", port }],
  };
}

function jsWorker(root, name, dir, vars, port) {
  return {
    name,
    modules: true,
    scriptPath: join(root, dir, "worker.js"),
    // The signing pass-through imports the baseline's signing (bench/passthrough/worker.js).
    modulesRoot: join(root, "bench"),
    modulesRules: [{ type: "ESModule", include: ["**/*.js"] }],
    compatibilityDate: COMPATIBILITY_DATE,
    kvNamespaces: { KEYS: "keys" },
    bindings: vars,
    unsafeDirectSockets: [{ host: "127.0.0.1", port }],
  };
}

/**
 * Starts workers in one workerd: `rust` maps names to the vars of a Rust gate (one per
 * validation mode, say), all in front of one control plane; `js` lists the JavaScript
 * ones to add (`baseline`, `passthrough`). `testBuild` runs the gates' test host (with
 * counters) and the control plane's fault-injection bundle. `inspectorPort` opens V8's
 * inspector (for CPU profiles). Returns their base URLs and how long workerd took to be
 * ready.
 */
export async function startDirect(root, { rust = {}, js = [], origin, adminToken, stateDir, testBuild = false, jsVars = {}, inspectorPort }) {
  const secrets = {
    ADMIN_TOKEN: adminToken,
    ORIGIN_SIGNING_KEY: JSON.stringify(newSigningKey()),
    WEBHOOK_SECRET: randomBytes(32).toString("base64"),
  };
  const common = { ORIGIN_URL: origin, FRONTEND_ROUTES: "/v1/client/*", MANAGEMENT_WRITES_PER_MINUTE: "1000000", MANAGEMENT_WRITE_BURST: "1000000" };
  const ports = {};
  const workers = [];
  for (const [name, vars] of Object.entries(rust)) {
    ports[name] = await freePort();
    const host = testBuild ? "crates/gate/js/test-worker.mjs" : "crates/gate/js/worker.mjs";
    workers.push(gateWorker(root, name, host, { ...common, ...vars }, secrets, ports[name]));
  }
  if (Object.keys(rust).length > 0) {
    const script = testBuild ? "crates/control/build-fault-injection/index.js" : "crates/control/build/index.js";
    workers.push(controlWorker(root, script, common, secrets));
  }
  for (const name of js) {
    ports[name] = await freePort();
    const dir = name.startsWith("baseline") ? "bench/baseline-js" : "bench/passthrough";
    workers.push(jsWorker(root, name, dir, { ...common, ORIGIN_SIGNING_KEY: secrets.ORIGIN_SIGNING_KEY, ...(jsVars[name] ?? {}) }, ports[name]));
  }
  const started = performance.now();
  const mf = new Miniflare({
    workers,
    kvPersist: stateDir ? join(stateDir, "kv") : false,
    durableObjectsPersist: stateDir ? join(stateDir, "do") : false,
    ...(inspectorPort ? { inspectorPort } : {}),
  });
  await mf.ready;
  const readyMs = performance.now() - started;
  const bases = Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, `http://127.0.0.1:${port}`]));
  return { bases, readyMs, stop: () => mf.dispose() };
}
