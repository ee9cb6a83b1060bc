// The npm package as a user gets it: packed, installed from the tarball, imported by name.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { test } from "node:test";
import { installPackedPackage, mintKeys } from "../../scripts/support/browser.mjs";

const keys = mintKeys();
const { project, installed } = installPackedPackage();

function runInConsumer(source) {
  writeFileSync(join(project, "check.mjs"), source);
  return JSON.parse(execFileSync("node", ["check.mjs"], { cwd: project }).toString());
}

test("an installed package parses real publishable keys from the core crate", () => {
  const result = runInConsumer(`
    import { parsePublishableKey, isPublishableKey } from "@aero2/keys";
    const keys = ${JSON.stringify(keys)};
    console.log(JSON.stringify({
      live: parsePublishableKey(keys.publishable_live),
      test: parsePublishableKey(keys.publishable_test),
      isPk: [isPublishableKey(keys.publishable_live), isPublishableKey(keys.secret_live),
             isPublishableKey("nope"), isPublishableKey(undefined), isPublishableKey(42), isPublishableKey({})],
    }));
  `);
  assert.deepEqual(result.live, { applicationId: keys.live_application_id, environment: "live" });
  assert.deepEqual(result.test, { applicationId: keys.test_application_id, environment: "test" });
  assert.deepEqual(result.isPk, [true, false, false, false, false, false]);
});

test("errors carry stable codes and never the key", () => {
  const typo = keys.publishable_live.slice(0, 20) + (keys.publishable_live[20] === "x" ? "y" : "x") + keys.publishable_live.slice(21);
  const result = runInConsumer(`
    import { parsePublishableKey } from "@aero2/keys";
    const attempt = (value) => { try { parsePublishableKey(value); return null; }
      catch (e) { return { name: e.name, code: e.code, message: e.message, isError: e instanceof Error }; } };
    console.log(JSON.stringify({
      secret: attempt(${JSON.stringify(keys.secret_live)}),
      typo: attempt(${JSON.stringify(typo)}),
      empty: attempt(""),
      number: attempt(7),
      huge: attempt("pk_live_" + "a".repeat(2_000_000)),
      unicode: attempt("pk_live_" + "а".repeat(38)),
    }));
  `);
  assert.equal(result.secret.code, "secret_key_exposed");
  assert.equal(result.secret.name, "Aero2KeyError");
  assert.ok(result.secret.isError);
  assert.match(result.secret.message, /revoke/i);
  assert.match(result.secret.message, /rotate/i);
  const secret = keys.secret_live;
  assert.ok(result.secret.message.includes(`sk_live_…${secret.slice(-4)}`), result.secret.message);
  assert.ok(!result.secret.message.includes(secret.slice(8, 58)), "the error must not contain the key");
  assert.equal(result.typo.code, "bad_checksum");
  assert.equal(result.empty.code, "malformed_key");
  assert.equal(result.number.code, "malformed_key");
  assert.equal(result.huge.code, "malformed_key");
  assert.equal(result.unicode.code, "malformed_key");
});

test("the wasm only parses: no randomness, no hashing, no worker code", async () => {
  const { wasmBase64 } = await import(join(installed, "aero2_keys_wasm.js"));
  const bytes = Buffer.from(wasmBase64, "base64");
  const module = new WebAssembly.Module(bytes);
  const imports = WebAssembly.Module.imports(module).map((i) => `${i.module}:${i.name}`);
  const exports = WebAssembly.Module.exports(module).map((e) => e.name);
  for (const entry of imports) {
    // wasm-bindgen's own glue, and the two object builders in the crate's inline JavaScript.
    assert.match(entry, /^(\.\/aero2_keys_bg\.js:__(wbg_|wbindgen_)|\.\/snippets\/[\w-]+\/inline0\.js:(keyInfo|keyError)$)/, `unexpected import ${entry}`);
    assert.doesNotMatch(entry, /random|crypto|getRandomValues|fetch|digest/i, `forbidden import ${entry}`);
  }
  const api = exports.filter((name) => !name.startsWith("__") && name !== "memory");
  assert.deepEqual(api.sort(), ["applicationIdPrefix", "parsePublishableKey", "publishableKeyLayout"]);
  // SHA-256's first round constants (0x428a2f98, 0x71374491), as stored little-endian.
  assert.equal(bytes.indexOf(Buffer.from([0x98, 0x2f, 0x8a, 0x42, 0x91, 0x44, 0x37, 0x71])), -1, "SHA-256 is linked in");
  const glue = readFileSync(join(installed, "index.js"), "utf8");
  assert.doesNotMatch(glue, /getRandomValues|crypto\.subtle|fetch\(/);
});

test("the whole package is at most 10 KB gzipped", () => {
  const files = ["index.js", "aero2_keys_wasm.js"];
  const gzipped = files.reduce((sum, f) => sum + gzipSync(readFileSync(join(installed, f)), { level: 9 }).length, 0);
  console.log(`package: ${gzipped} bytes gzipped`);
  assert.ok(gzipped <= 10 * 1024, `${gzipped} bytes gzipped`);
});
