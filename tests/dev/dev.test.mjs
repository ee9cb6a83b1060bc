// `make dev`, the README's first command, as a newcomer runs it: it starts, seeds a demo
// application, and prints where to go and what to try. The banner's "Try it" lines are run
// as printed, and the demo's secret key must appear in none of its output.
//
// It runs scripts/dev.sh in a directory of its own (AERO2_DEV_DIR, outside the project, so
// that the demo's keys file, which holds the keys, is not among the logs the secrets scan
// reads) on free ports, with the bundles `make test` built (AERO2_SKIP_BUILD).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { root } from "../../scripts/support/browser.mjs";
import { freePort, sleep, startProcess } from "../../scripts/support/processes.mjs";

const devDir = mkdtempSync(join(tmpdir(), "aero2-dev-"));
// What make dev printed (its standard output and error).
const devOutput = join(devDir, "make-dev.log");
let dev, port, originPort;

/** Everything make dev has printed, once it has printed its banner (whose last line is
 *  "Press Ctrl-C to stop."). */
async function printed() {
  let output = "";
  for (let i = 0; i < 1800 && !output.includes("Press Ctrl-C to stop."); i++) {
    if (dev.child.exitCode !== null) throw new Error(`make dev exited (${dev.child.exitCode}):\n${output.slice(-3000)}`);
    await sleep(100);
    try { output = readFileSync(devOutput, "utf8"); } catch { /* not created yet */ }
  }
  assert.match(output, /Press Ctrl-C to stop\./, `no banner within 180 s:\n${output.slice(-3000)}`);
  return output;
}

before(async () => {
  port = await freePort();
  do originPort = await freePort(); while (originPort === port);
  const env = { ...process.env, AERO2_DEV_DIR: devDir, AERO2_SKIP_BUILD: "1", PORT: String(port), ORIGIN_PORT: String(originPort) };
  dev = startProcess(root, env, "bash", ["scripts/dev.sh"], devOutput);
});

after(async () => {
  await dev?.stop();
  rmSync(devDir, { recursive: true, force: true });
});

test("make dev prints where to go, and the demo's secret key only as its hint", async () => {
  const output = await printed();
  const shown = output.slice(output.indexOf("Aero2 Keys is running locally."));
  const demo = JSON.parse(readFileSync(join(devDir, "demo-application.json"), "utf8"));
  assert.equal(statSync(join(devDir, "demo-application.json")).mode & 0o777, 0o600, "the keys file is the owner's only");
  const secret = demo.keys.find((k) => k.kind === "secret");
  const publishable = demo.keys.find((k) => k.kind === "publishable");
  assert.match(secret.value, /^sk_test_/);
  for (const log of [output, readFileSync(join(devDir, "dev.log"), "utf8"), readFileSync(join(devDir, "origin.log"), "utf8")]) {
    assert.equal(log.includes(secret.value), false, "the secret key appears in make dev's output or logs");
  }
  const says = (label, value) => assert.match(shown, new RegExp(`${label}:\\s+${value.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\s`));
  says("Secret key", secret.hint);
  says("Publishable key", publishable.value);
  says("Dashboard", `http://localhost:${port}/dashboard/`);
  says("Demo application", demo.application.id);

  // The "Try it" lines, run as printed: the first sets AERO2_SECRET_KEY from the file.
  const tryIt = shown.slice(shown.indexOf("Try it"), shown.indexOf("The command line")).split("\n").slice(1)
    .map((line) => line.trim()).filter(Boolean);
  assert.equal(tryIt.length, 6, tryIt.join("\n"));
  assert.match(tryIt[0], /^export AERO2_SECRET_KEY="\$\(node -p /);
  const script = [tryIt[0], 'printf "%s\\n" "${#AERO2_SECRET_KEY}"',
    ...tryIt.slice(1).map((line) => `${line.replace(/\s+#.*$/, "")} -o /dev/null -w "%{http_code}\\n"`)].join("\n");
  const run = spawnSync("bash", ["-c", script], { cwd: tmpdir(), encoding: "utf8" });
  assert.equal(run.status, 0, run.stderr);
  // The key's length, then: session (publishable) 200, /v1/users 200, /v1/keys 200,
  // /v1/users with the publishable key 403, a malformed key 401.
  assert.deepEqual(run.stdout.trim().split("\n"), [String(secret.value.length), "200", "200", "200", "403", "401"]);
});

test("make dev stops everything it started when it is told to stop", async () => {
  await printed();
  // SIGTERM only (dev.stop() would follow it with SIGKILL): make dev must stop on it alone.
  process.kill(-dev.child.pid, "SIGTERM");
  for (let i = 0; i < 150 && dev.child.exitCode === null && dev.child.signalCode === null; i++) await sleep(100);
  assert.ok(dev.child.exitCode !== null || dev.child.signalCode !== null, "make dev is still running");
  for (const p of [port, originPort]) {
    let free = false;
    for (let i = 0; i < 50 && !free; i++) {
      free = await fetch(`http://127.0.0.1:${p}/`).then(() => false, () => true);
      if (!free) await sleep(100);
    }
    assert.ok(free, `port ${p} still answers`);
  }
});
