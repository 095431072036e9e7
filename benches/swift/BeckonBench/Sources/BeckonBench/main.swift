// `track` called from Swift, timed call by call on the caller's thread; each call returns
// only once the event is durable in SQLite. In the same process and run, on the same
// client, the two track paths alternating call by call so both see the same machine
// state, queue, history and background work:
//
//  - Swift track: `Beckon.track(_:)`, the binding's generated uniffi path (what apps use):
//    Swift lowers the event into a buffer, then one call into Rust, which lifts it and
//    runs Client::track;
//  - Rust track, in process: libbeckon's `beckon_track_serialized` given the same event
//    already serialized once, so no Swift work at all per call: the Rust side alone
//    (lift + Client::track), the baseline the Swift path is compared with;
//  - anonymousId(): a generated call that does almost nothing, the floor of the
//    generated path.
//
// The event and the client settings are those of benches/track.rs (the Rust criterion
// bench, whose latency report benches/swift/run.sh prints right after this one).
//
// Usage: BeckonBench [ROUNDS] [CALLS_PER_ROUND]   (default 11 1000; round 1 is warm-up)
import Beckon
import BeckonFFI
import BeckonTrackSerialized
import Foundation

setvbuf(stdout, nil, _IOLBF, 0)

let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let rounds = arguments.count > 0 ? max(arguments[0], 2) : 11
let perRound = arguments.count > 1 ? max(arguments[1], 100) : 1_000

let root = FileManager.default.temporaryDirectory.appendingPathComponent("beckon-swift-bench-\(UUID().uuidString)")
defer { try? FileManager.default.removeItem(at: root) }

/// A client that never uploads during the run, with room for every event (as in
/// benches/track.rs).
func quietClient(_ name: String) throws -> Beckon {
    let dir = root.appendingPathComponent(name)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return try Beckon(config: BeckonConfig(
        dataDir: dir.path, serverUrl: "http://127.0.0.1:9", appKey: "bench-key",
        flushPolicy: FlushPolicy(flushAt: 500, flushIntervalMs: 3_600_000),
        queueLimits: QueueLimits(maxEvents: Int64.max, maxBytes: Int64.max),
        syncIntervalSeconds: 0))
}
let beckon = try quietClient("bench")

let event = Event.productViewed(
    product: Product(productId: "sku-42", category: "Shoes", name: "Trail running shoe", brand: "Peak",
                     price: 89.9, currency: "EUR"),
    properties: ["source": "search"])

/// The event in uniffi's serialization, made once by the generated converter.
let serialized: [UInt8] = {
    let buffer = FfiConverterTypeEvent_lower(event)
    let bytes = Array(UnsafeBufferPointer(start: buffer.data, count: Int(buffer.len)))
    var status = RustCallStatus()
    ffi_beckon_rustbuffer_free(buffer, &status)
    precondition(status.code == 0, "rustbuffer_free failed")
    return bytes
}()
let instanceId = beckon.instanceId()

func rustTrack() {
    let status = serialized.withUnsafeBufferPointer { bytes in
        beckon_track_serialized(instanceId, bytes.baseAddress, bytes.count)
    }
    precondition(status == 0, "beckon_track_serialized returned \(status)")
}

// Both paths store the event: check once before timing.
let before = try beckon.stats().queuedEvents
try beckon.track(event)
let afterSwift = try beckon.stats().queuedEvents
rustTrack()
let afterRust = try beckon.stats().queuedEvents
precondition(afterSwift == before + 1 && afterRust == before + 2, "each path stores the event")

struct Percentiles {
    var p50s: [UInt64] = []
    var p99s: [UInt64] = []

    mutating func add(_ samples: inout [UInt64]) {
        samples.sort()
        p50s.append(samples[samples.count / 2])
        p99s.append(samples[samples.count * 99 / 100])
    }
}

@inline(__always) func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

var swiftTrack = Percentiles(), rustTrackTimes = Percentiles(), floorTimes = Percentiles()
var swiftSamples = [UInt64](repeating: 0, count: perRound)
var rustSamples = [UInt64](repeating: 0, count: perRound)
var floorSamples = [UInt64](repeating: 0, count: perRound)
for round in 0..<rounds {
    // The two track paths alternate call by call on the same client, so both see the
    // same queue, the same history and the same engagement-thread work in the background;
    // which one goes first alternates by round. Per round the client stores 2 × perRound
    // events, as many as benches/track.rs's client (2000 per round by default).
    for i in 0..<perRound {
        let swiftFirst = (i + round) % 2 == 0
        if swiftFirst {
            let t0 = now(); try beckon.track(event); let t1 = now(); rustTrack(); let t2 = now()
            swiftSamples[i] = t1 - t0
            rustSamples[i] = t2 - t1
        } else {
            let t0 = now(); rustTrack(); let t1 = now(); try beckon.track(event); let t2 = now()
            rustSamples[i] = t1 - t0
            swiftSamples[i] = t2 - t1
        }
    }
    for i in 0..<perRound {
        let t0 = now()
        _ = beckon.anonymousId()
        floorSamples[i] = now() - t0
    }
    if round > 0 {
        swiftTrack.add(&swiftSamples)
        rustTrackTimes.add(&rustSamples)
        floorTimes.add(&floorSamples)
    }
}

func median(_ values: [UInt64]) -> Double {
    Double(values.sorted()[values.count / 2]) / 1000
}

// Besides the timed events the queue may hold the SDK's own membership reports (three
// Product Viewed of one category make the user an "almost buyer").
let expected = UInt64(2 + 2 * rounds * perRound)
let stored = try beckon.stats().queuedEvents - before
print("Swift → uniffi → Rust, \(rounds - 1) rounds × \(perRound) calls of each after 1 warm-up round; medians of per-round percentiles")
let rows: [(String, Percentiles)] = [
    ("Swift track (Beckon.track)", swiftTrack),
    ("Rust track, in process", rustTrackTimes),
    ("anonymousId() (generated, no work)", floorTimes),
]
for (name, times) in rows {
    print(name.padding(toLength: 36, withPad: " ", startingAt: 0)
        + String(format: " p50 %8.2f µs   p99 %8.2f µs", median(times.p50s), median(times.p99s)))
}
print(String(format: "ratio Swift/Rust, in process         p50 %8.2f×   p99 %8.2f×",
             median(swiftTrack.p50s) / median(rustTrackTimes.p50s), median(swiftTrack.p99s) / median(rustTrackTimes.p99s)))
print(String(format: "Swift binding cost per track        p50 %8.2f µs",
             median(swiftTrack.p50s) - median(rustTrackTimes.p50s)))
print("events stored: \(stored) (\(expected) tracked, the rest membership reports)")
// Machine-readable lines for benches/swift/run.sh.
print(String(format: "swift-track-p50-us %.3f", median(swiftTrack.p50s)))
print(String(format: "swift-track-p99-us %.3f", median(swiftTrack.p99s)))
print(String(format: "rust-in-process-p50-us %.3f", median(rustTrackTimes.p50s)))
print(String(format: "rust-in-process-p99-us %.3f", median(rustTrackTimes.p99s)))
precondition(stored >= expected, "every timed track stored its event")
// No shutdown(): it would wait for the engagement thread to work through the segment
// evaluations of the tens of thousands of events just tracked (minutes), which is no part
// of what is measured here. The data directory is removed by the `defer` above.
