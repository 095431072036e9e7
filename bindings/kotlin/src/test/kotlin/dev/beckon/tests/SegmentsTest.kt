package dev.beckon.tests

import dev.beckon.FlushOutcome
import dev.beckon.SyncOutcome
import dev.beckon.support.ServerProcess
import dev.beckon.track
import org.junit.Test
import kotlin.test.assertEquals
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue

class SegmentsTest : BeckonTestBase() {
    @Test
    fun aCartAbandonerIsToldToTheListenerAndReportedToTheServerOnEntryAndExit() {
        val server = startServer()
        val beckon = open(tempDir(), server.url)
        syncNow(beckon) // the server's built-in segments, the same as the device's
        val listener = RecordingSegmentListener()
        beckon.setSegmentListener(listener)
        assertEquals(emptyList(), beckon.segments(), "a new user is in no segment")

        beckon.track(added("socks", 37.5))
        assertEquals(listOf("cart_abandoner"), beckon.segments())
        assertEquals(listOf("+cart_abandoner"), listener.changes())
        // Re-evaluating the time-based rules changes nothing here: nothing is told or
        // reported again.
        beckon.refreshSegments()
        assertEquals(listOf("cart_abandoner"), beckon.segments())
        assertEquals(listOf("+cart_abandoner"), listener.changes())
        assertEquals(2uL, beckon.stats().queuedEvents, "the product added and the entry report")

        assertEquals(FlushOutcome.DELIVERED, beckon.flush(FLUSH_TIMEOUT_MS).outcome)
        val user = beckon.anonymousId()
        assertEquals(Size(server = 1, device = 1), server.size("cart_abandoner"))
        assertEquals(listOf(user), server.members("cart_abandoner", "device"))
        assertEquals(listOf(user), server.members("cart_abandoner", "server"))

        beckon.track(ordered("order-1"))
        assertEquals(listOf("first_time_customer"), beckon.segments())
        assertEquals(listOf("+cart_abandoner", "-cart_abandoner", "+first_time_customer"), listener.changes())
        assertOnEngagementThread(listener.calls())

        assertEquals(FlushOutcome.DELIVERED, beckon.flush(FLUSH_TIMEOUT_MS).outcome)
        assertEquals(Size(server = 0, device = 0), server.size("cart_abandoner"))
        assertEquals(emptyList(), server.members("cart_abandoner", "device"))
        assertEquals(Size(server = 1, device = 1), server.size("first_time_customer"))

        val exported = server.events()
        assertEquals(
            listOf(
                "$SEGMENT_ENTERED cart_abandoner",
                "$SEGMENT_EXITED cart_abandoner",
                "$SEGMENT_ENTERED first_time_customer",
            ),
            exported.membershipReports(),
        )
        assertEquals(listOf("Product Added", "Order Completed"), exported.appEvents().map { it.name })
        assertTrue(exported.all { it.anonymousId == user }, "$exported")

        // Without a listener the memberships still change; nobody is told.
        beckon.setSegmentListener(null)
        beckon.track(added("hat", 20.0))
        assertEquals(listOf("cart_abandoner", "first_time_customer"), beckon.segments())
        assertEquals(3, listener.changes().size, "${listener.changes()}")
    }

    @Test
    fun aSegmentCreatedThroughTheAdminApiAppliesOnSyncAndArchivingItEndsTheMembership() {
        val server = startServer()
        val beckon = open(tempDir(), server.url)
        val listener = RecordingSegmentListener()
        beckon.setSegmentListener(listener)
        syncNow(beckon)

        beckon.track(viewed("boot-1", "Shoes"))
        beckon.track(viewed("boot-2", "Shoes"))
        beckon.track(viewed("bag-1", "Bags"))
        assertEquals(emptyList(), beckon.segments())
        server.admin.createSegment(
            """
            {"schema": 1, "id": "shoe_fan", "name": "Shoe fans",
             "rule": {"count": {"event": "Product Viewed", "where": [{"property": "category", "equals": "Shoes"}]},
                      "at_least": 2}}
            """.trimIndent(),
        )
        assertEquals(emptyList(), beckon.segments(), "not before a sync")

        val synced = beckon.sync(SYNC_TIMEOUT_MS)
        assertEquals(SyncOutcome.UPDATED, synced.outcome, "$synced")
        assertNull(synced.error)
        // The history the device already has decides at once.
        assertEquals(listOf("shoe_fan"), beckon.segments())
        assertEquals(listOf("+shoe_fan"), listener.changes())
        val stats = beckon.stats()
        assertNotNull(stats.syncedAtMs, "$stats")
        assertTrue(stats.syncedAtMs!! > System.currentTimeMillis() - 60_000, "$stats")
        assertNull(stats.lastSyncError)
        assertEquals(0uL, stats.syncFailures)
        assertEquals(SyncOutcome.NOT_MODIFIED, beckon.sync(SYNC_TIMEOUT_MS).outcome, "nothing changed since")

        assertEquals(FlushOutcome.DELIVERED, beckon.flush(FLUSH_TIMEOUT_MS).outcome)
        assertEquals(Size(server = 1, device = 1), server.size("shoe_fan"), "device and server agree")

        val archived = server.admin.post("/v1/admin/segments/shoe_fan/archive")
        assertEquals(200, archived.status, "$archived")
        assertEquals("archived", archived.json["status"])
        assertEquals(SyncOutcome.UPDATED, beckon.sync(SYNC_TIMEOUT_MS).outcome)
        assertEquals(emptyList(), beckon.segments())
        assertEquals(listOf("+shoe_fan", "-shoe_fan"), listener.changes())
        assertOnEngagementThread(listener.calls())

        assertEquals(FlushOutcome.DELIVERED, beckon.flush(FLUSH_TIMEOUT_MS).outcome)
        assertEquals(
            listOf("$SEGMENT_ENTERED shoe_fan", "$SEGMENT_EXITED shoe_fan"),
            server.events().membershipReports(),
        )
        assertEquals(409, server.admin.get("/v1/admin/segments/shoe_fan/size").status)
    }

    @Test
    fun theServerRefusesAnInvalidSegmentAndTheDocumentStaysTheSame() {
        val server = startServer()
        val beckon = open(tempDir(), server.url)
        syncNow(beckon)

        val refused = server.admin.post(
            "/v1/admin/segments",
            """{"schema": 1, "id": "quick", "name": "Quick", "rule": {"count": {"event": "Product Added", "within": "3x"}, "at_least": 1}}""",
        )
        assertEquals(400, refused.status, "$refused")
        assertTrue(refused.body.contains("rule.count.within"), "the refusal names the path: $refused")
        assertEquals(404, server.admin.get("/v1/admin/segments/quick").status)
        assertEquals(SyncOutcome.NOT_MODIFIED, beckon.sync(SYNC_TIMEOUT_MS).outcome)
        assertNull(beckon.stats().lastSyncError)
    }

    @Test
    fun withoutAServerTheSyncFailsAndTheBuiltInSegmentsStillApply() {
        val beckon = open(tempDir(), deadServerUrl())
        val report = beckon.sync(SYNC_TIMEOUT_MS)
        assertEquals(SyncOutcome.FAILED, report.outcome, "$report")
        assertNotNull(report.error, "a failed sync says why")
        val stats = beckon.stats()
        assertTrue(stats.syncFailures >= 1uL, "$stats")
        assertNotNull(stats.lastSyncError)
        assertNull(stats.syncedAtMs, "never confirmed by a server")

        beckon.track(added("socks", 37.5))
        assertEquals(listOf("cart_abandoner"), beckon.segments())
    }

    @Test
    fun resetForgetsTheMembershipsWithoutReportingAnExit() {
        val dir = tempDir()
        val url = deadServerUrl()
        val beckon = open(dir, url)
        val listener = RecordingSegmentListener()
        beckon.setSegmentListener(listener)
        beckon.track(added("socks", 37.5))
        assertEquals(listOf("cart_abandoner"), beckon.segments())
        beckon.reset()
        assertEquals(emptyList(), beckon.segments(), "the memberships were the previous user's")
        assertEquals(listOf("+cart_abandoner"), listener.changes(), "leaving is not reported for the new user")
        assertEquals(2uL, beckon.stats().queuedEvents)

        // A new instance does not rebuild the new user's history from the previous
        // user's queued events.
        beckon.shutdown()
        beckon.close()
        val again = open(dir, url)
        assertEquals(emptyList(), again.segments())
        assertEquals(2uL, again.stats().queuedEvents)
    }

    private data class Size(val server: Long, val device: Long)

    private fun ServerProcess.size(segment: String): Size {
        val answer = admin.read("/v1/admin/segments/$segment/size")
        assertEquals(segment, answer["segment_id"])
        return Size(server = answer["server_members"] as Long, device = answer["device_members"] as Long)
    }

    @Suppress("UNCHECKED_CAST")
    private fun ServerProcess.members(segment: String, source: String): List<String> =
        admin.read("/v1/admin/segments/$segment/members?source=$source")["members"] as List<String>
}
