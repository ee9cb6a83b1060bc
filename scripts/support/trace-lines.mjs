// The request trace's log lines (trace-gate.mjs, trace-control.mjs), shared by both Workers.

/** Logs one trace line, with the time (ms since the epoch) after the id. The warn level,
 *  so that a worker logging at `warn` keeps it. */
export const traceLine = (line) => console.warn(`TRACE ${line.replace(" ", ` @${Date.now()} `)}`);

/** A request as the trace names it: its method, path and query, with anything shaped like
 *  a key and an invitation's token left out (scripts/scan-secrets.mjs reads these logs). */
export function traced(request) {
  const url = new URL(request.url);
  return `${request.method} ${url.pathname}${url.search}`
    .replace(/(?:pk|sk)(?:_|%5F)[A-Za-z0-9_%-]*/gi, "(a key)")
    .replace(/(\/v1\/invitations\/)[^/?]+/, "$1(a token)");
}

/** Runs `call` (a fetch) between two trace lines: `id >` (with `named`, if given) when it
 *  starts, and `id < status duration` when it answers, or `id < threw …`. */
export async function traceCall(id, call, named = "") {
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
