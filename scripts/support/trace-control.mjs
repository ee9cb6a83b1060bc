// The dashboard tests' request trace, control plane side (wrangler-dev.mjs --trace): the
// release control plane, unchanged, with a log line when its `fetch` and each Durable
// Object's `fetch` are entered and answered. See trace-gate.mjs.
import worker, { ApplicationRegistry as Registry, KeyRingObject as KeyRing, ValidationReplica as Replica }
  from "../../crates/control/build/index.js";
import { traceCall, traced } from "./trace-lines.mjs";

let calls = 0;
const trace = (what, call, named) => traceCall(`${what}${++calls}`, call, named);

export class ApplicationRegistry extends Registry { fetch(request) { return trace("registry", () => super.fetch(request)); } }
export class KeyRingObject extends KeyRing { fetch(request) { return trace("ring", () => super.fetch(request)); } }
export class ValidationReplica extends Replica { fetch(request) { return trace("replica", () => super.fetch(request)); } }
export default class extends worker {
  fetch(request) { return trace("control", () => super.fetch(request), traced(request)); }
}
