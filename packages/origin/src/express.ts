/**
 * Express (4 and 5) and plain `node:http` middleware:
 *
 *   app.use(aero2Express({ jwksUrl, issuer, audience }));
 *   app.get("/v1/orders", (req, res) => res.json({ key: req.aero2.sub }));
 *
 * A verified request gets its claims on `req.aero2`; any other is answered 401 (503 when
 * the gate's keys cannot be fetched) with `{"error":{"code":"assertion_refused","reason":…}}`.
 */
import type { Aero2Claims, Verifier, VerifierOptions } from "./verifier.js";
import { refusal, refusalBody, toVerifier, type MiddlewareSettings } from "./middleware.js";

export type { MiddlewareSettings } from "./middleware.js";

/** The parts of Node's `IncomingMessage` (and Express's `Request`) the middleware reads. */
export interface NodeRequestLike {
  method?: string | undefined;
  /** The request target as received (`node:http`). */
  url?: string | undefined;
  /** Express: the request target as received, before any mount path was stripped. */
  originalUrl?: string | undefined;
  headers: Record<string, string | string[] | undefined>;
  aero2?: Aero2Claims | undefined;
}

/** The parts of Node's `ServerResponse` the middleware writes. */
export interface NodeResponseLike {
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  end(body: string): unknown;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The gate's verified assertion, set by `aero2Express`. */
      aero2?: Aero2Claims;
    }
  }
}

/**
 * `(req, res, next)` middleware that verifies the gate's assertion. Takes a verifier from
 * `createVerifier`, or its options.
 */
export function aero2Express(
  verifierOrOptions: Verifier | VerifierOptions,
  settings?: MiddlewareSettings,
): (req: NodeRequestLike, res: NodeResponseLike, next: (error?: unknown) => void) => void {
  const verifier = toVerifier(verifierOrOptions);
  return (req, res, next) => {
    // The target exactly as received: no URL parser re-reads it, so what is checked is
    // what the router sees.
    const target = req.originalUrl ?? req.url ?? "";
    verifier.verifyParts({ method: req.method ?? "", target, headers: req.headers }).then(
      (claims) => {
        req.aero2 = claims;
        next();
      },
      (error: unknown) => {
        const refused = refusal(error, settings);
        if (!refused) {
          next(error);
          return;
        }
        res.statusCode = refused.status;
        res.setHeader("content-type", "application/json");
        res.setHeader("cache-control", "no-store");
        res.end(JSON.stringify(refusalBody(refused)));
      },
    );
  };
}
