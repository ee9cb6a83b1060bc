#!/usr/bin/env bash
# Benchmark: `aero2 scan` against ripgrep with the same pattern, on a generated tree of
# text files with a few planted keys. Not part of the test suite.
#
#   bash crates/cli/bench/scan.sh                 # ~1 GiB tree, 5 runs each
#   SCAN_BENCH_MB=256 SCAN_BENCH_RUNS=3 RG=~/.cargo/bin/rg bash crates/cli/bench/scan.sh
#   (SCAN_BENCH_UNICODE_RUNS, default 3: runs of the slow Unicode-pattern ripgrep)
#
# Needs ripgrep: RG=/path/to/rg, else rg on PATH (`apt-get install ripgrep` or `cargo
# install ripgrep`). The tree is generated under target/scan-bench/ and removed when the
# script ends, however it ends.
#
# ripgrep runs twice: with the core's KEY_PATTERN exactly (what a user would register;
# ripgrep reads `\b` as a Unicode word boundary, which its regex engine cannot run on its
# fast DFA over non-ASCII text), and with `(?-u)` in front, the ASCII word boundary that
# aero2 scan uses (keys are ASCII). The second is the like-for-like comparison.
# aero2 is built twice: with the workspace's release profile (opt-level "z" and LTO, made
# for the worker's size: what `cargo install --path crates/cli` builds today) and with
# opt-level 3 (`--config` overrides, into target/scan-bench/target-o3).
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
cd "$root"
export PATH="$HOME/.cargo/bin:$PATH"
size_mb="${SCAN_BENCH_MB:-1024}"
runs="${SCAN_BENCH_RUNS:-5}"
work="$root/target/scan-bench"
tree="$work/tree"

rg="${RG:-$(command -v rg || true)}"
[ -x "$rg" ] || { echo "ripgrep is needed: apt-get install ripgrep, or RG=/path/to/rg" >&2; exit 2; }
cleanup() { rm -rf "$tree"; }
trap cleanup EXIT
mkdir -p "$work"

echo "==> Building aero2: release profile (as cargo install builds it), and opt-level 3" >&2
nice -n 10 cargo build -q --release -p aero2-cli
aero2_z="$root/target/release/aero2"
CARGO_TARGET_DIR="$work/target-o3" nice -n 10 cargo build -q --release -p aero2-cli \
  --config 'profile.release.opt-level=3' --config 'profile.release.lto="thin"' \
  --config 'profile.release.codegen-units=16'
aero2_o3="$work/target-o3/release/aero2"

echo "==> Generating a ${size_mb} MiB tree under $tree" >&2
rm -rf "$tree"
python3 - "$tree" "$size_mb" > "$work/planted.txt" <<'PY'
import os, random, sys, zlib
tree, size_mb = sys.argv[1], int(sys.argv[2])
rng = random.Random(24)
A = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
def b62(n, width):
    out = ""
    for _ in range(width):
        out = A[n % 62] + out
        n //= 62
    return out
def key(prefix, random_len):
    body = prefix + "".join(rng.choice(A) for _ in range(16 + random_len))
    return body + b62(zlib.crc32(body.encode()), 6)
# Source-like text: identifiers, numbers, punctuation, some near-misses of the pattern
# ("sk_", "pk_live_" followed by too few characters) so the prefilter has work to do.
words = ["fn", "let", "const", "return", "self", "value", "config", "request", "key",
         "token", "task_live", "disk_test", "sk_", "pk_live_short", "async", "await",
         "match", "Some(x)", "None", "impl", "struct", "String::new()", "0x1f", "42",
         "// comment", "\"text\"", "=>", "{", "}", "(", ")", ";", "é", "ünïcode"]
lines = []
for _ in range(60000):
    n = rng.randint(0, 14)
    lines.append("    " * rng.randint(0, 3) + " ".join(rng.choice(words) for _ in range(n)))
seed = ("\n".join(lines) + "\n").encode()
while len(seed) < 8 << 20:
    seed += seed
total = size_mb << 20
written = files = 0
plants = []
kinds = ["secret"] * 5 + ["publishable"] * 5 + ["broken"] * 5
plant_at = sorted(rng.sample(range(max(total // (64 << 10), 20)), len(kinds)))
while written < total:
    size = min(rng.choice([2, 4, 8, 16, 32, 64, 128, 256]) << 10, total - written)
    d = os.path.join(tree, f"d{files // 256:03}", f"s{files % 16:02}")
    os.makedirs(d, exist_ok=True)
    start = rng.randrange(0, len(seed) - size)
    data = seed[start:start + size]
    if plant_at and files == plant_at[0]:
        plant_at.pop(0)
        kind = kinds[len(plants)]
        k = key("sk_live_", 32) if kind != "publishable" else key("pk_live_", 16)
        if kind == "broken":
            k = k[:-1] + ("0" if k[-1] != "0" else "1")
        data = data[: size // 2] + b"\nlet planted = \"" + k.encode() + b"\";\n" + data[size // 2 :]
        plants.append((kind, f"f{files:06}.rs", k[:8] + "…" + k[-4:]))
        path = os.path.join(d, f"f{files:06}.rs")
    else:
        path = os.path.join(d, f"f{files:06}.rs")
    with open(path, "wb") as f:
        f.write(data)
    written += len(data)
    files += 1
for kind, name, hint in plants:
    print(kind, name, hint)
print(f"files {files} bytes {written}", file=sys.stderr)
PY
echo "==> Planted: $(grep -c ^secret "$work/planted.txt") secret, $(grep -c ^publishable "$work/planted.txt") publishable, $(grep -c ^broken "$work/planted.txt") with a broken checksum" >&2
du -sh --apparent-size "$tree" >&2
echo "    $(find "$tree" -type f | wc -l) files" >&2

pattern='\b(?:pk_(?:live|test)_[0-9A-Za-z]{38}|sk_(?:live|test)_[0-9A-Za-z]{54})\b'
# The script's copy of the pattern must be the core's (KEY_PATTERN).
grep -qF "$pattern" "$root/crates/keys/src/format.rs" \
  || { echo "the pattern here is not the core's KEY_PATTERN" >&2; exit 1; }

echo "==> Correctness" >&2
set +e
"$aero2_o3" scan "$tree" --format json > "$work/aero2.json"; code=$?
set -e
[ "$code" = 1 ] || { echo "aero2 scan exited $code, expected 1" >&2; exit 1; }
python3 - "$work/aero2.json" "$work/planted.txt" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
planted = [l.split() for l in open(sys.argv[2])]
found = sorted((f["kind"], f["path"].rsplit("/", 1)[-1], f["hint"]) for f in report["findings"])
want = sorted((k, n, h) for k, n, h in planted if k != "broken")
assert found == want, (found, want)
print(f"    aero2: exactly the {len(want)} real keys, none of the {len(planted) - len(want)} with a broken checksum", file=sys.stderr)
PY
rg_count=$("$rg" --no-messages -c "$pattern" "$tree" | awk -F: '{ n += $2 } END { print n }')
echo "    rg: $rg_count matches (the pattern alone cannot tell a broken checksum)" >&2

# One run: "wall_seconds cpu_seconds" (user + system).
measure() {
  local TIMEFORMAT='%R %U %S'
  { time "$@" > /dev/null 2>&1; } 2>&1 | awk '{ printf "%s %.3f\n", $1, $2 + $3 }'
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

ascii="(?-u)$pattern"
echo "==> Timing: $runs rounds, each command once per round in turn (so load from other" >&2
echo "    processes falls on all of them alike), page cache warm; medians" >&2
"$rg" -c "$ascii" "$tree" > /dev/null || true   # warm the page cache
"$aero2_o3" scan "$tree" > /dev/null 2>&1 || true
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
names=(rg_ascii aero2_o3 aero2_z rg_unicode)
declare -A wall cpu
for round in $(seq "$runs"); do
  for name in "${names[@]}"; do
    case $name in
      rg_ascii) cmd=("$rg" -n --column "$ascii" "$tree") ;;
      rg_unicode)
        [ "$round" -le "${SCAN_BENCH_UNICODE_RUNS:-3}" ] || continue
        cmd=("$rg" -n --column "$pattern" "$tree") ;;
      aero2_o3) cmd=("$aero2_o3" scan "$tree") ;;
      aero2_z) cmd=("$aero2_z" scan "$tree") ;;
    esac
    read -r w c < <(measure "${cmd[@]}")
    wall[$name]+="$w "
    cpu[$name]+="$c "
  done
  echo "    round $round: rg $(echo "${wall[rg_ascii]}" | awk '{print $NF}') s, aero2 $(echo "${wall[aero2_o3]}" | awk '{print $NF}') s" >&2
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
bytes=$(du -sb --apparent-size "$tree" | cut -f1)
med() { tr ' ' '\n' <<< "$1" | grep . | median; }
base_wall=$(med "${wall[rg_ascii]}")
base_cpu=$(med "${cpu[rg_ascii]}")
report() { # label name
  local w c
  w=$(med "${wall[$2]}"); c=$(med "${cpu[$2]}")
  printf '%-44s %6.2f s %6.0f MiB/s %5.2fx  | CPU %6.2f s %5.2fx\n' "$1" "$w" \
    "$(echo "$bytes / 1048576 / $w" | bc -l)" "$(echo "$w / $base_wall" | bc -l)" \
    "$c" "$(echo "$c / $base_cpu" | bc -l)"
}
echo
echo "Tree: $(echo "$bytes / 1048576" | bc) MiB in $(find "$tree" -type f | wc -l) files, 15 planted keys; $(nproc) CPUs;"
echo "load average $load_before before, $load_after after; $runs rounds (Unicode rg: ${SCAN_BENCH_UNICODE_RUNS:-3})"
echo "ripgrep: $("$rg" --version | head -1) ($rg)"
echo "median wall time, throughput and ratio to rg (?-u); median CPU time (user + system) and ratio"
report "rg -n --column '(?-u)KEY_PATTERN'" rg_ascii
report "rg -n --column 'KEY_PATTERN' (Unicode \\b)" rg_unicode
report "aero2 scan, opt-level 3" aero2_o3
report "aero2 scan, release profile (opt-level z)" aero2_z
