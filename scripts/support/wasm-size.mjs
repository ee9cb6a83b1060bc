// Where a wasm module's code size goes: the bytes of each function body, from the code
// section, named by the name section that worker-build keeps (build-worker.sh saves an
// unstripped copy as target/worker-with-names*.wasm), and summed by crate. Used by the full
// benchmark for BENCHMARKS.md's size profile; also runnable by hand:
//   node scripts/support/wasm-size.mjs target/worker-with-names.wasm
import { readFileSync } from "node:fs";

function readLeb(bytes, at) {
  let value = 0, shift = 0, byte;
  do {
    byte = bytes[at++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return [value, at];
}

// Function bodies and names. Imported functions come first in the index space and have no
// body, so a body's index is offset by their count.
export function functionSizes(bytes) {
  let at = 8, importedFunctions = 0;
  const bodySizes = [], names = new Map();
  while (at < bytes.length) {
    const id = bytes[at++];
    let size;
    [size, at] = readLeb(bytes, at);
    const end = at + size;
    if (id === 2) {
      let count, p = at;
      [count, p] = readLeb(bytes, p);
      for (let i = 0; i < count; i++) {
        for (let s = 0; s < 2; s++) { let len; [len, p] = readLeb(bytes, p); p += len; }
        const kind = bytes[p++];
        if (kind === 0) { [, p] = readLeb(bytes, p); importedFunctions++; }
        else if (kind === 1) { p++; let flags; [flags, p] = readLeb(bytes, p); [, p] = readLeb(bytes, p); if (flags & 1) [, p] = readLeb(bytes, p); }
        else if (kind === 2) { let flags; [flags, p] = readLeb(bytes, p); [, p] = readLeb(bytes, p); if (flags & 1) [, p] = readLeb(bytes, p); }
        else if (kind === 3) p += 2;
        else if (kind === 4) { p++; [, p] = readLeb(bytes, p); }
        else throw new Error(`unknown import kind ${kind}`);
      }
    } else if (id === 10) {
      let count, p = at;
      [count, p] = readLeb(bytes, p);
      for (let i = 0; i < count; i++) { let len; [len, p] = readLeb(bytes, p); bodySizes.push(len); p += len; }
    } else if (id === 0) {
      let len, p = at;
      [len, p] = readLeb(bytes, p);
      const section = new TextDecoder().decode(bytes.subarray(p, p + len));
      p += len;
      if (section === "name") {
        while (p < end) {
          const sub = bytes[p++];
          let subSize;
          [subSize, p] = readLeb(bytes, p);
          const subEnd = p + subSize;
          if (sub === 1) {
            let count, q = p;
            [count, q] = readLeb(bytes, q);
            for (let i = 0; i < count; i++) {
              let index, nameLen;
              [index, q] = readLeb(bytes, q);
              [nameLen, q] = readLeb(bytes, q);
              names.set(index, new TextDecoder().decode(bytes.subarray(q, q + nameLen)));
              q += nameLen;
            }
          }
          p = subEnd;
        }
      }
    }
    at = end;
  }
  return bodySizes.map((size, i) => ({ size, name: names.get(i + importedFunctions) ?? "?" }));
}

const PRIMITIVES = new Set(["f32", "f64", "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize", "char", "str", "bool"]);

// The crate a function is attributed to: the first path segment of its (demangled) name.
// For `<T as Trait>::f` it is the trait's crate, unless T is itself a path.
export function crateOf(name) {
  if (name.startsWith("_ZN")) {
    const m = /^_ZN(\d+)/.exec(name);
    return m ? name.slice(m[0].length, m[0].length + Number(m[1])) : "?";
  }
  let head = name.replace(/^[<&]+/, "").replace(/^mut /, "").replace(/^dyn /, "");
  const as = head.indexOf(" as ");
  let first = head.split("::")[0];
  if (as >= 0 && !first.slice(0, first.indexOf(" as ")).includes("[")) first = head.slice(as + 4).split("::")[0];
  first = first.replace(/\[[0-9a-f]+\]$/, "").replace(/[<>&]/g, "").trim();
  return PRIMITIVES.has(first) ? "core" : first || "?";
}

export function sizeProfile(path, { crates = 12, functions = 8 } = {}) {
  const sizes = functionSizes(readFileSync(path));
  const total = sizes.reduce((sum, f) => sum + f.size, 0);
  const byCrate = new Map();
  for (const f of sizes) byCrate.set(crateOf(f.name), (byCrate.get(crateOf(f.name)) ?? 0) + f.size);
  const short = (name) => name.replace(/\[[0-9a-f]{16}\]/g, "").replace(/::h[0-9a-f]{16}$/, "").slice(0, 140);
  return {
    code_bytes: total,
    function_count: sizes.length,
    crates: [...byCrate].sort((a, b) => b[1] - a[1]).slice(0, crates).map(([crate, bytes]) => ({ crate, bytes })),
    largest_functions: [...sizes].sort((a, b) => b.size - a.size).slice(0, functions).map((f) => ({ name: short(f.name), bytes: f.size })),
  };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop())) {
  const profile = sizeProfile(process.argv[2] ?? "target/worker-with-names.wasm", { crates: 30, functions: 25 });
  console.log(`code bytes ${profile.code_bytes} in ${profile.function_count} functions`);
  for (const { crate, bytes } of profile.crates) console.log(`${String(bytes).padStart(8)} ${(100 * bytes / profile.code_bytes).toFixed(1).padStart(5)}%  ${crate}`);
  console.log("largest functions:");
  for (const { name, bytes } of profile.largest_functions) console.log(`${String(bytes).padStart(8)}  ${name}`);
}
