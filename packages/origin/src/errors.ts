/**
 * Why an assertion was refused. Stable, machine-readable values: log them, count them,
 * alert on them. New reasons may be added in minor versions.
 */
export type Aero2AssertionReason =
  /** No `X-Aero2-Assertion` header: the request did not come through the gate. */
  | "missing"
  /** Not a compact JWS of the assertion's shape (three base64url parts, JSON, the claims' types), or too large. */
  | "malformed"
  /** The JWT header's `typ` is not exactly `aero2-assertion+jwt` (another kind of token). */
  | "wrong_type"
  /** The JWT header's `alg` is not `EdDSA` (`none`, `HS256`, …). */
  | "wrong_algorithm"
  /** No key in the gate's JWK Set has the token's `kid`, even after a refresh. */
  | "unknown_key"
  /** The gate's JWK Set could not be fetched or read. */
  | "jwks_unavailable"
  /** The signature does not verify: the token was forged or altered. */
  | "bad_signature"
  /** `iss` is not the configured issuer. */
  | "wrong_issuer"
  /** `aud` is not the configured audience (the assertion was made for another origin). */
  | "wrong_audience"
  /** Past `exp` (beyond the clock tolerance), or issued longer ago than a lifetime. */
  | "expired"
  /** `iat` (or `nbf`) is in the future beyond the clock tolerance. */
  | "not_yet_valid"
  /** `exp` is more than 60 seconds after `iat`. */
  | "lifetime_too_long"
  /** This `jti` was already accepted: the token is being replayed. */
  | "replayed"
  /** The replay cache is full of unexpired entries, so a replay could not be ruled out. */
  | "replay_cache_full"
  /** `htm` is not the request's method. */
  | "wrong_method"
  /** `htu` is not the request's path and query. */
  | "wrong_target"
  /** An `X-Aero2-*` identity header sent with the request disagrees with the signed claims. */
  | "header_mismatch";

/** Reasons that say the verifier could not check, rather than that the request is bad. */
const UNAVAILABLE: ReadonlySet<Aero2AssertionReason> = new Set(["jwks_unavailable", "replay_cache_full"]);

/**
 * An assertion was refused. `reason` is machine-readable; `message` is for logs. Neither
 * ever contains the token, nor any other value taken from the request.
 */
export class Aero2AssertionError extends Error {
  override readonly name = "Aero2AssertionError";
  readonly reason: Aero2AssertionReason;
  /** The HTTP status to answer with: 401, or 503 when the verifier itself could not check. */
  readonly status: 401 | 503;

  constructor(reason: Aero2AssertionReason, message: string, options?: { cause?: unknown }) {
    super(`X-Aero2-Assertion refused (${reason}): ${message}`, options);
    this.reason = reason;
    this.status = UNAVAILABLE.has(reason) ? 503 : 401;
  }
}

/** Whether `value` is an {@link Aero2AssertionError} (also across copies of this package). */
export function isAero2AssertionError(value: unknown): value is Aero2AssertionError {
  return value instanceof Aero2AssertionError
    || (value instanceof Error && value.name === "Aero2AssertionError" && typeof (value as { reason?: unknown }).reason === "string");
}

