/** The public facts a publishable key states about itself. */
export interface PublishableKeyInfo {
  /** The application the key belongs to, e.g. "app_3hG8kQ2mZ0pX7aLc". */
  applicationId: string;
  /** "live" for production applications, "test" for development ones. */
  environment: "live" | "test";
}

/** The error every failed parse throws. It never contains more than a key's prefix and last 4 characters. */
export interface Aero2KeyError extends Error {
  name: "Aero2KeyError";
  code: "malformed_key" | "bad_checksum" | "secret_key_exposed";
}

/**
 * Reads a publishable key (pk_live_… or pk_test_…).
 * @throws {Aero2KeyError} `secret_key_exposed` for any secret key: it must be revoked and
 *   rotated, because it is now in client code; `malformed_key` or `bad_checksum` otherwise.
 */
export function parsePublishableKey(key: string): PublishableKeyInfo;

/** True for a well-formed publishable key. Never throws. */
export function isPublishableKey(key: unknown): boolean;
