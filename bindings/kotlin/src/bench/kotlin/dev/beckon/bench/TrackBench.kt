package dev.beckon.bench

import dev.beckon.Beckon
import dev.beckon.BeckonConfig
import dev.beckon.Event
import dev.beckon.FlushPolicy
import dev.beckon.JsonValue
import dev.beckon.Product
import dev.beckon.QueueLimits
import dev.beckon.track
import java.nio.file.Files

/**
 * `track` from Kotlin through JNA, timed on the caller's thread, each call returning
 * only once the event is durable in SQLite. In the same run, interleaved round by
 * round so all see the same machine state:
 *  - `track`: the binding's one-call path (what apps use);
 *  - `trackChecked`: the same call through uniffi's generated code;
 *  - `anonymousId()`: a generated call doing almost nothing, the floor of the
 *    generated path.
 *
 * Run: `scripts/bench kotlin`.
 */
fun main() {
    val dir = Files.createTempDirectory("beckon-bench").toString()
    val beckon = Beckon(
        BeckonConfig(
            dataDir = dir,
            serverUrl = "http://127.0.0.1:9",
            appKey = "bench-key",
            flushPolicy = FlushPolicy(flushAt = 1_000_000, flushIntervalMs = 3_600_000L),
            queueLimits = QueueLimits(maxEvents = 10_000_000L, maxBytes = 1L shl 34),
        ),
    )
    val event = Event.ProductViewed(
        product = Product(
            productId = "sku-42",
            name = "Trail running shoe",
            category = "Shoes",
            brand = "Peak",
            price = 89.9,
            currency = "EUR",
        ),
        properties = mapOf("source" to JsonValue.Text("search")),
    )
    val calls = mapOf<String, () -> Unit>(
        "track (one-call path)" to { beckon.track(event) },
        "trackChecked (generated)" to { beckon.trackChecked(event) },
        "anonymousId (generated, no work)" to { beckon.anonymousId() },
    )
    val rounds = 12
    val perRound = 2_000
    val p50s = calls.keys.associateWith { mutableListOf<Long>() }
    val p99s = calls.keys.associateWith { mutableListOf<Long>() }
    for (round in 0 until rounds) {
        for ((name, call) in calls) {
            val samples = LongArray(perRound)
            for (i in 0 until perRound) {
                val start = System.nanoTime()
                call()
                samples[i] = System.nanoTime() - start
            }
            samples.sort()
            // The first two rounds warm up the JIT and are not counted.
            if (round >= 2) {
                p50s.getValue(name) += samples[perRound / 2]
                p99s.getValue(name) += samples[perRound * 99 / 100]
            }
        }
    }
    fun median(xs: List<Long>) = xs.sorted()[xs.size / 2] / 1000.0
    println("Kotlin → JNA → Rust, ${rounds - 2} rounds × $perRound calls, medians of per-round percentiles")
    val fast = median(p50s.getValue("track (one-call path)"))
    for (name in calls.keys) {
        val p50 = median(p50s.getValue(name))
        val p99 = median(p99s.getValue(name))
        println(String.format("%-34s p50 %8.1f µs   p99 %8.1f µs   p50 ×%.2f of track", name, p50, p99, p50 / fast))
    }
    val stats = beckon.stats()
    println("events stored: ${stats.queuedEvents}, rejected: ${stats.rejectedAtTrack}")
    beckon.shutdown()
}
