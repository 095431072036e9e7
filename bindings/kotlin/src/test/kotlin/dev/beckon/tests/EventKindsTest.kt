package dev.beckon.tests

import dev.beckon.Event
import dev.beckon.FlushOutcome
import dev.beckon.identify
import dev.beckon.jsonOf
import dev.beckon.track
import org.junit.Test
import kotlin.test.assertEquals
import kotlin.test.assertNotNull
import kotlin.test.assertTrue
import kotlin.test.fail

class EventKindsTest : BeckonTestBase() {
    @Test
    fun theCatalogueHasOneSampleOfEveryEventKind() {
        val kinds = Event::class.java.declaredClasses
            .filter { Event::class.java.isAssignableFrom(it) && it != Event::class.java }
            .map { it.simpleName }
            .toSortedSet()
        val sampled = EventCatalogue.samples.map { it.event::class.java.simpleName }
        assertEquals(sampled.size, sampled.toSet().size, "a kind is sampled twice: $sampled")
        assertEquals(kinds, sampled.toSortedSet(), "every Event kind needs a sample in EventCatalogue")
        assertTrue(kinds.size >= 36, "expected the full vocabulary, found $kinds")
    }

    @Test
    fun everyEventKindIsStoredUploadedAndExportedWithItsNameAndProperties() {
        val server = startServer()
        val beckon = open(tempDir(), server.url)
        beckon.identify("shopper-1", jsonOf("plan" to "gold"))
        for (sample in EventCatalogue.samples) {
            beckon.track(sample.event)
        }
        // The reports are recorded on the engagement thread; segments() returns once
        // every event tracked before it has been evaluated, so the queue is complete.
        assertEquals(listOf("first_time_customer"), beckon.segments())
        val appEvents = EventCatalogue.samples.size + 1 // the identify call is an event too
        val expected = appEvents + CATALOGUE_MEMBERSHIP_REPORTS.size
        assertEquals(expected.toULong(), beckon.stats().queuedEvents)

        val report = beckon.flush(FLUSH_TIMEOUT_MS)
        assertEquals(FlushOutcome.DELIVERED, report.outcome, "flush report: $report")
        assertEquals(expected.toULong(), report.uploaded)
        assertEquals(0uL, report.rejected)
        assertEquals(0uL, report.queued)

        val exported = server.events()
        assertEquals(expected, exported.size, "exported: ${exported.map { it.name ?: it.type }}")
        assertEquals(exported.size, exported.map { it.id }.toSet().size, "an event id repeats")
        for (line in exported) {
            assertEquals(beckon.anonymousId(), line.anonymousId)
            assertEquals("shopper-1", line.userId)
        }
        assertEquals(CATALOGUE_MEMBERSHIP_REPORTS, exported.membershipReports())
        val app = exported.appEvents()
        assertEquals(appEvents, app.size, "app events: ${app.map { it.name ?: it.type }}")
        val identify = app.single { it.type == "identify" }
        assertEquals("gold", identify.traits["plan"])

        val byName = app.filter { it.type != "identify" }.groupBy { it.name }
        for (sample in EventCatalogue.samples) {
            val lines = byName[sample.name] ?: fail("${sample.name} is missing from the export")
            assertEquals(1, lines.size, "${sample.name} exported ${lines.size} times")
            val line = lines.single()
            assertEquals(sample.type, line.type, "type of ${sample.name}")
            for ((key, value) in sample.properties) {
                assertEquals(value, line.properties[key], "${sample.name}: property $key in ${line.properties}")
            }
            assertNotNull(line.timestamp)
        }
    }

    private companion object {
        /**
         * What the catalogue does to the built-in segments, in order: Product Added makes
         * the shopper a cart abandoner; Order Completed ends that and makes them a
         * first-time customer.
         */
        val CATALOGUE_MEMBERSHIP_REPORTS = listOf(
            "$SEGMENT_ENTERED cart_abandoner",
            "$SEGMENT_EXITED cart_abandoner",
            "$SEGMENT_ENTERED first_time_customer",
        )
    }
}
