import { compactVerify, createRemoteJWKSet, customFetch, errors as jose } from "jose";
import { Aero2AssertionError } from "./errors.js";
import { MemoryReplayCache, type ReplayStore } from "./replay.js";

/** The JWT header's `typ` of a gate assertion. Other tokens the gate signs have other types. */
export const ASSERTION_TYPE = "aero2-assertion+jwt";
/** The header that carries the assertion. */
export const ASSERTION_HEADER = "x-aero2-assertion";
/** The gate makes assertions valid for exactly this long; none may claim more. */
export const MAX_LIFETIME_SECONDS = 60;

/** The claims of a verified assertion. */
export interface Aero2Claims {
  /** The gate (`ASSERTION_ISSUER`). */
  iss: string;
  /** The origin the request was sent to. */
  aud: string;
  /** The id of the API key that passed the gate (`key_…`). */
  sub: string;
  /** The application id (`app_…`). */
  app: string;
  /** `live` or `test`. */
  env: string;
  /** `publishable` or `secret`. */
  kind: string;
  /** The request's method. */
  htm: string;
  /** The request's path and query, exactly as forwarded. */
  htu: string;
  /** Issued at, Unix seconds. */
  iat: number;
  /** Expires at, Unix seconds (`iat + 60`). */
  exp: number;
  /** A unique id: 128 random bits. */
  jti: string;
  /** The signing key's id, from the JWT header. */
  kid: string;
}

/** A request given as its parts, for servers that do not hand out a Fetch API `Request`. */
export interface RequestParts {
  /** The method, as received (`GET`, `POST`…). */
  method: string;
  /**
   * The request target as received: the path and query (`/v1/orders?page=2`), not
   * re-encoded or normalised. In Node's `http` and Express that is `req.url` /
   * `req.originalUrl`.
   */
  target: string;
  /** The request's headers: a Fetch API `Headers`, or Node's `req.headers`. */
  headers: Headers | Record<string, string | string[] | undefined>;
}

/** The JWK Set fetch, injectable for tests and custom transports. */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface VerifierOptions {
  /** The gate's JWK Set: `https://<gate>/.well-known/jwks.json`. */
  jwksUrl: string | URL;
  /** The gate's issuer (`ASSERTION_ISSUER`), e.g. `https://keys.example.com`. */
  issuer: string;
  /**
   * This origin as the gate calls it (its `ORIGIN_URL`, or `TEST_ORIGIN_URL`), e.g.
   * `https://api.example.com`. Several when one server is both.
   */
  audience: string | readonly string[];
  /** Clock difference tolerated between the gate and this server, in seconds. Default 5. */
  clockToleranceSeconds?: number;
  /** How many unexpired `jti`s the in-memory replay cache holds. Default 100,000. */
  maxReplayEntries?: number;
  /** A shared replay store instead of the in-memory cache (see {@link ReplayStore}). */
  replayStore?: ReplayStore;
  /** Fetch the JWK Set again on an unknown `kid` at most this often, in ms. Default 60,000. */
  jwksCooldownMs?: number;
  /** Fetch the JWK Set again after this long, in ms. Default 300,000 (the gate's `max-age`). */
  jwksMaxAgeMs?: number;
  /** Give up on a JWK Set fetch after this long, in ms. Default 5,000. */
  jwksTimeoutMs?: number;
  /**
   * Refuse a request whose `X-Aero2-Key-Id`, `X-Aero2-Application-Id`,
   * `X-Aero2-Environment` or `X-Aero2-Key-Kind` header disagrees with the signed claims.
   * Default true.
   */
  checkIdentityHeaders?: boolean;
  /** The largest token accepted, in bytes. Default 16,384. */
  maxTokenBytes?: number;
  /** The clock, in Unix milliseconds. For tests; default `Date.now`. */
  now?: () => number;
  /** The fetch used for the JWK Set. For tests; default the global `fetch`. */
  fetch?: FetchLike;
}

/**
 * Verifies the gate's assertion on a Fetch API `Request` and answers its claims; throws
 * {@link Aero2AssertionError} otherwise.
 */
export interface Verifier {
  (request: Request): Promise<Aero2Claims>;
  /** The same, for a request given as its parts (Node's `http`, Express). */
  verifyParts(parts: RequestParts): Promise<Aero2Claims>;
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;
const IDENTITY_HEADERS = [
  ["sub", "x-aero2-key-id"],
  ["app", "x-aero2-application-id"],
  ["env", "x-aero2-environment"],
  ["kind", "x-aero2-key-kind"],
] as const;

function fail(reason: ConstructorParameters<typeof Aero2AssertionError>[0], message: string, cause?: unknown): never {
  throw new Aero2AssertionError(reason, message, cause === undefined ? undefined : { cause });
}

function nonNegative(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) throw new TypeError(`${name} must be a non-negative number`);
  return value;
}

function decodeJson(part: string): unknown {
  const bytes = Uint8Array.from(atob(part.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function header(headers: RequestParts["headers"], name: string): string | undefined {
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? undefined;
  const value = (headers as Record<string, string | string[] | undefined>)[name];
  // Node joins repeated headers with ", " except a few; join the rest the same way.
  return Array.isArray(value) ? value.join(", ") : value;
}

/**
 * The path and query of a Fetch API request's URL. An empty query (`/p?`) keeps its `?`:
 * the gate signs the target exactly as it forwards it.
 */
export function targetOf(url: string): string {
  const parsed = new URL(url);
  if (parsed.search) return parsed.pathname + parsed.search;
  const withoutFragment = parsed.href.split("#", 1)[0]!;
  return parsed.pathname + (withoutFragment.endsWith("?") ? "?" : "");
}

/** Builds a verifier. The JWK Set is fetched on first use, not here. */
export function createVerifier(options: VerifierOptions): Verifier {
  const issuer = options.issuer;
  if (typeof issuer !== "string" || !issuer) throw new TypeError("issuer is required: the gate's ASSERTION_ISSUER");
  const audience: unknown = options.audience;
  const audiences: string[] = typeof audience === "string" ? [audience] : Array.isArray(audience) ? [...audience] : [];
  if (audiences.length === 0 || audiences.some((a) => typeof a !== "string" || !a)) {
    throw new TypeError("audience is required: this origin's URL as the gate calls it (ORIGIN_URL)");
  }
  if (!options.jwksUrl) throw new TypeError("jwksUrl is required: https://<gate>/.well-known/jwks.json");
  const jwksUrl = new URL(options.jwksUrl);
  const tolerance = nonNegative(options.clockToleranceSeconds, 5, "clockToleranceSeconds");
  const maxTokenBytes = nonNegative(options.maxTokenBytes, 16_384, "maxTokenBytes");
  const checkIdentityHeaders = options.checkIdentityHeaders ?? true;
  const now = options.now ?? Date.now;
  const replay: ReplayStore = options.replayStore ?? new MemoryReplayCache(options.maxReplayEntries ?? 100_000);
  const jwks = createRemoteJWKSet(jwksUrl, {
    cooldownDuration: nonNegative(options.jwksCooldownMs, 60_000, "jwksCooldownMs"),
    cacheMaxAge: nonNegative(options.jwksMaxAgeMs, 300_000, "jwksMaxAgeMs"),
    timeoutDuration: Math.round(nonNegative(options.jwksTimeoutMs, 5_000, "jwksTimeoutMs")),
    ...(options.fetch ? { [customFetch]: options.fetch } : {}),
  });

  async function verifyParts(parts: RequestParts): Promise<Aero2Claims> {
    const token = header(parts.headers, ASSERTION_HEADER);
    if (token === undefined || token === "") fail("missing", "no X-Aero2-Assertion header: the request did not come through the gate");
    if (token.length > maxTokenBytes) fail("malformed", `the token is longer than ${maxTokenBytes} bytes`);

    // The header is read before any key is looked up, and strictly: exactly this type and
    // algorithm, a kid, and no extension the gate never uses.
    const segments = token.split(".");
    if (segments.length !== 3 || !segments.every((s) => BASE64URL.test(s))) {
      fail("malformed", "not a compact JWS (three base64url parts)");
    }
    let protectedHeader: unknown;
    try {
      protectedHeader = decodeJson(segments[0]!);
    } catch {
      fail("malformed", "the JWT header is not base64url JSON");
    }
    if (!isObject(protectedHeader)) fail("malformed", "the JWT header is not a JSON object");
    if (protectedHeader.typ !== ASSERTION_TYPE) fail("wrong_type", `the JWT type is not ${ASSERTION_TYPE}`);
    if (protectedHeader.alg !== "EdDSA") fail("wrong_algorithm", "the JWT algorithm is not EdDSA");
    const kid = protectedHeader.kid;
    if (typeof kid !== "string" || !kid) fail("malformed", "the JWT header has no kid");
    if ("crit" in protectedHeader || "b64" in protectedHeader) fail("malformed", "the JWT header has crit or b64, which assertions never use");

    let payloadBytes: Uint8Array;
    try {
      ({ payload: payloadBytes } = await compactVerify(token, jwks, { algorithms: ["EdDSA"] }));
    } catch (error) {
      if (error instanceof jose.JWSSignatureVerificationFailed) fail("bad_signature", "the signature does not verify");
      if (error instanceof jose.JWKSNoMatchingKey) fail("unknown_key", "no key in the gate's JWK Set has this kid");
      if (error instanceof jose.JWKSMultipleMatchingKeys) fail("unknown_key", "several keys in the gate's JWK Set have this kid");
      if (error instanceof jose.JOSEAlgNotAllowed) fail("wrong_algorithm", "the JWT algorithm is not EdDSA");
      if (error instanceof jose.JWSInvalid || error instanceof jose.JOSENotSupported) fail("malformed", "not a valid JWS");
      if (error instanceof jose.JWKSTimeout) fail("jwks_unavailable", `the gate's JWK Set (${jwksUrl.href}) timed out`, error);
      fail("jwks_unavailable", `the gate's JWK Set (${jwksUrl.href}) could not be fetched or read`, error);
    }

    let claims: unknown;
    try {
      claims = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payloadBytes));
    } catch {
      fail("malformed", "the claims are not JSON");
    }
    if (!isObject(claims)) fail("malformed", "the claims are not a JSON object");
    for (const name of ["iss", "aud", "sub", "app", "env", "kind", "htm", "htu", "jti"] as const) {
      if (typeof claims[name] !== "string") fail("malformed", `the claim ${name} is missing or not a string`);
    }
    for (const name of ["iat", "exp"] as const) {
      if (!Number.isSafeInteger(claims[name])) fail("malformed", `the claim ${name} is missing or not an integer`);
    }
    const c = claims as unknown as Omit<Aero2Claims, "kid"> & { nbf?: unknown };

    if (c.iss !== issuer) fail("wrong_issuer", "iss is not the configured issuer");
    if (!audiences.includes(c.aud)) fail("wrong_audience", "aud is not this origin: the assertion was made for another one");

    const nowSeconds = now() / 1000;
    if (c.exp <= c.iat) fail("malformed", "exp is not after iat");
    if (c.exp - c.iat > MAX_LIFETIME_SECONDS) fail("lifetime_too_long", `exp is ${c.exp - c.iat} s after iat, more than ${MAX_LIFETIME_SECONDS}`);
    if (nowSeconds >= c.exp + tolerance) fail("expired", `expired ${Math.floor(nowSeconds - c.exp)} s ago (tolerance ${tolerance} s)`);
    if (nowSeconds - c.iat > MAX_LIFETIME_SECONDS + tolerance) fail("expired", "issued more than a lifetime ago");
    if (c.iat > nowSeconds + tolerance) fail("not_yet_valid", `issued ${Math.ceil(c.iat - nowSeconds)} s in the future (tolerance ${tolerance} s)`);
    if (c.nbf !== undefined && (typeof c.nbf !== "number" || c.nbf > nowSeconds + tolerance)) {
      fail("not_yet_valid", "nbf is in the future");
    }

    if (c.htm !== parts.method) fail("wrong_method", "htm is not this request's method");
    if (c.htu !== parts.target) fail("wrong_target", "htu is not this request's path and query");
    if (checkIdentityHeaders) {
      for (const [claim, name] of IDENTITY_HEADERS) {
        const sent = header(parts.headers, name);
        if (sent !== undefined && sent !== c[claim]) fail("header_mismatch", `${name} disagrees with the signed claim ${claim}`);
      }
    }

    // Last: only a token that passed every other check takes a place in the cache.
    const verdict = await replay.remember(c.jti, c.exp + tolerance, nowSeconds);
    if (verdict === "replayed") fail("replayed", "this jti was already accepted");
    if (verdict !== "fresh") fail("replay_cache_full", "the replay cache is full of unexpired tokens; raise maxReplayEntries");

    return {
      iss: c.iss, aud: c.aud, sub: c.sub, app: c.app, env: c.env, kind: c.kind,
      htm: c.htm, htu: c.htu, iat: c.iat, exp: c.exp, jti: c.jti, kid,
    };
  }

  const verify = (request: Request): Promise<Aero2Claims> => {
    let target: string;
    try {
      target = targetOf(request.url);
    } catch {
      return Promise.reject(new Aero2AssertionError("wrong_target", "the request URL cannot be parsed"));
    }
    return verifyParts({ method: request.method, target, headers: request.headers });
  };
  return Object.assign(verify, { verifyParts });
}
