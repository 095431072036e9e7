package dev.beckon.tests

import dev.beckon.Beckon
import dev.beckon.BeckonConfig
import dev.beckon.BeckonException
import dev.beckon.FlushPolicy
import dev.beckon.QueueLimits
import org.junit.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNull
import kotlin.test.assertTrue

class ConfigTest : BeckonTestBase() {
    @Test
    fun aValidConfigOpensAnInstanceWithTheDesignDefaults() {
        val config = BeckonConfig(tempDir().toString(), "https://beckon.shop.example", APP_KEY)
        assertEquals(20, config.flushPolicy.flushAt)
        assertEquals(30_000L, config.flushPolicy.flushIntervalMs)
        assertEquals(500, config.flushPolicy.maxBatchEvents)
        assertEquals(10_000L, config.queueLimits.maxEvents)
        Beckon(config).use { beckon ->
            assertTrue(beckon.anonymousId().isNotBlank())
            assertNull(beckon.userId())
            assertEquals(0uL, beckon.stats().queuedEvents)
            beckon.shutdown()
        }
    }

    @Test
    fun eachInvalidSettingThrowsInvalidConfigNamingIt() {
        val dir = tempDir().toString()
        val good = BeckonConfig(dir, "https://beckon.shop.example", APP_KEY)
        val cases = listOf(
            good.copy(dataDir = "  ") to "data_dir",
            good.copy(serverUrl = "beckon.shop.example") to "beckon.shop.example",
            good.copy(serverUrl = "ftp://beckon.shop.example") to "http",
            good.copy(appKey = "") to "app_key",
            good.copy(flushPolicy = FlushPolicy(flushAt = 0)) to "flush_at",
            good.copy(flushPolicy = FlushPolicy(maxBatchEvents = 501)) to "max_batch_events",
            good.copy(flushPolicy = FlushPolicy(maxBatchBytes = 1000)) to "max_batch_bytes",
            good.copy(flushPolicy = FlushPolicy(requestTimeoutMs = 0)) to "timeouts",
            good.copy(flushPolicy = FlushPolicy(retryBaseMs = 1000, retryMaxMs = 10)) to "retry_base_ms",
            good.copy(queueLimits = QueueLimits(maxEvents = 0)) to "queue_limits",
        )
        for ((config, named) in cases) {
            val error = assertFailsWith<BeckonException.InvalidConfig>("$config should be refused") {
                Beckon(config).close()
            }
            val message = error.message ?: ""
            assertTrue(message.contains(named), "\"$message\" should name $named")
        }
        // None of the refused configs left a lock behind: the directory still opens.
        Beckon(good).use { it.shutdown() }
    }
}
