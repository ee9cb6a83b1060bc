/**
 * Verifies the signed assertion (`X-Aero2-Assertion`) that an Aero2 Keys gate adds to
 * every request it forwards, so an origin accepts only what passed the gate.
 *
 *   const verify = createVerifier({ jwksUrl, issuer, audience });
 *   const claims = await verify(request); // throws Aero2AssertionError otherwise
 */
export { createVerifier, targetOf, ASSERTION_HEADER, ASSERTION_TYPE, MAX_LIFETIME_SECONDS } from "./verifier.js";
export type { Aero2Claims, FetchLike, RequestParts, Verifier, VerifierOptions } from "./verifier.js";
export { Aero2AssertionError, isAero2AssertionError } from "./errors.js";
export type { Aero2AssertionReason } from "./errors.js";
export { MemoryReplayCache } from "./replay.js";
export type { ReplayStore, ReplayVerdict } from "./replay.js";
