// Searches files for anything shaped like an Aero2 key: after the test suite, the
// persisted local state (KV, Durable Object storage) and every log must hold none.
// Hints such as "sk_live_…Qx9a" do not match; a key's value, anywhere, does.
//   node scripts/scan-secrets.mjs DIR...
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

// The key pattern is the core's KEY_PATTERN, printed by its example, never a copy. Its
// `\b` means the same in JavaScript (an ASCII word boundary): every key character is
// [0-9A-Za-z_].
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pattern = execFileSync("cargo", ["run", "-q", "-p", "aero2-keys", "--example", "key_pattern"], {
  cwd: root, env: { ...process.env, PATH: `${process.env.HOME}/.cargo/bin:${process.env.PATH}` },
}).toString().trim();
const KEY = new RegExp(pattern, "g");
const MAX_FILE_BYTES = 64 * 1024 * 1024;
let files = 0, bytes = 0;
const found = [];

function walk(path) {
  let info;
  try { info = statSync(path); } catch { return; }
  if (info.isDirectory()) {
    for (const entry of readdirSync(path)) walk(join(path, entry));
    return;
  }
  if (!info.isFile() || info.size > MAX_FILE_BYTES) return;
  const text = readFileSync(path).toString("latin1");
  files++;
  bytes += info.size;
  for (const match of text.matchAll(KEY)) {
    if (refusedRequestLine(text, match.index)) continue;
    found.push(`${path}: ${match[0].slice(0, 8)}…${match[0].slice(-4)}`);
  }
}

/**
 * The one place a key may appear: wrangler dev's own access log of a request the gate
 * refused with 400 because the client put the key in its URL (boundaries.rs sends a
 * secret key in the path on purpose; `secret_key_outside_authorization`). That line is the
 * client's request as the server received it, which no Worker can keep out of its
 * platform's request log; the README tells whoever did it to rotate the key.
 */
function refusedRequestLine(text, at) {
  const start = text.lastIndexOf("\n", at) + 1;
  const end = text.indexOf("\n", at);
  const line = text.slice(start, end === -1 ? text.length : end);
  return /^\[wrangler:info\] [A-Z]+ \/\S* 400 Bad Request \(\d+ms\)$/.test(line.trim())
    && line.indexOf(" 400 ") > at - start;
}

const dirs = process.argv.slice(2);
if (!dirs.length) {
  console.error("usage: node scripts/scan-secrets.mjs DIR...");
  process.exit(2);
}
dirs.forEach(walk);
if (files === 0) {
  console.error(`scan-secrets: no files under ${dirs.join(", ")}; nothing was scanned`);
  process.exit(1);
}
if (found.length) {
  console.error(`scan-secrets: ${found.length} key(s) found in state or logs:\n  ${found.join("\n  ")}`);
  process.exit(1);
}
console.log(`scan-secrets: ${files} files, ${(bytes / 1048576).toFixed(1)} MiB of state and logs, no key found`);
