// Starting and stopping local servers for the Node-driven tests and the benchmark:
// wrangler dev (through the one launcher, wrangler-dev.mjs) and the demo origin. Each runs
// in its own process group, so stopping it also stops the workerd processes it spawned.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { newSigningKey } from "./signing-key.mjs";
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

/**
 * The demo origin on a free port. `args`: `["--jwks", url]` to verify the gate's
 * assertions (the gate's port must be known first), or `["--unsigned"]`.
 */
export async function startOrigin(root, env, logDir, args = ["--unsigned"]) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = startProcess(root, env, "node", ["scripts/origin.mjs", String(port), ...args], join(logDir, "origin.log"));
  await waitForHttp(url, proc, "the origin");
  return { url, stop: proc.stop };
}

/** A dotenv file of secrets for wrangler dev. Values are single-quoted: taken literally. */
export function writeSecrets(path, secrets) {
  const lines = Object.entries(secrets).map(([name, value]) => {
    if (/['\n]/.test(value)) throw new Error(`${name} cannot hold a quote or a newline`);
    return `${name}='${value}'\n`;
  });
  writeFileSync(path, lines.join(""), { mode: 0o600 });
  return path;
}

/**
 * `wrangler dev` for the two Workers on `stateDir`, with `--var` overrides (applied to
 * both) and secrets. Unless `secrets` says otherwise, the Workers get a fresh
 * ORIGIN_SIGNING_KEY, returned as `signingKey` (its public half is what the origin checks
 * against, through the JWKS). `testBuild` runs the test builds (counters, fault injection);
 * `trace` logs each request's way through both Workers (wrangler-dev.mjs --trace).
 * `log` is the path of the log of the start that answered.
 */
export async function startWrangler(root, env, { name, testBuild = false, trace = false, stateDir, vars = {}, secrets, logDir, logLevel = "warn", port }) {
  port ??= await freePort();
  const signingKey = newSigningKey();
  const secretsFile = writeSecrets(join(logDir, `${name}.secrets.env`), {
    ORIGIN_SIGNING_KEY: JSON.stringify(signingKey),
    WEBHOOK_SECRET: randomBytes(32).toString("base64"),
    ...secrets,
  });
  // Each run writes its own pair of configs next to its state (wrangler-dev.mjs).
  const args = ["scripts/support/wrangler-dev.mjs", "--port", String(port), "--state", stateDir,
    "--log-level", logLevel, "--secrets", secretsFile];
  if (testBuild) args.push("--test-build");
  if (trace) args.push("--trace");
  // Management changes are not limited unless a caller sets the limit: the tests and the
  // benchmark make hundreds a minute (the limit has its own test, management_limits.rs).
  const all = { MANAGEMENT_WRITES_PER_MINUTE: "1000000", MANAGEMENT_WRITE_BURST: "1000000", ...vars };
  for (const [key, value] of Object.entries(all)) args.push("--var", `${key}:${value}`);
  const base = `http://127.0.0.1:${port}`;
  // A start that is not serving in 90 s is stopped and tried once more (one of several
  // parallel starts on a loaded CI machine once stayed unready); two failures throw, with
  // the end of wrangler's log in the message.
  for (let attempt = 1; ; attempt++) {
    const log = join(logDir, attempt === 1 ? `${name}.log` : `${name}-${attempt}.log`);
    const proc = startProcess(root, wranglerEnv(env), "node", args, log);
    try {
      await waitForHttp(`${base}/openapi.json`, proc, `wrangler dev (${name})`);
      return { base, port, signingKey, log, stop: proc.stop };
    } catch (error) {
      await proc.stop();
      const tail = logTail(log, 40);
      if (attempt >= 2) throw new Error(`${error.message} (start ${attempt} of 2); see ${log}\n${tail}`);
      console.error(`${error.message} (start ${attempt} of 2); starting it again. End of ${log}:\n${tail}`);
    }
  }
}

function logTail(path, lines) {
  try { return readFileSync(path, "utf8").split("\n").slice(-lines).join("\n"); } catch { return ""; }
}
