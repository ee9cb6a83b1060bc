// A plain-JavaScript parser for the same publishable key format, written for the
// comparison benchmark: what a team might write instead of using the wasm package.
const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(text, end) {
  let crc = 0xffffffff;
  for (let i = 0; i < end; i++) crc = CRC_TABLE[(crc ^ text.charCodeAt(i)) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

export function checksum(text, end) {
  let value = crc32(text, end);
  let out = "";
  for (let i = 0; i < 6; i++) {
    out = ALPHABET[value % 62] + out;
    value = Math.floor(value / 62);
  }
  return out;
}

const BASE62 = /^[0-9A-Za-z]+$/;

export function parsePublishableKeyJs(key) {
  if (typeof key !== "string") throw Object.assign(new Error("not a string"), { code: "malformed_key" });
  if (key.startsWith("sk_")) throw Object.assign(new Error("secret key"), { code: "secret_key_exposed" });
  const environment = key.startsWith("pk_live_") ? "live" : key.startsWith("pk_test_") ? "test" : null;
  if (!environment || key.length !== 46 || !BASE62.test(key.slice(8))) {
    throw Object.assign(new Error("malformed"), { code: "malformed_key" });
  }
  if (checksum(key, 40) !== key.slice(40)) throw Object.assign(new Error("checksum"), { code: "bad_checksum" });
  return { applicationId: "app_" + key.slice(8, 24), environment };
}

/** Builds valid publishable keys for an application, for benchmarks. */
export function makePublishableKeys(applicationBody, count) {
  const keys = [];
  for (let n = 0; n < count; n++) {
    let body = "";
    for (let i = 0; i < 16; i++) body += ALPHABET[Math.floor(Math.random() * 62)];
    const payload = `pk_live_${applicationBody}${body}`;
    keys.push(payload + checksum(payload, payload.length));
  }
  return keys;
}
