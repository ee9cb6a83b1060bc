#!/usr/bin/env node
// Prints a new Ed25519 private JWK with a `kid`, the form ORIGIN_SIGNING_KEY takes (what
// jose's exportJWK writes, plus kid). `make dev` and the tests use it when no key is set.
//   node scripts/support/signing-key.mjs            the private JWK, one line of JSON
//   node scripts/support/signing-key.mjs --public   reads a private JWK on stdin, prints its public JWK
import { createPrivateKey, generateKeyPairSync, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";

export function newSigningKey() {
  const { privateKey } = generateKeyPairSync("ed25519");
  const jwk = privateKey.export({ format: "jwk" });
  return { ...jwk, kid: `gate-${randomBytes(6).toString("hex")}` };
}

export function publicJwk(privateJwk) {
  const { kty, crv, x, kid } = privateJwk;
  return { kty, crv, x, kid, alg: "EdDSA", use: "sig" };
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  if (process.argv.includes("--public")) {
    const jwk = JSON.parse(readFileSync(0, "utf8"));
    createPrivateKey({ key: jwk, format: "jwk" }); // refuses anything that is not a key
    console.log(JSON.stringify(publicJwk(jwk)));
  } else {
    console.log(JSON.stringify(newSigningKey()));
  }
}
