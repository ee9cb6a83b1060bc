#!/usr/bin/env node
// Fixes one defect of wrangler 4.86's dev proxy (its ProxyWorker), in node_modules, after
// `npm ci` (scripts/setup.sh runs this; running it again changes nothing).
//
// The defect: when the proxy's request to the Workers fails on the way (most likely workerd
// closing an idle pooled connection as the proxy writes to it), the proxy compares the
// Worker's URL with the request's full URL to tell whether the Worker was reloaded
// meanwhile. They differ for every URL but a bare "/" (no other path, no query), so a
// failed GET or HEAD is always taken for one caught by a reload
// and put aside, to be sent when the proxy next handles a request. A dashboard page that
// waits for all of its requests then waits until something else is asked: the dashboard
// tests hung on it now and then, and so could `make dev`'s dashboard. The patch sends such
// a request again at once while the Worker is the same one (same origin) and has not
// answered it, up to 3 times, then answers 502 instead of waiting. A Worker that changed
// (a reload) is left to wrangler's own retry, at the reload's end.
// tests/dev/proxy-worker.test.mjs runs the patched proxy's code in Node.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { root } from "./wrangler-dev.mjs";

const VERSION = "4.86.0";
const MARK = "/* aero2: send a failed GET again at once (scripts/support/patch-wrangler.mjs) */";
const file = join(root, "node_modules/wrangler/wrangler-dist/ProxyWorker.js");
// Two places: the answer's handler notes that the Worker answered (an error after that is
// the proxy's own, in handling the answer, and the request is not sent again); the error
// path sends a GET or HEAD again while the Worker is the same one.
const edits = [
  {
    original: `      void fetch(userWorkerUrl, new Request(request, { headers })).then(async (res) => {
`,
    patched: `      void fetch(userWorkerUrl, new Request(request, { headers })).then(async (res) => {
        ${MARK}
        (this.aero2Answered ??= new WeakSet()).add(request);
`,
  },
  {
    original: `        } else if (request.method === "GET" || request.method === "HEAD") {
          this.requestRetryQueue.set(request, deferredResponse);
        } else {`,
    patched: `        } else if (request.method === "GET" || request.method === "HEAD") {
          this.requestRetryQueue.set(request, deferredResponse);
          ${MARK}
          const sameWorker = this.proxyData && userWorkerUrl.origin === urlFromParts(this.proxyData.userWorkerUrl).origin;
          if (sameWorker && !this.aero2Answered?.has(request)) {
            const sentAgain = (this.aero2SentAgain ??= new WeakMap());
            const times = sentAgain.get(request) ?? 0;
            // The path is not logged: a test may put a key in it.
            if (times < 3) {
              sentAgain.set(request, times + 1);
              console.warn(\`wrangler's proxy: a \${request.method} did not reach the Worker (\${error.message}); sent again (\${times + 1} of 3)\`);
              this.processQueue();
            } else {
              this.requestRetryQueue.delete(request);
              console.warn(\`wrangler's proxy: a \${request.method} did not reach the Worker in 4 attempts (\${error.message}); answered 502\`);
              deferredResponse.resolve(new Response("wrangler's dev proxy could not reach the Worker (4 attempts).", { status: 502 }));
            }
          }
        } else {`,
  },
];

const version = JSON.parse(readFileSync(join(root, "node_modules/wrangler/package.json"), "utf8")).version;
const source = readFileSync(file, "utf8");
if (source.includes(MARK)) {
  console.log(`==> wrangler ${version}: its dev proxy is patched already`);
} else if (version !== VERSION || edits.some(({ original }) => source.split(original).length !== 2)) {
  console.error(`wrangler ${version} is not the ${VERSION} this patch was written for, or its ProxyWorker changed:`
    + " check whether the defect described in scripts/support/patch-wrangler.mjs is still there, then update or drop the patch.");
  process.exit(1);
} else {
  writeFileSync(file, edits.reduce((text, { original, patched }) => text.replace(original, patched), source));
  console.log(`==> wrangler ${version}: its dev proxy now sends a GET that failed on its way to the Worker again at once`);
}
