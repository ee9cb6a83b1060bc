#!/usr/bin/env node
// The one way this project starts `wrangler dev`: both Workers (the gate and the control
// plane) in one workerd, with local KV and Durable Objects. `make dev`, the Node tests, the
// benchmark and the Rust end-to-end harness all run this file, so the flags live in one
// place.
//
//   node scripts/support/wrangler-dev.mjs --port 8787 --state DIR
//        [--test-build | --trace] [--var NAME:VALUE]... [--secrets FILE] [--log-level info]
//        [--inspector-port N]
//
// `wrangler dev -c gate -c control` gives `--var` and `--env-file` to the first Worker only,
// so this writes both Workers' configs afresh for each run (next to DIR, in DIR.config/):
// the committed wrangler.toml files, with every path made absolute, every `--var` applied
// to both (one setting, one value, in both Workers), and the secrets in a `.dev.vars` that
// both read. `--test-build` runs the test builds: the gate's test host
// (crates/gate/js/test-worker.mjs) and the control plane's fault-injection bundle.
// `--trace` runs the release builds through trace-gate.mjs and trace-control.mjs, which
// log each request's way through both Workers (the dashboard tests use it).
//
// It replaces itself with wrangler (same process group, same output), so stopping the
// group stops wrangler and workerd too.
import { spawn } from "node:child_process";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
export const GATE_CONFIG = join(root, "wrangler.toml");
export const CONTROL_CONFIG = join(root, "crates/control/wrangler.toml");

/** Reads a committed wrangler config as wrangler itself does. */
async function readConfig(path) {
  const { experimental_readRawConfig } = await import("wrangler");
  return structuredClone(experimental_readRawConfig({ config: path }).rawConfig);
}

/**
 * Writes the two Workers' configs for one run into `dir` and returns their paths.
 * `vars` override both configs' `[vars]`; `secrets` (a dotenv file) is copied to
 * `dir/.dev.vars`, which both Workers read.
 */
export async function writeConfigs({ dir, vars = {}, secrets, testBuild = false, trace = false }) {
  mkdirSync(dir, { recursive: true });
  const gate = await readConfig(GATE_CONFIG);
  const control = await readConfig(CONTROL_CONFIG);
  if (testBuild && trace) throw new Error("--trace traces the release builds, not the test builds");
  gate.main = join(root, testBuild ? "crates/gate/js/test-worker.mjs"
    : trace ? "scripts/support/trace-gate.mjs" : "crates/gate/js/worker.mjs");
  gate.assets = { ...gate.assets, directory: resolve(dirname(GATE_CONFIG), gate.assets.directory) };
  control.main = testBuild ? join(root, "crates/control/build-fault-injection/index.js")
    : trace ? join(root, "scripts/support/trace-control.mjs") : join(root, "crates/control/build/index.js");
  for (const config of [gate, control]) {
    delete config.build; // built already (scripts/build-worker.sh)
    config.vars = { ...config.vars, ...vars };
  }
  const gatePath = join(dir, "gate.json");
  const controlPath = join(dir, "control.json");
  writeFileSync(gatePath, JSON.stringify(gate, null, 1));
  writeFileSync(controlPath, JSON.stringify(control, null, 1));
  if (secrets) copyFileSync(secrets, join(dir, ".dev.vars"));
  else writeFileSync(join(dir, ".dev.vars"), "");
  return { gate: gatePath, control: controlPath };
}

/** The arguments of `wrangler dev` for the two Workers. */
export function wranglerDevArgs({ port, inspectorPort, stateDir, configs, logLevel = "info" }) {
  return ["dev", "-c", configs.gate, "-c", configs.control, "--ip", "127.0.0.1", "--port", String(port),
    "--inspector-port", String(inspectorPort), "--persist-to", stateDir, "--log-level", logLevel];
}

/** The environment wrangler runs with: no telemetry, no `cf` fetch, the bundles built. */
export function wranglerEnv(env = process.env) {
  return { ...env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", AERO2_SKIP_BUILD: env.AERO2_SKIP_BUILD ?? "1" };
}

export function freePort() {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function parse(argv) {
  const options = { vars: {}, testBuild: false, trace: false };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (flag === "--test-build") { options.testBuild = true; i--; continue; }
    if (flag === "--trace") { options.trace = true; i--; continue; }
    if (value === undefined) throw new Error(`${flag} needs a value`);
    switch (flag) {
      case "--port": options.port = Number(value); break;
      case "--inspector-port": options.inspectorPort = Number(value); break;
      case "--state": options.stateDir = value; break;
      case "--log-level": options.logLevel = value; break;
      case "--secrets": options.secrets = value; break;
      case "--var": {
        const at = value.indexOf(":");
        if (at < 1) throw new Error(`--var takes NAME:VALUE, got ${value}`);
        options.vars[value.slice(0, at)] = value.slice(at + 1);
        break;
      }
      default: throw new Error(`unknown option ${flag}`);
    }
  }
  if (!options.port || !options.stateDir) throw new Error("--port and --state are required");
  return options;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  let options;
  try { options = parse(process.argv.slice(2)); } catch (error) {
    console.error(`wrangler-dev: ${error.message}`);
    process.exit(2);
  }
  options.inspectorPort ??= await freePort();
  const configs = await writeConfigs({
    dir: `${resolve(options.stateDir)}.config`, vars: options.vars, secrets: options.secrets, testBuild: options.testBuild,
    trace: options.trace,
  });
  const child = spawn(join(root, "node_modules/.bin/wrangler"), wranglerDevArgs({ ...options, configs }), {
    cwd: root, env: wranglerEnv(), stdio: "inherit",
  });
  for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
  child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}
