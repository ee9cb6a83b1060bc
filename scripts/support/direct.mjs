// The benchmark's workers in workerd with nothing in the way: Miniflare's API starts
// workerd with a direct socket per worker (`unsafeDirectSockets`), so the load generator
// talks to workerd itself, not to wrangler dev's Node.js proxy. The three workers share one
// KV namespace, as the Rust worker writes the records the JavaScript baseline reads.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import { newSigningKey } from "./signing-key.mjs";
import { freePort } from "./wrangler-dev.mjs";

const COMPATIBILITY_DATE = "2026-04-01";

/** A Rust worker as wrangler.toml describes it (without the dashboard's assets). All of
 * them use the Durable Object classes of the first (`owner`), so they share its state. */
function rustWorker(root, name, owner, script, vars, secrets, port) {
  const toml = readFileSync(join(root, "wrangler.toml"), "utf8");
  const limit = (binding) => Number(new RegExp(`name = "${binding}"[^\\[]*?limit = (\\d+)`, "s").exec(toml)?.[1] ?? 100);
  const object = (className) => (name === owner ? { className, useSQLite: true } : { className, scriptName: owner, useSQLite: true });
  return {
    name,
    modules: true,
    scriptPath: join(root, script),
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: COMPATIBILITY_DATE,
    kvNamespaces: { KEYS: "keys" },
    durableObjects: {
      KEY_RING: object("KeyRingObject"),
      REGISTRY: object("ApplicationRegistry"),
      REPLICA: object("ValidationReplica"),
    },
    ratelimits: Object.fromEntries(["FAILED_AUTH_LIMITER", "FAILED_AUTH_APP_LIMITER", "SIGN_IN_LIMITER"]
      .map((binding) => [binding, { simple: { limit: limit(binding), period: 60 } }])),
    bindings: { ...vars, ...secrets },
    unsafeDirectSockets: [{ host: "127.0.0.1", port }],
  };
}

function jsWorker(root, name, dir, vars, port) {
  return {
    name,
    modules: true,
    scriptPath: join(root, dir, "worker.js"),
    compatibilityDate: COMPATIBILITY_DATE,
    kvNamespaces: { KEYS: "keys" },
    bindings: vars,
    unsafeDirectSockets: [{ host: "127.0.0.1", port }],
  };
}

/**
 * Starts workers in one workerd: `rust` maps names to the vars of a Rust worker (one per
 * validation mode, say), and `js` lists the JavaScript ones to add (`baseline`,
 * `passthrough`). Returns their base URLs and how long workerd took to be ready.
 */
export async function startDirect(root, { script = "crates/edge/build/index.js", rust = {}, js = [], origin, adminToken, stateDir }) {
  const secrets = {
    ADMIN_TOKEN: adminToken,
    ORIGIN_SIGNING_KEY: JSON.stringify(newSigningKey()),
    WEBHOOK_SECRET: randomBytes(32).toString("base64"),
  };
  const common = { ORIGIN_URL: origin, FRONTEND_ROUTES: "/v1/client/*" };
  const ports = {};
  const workers = [];
  const owner = Object.keys(rust)[0];
  for (const [name, vars] of Object.entries(rust)) {
    ports[name] = await freePort();
    workers.push(rustWorker(root, name, owner, script, { ...common, ...vars }, secrets, ports[name]));
  }
  for (const name of js) {
    ports[name] = await freePort();
    const dir = name === "baseline" ? "bench/baseline-js" : "bench/passthrough";
    workers.push(jsWorker(root, name, dir, { ...common, ORIGIN_SIGNING_KEY: secrets.ORIGIN_SIGNING_KEY }, ports[name]));
  }
  const started = performance.now();
  const mf = new Miniflare({
    workers,
    kvPersist: stateDir ? join(stateDir, "kv") : false,
    durableObjectsPersist: stateDir ? join(stateDir, "do") : false,
  });
  await mf.ready;
  const readyMs = performance.now() - started;
  const bases = Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, `http://127.0.0.1:${port}`]));
  return { bases, readyMs, stop: () => mf.dispose() };
}
