// Builds the npm package @aero2/keys into crates/browser/pkg with tools from crates.io and
// npm only: cargo (wasm32), wasm-bindgen-cli, and binaryen's wasm-opt.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pkg = join(root, "crates/browser/pkg");
const raw = join(root, "target/browser-raw");
const home = process.env.HOME ?? "";
const env = { ...process.env, PATH: `${home}/.cargo/bin:${process.env.PATH}` };
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, env, stdio: ["ignore", "inherit", "inherit"] });
const step = (text) => console.log(`==> ${text}`);

step("Compiling crates/browser for wasm32-unknown-unknown");
run("cargo", ["build", "-p", "aero2-browser", "--target", "wasm32-unknown-unknown", "--release"]);

step("Generating bindings (wasm-bindgen --target bundler)");
rmSync(raw, { recursive: true, force: true });
run("wasm-bindgen", [
  "target/wasm32-unknown-unknown/release/aero2_browser.wasm",
  "--target", "bundler", "--out-dir", raw, "--out-name", "aero2_keys", "--no-typescript",
]);

step("Optimising for size (wasm-opt -Oz)");
const optimised = join(raw, "aero2_keys_opt.wasm");
run(join(root, "node_modules/binaryen/bin/wasm-opt"), [
  "-Oz", "--converge", "--strip-debug", "--strip-producers", "--strip-target-features", "--enable-bulk-memory", "--enable-nontrapping-float-to-int",
  "--enable-sign-ext", "--enable-mutable-globals", "--enable-reference-types", "--enable-multivalue",
  join(raw, "aero2_keys_bg.wasm"), "-o", optimised,
]);

step(`Writing the package to ${pkg}`);
rmSync(pkg, { recursive: true, force: true });
mkdirSync(pkg, { recursive: true });
const wasm = readFileSync(optimised);
writeFileSync(
  join(pkg, "aero2_keys_wasm.js"),
  `// The compiled wasm module, inlined so the package loads synchronously everywhere.\nexport const wasmBase64 = "${wasm.toString("base64")}";\n`,
);
for (const file of ["index.d.ts", "package.json", "README.md"]) {
  copyFileSync(join(root, "crates/browser/js", file), join(pkg, file));
}
// index.js and the wasm-bindgen glue become one minified module; the inlined wasm stays a
// module of its own, which the tests read to inspect the wasm's imports and exports.
copyFileSync(join(root, "crates/browser/js/index.js"), join(raw, "index.js"));
run(join(root, "node_modules/.bin/esbuild"), [
  join(raw, "index.js"), "--bundle", "--minify", "--format=esm", "--target=es2020",
  "--external:./aero2_keys_wasm.js", `--outfile=${join(pkg, "index.js")}`, "--log-level=warning",
]);

const shipped = ["index.js", "aero2_keys_wasm.js"];
const gzipped = shipped.reduce((sum, file) => sum + gzipSync(readFileSync(join(pkg, file)), { level: 9 }).length, 0);
const report = { wasm_bytes: wasm.length, wasm_gzip_bytes: gzipSync(wasm, { level: 9 }).length, package_gzip_bytes: gzipped };
writeFileSync(join(pkg, "..", "size.json"), JSON.stringify(report, null, 2) + "\n");
step(`wasm ${report.wasm_bytes} B (${report.wasm_gzip_bytes} B gzipped); package JavaScript + wasm ${gzipped} B gzipped`);
