#!/usr/bin/env bash
# `track` from Swift against `track` in Rust, back to back on the same machine:
#   1. the Swift harness (benches/swift, release build, against target/mobile/libbeckon.so,
#      the library as the phones get it: the `mobile` profile):
#      Swift `Beckon.track` and, in the same process, the Rust side alone through
#      `beckon_track_serialized` (see Sources/BeckonBench/main.swift);
#   2. the Rust latency report of benches/track.rs (`Client::track` called from Rust,
#      without criterion's own measurements);
# then the ratios of the Swift p50 and p99 to both Rust baselines. The target (Swift track
# p50 within 1.5× of Rust's) is checked against the in-process baseline: same process,
# same client, calls alternating, so machine load hits both alike. The separate Rust
# process is printed for reference; on a shared machine its ratio swings with the load
# (0.8× to 1.9× seen on 2 busy cores while the in-process ratio stayed at 1.1–1.2×).
# Usage: benches/swift/run.sh [ROUNDS] [CALLS_PER_ROUND]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"

toolchain=$(scripts/swift-tests --toolchain-path) || {
  echo "bench swift: no Swift toolchain (see scripts/swift-tests)" >&2
  exit 3
}
PATH=$toolchain:$PATH

cargo build --profile mobile -p beckon --no-default-features --features ffi
export BECKON_LIB_DIR=$root/target/mobile
swift build -c release --package-path benches/swift/BeckonBench 2>&1 | grep -v 'Unable to locate libSwiftScan'
out=$(mktemp)
trap 'rm -f "$out"' EXIT

echo
echo "== Swift: track from Swift (and the Rust side alone, same process)"
"$(swift build -c release --package-path benches/swift/BeckonBench --show-bin-path 2>/dev/null)/BeckonBench" "$@" | tee "$out"
swift_p50=$(awk '$1 == "swift-track-p50-us" { print $2 }' "$out")
swift_p99=$(awk '$1 == "swift-track-p99-us" { print $2 }' "$out")
in_p50=$(awk '$1 == "rust-in-process-p50-us" { print $2 }' "$out")
in_p99=$(awk '$1 == "rust-in-process-p99-us" { print $2 }' "$out")

echo
echo "== Rust: benches/track.rs latency report (Client::track called from Rust)"
# The report is complete once its "ratio track/raw" line is out. The process then drops
# its client, which waits for the engagement thread to finish the segment evaluations of
# the 40,000 events it tracked (minutes), and runs criterion's own measurements: neither
# is part of this comparison, so it is stopped there.
cargo bench --bench track --no-run 2>&1 | tee "$out"
bench_bin=$(sed -nE 's/.*Executable benches\/track\.rs \((.*)\)$/\1/p' "$out" | tail -1)
[ -x "$bench_bin" ] || { echo "bench swift: cannot find the track bench executable" >&2; exit 1; }
: >"$out"
"$bench_bin" --bench latency-report-only >"$out" 2>&1 &
bench_pid=$!
for _ in $(seq 1 600); do
  grep -q '^ratio track/raw' "$out" && break
  kill -0 "$bench_pid" 2>/dev/null || break
  sleep 0.5
done
kill "$bench_pid" 2>/dev/null || true
wait "$bench_pid" 2>/dev/null || true
cat "$out"
grep -q '^ratio track/raw' "$out" || { echo "bench swift: the Rust latency report did not finish" >&2; exit 1; }

# Rust prints durations as Debug: 18.35µs, 950.00ns, 1.20ms.
to_us() {
  awk -v d="$1" 'BEGIN {
    n = d; sub(/[^0-9.]+$/, "", n); u = d; sub(/^[0-9.]+/, "", u)
    f = (u == "ns") ? 0.001 : (u == "ms") ? 1000 : (u == "s") ? 1000000 : 1
    printf "%.3f", n * f }'
}
line=$(grep '^Client::track:' "$out")
rust_p50=$(to_us "$(echo "$line" | awk '{ print $3 }')")
rust_p99=$(to_us "$(echo "$line" | awk '{ print $5 }')")

echo
echo "== Swift track vs Rust track (target: p50 within 1.5× of the in-process Rust p50)"
awk -v s50="$swift_p50" -v s99="$swift_p99" -v i50="$in_p50" -v i99="$in_p99" -v r50="$rust_p50" -v r99="$rust_p99" 'BEGIN {
  printf "Swift Beckon.track:                       p50 %8.2f µs   p99 %8.2f µs\n", s50, s99
  printf "Rust track, same process:                 p50 %8.2f µs   p99 %8.2f µs   Swift/Rust p50 %.2f×  p99 %.2f×\n", i50, i99, s50 / i50, s99 / i99
  printf "Rust Client::track, separate process:     p50 %8.2f µs   p99 %8.2f µs   Swift/Rust p50 %.2f×  p99 %.2f×\n", r50, r99, s50 / r50, s99 / r99
  exit (s50 / i50 <= 1.5) ? 0 : 1 }' || { echo "bench swift: Swift p50 is over 1.5× the Rust p50" >&2; exit 1; }
