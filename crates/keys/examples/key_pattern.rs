//! Prints `KEY_PATTERN`, the regular expression of every Aero2 key, for tools outside Rust
//! (`scripts/scan-secrets.mjs`) that must match keys exactly as the core defines them.
fn main() {
    println!("{}", aero2_keys::KEY_PATTERN);
}
