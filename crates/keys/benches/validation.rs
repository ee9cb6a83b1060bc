//! Full validation of a key (parse, checksum, SHA-256 storage id) against a bare SHA-256
//! of the same bytes, the floor, in the same run. `scripts/bench.mjs` reads the estimates
//! and reports the ratio.

use std::hint::black_box;

use aero2_keys::{identify, parse, ApiKey, ApplicationId, Environment, KeyKind, SystemRandom};
use criterion::{criterion_group, criterion_main, Criterion};
use sha2::{Digest, Sha256};

fn validation(c: &mut Criterion) {
    let app = ApplicationId::generate(&mut SystemRandom).unwrap();
    let key = ApiKey::generate(KeyKind::Secret, Environment::Live, app, &mut SystemRandom).unwrap();
    let text = key.expose_secret().to_owned();
    let mut mistyped = text.clone();
    let replacement = if &text[30..31] == "A" { "B" } else { "A" };
    mistyped.replace_range(30..31, replacement);

    let mut group = c.benchmark_group("validation");
    group.bench_function("bare_sha256", |b| {
        b.iter(|| Sha256::digest(black_box(text.as_bytes())))
    });
    // What the gate does per request: parse, checksum and storage id.
    group.bench_function("full_validation", |b| {
        b.iter(|| identify(black_box(&text)).unwrap())
    });
    group.bench_function("parse_only", |b| {
        b.iter(|| parse(black_box(&text)).unwrap())
    });
    group.bench_function("reject_bad_checksum", |b| {
        b.iter(|| parse(black_box(&mistyped)).unwrap_err())
    });
    group.finish();
}

criterion_group!(benches, validation);
criterion_main!(benches);
