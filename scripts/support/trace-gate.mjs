// The dashboard tests' request trace, gate side (wrangler-dev.mjs --trace): the release
// gate host, unchanged, with one log line when a request enters, when it is passed to the
// control plane, when the control plane's answer comes and when the gate answers. The
// dashboard tests once lost a request now and then with no sign of where (RELIABILITY.md);
// on a timeout they name the requests that entered and never left (openTraces in
// tests/dashboard/support.mjs). Not part of any deployed bundle. Lines go out at the warn
// level so that a worker logging at `warn` keeps them; anything shaped like a key is left
// out (trace-lines.mjs).
import { handle } from "../../crates/gate/js/worker.mjs";
import { traced, traceLine } from "./trace-lines.mjs";

let requests = 0;

export default {
  async fetch(request, env, ctx) {
    const id = `g${++requests}`;
    const started = Date.now();
    traceLine(`${id} > ${traced(request)}`);
    const control = {
      fetch: async (passed) => {
        traceLine(`${id} control >`);
        const answer = await env.CONTROL.fetch(passed);
        traceLine(`${id} control < ${answer.status}`);
        return answer;
      },
    };
    try {
      const answer = await handle(request, { ...env, CONTROL: control }, ctx);
      traceLine(`${id} < ${answer.status} ${Date.now() - started}ms`);
      return answer;
    } catch (error) {
      traceLine(`${id} < threw ${error?.name ?? "error"}`);
      throw error;
    }
  },
};
