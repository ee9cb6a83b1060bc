// `wrangler dev` puts a proxy (its ProxyWorker, a Durable Object in a workerd of its own)
// in front of the Workers. In wrangler 4.86, when its request to the Workers fails on the
// way (most likely a pooled connection that workerd closes as the proxy writes to it), a
// GET or HEAD is put aside to be sent again, and is only sent at the proxy's next request:
// a page that waits for all of its requests waits until something else is asked. The
// dashboard tests hung on this now and then (RELIABILITY.md), and `make dev`'s dashboard
// could do the same. scripts/support/patch-wrangler.mjs (run by setup.sh) makes the
// proxy send such a request again at once, up to 3 times, then answer 502. This runs the
// installed ProxyWorker's code in Node (not in workerd), with a fetch that fails and a
// stand-in for the runtime's Headers.getAll.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { root } from "../../scripts/support/wrangler-dev.mjs";

const { ProxyWorker } = await import(join(root, "node_modules/wrangler/wrangler-dist/ProxyWorker.js"));

// The Workers runtime's Headers.getAll, which the ProxyWorker uses; Node has no such method.
Headers.prototype.getAll ??= function getAll(name) {
  return name.toLowerCase() === "set-cookie" ? this.getSetCookie() : [this.get(name)].filter((v) => v !== null);
};

const WORKER = { protocol: "http:", hostname: "127.0.0.1", port: "9" };

/** A ProxyWorker forwarding to a worker that fails `failures` times, then answers 200
 *  (`answer` makes another answer). `beforeFailing(proxy)` runs as each failure lands.
 *  The global fetch it replaces is restored when the test `t` ends. */
function proxyFailing(t, failures, { answer = () => new Response("answered", { status: 200, headers: { "content-type": "application/json" } }), beforeFailing = () => {} } = {}) {
  const sent = [];
  const proxy = new ProxyWorker({ getWebSockets: () => [] }, { PROXY_CONTROLLER: { fetch: async () => new Response(null, { status: 204 }) }, PROXY_CONTROLLER_AUTH_SECRET: "secret" });
  proxy.proxyData = { userWorkerUrl: { ...WORKER }, headers: {} };
  t.mock.method(globalThis, "fetch", async (url) => {
    sent.push(String(url));
    if (sent.length <= failures) {
      beforeFailing(proxy);
      throw new TypeError("Network connection lost.");
    }
    return answer();
  });
  return { proxy, sent };
}

const within = (promise, ms) => Promise.race([promise, new Promise((resolve) => setTimeout(() => resolve("no answer"), ms))]);

test("a GET whose way to the worker fails once is sent again at once, not at the proxy's next request", async (t) => {
  const { proxy, sent } = proxyFailing(t, 1);
  const answer = await within(proxy.fetch(new Request("http://127.0.0.1:8787/v1/applications/app_x/audit_log?limit=25")), 1000);
  assert.notEqual(answer, "no answer", "the request waited for another one to come");
  assert.equal(answer.status, 200);
  assert.equal(await answer.text(), "answered");
  assert.deepEqual(sent, Array(2).fill("http://127.0.0.1:9/v1/applications/app_x/audit_log?limit=25"));
});

test("a GET is sent again 3 times at most, then answered 502: a worker that keeps failing is not asked in a loop", async (t) => {
  const { proxy, sent } = proxyFailing(t, 100);
  const answer = await within(proxy.fetch(new Request("http://127.0.0.1:8787/v1/keys")), 1000);
  assert.notEqual(answer, "no answer", "the request was left waiting");
  assert.equal(answer.status, 502);
  assert.equal(sent.length, 4, "the first attempt and 3 more");
});

test("a GET that failed because the worker was reloaded waits for the reload's end, then goes to the new worker", async (t) => {
  const reloaded = { ...WORKER, port: "10" };
  const { proxy, sent } = proxyFailing(t, 1, { beforeFailing: (p) => { p.proxyData = undefined; } });
  const pending = proxy.fetch(new Request("http://127.0.0.1:8787/v1/keys"));
  assert.equal(await within(pending, 300), "no answer", "sent again during the reload");
  assert.equal(sent.length, 1);
  // The reload ends: wrangler's "play", with the new worker's address.
  proxy.processProxyControllerRequest({ cf: { hostMetadata: { type: "play", proxyData: { userWorkerUrl: reloaded, headers: {} } } } });
  const answer = await within(pending, 1000);
  assert.equal(answer.status, 200);
  assert.deepEqual(sent, ["http://127.0.0.1:9/v1/keys", "http://127.0.0.1:10/v1/keys"]);
});

test("an error after the worker answered (in the proxy's own handling of the answer) does not send the GET again", async (t) => {
  // An HTML answer goes through the runtime's HTMLRewriter (Node has none), here one that fails.
  const realRewriter = globalThis.HTMLRewriter;
  globalThis.HTMLRewriter = class { constructor() { throw new Error("the rewriter failed"); } };
  t.after(() => { globalThis.HTMLRewriter = realRewriter; });
  const { proxy, sent } = proxyFailing(t, 0, { answer: () => new Response("<p>page</p>", { headers: { "content-type": "text/html" } }) });
  await within(proxy.fetch(new Request("http://127.0.0.1:8787/dashboard/")), 300);
  assert.equal(sent.length, 1, "the worker was asked again for a request it had answered");
});

test("a POST that fails on the way is not sent again: 503, as wrangler answers it", async (t) => {
  const { proxy, sent } = proxyFailing(t, 1);
  const answer = await within(proxy.fetch(new Request("http://127.0.0.1:8787/v1/applications", { method: "POST", body: "{}" })), 1000);
  assert.equal(answer.status, 503);
  assert.equal(sent.length, 1);
});
