// The dashboard tests' request trace, gate side (wrangler-dev.mjs --trace): the release
// gate host, unchanged, with one log line when a request enters, when it is passed to the
// control plane, when the control plane's answer comes and when the gate answers. The
// dashboard tests once lost a request now and then with no sign of where (RELIABILITY.md);
// on a timeout they name the requests that entered and never left (openTraces in
// tests/dashboard/support.mjs). Not part of any deployed bundle. Lines go out at the warn
// level so that a worker logging at `warn` keeps them; anything shaped like a key is left
// out (trace-lines.mjs).
import { handle } from "../../crates/gate/js/worker.mjs";
import { traceCall, traced } from "./trace-lines.mjs";

let requests = 0;

export default {
  fetch(request, env, ctx) {
    const id = `g${++requests}`;
    const control = { fetch: (passed) => traceCall(`${id} control`, () => env.CONTROL.fetch(passed)) };
    return traceCall(id, () => handle(request, { ...env, CONTROL: control }, ctx), traced(request));
  },
};
