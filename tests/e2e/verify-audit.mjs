// An audit log verifier that shares no code with the product: what a customer's security
// team would write, with a standard JCS library (canonicalize, RFC 8785) and a standard JOSE
// library (jose). It checks an export (JSON Lines) against a signed checkpoint:
//
//   node tests/e2e/verify-audit.mjs <export.jsonl> <checkpoint JWS> <JWKS URL>
//
// hash = hex(SHA-256(bytes(prev_hash) ‖ UTF-8(JCS(entry without "hash")))), the first
// entry's prev_hash is 64 zeros, seq goes up by one, and the last entry is the
// checkpoint's seq and hash. Exits 0 and prints what it verified, or exits 1 with why not.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import canonicalize from "canonicalize";
import { createRemoteJWKSet, jwtVerify } from "jose";

const [file, token, jwksUrl] = process.argv.slice(2);
const fail = (why) => { console.error(`not verified: ${why}`); process.exit(1); };
if (!file || !token || !jwksUrl) fail("usage: verify-audit.mjs <export.jsonl> <checkpoint> <jwks url>");

let checkpoint;
try {
  ({ payload: checkpoint } = await jwtVerify(token, createRemoteJWKSet(new URL(jwksUrl)), {
    typ: "aero2-checkpoint+jwt", algorithms: ["EdDSA"],
  }));
} catch (error) { fail(`the checkpoint's signature: ${error.message}`); }

let previous = null;
let count = 0;
for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
  if (!line) continue;
  const { hash, ...entry } = JSON.parse(line);
  if (previous) {
    if (entry.seq !== previous.seq + 1) fail(`entry ${entry.seq} does not follow ${previous.seq}`);
    if (entry.prev_hash !== previous.hash) fail(`entry ${entry.seq} does not name the previous hash`);
  } else if (entry.seq === 1 && entry.prev_hash !== "0".repeat(64)) {
    fail("the first entry does not start the chain");
  }
  const digest = createHash("sha256")
    .update(Buffer.from(entry.prev_hash, "hex"))
    .update(canonicalize(entry), "utf8")
    .digest("hex");
  if (digest !== hash) fail(`entry ${entry.seq} does not match its hash`);
  previous = { seq: entry.seq, hash };
  count++;
}
if (!previous) fail("the export is empty");
if (previous.seq !== checkpoint.seq || previous.hash !== checkpoint.hash) {
  fail(`the export ends at ${previous.seq}, the checkpoint names ${checkpoint.seq}`);
}
console.log(`verified ${count} entries up to seq ${previous.seq} of ${checkpoint.app}, signed by ${checkpoint.iss}`);
