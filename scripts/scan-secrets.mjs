// Searches files for anything shaped like an Aero2 key: after the test suite, the
// persisted local state (KV, Durable Object storage) and every log must hold none.
// Hints such as "sk_live_…Qx9a" do not match; a key's value, anywhere, does.
//   node scripts/scan-secrets.mjs DIR...
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

// The key pattern from the README and crates/keys (KEY_PATTERN).
const KEY = /(?<![0-9A-Za-z_])(?:pk_(?:live|test)_[0-9A-Za-z]{38}|sk_(?:live|test)_[0-9A-Za-z]{54})(?![0-9A-Za-z_])/g;
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
    found.push(`${path}: ${match[0].slice(0, 8)}…${match[0].slice(-4)}`);
  }
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
