#!/usr/bin/env bash
# `track` from Swift against `track` in Rust, back to back on the same machine:
#   1. the Swift harness (benches/swift, release build, against target/release/libbeckon.so):
#      Swift `Beckon.track` and, in the same process, the Rust side alone through
#      `beckon_track_serialized` (see Sources/BeckonBench/main.swift);
#   2. the Rust latency report of benches/track.rs (`Client::track` called from Rust,
#      without criterion's own measurements);
# then the ratio of the Swift p50 and p99 to the Rust `Client::track` ones.
# Usage: benches/swift/run.sh [ROUNDS] [CALLS_PER_ROUND]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"

toolchain=$(scripts/swift-tests --toolchain-path) || {
  echo "bench swift: no Swift toolchain (see scripts/swift-tests)" >&2
  exit 3
}
PATH=$toolchain:$PATH

cargo build --release -p beckon
export BECKON_LIB_DIR=$root/target/release
swift build -c release --package-path benches/swift/BeckonBench 2>&1 | grep -v 'Unable to locate libSwiftScan'
out=$(mktemp)
trap 'rm -f "$out"' EXIT

echo
echo "== Swift: track from Swift (and the Rust side alone, same process)"
"$(swift build -c release --package-path benches/swift/BeckonBench --show-bin-path 2>/dev/null)/BeckonBench" "$@" | tee "$out"
swift_p50=$(awk '$1 == "swift-track-p50-us" { print $2 }' "$out")
swift_p99=$(awk '$1 == "swift-track-p99-us" { print $2 }' "$out")

echo
echo "== Rust: benches/track.rs latency report (Client::track called from Rust)"
# The filter matches no criterion benchmark: only the latency report runs.
cargo bench --bench track -- latency-report-only 2>/dev/null | tee "$out"

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
echo "== Swift track vs Rust Client::track (target: p50 within 1.5×)"
awk -v s50="$swift_p50" -v s99="$swift_p99" -v r50="$rust_p50" -v r99="$rust_p99" 'BEGIN {
  printf "Swift Beckon.track:  p50 %8.2f µs   p99 %8.2f µs\n", s50, s99
  printf "Rust Client::track:  p50 %8.2f µs   p99 %8.2f µs\n", r50, r99
  printf "ratio Swift/Rust:    p50 %.2f×        p99 %.2f×\n", s50 / r50, s99 / r99
  exit (s50 / r50 <= 1.5) ? 0 : 1 }' || { echo "bench swift: Swift p50 is over 1.5× the Rust p50" >&2; exit 1; }
