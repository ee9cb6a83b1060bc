import { Aero2AssertionError, isAero2AssertionError } from "./errors.js";
import { createVerifier, type Verifier, type VerifierOptions } from "./verifier.js";

/** What the middleware does beyond verifying. */
export interface MiddlewareSettings {
  /** Called with every refusal, e.g. to log `error.message` (which never holds the token). */
  onRefused?: (error: Aero2AssertionError) => void;
}

export function toVerifier(verifierOrOptions: Verifier | VerifierOptions): Verifier {
  return typeof verifierOrOptions === "function" ? verifierOrOptions : createVerifier(verifierOrOptions);
}

/** The refusal for `error`, or `undefined` when `error` is not a refusal (a bug: rethrow it). */
export function refusal(error: unknown, settings: MiddlewareSettings | undefined): Aero2AssertionError | undefined {
  if (!isAero2AssertionError(error)) return undefined;
  settings?.onRefused?.(error);
  return error;
}

/** The JSON body a refused request is answered with. */
export function refusalBody(error: Aero2AssertionError): { error: { code: "assertion_refused"; reason: string } } {
  return { error: { code: "assertion_refused", reason: error.reason } };
}
