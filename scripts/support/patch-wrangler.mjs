#!/usr/bin/env node
// Fixes one defect of wrangler 4.86's dev proxy (its ProxyWorker), in node_modules, after
// `npm ci` (scripts/setup.sh runs this; running it again changes nothing).
//
// The defect: when the proxy's request to the Workers fails on the way (workerd closing
// a pooled connection as the proxy writes to it), the proxy compares the Worker's URL with
// the request's full URL to tell whether the Worker was reloaded meanwhile. They differ for
// every path but "/", so a failed GET or HEAD is always taken for one caught by a reload
// and put aside, to be sent when the proxy next handles a request. A dashboard page that
// waits for all of its requests then waits until something else is asked: the dashboard
// tests hung on it now and then, and so could `make dev`'s dashboard. The patch sends such
// a request again at once while the Worker is the same one (same origin), up to 3 times;
// beyond that it waits as before. tests/dev/proxy-worker.test.mjs runs the patched proxy.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { root } from "./wrangler-dev.mjs";

const VERSION = "4.86.0";
const MARK = "/* aero2: send a failed GET again at once (scripts/support/patch-wrangler.mjs) */";
const file = join(root, "node_modules/wrangler/wrangler-dist/ProxyWorker.js");
const original = `        } else if (request.method === "GET" || request.method === "HEAD") {
          this.requestRetryQueue.set(request, deferredResponse);
        } else {`;
const patched = `        } else if (request.method === "GET" || request.method === "HEAD") {
          this.requestRetryQueue.set(request, deferredResponse);
          ${MARK}
          const sentAgain = (this.aero2SentAgain ??= new WeakMap());
          const times = sentAgain.get(request) ?? 0;
          if (this.proxyData && times < 3 && userWorkerUrl.origin === urlFromParts(this.proxyData.userWorkerUrl).origin) {
            sentAgain.set(request, times + 1);
            console.warn(\`wrangler's proxy: \${request.method} \${new URL(request.url).pathname} did not reach the Worker (\${error.message}); sent again (\${times + 1} of 3)\`);
            this.processQueue();
          }
        } else {`;

const version = JSON.parse(readFileSync(join(root, "node_modules/wrangler/package.json"), "utf8")).version;
const source = readFileSync(file, "utf8");
if (source.includes(MARK)) {
  console.log(`==> wrangler ${version}: its dev proxy is patched already`);
} else if (version !== VERSION || source.split(original).length !== 2) {
  console.error(`wrangler ${version} is not the ${VERSION} this patch was written for, or its ProxyWorker changed:`
    + " check whether the defect described in scripts/support/patch-wrangler.mjs is still there, then update or drop the patch.");
  process.exit(1);
} else {
  writeFileSync(file, source.replace(original, patched));
  console.log(`==> wrangler ${version}: its dev proxy now sends a GET that failed on its way to the Worker again at once`);
}
