// The gate's test build: the release host (worker.mjs) with three test-only additions that
// the release bundle must not even name (make test checks): counters of the gate's KV reads
// and Durable Object calls at GET /__instrumentation (added to the control plane's own), the
// control plane's fault-injection endpoints at /__faults/..., and X-Aero2-Test-Region, which
// lets one local workerd play several regions.
import { handle } from "./worker.mjs";

const counters = { kv_reads: 0, durable_object_calls: 0, key_ring_calls: 0, replica_calls: 0 };

/** The bindings, with every KV read and Durable Object call counted. */
function counted(env) {
  const namespace = (binding, kind) => ({
    idFromName: (name) => binding.idFromName(name),
    get: (id, options) => {
      const stub = binding.get(id, options);
      return {
        fetch: (...args) => {
          counters.durable_object_calls++;
          counters[kind]++;
          return stub.fetch(...args);
        },
      };
    },
  });
  return {
    ...env,
    KEYS: { get: (...args) => { counters.kv_reads++; return env.KEYS.get(...args); } },
    KEY_RING: namespace(env.KEY_RING, "key_ring_calls"),
    REPLICA: namespace(env.REPLICA, "replica_calls"),
  };
}

export default {
  async fetch(request, env, ctx) {
    const { pathname } = new URL(request.url);
    if (pathname === "/__instrumentation") {
      const control = await (await env.CONTROL.fetch(request)).json();
      const sum = Object.fromEntries(Object.keys(counters).map((name) => [name, counters[name] + (control[name] ?? 0)]));
      return Response.json(sum);
    }
    if (pathname.startsWith("/__faults/")) return env.CONTROL.fetch(request);
    return handle(request, counted(env), ctx, request.headers.get("x-aero2-test-region") ?? "");
  },
};
