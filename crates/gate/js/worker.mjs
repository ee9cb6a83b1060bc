// The gate's host: the Worker's entry point. It performs the I/O the gate's state machine
// (crates/gate, compiled to wasm) asks for, and nothing else: every decision about a
// request is made in the wasm module, by the core's one `verify`. The control plane is a
// second Worker, reached through the CONTROL service binding and the Durable Object
// bindings; a gated request never loads it.
//
// Per request, first the quick path: the method, the URL and the headers (as one string)
// cross into wasm, and a request they already refuse (a malformed key, a bad checksum, no
// key, and no secret key sent elsewhere instead) is answered at once, with no Gate built.
// Otherwise the same string starts the Gate; the answer or the forwarding plan crosses
// back as one string;
// the signature is made by WebCrypto with a key imported at the first forward.
import { env as startupEnv } from "cloudflare:workers";
import wasmModule from "../build/aero2_gate_bg.wasm";
import { initSync, configure, quick, quick_answer, Gate, sets_own_cookie, reports, reports_due_at, next_report_at } from "../build/aero2_gate.js";

initSync({ module: wasmModule });

// What the state machine asks for (crates/gate/src/machine.rs, `Action`).
const RESPOND = 0, CONTROL = 1, ASSETS = 2, READ_KV = 3, ASK_RING = 4, ASK_REPLICA = 5, COUNT_FAILURE = 6, FORWARD = 7,
  PASS_CONTROL_ANSWER = 8;
// The URL a Durable Object is sent its commands on (the objects route on the body alone).
const OBJECT_URL = "https://durable-object.internal/";
// The settings the gate reads (crates/gate/src/isolate.rs, `Settings::parse`).
const SETTINGS = ["FRONTEND_ROUTES", "SECRET_KEY_VALIDATION", "PUBLISHABLE_KEY_VALIDATION", "EDGE_CACHE_SECONDS",
  "REGIONAL_SHARDS", "ORIGIN_URL", "TEST_ORIGIN_URL", "ASSERTION_ISSUER"];

// The signing key: its JWK read once per isolate; imported (WebCrypto) at the first
// forward, so that an isolate's first answer, a refusal most often, does not wait for it.
let signing; // { jwk, key: Promise<CryptoKey> | null } once set up; jwk null without a usable key

/** Reads the settings and the signing key's JWK, once per isolate. */
function setUp(env) {
  let kid = "";
  let jwk = null;
  try {
    const parsed = JSON.parse(env.ORIGIN_SIGNING_KEY ?? "");
    if (parsed && parsed.kty === "OKP" && parsed.crv === "Ed25519" && typeof parsed.kid === "string"
      && typeof parsed.d === "string" && typeof parsed.x === "string") {
      jwk = { kty: "OKP", crv: "Ed25519", x: parsed.x, d: parsed.d };
      kid = parsed.kid;
    }
  } catch {
    // Unset or not JSON: handled below.
  }
  if (!jwk) {
    // The gate answers 503 origin_signing_not_configured and forwards nothing.
    console.error("ORIGIN_SIGNING_KEY is unset or not an Ed25519 private JWK with kid");
  }
  let settings = `SIGNING_KID=${kid}\n`;
  for (const name of SETTINGS) {
    if (typeof env[name] === "string") settings += `${name}=${env[name]}\n`;
  }
  configure(settings);
  signing = { jwk, key: null };
}

/** The signing key, imported at the first forward (concurrent first forwards share one
 *  import); null when it cannot be imported. */
function signingKey() {
  signing.key ??= crypto.subtle.importKey("jwk", signing.jwk, { name: "Ed25519" }, false, ["sign"]).catch((error) => {
    console.error(`ORIGIN_SIGNING_KEY could not be imported: ${error}`);
    return null;
  });
  return signing.key;
}

/** An answer packed by the machine (crates/gate/src/response.rs, `Reply::packed`): the
 *  status, a line feed, `name\nvalue\n` header lines, an empty line, the body. */
function unpack(packed) {
  let at = packed.indexOf("\n");
  const status = Number(packed.slice(0, at));
  // A record, not pairs: the runtime builds a Response's headers from one faster
  // (measured). Pairs when a name repeats, which a record cannot hold.
  const pairs = [];
  for (let end = packed.indexOf("\n", at + 1); end !== at + 1; end = packed.indexOf("\n", at + 1)) {
    const valueEnd = packed.indexOf("\n", end + 1);
    pairs.push([packed.slice(at + 1, end).toLowerCase(), packed.slice(end + 1, valueEnd)]);
    at = valueEnd;
  }
  const record = Object.fromEntries(pairs);
  const headers = Object.keys(record).length === pairs.length ? record : pairs;
  return { body: status === 204 ? null : packed.slice(at + 2), init: { status, headers } };
}

const respond = ({ body, init }) => new Response(body, init);

// The quick path's answers by number (the machine's `AnswerTable`), unpacked once each.
const UNNUMBERED = 0xffffffff;
const quickAnswers = [];
function quickAnswer(number) {
  if (number === UNNUMBERED) return unpack(quick_answer(number));
  return (quickAnswers[number] ??= unpack(quick_answer(number)));
}

/** The request's headers as one string: `name\nvalue\n` pairs. */
function headerLines(headers) {
  let lines = "";
  for (const [name, value] of headers) lines += name + "\n" + value + "\n";
  return lines;
}

/** Sets `name\nvalue\n` lines on a Headers object. */
function applyLines(headers, lines) {
  const parts = lines.split("\n");
  for (let i = 0; i + 1 < parts.length; i += 2) headers.set(parts[i], parts[i + 1]);
  return headers;
}

/** Performs one I/O step; returns [status, text] for the machine (status 0 when it failed). */
async function perform(gate, env) {
  try {
    switch (gate.action) {
      case READ_KV: {
        const text = await env.KEYS.get(gate.target);
        return [200, text ?? undefined];
      }
      case ASK_RING: {
        const stub = env.KEY_RING.get(env.KEY_RING.idFromName(gate.target));
        const answer = await stub.fetch(OBJECT_URL, { method: "POST", body: gate.body });
        return [answer.status, await answer.text()];
      }
      case ASK_REPLICA: {
        const stub = env.REPLICA.get(env.REPLICA.idFromName(gate.target), { locationHint: gate.hint });
        const answer = await stub.fetch(OBJECT_URL, { method: "POST", body: gate.body });
        return [answer.status, await answer.text()];
      }
      case COUNT_FAILURE: {
        const limiter = env[gate.target];
        // A missing or failing binding limits nothing: the limits protect storage and slow
        // guessing; they do not authenticate.
        if (!limiter) return [1, undefined];
        const { success } = await limiter.limit({ key: gate.body });
        return [success ? 1 : 0, undefined];
      }
    }
  } catch (error) {
    console.error(`gate I/O failed: ${error}`);
    if (gate.action === COUNT_FAILURE) return [1, undefined];
  }
  return [0, undefined];
}

const encoder = new TextEncoder();
const base64url = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

/** Sends the request to the origin as the machine planned it, signed. The plan is packed
 *  (crates/gate/src/forward.rs, `ForwardPlan::packed`): the URL, the page's origin that
 *  may read the answer (or an empty line), the signing input, the names to drop, an empty
 *  line, then the header lines to set. */
async function forward(request, gate) {
  const lines = gate.plan.split("\n");
  const [url, corsOrigin, signingInput] = lines;
  const headers = new Headers(request.headers);
  let i = 3;
  for (; lines[i] !== ""; i++) headers.delete(lines[i]);
  for (i++; i + 1 < lines.length; i += 2) headers.set(lines[i], lines[i + 1]);
  const key = await signingKey();
  if (!key) {
    gate.signing_unavailable();
    return respond(unpack(gate.reply));
  }
  const signature = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, key, encoder.encode(signingInput)));
  headers.set("X-Aero2-Assertion", signingInput + "." + base64url(signature));
  const hasBody = request.method !== "GET" && request.method !== "HEAD";
  let answer;
  try {
    answer = await fetch(url, { method: request.method, headers, body: hasBody ? request.body : undefined, redirect: "manual" });
  } catch (error) {
    console.error(`origin request failed: ${error}`);
    gate.origin_unreachable();
    return respond(unpack(gate.reply));
  }
  const ownCookies = answer.headers.getSetCookie?.().filter((value) => sets_own_cookie(value)) ?? [];
  if (!corsOrigin && ownCookies.length === 0) return answer;
  // The origin's headers are immutable: work on a copy.
  const copy = new Headers();
  for (const [name, value] of answer.headers) {
    if (name === "set-cookie") continue;
    copy.append(name, value);
  }
  for (const value of answer.headers.getSetCookie?.() ?? []) {
    if (!sets_own_cookie(value)) copy.append("set-cookie", value);
  }
  if (corsOrigin) {
    copy.set("Access-Control-Allow-Origin", corsOrigin);
    copy.set("Access-Control-Expose-Headers", "WWW-Authenticate, Retry-After, RateLimit, RateLimit-Policy");
    copy.append("Vary", "Origin");
  }
  return new Response(answer.body, { status: answer.status, statusText: answer.statusText, headers: copy });
}

/** Passes the request to the control plane: the client's `X-Aero2-*` headers removed (the
 *  control plane trusts the ones the gate sets), the gate's set. */
async function toControl(request, gate, env) {
  const headers = new Headers(request.headers);
  for (const name of [...headers.keys()]) {
    if (name.replace(/_/g, "-").startsWith("x-aero2-")) headers.delete(name);
  }
  applyLines(headers, gate.control_headers);
  return env.CONTROL.fetch(new Request(request, { headers, cf: request.cf }));
}

/** The control plane's answer, without its report to the gate. */
function withoutReport(answer) {
  if (!answer.headers.has("x-aero2-failure")) return answer;
  const headers = new Headers(answer.headers);
  headers.delete("x-aero2-failure");
  return new Response(answer.body, { status: answer.status, statusText: answer.statusText, headers });
}

/** Sends the reports that are due to their key rings, after the response. A report is
 *  sent once: one the key ring refuses (a control plane of another release that cannot
 *  read it, during a deploy) is logged, with its kind, so the gap has a cause. */
async function sendReports(env) {
  const due = reports(Date.now());
  if (!due) return;
  await Promise.allSettled(due.split("\n").filter(Boolean).map(async (line) => {
    const tab = line.indexOf("\t");
    const kind = () => /"command":"([a-z_]+)"/.exec(line)?.[1] ?? "report";
    let answer;
    try {
      const stub = env.KEY_RING.get(env.KEY_RING.idFromName(line.slice(0, tab)));
      answer = await stub.fetch(OBJECT_URL, { method: "POST", body: line.slice(tab + 1) });
    } catch (error) {
      // Named by its type only: a runtime's message is not ours to vouch for.
      console.error(`gate: a ${kind()} report could not reach its key ring (${error?.name ?? "error"}); it is not sent again`);
      return;
    }
    if (!answer.ok) {
      console.error(`gate: a key ring refused a ${kind()} report (${answer.status}); it is not sent again`);
    }
    await answer.body?.cancel();
  }));
}

let wakeAt = 0; // when this isolate's wait for held repeats ends (0: not waiting)
let reportsDueAt = Infinity; // when reports are next due (the machine's reports_due_at)

/** After a response: send what is due; and while repeats are held, one wait per isolate
 *  for their window's end, so that a burst's count is sent even if no request follows. */
function afterResponse(env, ctx) {
  const now = Date.now();
  reportsDueAt = reports_due_at(now);
  if (reportsDueAt <= now) {
    ctx.waitUntil(sendReports(env));
    reportsDueAt = reports_due_at(now);
  }
  const at = next_report_at();
  if (at > now && (wakeAt === 0 || at < wakeAt)) {
    wakeAt = at;
    ctx.waitUntil(new Promise((resolve) => setTimeout(resolve, at - now)).then(() => {
      wakeAt = 0;
      return sendReports(env);
    }));
  }
}

// At start-up, not at an isolate's first request: read the settings and the signing key's
// JWK, and run the quick path once (a request with no key, answered and dropped). What this
// keeps is the JavaScript side (the glue compiled, the no-key answer unpacked and kept) and the wasm
// module's data (the settings, the answer table). It does not keep the wasm's compiled code:
// workerd tells V8 of memory pressure whenever it creates an isolate, and V8 then drops
// the baseline code of every wasm module in the process, so a refusal after that compiles
// each function it touches again (README, Performance: the first response). Keeping that
// path small is what makes a fresh isolate's first answer fast. On Cloudflare an isolate
// often starts during the TLS handshake. If the settings cannot be read here, `signing`
// stays unset (setUp sets it last), so the first request reads them and answers as it
// always did.
try {
  setUp(startupEnv);
  const warm = quick("GET", "https://start-up.invalid/v1/start-up", "");
  if (warm !== 0) quickAnswer(warm);
} catch (error) {
  console.error(`gate start-up: ${error}`);
}

/** Handles one request; `region` is a test build's region hint (empty in production). */
export async function handle(request, env, ctx, region = "") {
  if (!signing) setUp(env);
  const lines = headerLines(request.headers);
  const refused = quick(request.method, request.url, lines);
  if (refused !== 0) {
    // Nothing changed in the isolate; only the clock can make reports due.
    if (reportsDueAt !== Infinity && Date.now() >= reportsDueAt) afterResponse(env, ctx);
    return respond(quickAnswer(refused));
  }
  const cf = request.cf ?? {};
  const gate = Gate.start(request.method, request.url, lines, cf.continent ?? "", cf.country ?? "",
    Number(cf.longitude ?? NaN), region, Date.now());
  let answer; // the control plane's, while its failure report is counted
  try {
    for (;;) {
      switch (gate.action) {
        case RESPOND: return respond(unpack(gate.reply));
        case CONTROL:
          answer = await toControl(request, gate, env);
          gate.control_answered(answer.headers.get("x-aero2-failure") ?? "");
          break;
        case PASS_CONTROL_ANSWER: return withoutReport(answer);
        case ASSETS: return await env.ASSETS.fetch(request);
        case FORWARD: return await forward(request, gate);
        default: {
          const [status, text] = await perform(gate, env);
          gate.resume(status, text, Date.now());
        }
      }
    }
  } finally {
    gate.free();
    afterResponse(env, ctx);
  }
}

export default {
  fetch: (request, env, ctx) => handle(request, env, ctx),
};
