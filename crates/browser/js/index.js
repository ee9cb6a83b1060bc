// @aero2/keys: parse Aero2 publishable keys in the browser, in Node and in bundlers.
//
// The wasm module is inlined and instantiated synchronously, so the API is synchronous
// and the package needs no loader, no network fetch and no bundler plugin.
import * as glue from "./aero2_keys_bg.js";
import { wasmBase64 } from "./aero2_keys_wasm.js";

const bytes = Uint8Array.from(atob(wasmBase64), (c) => c.charCodeAt(0));
const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
  "./aero2_keys_bg.js": glue,
});
glue.__wbg_set_wasm(instance.exports);
instance.exports.__wbindgen_start?.();

const APPLICATION_ID_PREFIX = glue.applicationIdPrefix();

/**
 * Reads a publishable key. Throws an Error named "Aero2KeyError" whose `code` is
 * "malformed_key", "bad_checksum" or "secret_key_exposed".
 *
 * The wasm parses (the core's parser) and answers with one number saying where the facts
 * are; the id is then one slice of the string this side already holds. Strings and
 * objects built across the boundary cost more than the parse itself, so only a refused
 * key pays for them, when the wasm builds its error.
 */
export function parsePublishableKey(key) {
  if (typeof key === "string") {
    const layout = glue.publishableKeyLayout(key);
    if (layout & 1) {
      const start = (layout >> 8) & 0xff;
      return {
        applicationId: APPLICATION_ID_PREFIX + key.slice(start, start + ((layout >> 16) & 0xff)),
        environment: layout & 2 ? "live" : "test",
      };
    }
  }
  return glue.parsePublishableKey(key);
}

/** True for a well-formed publishable key. Never throws. */
export function isPublishableKey(key) {
  return typeof key === "string" && (glue.publishableKeyLayout(key) & 1) === 1;
}
