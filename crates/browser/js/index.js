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

/**
 * Reads a publishable key. Throws an Error named "Aero2KeyError" whose `code` is
 * "malformed_key", "bad_checksum" or "secret_key_exposed".
 */
export const parsePublishableKey = glue.parsePublishableKey;

/** True for a well-formed publishable key. Never throws. */
export function isPublishableKey(key) {
  try {
    parsePublishableKey(key);
    return true;
  } catch {
    return false;
  }
}
