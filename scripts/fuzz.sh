#!/usr/bin/env bash
# `make fuzz`: runs each cargo-fuzz target for FUZZ_SECONDS (default 60) with the nightly
# toolchain and prints libFuzzer's totals. A crash leaves its input in
# fuzz/artifacts/<target>/; turn it into a regression test in crates/keys/tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
seconds="${FUZZ_SECONDS:-60}"
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "==> Installing cargo-fuzz from crates.io"
  cargo install cargo-fuzz --version "=0.13.2"
fi
for target in parse_key request_bodies der_signature; do
  echo "==> Fuzzing $target for ${seconds}s"
  mkdir -p "fuzz/corpus/$target"
  cargo +nightly fuzz run "$target" "fuzz/corpus/$target" -- -max_total_time="$seconds" -print_final_stats=1 \
    2>&1 | tee "target/fuzz-$target.log" | grep -E "^(stat::number_of_executed_units|stat::average_exec_per_sec)|ERROR|panicked" || true
  if grep -q "ERROR: libFuzzer\|panicked" "target/fuzz-$target.log"; then
    echo "fuzz: $target found a crash; see target/fuzz-$target.log and fuzz/artifacts/$target" >&2
    exit 1
  fi
done
echo "fuzz: no crashes"
