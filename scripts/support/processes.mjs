// Starting and stopping local servers for the Node-driven tests and the benchmark:
// wrangler dev (through the one launcher, wrangler-dev.mjs) and the demo origin. Each runs
// in its own process group, so stopping it also stops the workerd processes it spawned.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { freePort, wranglerEnv } from "./wrangler-dev.mjs";

export { freePort };
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs a command with its output in `logFile`, in a process group of its own. */
export function startProcess(root, env, cmd, args, logFile) {
  const child = spawn("bash", ["-c", 'log="$1"; shift; exec "$@" > "$log" 2>&1', "bash", logFile, cmd, ...args], {
    cwd: root, env, detached: true, stdio: "ignore",
  });
  // If this process dies first, take the group down with it.
  const killGroup = () => { try { process.kill(-child.pid, "SIGKILL"); } catch {} };
  process.once("exit", killGroup);
  return {
    child,
    async stop() {
      try { process.kill(-child.pid, "SIGTERM"); } catch {}
      for (let i = 0; i < 100 && child.exitCode === null && child.signalCode === null; i++) await sleep(50);
      killGroup();
      process.removeListener("exit", killGroup);
    },
  };
}

export async function waitForHttp(url, proc, what) {
  for (let i = 0; i < 900; i++) {
    if (proc.child.exitCode !== null) throw new Error(`${what} exited early`);
    try { if ((await fetch(url)).status < 500) return; } catch {}
    await sleep(100);
  }
  throw new Error(`${what} did not start`);
}

/** The demo origin on a free port. */
export async function startOrigin(root, env, logDir, args = []) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = startProcess(root, env, "node", ["scripts/origin.mjs", String(port), ...args], join(logDir, "origin.log"));
  await waitForHttp(url, proc, "the origin");
  return { url, stop: proc.stop };
}

/** `wrangler dev` for one worker config on `stateDir`, with `--var` overrides. */
export async function startWrangler(root, env, { name, config, script, stateDir, vars = {}, logDir, logLevel = "warn" }) {
  const port = await freePort();
  const args = ["scripts/support/wrangler-dev.mjs", "--port", String(port), "--state", stateDir,
    "--log-level", logLevel, "--config", config];
  if (script) args.push("--script", script);
  for (const [key, value] of Object.entries(vars)) args.push("--var", `${key}:${value}`);
  const proc = startProcess(root, wranglerEnv(env), "node", args, join(logDir, `${name}.log`));
  const base = `http://127.0.0.1:${port}`;
  await waitForHttp(`${base}/openapi.json`, proc, `wrangler dev (${name})`);
  return { base, stop: proc.stop };
}
