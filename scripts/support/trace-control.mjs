// The dashboard tests' request trace, control plane side (wrangler-dev.mjs --trace): the
// release control plane, unchanged, with a log line when its `fetch` and each Durable
// Object's `fetch` are entered and answered. See trace-gate.mjs.
import worker, { ApplicationRegistry as Registry, KeyRingObject as KeyRing, ValidationReplica as Replica }
  from "../../crates/control/build/index.js";
import { traced, traceLine } from "./trace-lines.mjs";

let calls = 0;
async function trace(what, call, named = "") {
  const id = `${what}${++calls}`;
  const started = Date.now();
  traceLine(`${id} >${named && ` ${named}`}`);
  try {
    const answer = await call();
    traceLine(`${id} < ${answer?.status} ${Date.now() - started}ms`);
    return answer;
  } catch (error) {
    traceLine(`${id} < threw ${error?.name ?? "error"}`);
    throw error;
  }
}

export class ApplicationRegistry extends Registry { fetch(request) { return trace("registry", () => super.fetch(request)); } }
export class KeyRingObject extends KeyRing { fetch(request) { return trace("ring", () => super.fetch(request)); } }
export class ValidationReplica extends Replica { fetch(request) { return trace("replica", () => super.fetch(request)); } }
export default class extends worker {
  fetch(request) { return trace("control", () => super.fetch(request), traced(request)); }
}
