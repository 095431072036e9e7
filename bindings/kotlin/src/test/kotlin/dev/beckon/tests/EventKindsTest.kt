package dev.beckon.tests

import dev.beckon.Event
import dev.beckon.FlushOutcome
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
        val expected = EventCatalogue.samples.size + 1 // the identify call is an event too
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
        val identify = exported.single { it.type == "identify" }
        assertEquals("gold", identify.traits["plan"])

        val byName = exported.filter { it.type != "identify" }.groupBy { it.name }
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
}
