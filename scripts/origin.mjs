// A stand-in origin for local runs and tests. It verifies the gate's signed assertion
// (X-Aero2-Assertion) with `jose` against the gate's JWKS, refuses requests that are
// unsigned or forged with 401, and answers the rest with a JSON echo of what the gate
// forwarded, so one can see the X-Aero2-* headers and that no key arrived. A request with
// X-Demo-Set-Cookie headers is answered with those cookies (the gate's tests).
//
//   node scripts/origin.mjs PORT --jwks http://127.0.0.1:8787/.well-known/jwks.json
//        [--issuer http://127.0.0.1:8787] [--audience http://127.0.0.1:PORT]
//   node scripts/origin.mjs PORT --unsigned      no verification (the benchmark's baselines)
import http from "node:http";
import { createRemoteJWKSet, jwtVerify } from "jose";

const args = process.argv.slice(2);
const option = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const port = Number(process.env.ORIGIN_PORT || args[0] || 8788);
const jwksUrl = option("--jwks");
const unsigned = args.includes("--unsigned");
if (!jwksUrl && !unsigned) {
  console.error("origin: pass --jwks <gate>/.well-known/jwks.json (or --unsigned to skip verification)");
  process.exit(2);
}
const issuer = option("--issuer") ?? (jwksUrl ? new URL(jwksUrl).origin : undefined);
const audience = option("--audience") ?? `http://127.0.0.1:${port}`;
const jwks = jwksUrl ? createRemoteJWKSet(new URL(jwksUrl), { cooldownDuration: 1000 }) : null;

/** The assertion's claims when it is genuine and for this very request; throws otherwise. */
async function verify(req) {
  const token = req.headers["x-aero2-assertion"];
  if (!token) throw new Error("no X-Aero2-Assertion: the request did not come through the gate");
  const { payload, protectedHeader } = await jwtVerify(token, jwks, {
    issuer, audience, algorithms: ["EdDSA"], typ: "aero2-assertion+jwt", maxTokenAge: "60s", clockTolerance: "5s",
  });
  if (payload.htm !== req.method || payload.htu !== req.url) {
    throw new Error("the assertion was made for another request");
  }
  if (payload.exp - payload.iat > 60) throw new Error("the assertion lives too long");
  for (const [claim, header] of [["sub", "x-aero2-key-id"], ["app", "x-aero2-application-id"], ["env", "x-aero2-environment"], ["kind", "x-aero2-key-kind"]]) {
    if (payload[claim] !== req.headers[header]) throw new Error(`${header} does not match the assertion`);
  }
  return { kid: protectedHeader.kid, claims: payload };
}

const server = http.createServer(async (req, res) => {
  let assertion = "not checked";
  if (jwks) {
    try {
      assertion = await verify(req);
    } catch (error) {
      req.resume();
      res.writeHead(401, { "content-type": "application/json" });
      res.end(JSON.stringify({ origin: "aero2-demo-origin", error: "assertion_refused", reason: error.message }));
      return;
    }
  }
  let bytes = 0;
  req.on("data", (chunk) => { bytes += chunk.length; });
  req.on("end", () => {
    const body = JSON.stringify({
      origin: "aero2-demo-origin",
      method: req.method,
      path: req.url,
      headers: req.headers,
      body_bytes: bytes,
      assertion,
    });
    // Tests ask for cookies with X-Demo-Set-Cookie (one value per header line), to check
    // which of them the gate lets the client see.
    const cookies = req.headersDistinct?.["x-demo-set-cookie"] ?? [];
    res.writeHead(200, { "content-type": "application/json", ...(cookies.length ? { "set-cookie": cookies } : {}) });
    res.end(body);
  });
});
server.listen(port, "127.0.0.1", () => {
  console.log(`origin listening on http://127.0.0.1:${port}${jwks ? `, verifying assertions from ${issuer}` : ", not verifying assertions"}`);
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => server.close(() => process.exit(0)));
