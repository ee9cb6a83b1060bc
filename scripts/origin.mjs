// A stand-in origin for local runs and tests. It verifies the gate's signed assertion
// (X-Aero2-Assertion) with @aero2/origin (packages/origin) against the gate's JWKS,
// refuses requests that are unsigned, forged, replayed or made for another request with
// 401 (503 when the JWKS cannot be fetched), and answers the rest with a JSON echo of what
// the gate forwarded, so one can see the X-Aero2-* headers and that no key arrived.
// A request with X-Demo-Set-Cookie headers is answered with those cookies (the gate's tests).
//
//   node scripts/origin.mjs PORT --jwks http://127.0.0.1:8787/.well-known/jwks.json
//        [--issuer http://127.0.0.1:8787] [--audience http://127.0.0.1:PORT]
//   node scripts/origin.mjs PORT --unsigned      no verification (the benchmark's baselines)
import http from "node:http";

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

let verify = null;
if (jwksUrl) {
  let createVerifier;
  try {
    ({ createVerifier } = await import("@aero2/origin"));
  } catch (error) {
    console.error(`origin: @aero2/origin is not built (${error.code ?? error.message}): run npm run build -w @aero2/origin`);
    process.exit(2);
  }
  // A refetch on an unknown kid at most once a second (the library's default is a
  // minute): the tests rotate the gate's key and expect the next request to pass.
  verify = createVerifier({ jwksUrl, issuer, audience, jwksCooldownMs: 1000 });
}

const server = http.createServer(async (req, res) => {
  let assertion = "not checked";
  if (verify) {
    try {
      // The method and the target exactly as received, and the X-Aero2-* identity headers.
      const { kid, ...claims } = await verify.verifyParts({ method: req.method, target: req.url, headers: req.headers });
      assertion = { kid, claims };
    } catch (error) {
      req.resume();
      res.writeHead(error.status ?? 500, { "content-type": "application/json" });
      res.end(JSON.stringify({ origin: "aero2-demo-origin", error: "assertion_refused", reason: error.reason, message: error.message }));
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
  console.log(`origin listening on http://127.0.0.1:${port}${verify ? `, verifying assertions from ${issuer}` : ", not verifying assertions"}`);
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => server.close(() => process.exit(0)));
