// The acceptance test: `npm pack` of the package, installed into a fresh project outside
// the repository (offline: its one dependency, jose, and hono for the middleware's types,
// come from this repository's node_modules), verifies real assertions from the gate from
// TypeScript in strict mode (type-checked with tsc, nodenext resolution), run as ESM and
// as CommonJS.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createApplication, root, startGate, startOrigin, throughGate } from "../test-support/gate.mjs";

const require = createRequire(import.meta.url);
const packageDir = join(root, "packages/origin");
const tsc = require.resolve("typescript/bin/tsc");
let gate, origin, app, project, packed;

function run(cmd, args, options = {}) {
  return execFileSync(cmd, args, { cwd: project, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], ...options });
}

describe("the packed package in a fresh TypeScript project", () => {
  before(async () => {
    origin = await startOrigin();
    gate = await startGate({ name: "origin-package-packed", originUrl: origin.url });
    app = await createApplication(gate, "Packed");

    const work = mkdtempSync(join(tmpdir(), "aero2-origin-"));
    packed = JSON.parse(execFileSync("npm", ["pack", packageDir, "--pack-destination", work, "--json"], { cwd: work, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }))[0];
    project = join(work, "app");
    mkdirSync(join(project, "src"), { recursive: true });
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", private: true }));
    const installed = (name) => { const entry = require.resolve(name); return entry.slice(0, entry.lastIndexOf(`/node_modules/${name}/`) + `/node_modules/${name}`.length); };
    const [jose, hono] = [installed("jose"), installed("hono")];
    run("npm", ["install", "--offline", "--install-links", "--no-audit", "--no-fund", join(work, packed.filename), jose, hono]);
  });

  after(async () => {
    await gate?.stop();
    await origin?.close();
  });

  test("the tarball holds the builds, their types and the README, and no install script", () => {
    const files = packed.files.map((f) => f.path).sort();
    for (const file of ["README.md", "package.json", "dist/esm/index.js", "dist/esm/index.d.ts", "dist/cjs/index.js", "dist/cjs/index.d.ts", "dist/cjs/package.json", "dist/esm/express.js", "dist/cjs/hono.d.ts"]) {
      assert.ok(files.includes(file), `${file} is missing from the tarball`);
    }
    assert.deepEqual(files.filter((f) => !f.startsWith("dist/") && !["README.md", "package.json"].includes(f)), []);
    const manifest = JSON.parse(run("node", ["-p", "JSON.stringify(require('@aero2/origin/package.json'))"]));
    for (const script of ["preinstall", "install", "postinstall", "prepare"]) assert.equal(manifest.scripts?.[script], undefined, script);
    assert.deepEqual(Object.keys(manifest.dependencies), ["jose"]);
    // Each condition resolves to its own build.
    assert.match(run("node", ["-p", "require.resolve('@aero2/origin')"]), /dist\/cjs\/index\.js$/m);
    assert.match(run("node", ["--input-type=module", "-e", "console.log(import.meta.resolve('@aero2/origin/hono'))"]), /dist\/esm\/hono\.js$/m);
  });

  test("verifies real assertions from the gate: strict TypeScript, ESM and CommonJS", async () => {
    const tokens = {};
    for (const name of ["esm", "hono", "cjs"]) {
      const target = `/v1/packed/${name}?n=1`;
      const res = await throughGate(gate, app, target);
      assert.equal(res.status, 200);
      tokens[name] = { target, token: (await res.json()).headers["x-aero2-assertion"] };
      assert.ok(tokens[name].token);
    }
    const config = JSON.stringify({ jwksUrl: gate.jwksUrl, issuer: gate.issuer, audience: origin.url, tokens });

    writeFileSync(join(project, "tsconfig.json"), JSON.stringify({
      compilerOptions: {
        strict: true, exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true, skipLibCheck: false,
        module: "nodenext", moduleResolution: "nodenext", target: "es2022", lib: ["es2022", "dom"], types: [],
        rootDir: "src", outDir: "out",
      },
      include: ["src"],
    }));
    writeFileSync(join(project, "src/esm.mts"), `
import { Aero2AssertionError, createVerifier, isAero2AssertionError, type Aero2AssertionReason, type Aero2Claims, type VerifierOptions } from "@aero2/origin";
import { aero2Express } from "@aero2/origin/express";
import { aero2Hono, type Aero2Env } from "@aero2/origin/hono";
import { Hono } from "hono";

const config = ${config};
const options: VerifierOptions = { jwksUrl: config.jwksUrl, issuer: config.issuer, audience: config.audience };
const verify = createVerifier(options);
const request = () => new Request(config.audience + config.tokens.esm.target, { headers: { "x-aero2-assertion": config.tokens.esm.token } });
const claims: Aero2Claims = await verify(request());
let replay: Aero2AssertionReason | undefined;
try {
  await verify(request());
} catch (error) {
  if (error instanceof Aero2AssertionError && isAero2AssertionError(error)) replay = error.reason;
}
// Mistakes the types catch (never run):
export function mistakes(): void {
  // @ts-expect-error: the audience is a string or strings
  createVerifier({ ...options, audience: 42 });
  // @ts-expect-error: no such claim
  void claims.nope;
  // @ts-expect-error: no such reason
  const reason: Aero2AssertionReason = "nope";
  void reason;
  // @ts-expect-error: a verifier takes a Request, not a URL
  void verify("https://api.example/");
}

const app = new Hono<Aero2Env>();
app.use(aero2Hono(options));
app.get("*", (c) => c.json({ sub: c.get("aero2").sub, kid: c.get("aero2").kid }));
const res = await app.request(config.audience + config.tokens.hono.target, { headers: { "x-aero2-assertion": config.tokens.hono.token } });
const express: (req: { headers: Record<string, string | undefined>; method: string; url: string }, res: { statusCode: number; setHeader(n: string, v: string): void; end(b: string): void }, next: () => void) => void = aero2Express(verify);
console.log(JSON.stringify({ claims, replay, hono: { status: res.status, body: await res.json() }, express: typeof express }));
`);
    writeFileSync(join(project, "src/cjs.cts"), `
import { Aero2AssertionError, createVerifier, type Aero2Claims } from "@aero2/origin";
import { aero2Express } from "@aero2/origin/express";

const config = ${config};
async function main(): Promise<void> {
  const verify = createVerifier({ jwksUrl: config.jwksUrl, issuer: config.issuer, audience: config.audience });
  const parts = { method: "GET", target: config.tokens.cjs.target, headers: { "x-aero2-assertion": config.tokens.cjs.token } };
  const claims: Aero2Claims = await verify.verifyParts(parts);
  let wrongMethod: string | undefined;
  try {
    await verify.verifyParts({ ...parts, method: "POST" });
  } catch (error) {
    if (error instanceof Aero2AssertionError) wrongMethod = error.reason;
  }
  console.log(JSON.stringify({ claims, wrongMethod, express: typeof aero2Express }));
}
void main();
`);
    const checked = (() => {
      try {
        return run("node", [tsc, "-p", "tsconfig.json"]);
      } catch (error) {
        assert.fail(`tsc failed:\n${error.stdout}${error.stderr}`);
      }
    })();
    assert.equal(checked, "");

    const esm = JSON.parse(run("node", ["out/esm.mjs"]));
    assert.equal(esm.claims.sub, app.secretId);
    assert.equal(esm.claims.app, app.id);
    assert.equal(esm.claims.htu, "/v1/packed/esm?n=1");
    assert.equal(esm.claims.kid, gate.signingKey.kid);
    assert.equal(esm.replay, "replayed");
    assert.deepEqual(esm.hono, { status: 200, body: { sub: app.secretId, kid: gate.signingKey.kid } });
    assert.equal(esm.express, "function");

    const cjs = JSON.parse(run("node", ["out/cjs.cjs"]));
    assert.equal(cjs.claims.sub, app.secretId);
    assert.equal(cjs.claims.htu, "/v1/packed/cjs?n=1");
    assert.equal(cjs.wrongMethod, "wrong_method");
    assert.equal(cjs.express, "function");
    // The compiled CommonJS really requires the package.
    assert.match(run("node", ["-e", "process.stdout.write(require('fs').readFileSync('out/cjs.cjs','utf8'))"]), /require\("@aero2\/origin"\)/);
  });
});
