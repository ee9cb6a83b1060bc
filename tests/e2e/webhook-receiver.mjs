// A webhook receiver for the end-to-end tests: it checks every message's signature with
// the `standardwebhooks` npm package (a stock verifier, not our code), records what it
// got, and answers as a test tells it to (fail some times, or never answer).
//
//   node tests/e2e/webhook-receiver.mjs <port>
//
//   PUT  /control/<name>   {"secrets": ["whsec_…"], "fail_first": 2, "status": 503, "hang": false}
//   GET  /received/<name>  every request to /hooks/<name>, oldest first
//   POST /hooks/<name>     an endpoint; <name> separates the tests' endpoints
import http from "node:http";
import { Webhook } from "standardwebhooks";

const port = Number(process.argv[2]);
const endpoints = new Map(); // name -> { secrets, failFirst, status, hang, received }
const endpoint = (name) => {
  if (!endpoints.has(name)) endpoints.set(name, { secrets: [], failFirst: 0, status: 500, hang: false, received: [] });
  return endpoints.get(name);
};

const server = http.createServer((req, res) => {
  let body = "";
  req.setEncoding("utf8");
  req.on("data", (chunk) => { body += chunk; });
  req.on("end", () => {
    const [, kind, name] = (req.url ?? "").split("/");
    const reply = (status, value) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(value === undefined ? "" : JSON.stringify(value));
    };
    if (kind === "control" && req.method === "PUT") {
      const settings = JSON.parse(body);
      const e = endpoint(name);
      e.secrets = settings.secrets ?? e.secrets;
      e.failFirst = settings.fail_first ?? 0;
      e.status = settings.status ?? 500;
      e.hang = settings.hang ?? false;
      return reply(200, {});
    }
    if (kind === "received" && req.method === "GET") return reply(200, endpoint(name).received);
    if (kind !== "hooks" || req.method !== "POST") return reply(404, {});

    const e = endpoint(name);
    const headers = {
      "webhook-id": req.headers["webhook-id"],
      "webhook-timestamp": req.headers["webhook-timestamp"],
      "webhook-signature": req.headers["webhook-signature"],
    };
    // Which configured secrets verify this message (the library checks the timestamp
    // too, within 5 minutes).
    const verifiedBy = e.secrets.map((secret) => {
      try { new Webhook(secret).verify(body, headers); return true; } catch { return false; }
    });
    let answer = 204;
    if (e.hang) answer = null;
    else if (e.failFirst > 0) { e.failFirst -= 1; answer = e.status; }
    e.received.push({
      id: headers["webhook-id"], timestamp: headers["webhook-timestamp"],
      signature: headers["webhook-signature"], content_type: req.headers["content-type"],
      user_agent: req.headers["user-agent"], body, verified_by: verifiedBy, answer,
      at: Date.now(),
    });
    if (answer === null) return; // never answers; the worker gives up after its timeout
    res.writeHead(answer);
    res.end();
  });
});
server.listen(port, "127.0.0.1", () => console.log(`webhook receiver on http://127.0.0.1:${port}`));
