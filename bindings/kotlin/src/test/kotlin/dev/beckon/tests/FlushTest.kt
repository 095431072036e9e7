package dev.beckon.tests

import dev.beckon.Event
import dev.beckon.FlushOutcome
import dev.beckon.jsonOf
import dev.beckon.track
import org.junit.Test
import kotlin.test.assertEquals
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue

class FlushTest : BeckonTestBase() {
    @Test
    fun flushDeliversEveryQueuedEventToTheServerExactlyOnce() {
        val server = startServer()
        val beckon = open(tempDir(), server.url)
        val count = 45
        repeat(count) { i -> beckon.track(Event.Custom(name = "Tick", properties = jsonOf("i" to i))) }
        val queued = beckon.stats()
        assertEquals(count.toULong(), queued.queuedEvents)
        assertTrue(queued.queuedBytes > 0uL)
        assertEquals(0uL, queued.uploadedEvents)

        val report = beckon.flush(FLUSH_TIMEOUT_MS)
        assertEquals(FlushOutcome.DELIVERED, report.outcome, "$report")
        assertEquals(count.toULong(), report.uploaded)
        assertEquals(0uL, report.rejected)
        assertEquals(0uL, report.queued)
        assertNull(report.retryInMs)
        assertNull(report.error)

        val stats = beckon.stats()
        assertEquals(0uL, stats.queuedEvents)
        assertEquals(0uL, stats.queuedBytes)
        assertEquals(count.toULong(), stats.uploadedEvents)
        assertTrue(stats.uploadedBatches >= 1uL)
        assertEquals(0uL, stats.dropped.rejectedByServer)

        val exported = server.events()
        assertEquals(count, exported.size)
        assertEquals(count, exported.map { it.id }.toSet().size, "an event id repeats")
        assertEquals((0L until count).toList(), exported.map { it.properties["i"] as Long }.sorted())
        assertTrue(exported.all { it.name == "Tick" && it.anonymousId == beckon.anonymousId() })

        // Nothing left: a second flush uploads nothing and the export is unchanged.
        val again = beckon.flush(FLUSH_TIMEOUT_MS)
        assertEquals(FlushOutcome.DELIVERED, again.outcome)
        assertEquals(0uL, again.uploaded)
        assertEquals(count, server.events().size)
    }

    @Test
    fun flushSplitsABigQueueIntoSeveralBatches() {
        val server = startServer()
        val beckon = open(tempDir(), server.url, QUIET.copy(maxBatchEvents = 10, flushAt = 10))
        // flushAt = 10 lets the worker start uploading on its own; flush waits for the rest.
        repeat(35) { i -> beckon.track(Event.Custom(name = "Tock", properties = jsonOf("i" to i))) }
        val report = beckon.flush(FLUSH_TIMEOUT_MS)
        assertEquals(FlushOutcome.DELIVERED, report.outcome, "$report")
        assertEquals(0uL, report.queued)
        val stats = beckon.stats()
        assertEquals(35uL, stats.uploadedEvents)
        assertTrue(stats.uploadedBatches >= 4uL, "35 events in batches of 10: $stats")
        val exported = server.events()
        assertEquals((0L until 35).toList(), exported.map { it.properties["i"] as Long }.sorted())
    }

    @Test
    fun flushToADeadServerWillRetryAndKeepsTheEvents() {
        val beckon = open(tempDir(), deadServerUrl())
        repeat(3) { beckon.track(Event.Custom(name = "Offline")) }
        val report = beckon.flush(FLUSH_TIMEOUT_MS)
        assertEquals(FlushOutcome.WILL_RETRY, report.outcome, "$report")
        assertEquals(0uL, report.uploaded)
        assertEquals(3uL, report.queued)
        assertNotNull(report.error, "a failed flush says why")
        assertNotNull(report.retryInMs, "a failed flush says when it retries")

        val stats = beckon.stats()
        assertEquals(3uL, stats.queuedEvents)
        assertEquals(0uL, stats.uploadedEvents)
        assertTrue(stats.retries >= 1uL, "$stats")
        assertNotNull(stats.lastError)
    }

    @Test
    fun eventsQueuedWhileTheServerWasDownAreDeliveredOnceItIsUp() {
        val dir = tempDir()
        open(dir, deadServerUrl()).let { offline ->
            repeat(4) { i -> offline.track(Event.Custom(name = "Queued Offline", properties = jsonOf("i" to i))) }
            assertEquals(FlushOutcome.WILL_RETRY, offline.flush(FLUSH_TIMEOUT_MS).outcome)
            offline.shutdown()
            offline.close()
        }
        val server = startServer()
        val online = open(dir, server.url)
        val report = online.flush(FLUSH_TIMEOUT_MS)
        assertEquals(FlushOutcome.DELIVERED, report.outcome, "$report")
        assertEquals(0uL, online.stats().queuedEvents)
        assertEquals(listOf(0L, 1L, 2L, 3L), server.events().map { it.properties["i"] as Long }.sorted())
    }
}
