/**
 * Hono middleware (Cloudflare Workers, Deno, Bun, Node):
 *
 *   app.use(aero2Hono({ jwksUrl, issuer, audience }));
 *   app.get("/v1/orders", (c) => c.json({ key: c.get("aero2").sub }));
 *
 * A verified request gets its claims as `c.get("aero2")`; any other is answered 401 (503
 * when the gate's keys cannot be fetched) with
 * `{"error":{"code":"assertion_refused","reason":…}}`.
 */
import type { MiddlewareHandler } from "hono";
import type { Aero2Claims, Verifier, VerifierOptions } from "./verifier.js";
import { refusal, refusalBody, toVerifier, type MiddlewareSettings } from "./middleware.js";

export type { MiddlewareSettings } from "./middleware.js";

/** The Hono environment the middleware provides: `c.get("aero2")`. */
export type Aero2Env = { Variables: { aero2: Aero2Claims } };

/** Middleware that verifies the gate's assertion. Takes a verifier, or its options. */
export function aero2Hono(verifierOrOptions: Verifier | VerifierOptions, settings?: MiddlewareSettings): MiddlewareHandler<Aero2Env> {
  const verifier = toVerifier(verifierOrOptions);
  return async (c, next) => {
    let claims: Aero2Claims;
    try {
      claims = await verifier(c.req.raw);
    } catch (error) {
      const refused = refusal(error, settings);
      if (!refused) throw error;
      c.header("cache-control", "no-store");
      return c.json(refusalBody(refused), refused.status);
    }
    c.set("aero2", claims);
    await next();
  };
}
