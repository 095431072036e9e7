// `track` called from Swift, timed call by call on the caller's thread; each call returns
// only once the event is durable in SQLite. In the same process and run, interleaved
// round by round so all see the same machine state and the same growing database:
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
// Usage: BeckonBench [ROUNDS] [CALLS_PER_ROUND]   (default 11 2000; round 1 is warm-up)
import Beckon
import BeckonFFI
import BeckonTrackSerialized
import Foundation

setvbuf(stdout, nil, _IOLBF, 0)

let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let rounds = arguments.count > 0 ? max(arguments[0], 2) : 11
let perRound = arguments.count > 1 ? max(arguments[1], 100) : 2_000

let dir = FileManager.default.temporaryDirectory.appendingPathComponent("beckon-swift-bench-\(UUID().uuidString)")
try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: dir) }

let beckon = try Beckon(config: BeckonConfig(
    dataDir: dir.path, serverUrl: "http://127.0.0.1:9", appKey: "bench-key",
    flushPolicy: FlushPolicy(flushAt: 500, flushIntervalMs: 3_600_000),
    queueLimits: QueueLimits(maxEvents: Int64.max, maxBytes: Int64.max),
    syncIntervalSeconds: 0))

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

// Both paths store the same event: check once before timing.
let before = try beckon.stats().queuedEvents
rustTrack()
try beckon.track(event)
let afterCheck = try beckon.stats().queuedEvents
precondition(afterCheck == before + 2, "each path stores one event")

struct Call {
    let name: String
    let run: () throws -> Void
    var p50s: [UInt64] = []
    var p99s: [UInt64] = []
}

var calls = [
    Call(name: "Swift track (Beckon.track)", run: { try beckon.track(event) }),
    Call(name: "Rust track, in process", run: rustTrack),
    Call(name: "anonymousId() (generated, no work)", run: { _ = beckon.anonymousId() }),
]

var samples = [UInt64](repeating: 0, count: perRound)
for round in 0..<rounds {
    // Rotate which call goes first, so none always runs right after the same neighbour.
    for offset in 0..<calls.count {
        let index = (round + offset) % calls.count
        let run = calls[index].run
        for i in 0..<perRound {
            let start = DispatchTime.now().uptimeNanoseconds
            try run()
            samples[i] = DispatchTime.now().uptimeNanoseconds - start
        }
        samples.sort()
        if round > 0 {
            calls[index].p50s.append(samples[perRound / 2])
            calls[index].p99s.append(samples[perRound * 99 / 100])
        }
    }
}

func median(_ values: [UInt64]) -> Double {
    Double(values.sorted()[values.count / 2]) / 1000
}

// Besides the timed events the queue may hold the SDK's own membership reports (three
// Product Viewed of one category make the user an "almost buyer").
let stored = try beckon.stats().queuedEvents - before
let expected = UInt64(2 + 2 * rounds * perRound)
print("Swift → uniffi → Rust, \(rounds - 1) rounds × \(perRound) calls after 1 warm-up round; medians of per-round percentiles")
for call in calls {
    print(String(format: "%-36@ p50 %8.2f µs   p99 %8.2f µs", call.name as NSString, median(call.p50s), median(call.p99s)))
}
let swift = calls[0], rust = calls[1]
print(String(format: "ratio Swift/Rust (in process):        p50 %.2f×   p99 %.2f×",
             median(swift.p50s) / median(rust.p50s), median(swift.p99s) / median(rust.p99s)))
print(String(format: "Swift binding cost per track (p50):   %.2f µs", median(swift.p50s) - median(rust.p50s)))
print("events stored: \(stored) (\(expected) tracked, the rest the SDK's membership reports)")
// Machine-readable lines for benches/swift/run.sh.
print(String(format: "swift-track-p50-us %.3f", median(swift.p50s)))
print(String(format: "swift-track-p99-us %.3f", median(swift.p99s)))
precondition(stored >= expected, "every timed track stored its event")
// No shutdown(): it would wait for the engagement thread to work through the segment
// evaluations of the tens of thousands of events just tracked (minutes), which is no part
// of what is measured here. The data directory is removed by the `defer` above.
