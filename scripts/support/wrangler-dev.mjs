#!/usr/bin/env node
// The one way this project starts `wrangler dev`: the worker in workerd with local KV and
// Durable Objects. `make dev`, the Node tests, the benchmark and the Rust end-to-end
// harness all run this file, so the flags live in one place.
//
//   node scripts/support/wrangler-dev.mjs --port 8787 --state DIR
//        [--config wrangler.toml] [--script crates/edge/build-x/index.js]
//        [--var NAME:VALUE]... [--secrets FILE] [--log-level info] [--inspector-port N]
//
// Secrets (ADMIN_TOKEN, ORIGIN_SIGNING_KEY) go in a dotenv file (--secrets), which
// wrangler shows as hidden, never on the command line where --var would print them.
//
// It replaces itself with wrangler (same process group, same output), so stopping the
// group stops wrangler and workerd too.
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "../..");

/** The arguments of `wrangler dev` for one worker. */
export function wranglerDevArgs({ port, inspectorPort, stateDir, config = "wrangler.toml", script, vars = {}, secrets, logLevel = "info" }) {
  // The script comes first: --env-file takes several values, and would swallow it.
  const args = ["dev", ...(script ? [script] : []), "--ip", "127.0.0.1", "--port", String(port),
    "--inspector-port", String(inspectorPort), "--persist-to", stateDir, "--log-level", logLevel, "-c", config];
  if (secrets) args.push(`--env-file=${secrets}`);
  for (const [name, value] of Object.entries(vars)) args.push("--var", `${name}:${value}`);
  return args;
}

/** The environment wrangler runs with: no telemetry, and the bundle already built. */
export function wranglerEnv(env = process.env) {
  return { ...env, WRANGLER_SEND_METRICS: "false", AERO2_SKIP_BUILD: env.AERO2_SKIP_BUILD ?? "1" };
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
  const options = { vars: {} };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    switch (flag) {
      case "--port": options.port = Number(value); break;
      case "--inspector-port": options.inspectorPort = Number(value); break;
      case "--state": options.stateDir = value; break;
      case "--config": options.config = value; break;
      case "--script": options.script = value; break;
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
  const child = spawn(join(root, "node_modules/.bin/wrangler"), wranglerDevArgs(options), {
    cwd: root, env: wranglerEnv(), stdio: "inherit",
  });
  for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
  child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}
