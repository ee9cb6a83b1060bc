// A CPU profile taken inside workerd, through V8's inspector (the Chrome DevTools
// protocol): start the profiler on one worker, run the load, stop it, and summarise where
// the samples fell. Used by the benchmark (BENCHMARKS.md, "Where the time goes").
import { writeFileSync } from "node:fs";
import WebSocket from "ws";

/** The inspector target of the worker named `name`, among workerd's. */
async function target(inspectorPort, name) {
  for (let attempt = 0; attempt < 50; attempt++) {
    const list = await fetch(`http://127.0.0.1:${inspectorPort}/json/list`).then((r) => r.json()).catch(() => []);
    const found = list.find((t) => t.title?.includes(name) || t.id?.includes(name));
    if (found) return found.webSocketDebuggerUrl ?? `ws://127.0.0.1:${inspectorPort}/${found.id}`;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no inspector target for the worker ${name}`);
}

/** Profiles the worker `name` while `load()` runs; writes the .cpuprofile to `out`. */
export async function profile(inspectorPort, name, load, out) {
  const socket = new WebSocket(await target(inspectorPort, name));
  await new Promise((resolve, reject) => { socket.once("open", resolve); socket.once("error", reject); });
  let id = 0;
  const pending = new Map();
  socket.on("message", (data) => {
    const message = JSON.parse(data.toString());
    if (message.id && pending.has(message.id)) {
      pending.get(message.id)(message);
      pending.delete(message.id);
    }
  });
  const call = (method, params = {}) => new Promise((resolve) => {
    pending.set(++id, resolve);
    socket.send(JSON.stringify({ id, method, params }));
  });
  await call("Profiler.enable");
  await call("Profiler.setSamplingInterval", { interval: 100 });
  await call("Profiler.start");
  await load();
  const { result } = await call("Profiler.stop");
  socket.close();
  writeFileSync(out, JSON.stringify(result.profile));
  return summarise(result.profile);
}

/** Self time by function and by where the function lives: the gate's wasm, its
 *  JavaScript (host and glue), or the runtime (natives, GC, idle). */
export function summarise(profile) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const counts = new Map();
  for (const sample of profile.samples) counts.set(sample, (counts.get(sample) ?? 0) + 1);
  const total = profile.samples.length;
  const functions = new Map();
  const places = new Map();
  for (const [nodeId, count] of counts) {
    const { functionName, url } = byId.get(nodeId).callFrame;
    const place = url.startsWith("wasm://") ? "gate wasm"
      : /worker\.mjs|aero2_gate\.js/.test(url) ? "gate JavaScript (host, glue)"
      : functionName === "(idle)" ? "idle"
      : functionName === "(garbage collector)" ? "garbage collector"
      : url ? "other JavaScript" : "runtime (native code, I/O)";
    const name = `${functionName || "(anonymous)"}${url ? ` [${url.split("/").pop()}]` : ""}`;
    functions.set(name, (functions.get(name) ?? 0) + count);
    places.set(place, (places.get(place) ?? 0) + count);
  }
  const share = (n) => Math.round((1000 * n) / total) / 10;
  const busy = total - (places.get("idle") ?? 0);
  return {
    samples: total,
    busy_share_percent: share(busy),
    by_place: [...places].sort((a, b) => b[1] - a[1]).map(([place, n]) => ({ place, percent: share(n) })),
    top_functions: [...functions].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([name, n]) => ({ name, percent: share(n) })),
  };
}
