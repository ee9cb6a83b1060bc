// A stand-in origin for local runs and tests: it answers every request with a JSON echo of
// what the gate forwarded, so one can see the X-Aero2-* headers and that no key arrived.
import http from "node:http";

const port = Number(process.env.ORIGIN_PORT || process.argv[2] || 8788);
const server = http.createServer((req, res) => {
  let bytes = 0;
  req.on("data", (chunk) => { bytes += chunk.length; });
  req.on("end", () => {
    const body = JSON.stringify({
      origin: "aero2-demo-origin",
      method: req.method,
      path: req.url,
      headers: req.headers,
      body_bytes: bytes,
    });
    res.writeHead(200, { "content-type": "application/json" });
    res.end(body);
  });
});
server.listen(port, "127.0.0.1", () => {
  console.log(`origin listening on http://127.0.0.1:${port}`);
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => server.close(() => process.exit(0)));
