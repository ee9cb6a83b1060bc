// The verifier against tokens made here as the gate makes them, and bent the ways an
// attacker would bend them. The JWK Set comes from a fake fetch that counts its calls.
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { describe, mock, test } from "node:test";
import { Aero2AssertionError, createVerifier, isAero2AssertionError, MemoryReplayCache, targetOf } from "@aero2/origin";
import { AUDIENCE, b64, claimsFor, forwarded, ISSUER, JWKS_URL, jwksServer, newKey, refusal, sign } from "../test-support/helpers.mjs";

const key = await newKey();

function setup(options = {}, keys = [key.jwk]) {
  const server = jwksServer(keys);
  const verify = createVerifier({ jwksUrl: JWKS_URL, issuer: ISSUER, audience: AUDIENCE, fetch: server.fetch, ...options });
  return { server, verify };
}

/** Asserts that verifying `request` is refused for `reason`, and that the error says nothing of the token. */
async function refused(verify, request, reason, token) {
  const error = await refusal(() => verify(request));
  assert.ok(error instanceof Aero2AssertionError, `not an Aero2AssertionError: ${error}`);
  assert.ok(isAero2AssertionError(error));
  assert.equal(error.reason, reason, error.message);
  assert.equal(error.name, "Aero2AssertionError");
  assert.equal(error.status, reason === "jwks_unavailable" || reason === "replay_cache_full" ? 503 : 401);
  assert.match(error.message, new RegExp(`^X-Aero2-Assertion refused \\(${reason}\\): `));
  if (token) {
    for (const part of token.split(".").filter((p) => p.length >= 8)) {
      assert.ok(!error.message.includes(part), `the message holds part of the token: ${error.message}`);
      assert.ok(!String(error.stack).includes(part), "the stack holds part of the token");
      assert.ok(!JSON.stringify(error).includes(part), "the serialised error holds part of the token");
    }
  }
  return error;
}

describe("a genuine assertion", () => {
  test("is accepted once, with its claims and kid", async () => {
    const { verify, server } = setup();
    const claims = claimsFor();
    const token = await sign(key, claims);
    const verified = await verify(forwarded(token));
    assert.deepEqual(verified, { ...claims, kid: key.kid });
    assert.equal(server.fetches, 1);
    await refused(verify, forwarded(token), "replayed", token);
    // Other tokens still pass, with no new fetch of the keys.
    await verify(forwarded(await sign(key, claimsFor())));
    assert.equal(server.fetches, 1);
  });

  test("is accepted as request parts: the target exactly as received", async () => {
    const { verify } = setup();
    const token = await sign(key, claimsFor({ method: "POST", target: "/v1/a%2Bb?x=%22y%22&z" }));
    const claims = await verify.verifyParts({ method: "POST", target: "/v1/a%2Bb?x=%22y%22&z", headers: { "x-aero2-assertion": token } });
    assert.equal(claims.htu, "/v1/a%2Bb?x=%22y%22&z");
  });

  test("keeps an empty query's question mark, as the gate signs it", async () => {
    assert.equal(targetOf("https://api.example/p?"), "/p?");
    assert.equal(targetOf("https://api.example/p?#frag"), "/p?");
    assert.equal(targetOf("https://api.example/p#a?b"), "/p");
    assert.equal(targetOf("https://api.example/p?a=1#x"), "/p?a=1");
    const { verify } = setup();
    await verify(forwarded(await sign(key, claimsFor({ target: "/p?" })), { target: "/p?" }));
    await refused(verify, forwarded(await sign(key, claimsFor({ target: "/p?" })), { target: "/p" }), "wrong_target");
  });

  test("matches identity headers the gate sent, and refuses ones that disagree", async () => {
    const { verify } = setup();
    const claims = claimsFor();
    const headers = { "x-aero2-key-id": claims.sub, "x-aero2-application-id": claims.app, "x-aero2-environment": "live", "x-aero2-key-kind": "secret" };
    await verify(forwarded(await sign(key, claims), { headers }));
    for (const [name, value] of [["x-aero2-key-id", "key_CCCCCCCCCCCCCCCC"], ["x-aero2-application-id", "app_X"], ["x-aero2-environment", "test"], ["x-aero2-key-kind", "publishable"]]) {
      await refused(verify, forwarded(await sign(key, claimsFor()), { headers: { ...headers, [name]: value } }), "header_mismatch");
    }
    const lenient = setup({ checkIdentityHeaders: false }).verify;
    await lenient(forwarded(await sign(key, claimsFor()), { headers: { "x-aero2-key-kind": "publishable" } }));
  });

  test("accepts any one of several audiences", async () => {
    const { verify } = setup({ audience: ["https://test-api.example", AUDIENCE] });
    await verify(forwarded(await sign(key, claimsFor())));
  });
});

describe("refused", () => {
  test("without the header, or with an empty one", async () => {
    const { verify, server } = setup();
    await refused(verify, forwarded(undefined), "missing");
    await refused(verify, forwarded(""), "missing");
    assert.equal(server.fetches, 0, "no key fetch for a request without a token");
  });

  test("when it is not a compact JWS of the assertion's shape", async () => {
    const { verify } = setup();
    const header = b64({ alg: "EdDSA", kid: key.kid, typ: "aero2-assertion+jwt" });
    for (const token of ["abc", "a.b", "a.b.c.d", `${header}.e30.a+b`, `${header}.e30.AA==`, "!!!.e30.AAAA",
      `${b64("not json")}.e30.AAAA`, `${b64("[1]")}.e30.AAAA`, `${b64("null")}.e30.AAAA`, `${header}..AAAA`, `${header}.e30.`,
      `${b64({ alg: "EdDSA", typ: "aero2-assertion+jwt" })}.e30.AAAA`, `${b64({ alg: "EdDSA", kid: 7, typ: "aero2-assertion+jwt" })}.e30.AAAA`,
      `${b64({ alg: "EdDSA", kid: key.kid, typ: "aero2-assertion+jwt", crit: ["exp"], exp: 1 })}.e30.AAAA`,
      `${b64({ alg: "EdDSA", kid: key.kid, typ: "aero2-assertion+jwt", b64: false, crit: ["b64"] })}.e30.AAAA`,
      "two, tokens"]) {
      await refused(verify, forwarded(token), "malformed", token);
    }
  });

  test("when the signed claims are not the assertion's", async () => {
    const { verify } = setup();
    const good = claimsFor();
    const cases = [
      "not json", "[]", "null",
      { ...good, sub: undefined }, { ...good, jti: 7 }, { ...good, aud: [AUDIENCE] }, { ...good, htu: null },
      { ...good, iat: good.iat + 0.5 }, { ...good, exp: String(good.exp) }, { ...good, exp: undefined },
      { ...good, exp: good.iat }, { ...good, exp: good.iat - 1 },
    ];
    for (const claims of cases) {
      const token = await sign(key, claims);
      await refused(verify, forwarded(token), "malformed", token);
    }
  });

  test("when a token of another type is presented, even signed by the gate's key", async () => {
    const { verify } = setup();
    for (const typ of ["aero2-checkpoint+jwt", "aero2-receipt+jwt", "JWT", "AERO2-ASSERTION+JWT", "application/aero2-assertion+jwt", "aero2-assertion+jwt ", undefined]) {
      const token = await sign(key, claimsFor(), { typ });
      await refused(verify, forwarded(token), "wrong_type", token);
    }
  });

  test("alg none, and HS256 with the public key as the secret", async () => {
    const { verify, server } = setup();
    const claims = b64(claimsFor());
    const none = `${b64({ alg: "none", kid: key.kid, typ: "aero2-assertion+jwt" })}.${claims}`;
    await refused(verify, forwarded(`${none}.`), "malformed");
    await refused(verify, forwarded(`${none}.AAAA`), "wrong_algorithm");
    for (const secret of [Buffer.from(key.jwk.x, "base64url"), Buffer.from(key.jwk.x), Buffer.from(JSON.stringify(key.jwk))]) {
      for (const alg of ["HS256", "HS512"]) {
        const input = `${b64({ alg, kid: key.kid, typ: "aero2-assertion+jwt" })}.${claims}`;
        const token = `${input}.${createHmac(alg === "HS256" ? "sha256" : "sha512", secret).update(input).digest("base64url")}`;
        await refused(verify, forwarded(token), "wrong_algorithm", token);
      }
    }
    for (const alg of ["RS256", "ES256", "Ed25519", "eddsa", "EdDSA "]) {
      await refused(verify, forwarded(`${b64({ alg, kid: key.kid, typ: "aero2-assertion+jwt" })}.${claims}.AAAA`), "wrong_algorithm");
    }
    assert.equal(server.fetches, 0, "refused before any key is looked up");
  });

  test("when the claims, the header or the signature were altered", async () => {
    const { verify } = setup();
    const token = await sign(key, claimsFor());
    const [header, payload, signature] = token.split(".");
    const other = b64({ ...JSON.parse(Buffer.from(payload, "base64url")), sub: "key_CCCCCCCCCCCCCCCC" });
    const flipped = (s, i) => s.slice(0, i) + (s[i] === "A" ? "B" : "A") + s.slice(i + 1);
    for (const tampered of [
      `${header}.${other}.${signature}`,
      `${header}.${payload}.${flipped(signature, 10)}`,
      `${b64({ alg: "EdDSA", typ: "aero2-assertion+jwt", kid: key.kid, x: 1 })}.${payload}.${signature}`,
      `${header}.${payload}.${signature.slice(0, -4)}`,
    ]) {
      await refused(verify, forwarded(tampered), "bad_signature", tampered);
    }
    // Signed by another key that claims the gate's kid.
    const forger = await newKey(key.kid);
    const forged = await sign(forger, claimsFor());
    await refused(verify, forwarded(forged), "bad_signature", forged);
    // The genuine token is still good after all that.
    await verify(forwarded(token));
  });

  test("when it was made for another issuer, origin, method or target", async () => {
    const { verify } = setup();
    const cases = [
      [claimsFor({ iss: "https://evil.example" }), "wrong_issuer"],
      [claimsFor({ aud: "https://other-api.example" }), "wrong_audience"],
      [claimsFor({ method: "POST" }), "wrong_method"],
      [claimsFor({ target: "/v1/orders?page=3" }), "wrong_target"],
      [claimsFor({ target: "/v1/orders" }), "wrong_target"],
      [claimsFor({ target: "/V1/orders?page=2" }), "wrong_target"],
    ];
    for (const [claims, reason] of cases) {
      const token = await sign(key, claims);
      await refused(verify, forwarded(token), reason, token);
    }
    const token = await sign(key, claimsFor({ method: "PATCH" }));
    await refused(verify, forwarded(token, { method: "patch" }), "wrong_method");
  });

  test("when expired, issued in the future, or living longer than 60 s, by the injected clock", async () => {
    let now = 1_800_000_000_000;
    const { verify } = setup({ now: () => now });
    const iat = 1_800_000_000;
    const at = async (ms, claims) => { now = ms; return verify(forwarded(await sign(key, claims))); };
    await at(iat * 1000 + 64_999, claimsFor({ iat }));
    await refusal(() => at(iat * 1000 + 65_000, claimsFor({ iat }))).then((e) => assert.equal(e.reason, "expired"));
    await refusal(() => at(iat * 1000 + 3_600_000, claimsFor({ iat }))).then((e) => assert.equal(e.reason, "expired"));
    await at(iat * 1000 - 5_000, claimsFor({ iat }));
    await refusal(() => at(iat * 1000 - 5_001, claimsFor({ iat }))).then((e) => assert.equal(e.reason, "not_yet_valid"));
    await refusal(() => at(iat * 1000, claimsFor({ iat, nbf: iat + 30 }))).then((e) => assert.equal(e.reason, "not_yet_valid"));
    await refusal(() => at(iat * 1000, claimsFor({ iat, exp: iat + 61 }))).then((e) => assert.equal(e.reason, "lifetime_too_long"));
    await refusal(() => at(iat * 1000, claimsFor({ iat, exp: iat + 86_400 }))).then((e) => assert.equal(e.reason, "lifetime_too_long"));
    // A tolerance of 0: expired at exp exactly.
    const strict = setup({ now: () => now, clockToleranceSeconds: 0 }).verify;
    now = (iat + 59) * 1000 + 999;
    await strict(forwarded(await sign(key, claimsFor({ iat }))));
    now = (iat + 60) * 1000;
    await refused(strict, forwarded(await sign(key, claimsFor({ iat }))), "expired");
  });

  test("a token larger than the limit, before any key is fetched", async () => {
    const { verify, server } = setup();
    const huge = await sign(key, claimsFor({ htu: "/" + "a".repeat(20_000) }));
    await refused(verify, forwarded(huge), "malformed", huge);
    const hugeHeader = `${b64({ alg: "EdDSA", kid: key.kid, typ: "aero2-assertion+jwt", pad: "x".repeat(100_000) })}.e30.AAAA`;
    await refused(verify, forwarded(hugeHeader), "malformed");
    assert.equal(server.fetches, 0);
    // Configurable, for origins with very long URLs.
    const roomy = setup({ maxTokenBytes: 64_000 }).verify;
    const target = "/" + "a".repeat(20_000);
    await roomy(forwarded(await sign(key, claimsFor({ target })), { target }));
  });
});

describe("the replay cache", () => {
  test("refuses a token seen before, until it expires; only accepted tokens take a place", async () => {
    let now = 1_800_000_000_000;
    const cache = new MemoryReplayCache(10);
    const { verify } = setup({ now: () => now, replayStore: cache });
    const token = await sign(key, claimsFor({ iat: 1_800_000_000 }));
    const wrongPath = forwarded(token, { target: "/elsewhere" });
    await refused(verify, wrongPath, "wrong_target");
    assert.equal(cache.size, 0, "a refused token is not remembered");
    await verify(forwarded(token));
    assert.equal(cache.size, 1);
    now += 30_000;
    await refused(verify, forwarded(token), "replayed", token);
    // Past exp plus the tolerance, the entry is gone (and the token is expired anyway).
    now = 1_800_000_066_000;
    await refused(verify, forwarded(token), "expired");
    await verify(forwarded(await sign(key, claimsFor({ iat: 1_800_000_066 }))));
    assert.equal(cache.size, 1, "the expired entry was purged");
  });

  test("two concurrent requests with one token: exactly one is accepted", async () => {
    const { verify } = setup();
    const token = await sign(key, claimsFor());
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => verify(forwarded(token))));
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
    assert.ok(results.filter((r) => r.status === "rejected").every((r) => r.reason.reason === "replayed"));
  });

  test("is bounded: when full of unexpired tokens it refuses new ones rather than forget old ones", async () => {
    let now = 1_800_000_000_000;
    const { verify } = setup({ now: () => now, maxReplayEntries: 3 });
    const tokens = [];
    for (let i = 0; i < 3; i++) {
      tokens.push(await sign(key, claimsFor({ iat: 1_800_000_000 + i })));
      await verify(forwarded(tokens[i]));
    }
    await refused(verify, forwarded(await sign(key, claimsFor({ iat: 1_800_000_003 }))), "replay_cache_full");
    await refused(verify, forwarded(tokens[0]), "replayed");
    // Once the first has expired (60 s + 5 s tolerance), there is room again.
    now = 1_800_000_066_000;
    await verify(forwarded(await sign(key, claimsFor({ iat: 1_800_000_040 }))));
    await refused(verify, forwarded(tokens[2]), "replayed");
    assert.throws(() => new MemoryReplayCache(0), RangeError);
  });

  test("takes a shared store", async () => {
    const seen = new Set();
    const store = { remember: async (jti) => (seen.has(jti) ? "replayed" : (seen.add(jti), "fresh")) };
    const a = setup({ replayStore: store }).verify;
    const b = setup({ replayStore: store }).verify;
    const token = await sign(key, claimsFor());
    await a(forwarded(token));
    await refused(b, forwarded(token), "replayed");
  });
});

describe("the JWK Set", () => {
  test("is fetched once, and again on an unknown kid at most once a minute", async (t) => {
    t.mock.timers.enable({ apis: ["Date"], now: 1_800_000_000_000 });
    const { verify, server } = setup({ now: () => Date.now() });
    const iat = () => Math.floor(Date.now() / 1000);
    await verify(forwarded(await sign(key, claimsFor({ iat: iat() }))));
    assert.equal(server.fetches, 1);

    // The gate rotates: a new key, the old one still published.
    const next = await newKey();
    server.keys = [next.jwk, key.jwk];
    t.mock.timers.tick(10_000);
    // Within a minute of the last fetch: no refetch, however many unknown kids arrive.
    for (let i = 0; i < 5; i++) {
      await refused(verify, forwarded(await sign(next, claimsFor({ iat: iat() }))), "unknown_key");
    }
    await refused(verify, forwarded(await sign(await newKey(), claimsFor({ iat: iat() }))), "unknown_key");
    assert.equal(server.fetches, 1);
    // A minute after the fetch: one refetch finds the new key.
    t.mock.timers.tick(50_001);
    await verify(forwarded(await sign(next, claimsFor({ iat: iat() }))));
    assert.equal(server.fetches, 2);
    // Tokens of the previous key, still published, pass too.
    await verify(forwarded(await sign(key, claimsFor({ iat: iat() }))));
    // A kid nobody published: one refetch per minute at most, not one per request.
    const stranger = await newKey();
    await refused(verify, forwarded(await sign(stranger, claimsFor({ iat: iat() }))), "unknown_key");
    assert.equal(server.fetches, 2);
    t.mock.timers.tick(60_001);
    for (let i = 0; i < 5; i++) {
      await refused(verify, forwarded(await sign(stranger, claimsFor({ iat: iat() }))), "unknown_key");
    }
    assert.equal(server.fetches, 3);
    // After five minutes the set is fetched again, even for known kids.
    t.mock.timers.tick(300_001);
    await verify(forwarded(await sign(next, claimsFor({ iat: iat() }))));
    assert.equal(server.fetches, 4);
  });

  test("with keys of other types beside the gate's is used as usual", async () => {
    const other = await newKey("other-ed25519");
    const keys = [
      { kty: "RSA", kid: "rsa-1", n: "sXch", e: "AQAB", alg: "RS256" },
      { kty: "EC", kid: "ec-1", crv: "P-256", x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0" },
      { kty: "oct", kid: "hmac", k: key.jwk.x },
      { kty: "OKP", crv: "X25519", kid: "x25519", x: key.jwk.x },
      { ...other.jwk, use: "enc" },
      { ...other.jwk, kid: "verify-less", key_ops: ["sign"] },
      key.jwk,
    ];
    const { verify } = setup({}, keys);
    await verify(forwarded(await sign(key, claimsFor())));
    for (const kid of ["rsa-1", "ec-1", "hmac", "x25519", "other-ed25519", "verify-less"]) {
      await refused(verify, forwarded(await sign({ ...other, kid }, claimsFor())), "unknown_key");
    }
  });

  test("that cannot be fetched or read refuses with 503, and recovers", async () => {
    const { verify, server } = setup();
    for (const failure of [500, 404, "throw"]) {
      server.fail = failure;
      await refused(verify, forwarded(await sign(key, claimsFor())), "jwks_unavailable");
    }
    server.fail = undefined;
    for (const body of ["not json", "{}", '{"keys":7}']) {
      server.body = body;
      await refused(verify, forwarded(await sign(key, claimsFor())), "jwks_unavailable");
    }
    server.body = undefined;
    await verify(forwarded(await sign(key, claimsFor())));
  });
});

test("options are checked when the verifier is made", () => {
  assert.throws(() => createVerifier({ jwksUrl: JWKS_URL, audience: AUDIENCE }), /issuer/);
  assert.throws(() => createVerifier({ jwksUrl: JWKS_URL, issuer: ISSUER }), /audience/);
  assert.throws(() => createVerifier({ jwksUrl: JWKS_URL, issuer: ISSUER, audience: [] }), /audience/);
  assert.throws(() => createVerifier({ jwksUrl: JWKS_URL, issuer: ISSUER, audience: 42 }), /audience/);
  assert.throws(() => createVerifier({ issuer: ISSUER, audience: AUDIENCE }), /jwksUrl/);
  assert.throws(() => createVerifier({ jwksUrl: JWKS_URL, issuer: ISSUER, audience: AUDIENCE, clockToleranceSeconds: -1 }), /clockTolerance/);
});
