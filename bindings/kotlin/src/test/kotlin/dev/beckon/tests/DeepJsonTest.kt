package dev.beckon.tests

import dev.beckon.BeckonException
import dev.beckon.Event
import dev.beckon.JsonValue
import dev.beckon.identify
import dev.beckon.jsonOf
import dev.beckon.toJsonProperties
import dev.beckon.toJsonValue
import dev.beckon.track
import org.junit.Test
import kotlin.test.assertEquals
import kotlin.test.assertTrue

/**
 * Values nested far deeper than the SDK accepts (8 levels), or holding themselves: the
 * binding sends them without recursion, cut far below the depth the app built, and the
 * core refuses them with its own error naming the field. Nothing overflows a stack,
 * not even a 256 KB one, and nothing is stored.
 */
class DeepJsonTest : BeckonTestBase() {
    /** Where the core stops reading `properties.d` = [deepJson]: its 9th level. */
    private val tooDeep = "properties.d" + ".k".repeat(8)

    @Test
    fun aValue3000DeepIsRefusedByTheCoreNamingTheField() {
        val beckon = open(tempDir(), deadServerUrl())
        val deep = deepJson(3_000)
        val rejected = beckon.stats().rejectedAtTrack
        val fast = beckon.assertRefused<BeckonException.InvalidEvent>(tooDeep) {
            beckon.track(Event.Custom(name = "Deep", properties = mapOf("d" to deep)))
        }
        assertTrue(fast.message!!.endsWith("nests deeper than 8 levels"), fast.message)
        val checked = beckon.assertRefused<BeckonException.InvalidEvent>(tooDeep) {
            beckon.trackChecked(Event.Custom(name = "Deep", properties = mapOf("d" to deep)))
        }
        assertEquals(fast.message, checked.message)
        assertEquals(rejected + 2uL, beckon.stats().rejectedAtTrack, "the core counted both refusals")
        beckon.assertRefused<BeckonException.InvalidEvent>(tooDeep) { beckon.screen("Home", mapOf("d" to deep)) }
        beckon.assertRefused<BeckonException.InvalidArgument>("traits.d" + ".k".repeat(8)) {
            beckon.identify("deep-user", mapOf("d" to deep))
        }
        assertEquals(null, beckon.userId())
        beckon.assertStillRecords()
    }

    @Test
    fun aValue3000DeepIsRefusedOnASmallThreadToo() {
        val beckon = open(tempDir(), deadServerUrl())
        val message = onSmallStack {
            beckon.assertRefused<BeckonException.InvalidEvent>(tooDeep) {
                beckon.track(Event.Custom(name = "Deep", properties = mapOf("d" to deepJson(3_000))))
            }.message
        }
        val identify = onSmallStack {
            beckon.assertRefused<BeckonException.InvalidArgument>("traits.d" + ".k".repeat(8)) {
                beckon.identify("deep-user", mapOf("d" to deepJson(3_000)))
            }
        }
        assertTrue(message!!.contains("nests deeper"), message)
        assertTrue(identify.message!!.contains("nests deeper"), identify.message)
        onSmallStack { beckon.assertStillRecords() }
    }

    @Test
    fun aValue100000DeepIsRefusedLikeAnyOther() {
        val beckon = open(tempDir(), deadServerUrl())
        val deep = deepJson(100_000)
        beckon.assertRefused<BeckonException.InvalidEvent>(tooDeep) {
            beckon.track(Event.Custom(name = "Deep", properties = mapOf("d" to deep)))
        }
        onSmallStack {
            beckon.assertRefused<BeckonException.InvalidEvent>(tooDeep) {
                beckon.track(Event.ProductViewed(product = dev.beckon.Product(productId = "p"), properties = mapOf("d" to deep)))
            }
        }
        beckon.assertStillRecords()
    }

    @Test
    fun arraysNestedDeepAreRefusedNamingTheIndices() {
        val beckon = open(tempDir(), deadServerUrl())
        var deep: JsonValue = JsonValue.Integer(1)
        repeat(5_000) { deep = JsonValue.Array(listOf(JsonValue.Null, deep)) }
        // The core reads items in order: the Null of the 9th level is the first too deep.
        beckon.assertRefused<BeckonException.InvalidEvent>("properties.a" + "[1]".repeat(7) + "[0]") {
            beckon.track(Event.Custom(name = "Deep", properties = mapOf("a" to deep)))
        }
        beckon.assertStillRecords()
    }

    @Test
    fun jsonOfConverts100000LevelsWithoutRecursionAndTheCoreRefusesThem() {
        val beckon = open(tempDir(), deadServerUrl())
        val maps = deepMaps(100_000)
        val properties = jsonOf("d" to maps)
        assertEquals(properties, onSmallStack { mapOf("d" to maps).toJsonProperties() })
        onSmallStack { maps.toJsonValue() }
        beckon.assertRefused<BeckonException.InvalidEvent>(tooDeep) {
            beckon.track(Event.Custom(name = "Deep", properties = properties))
        }
        beckon.assertStillRecords()
    }

    @Test
    fun mapsAndListsHoldingThemselvesConvertInBoundedTimeAndAreRefused() {
        val beckon = open(tempDir(), deadServerUrl())
        val loop = HashMap<String, Any?>()
        loop["self"] = loop
        val list = ArrayList<Any?>()
        list.add(list)
        // Two references to itself per level: 2^64 entries within the depth cut, if
        // nothing bounded the values converted.
        val wide = LinkedHashMap<String, Any?>()
        wide["a"] = wide
        wide["b"] = wide
        val started = System.nanoTime()
        val properties = onSmallStack { jsonOf("loop" to loop, "list" to list, "wide" to wide) }
        assertTrue(System.nanoTime() - started < 10_000_000_000L, "conversion took too long")
        val error = beckon.assertRefused<BeckonException.InvalidEvent>("properties.loop" + ".self".repeat(8)) {
            beckon.track(Event.Custom(name = "Loop", properties = mapOf("loop" to properties.getValue("loop"))))
        }
        assertTrue(error.message!!.contains("nests deeper"), error.message)
        beckon.assertRefused<BeckonException.InvalidEvent>("properties.list" + "[0]".repeat(8)) {
            beckon.track(Event.Custom(name = "Loop", properties = mapOf("list" to properties.getValue("list"))))
        }
        // The core reads maps in no particular order: any path of 8 keys is the first too deep.
        beckon.assertRefusedAt<BeckonException.InvalidEvent>("properties\\.wide(\\.[ab]){8}") {
            beckon.track(Event.Custom(name = "Loop", properties = mapOf("wide" to properties.getValue("wide"))))
        }
        beckon.assertStillRecords()
    }

    @Test
    fun aJsonValueHoldingItselfIsCutAndRefused() {
        val beckon = open(tempDir(), deadServerUrl())
        val fields = HashMap<String, JsonValue>()
        val loop = JsonValue.Object(fields)
        fields["a"] = loop
        fields["b"] = loop
        onSmallStack {
            beckon.assertRefusedAt<BeckonException.InvalidEvent>("properties\\.loop(\\.[ab]){8}") {
                beckon.track(Event.Custom(name = "Loop", properties = mapOf("loop" to loop)))
            }
        }
        beckon.assertStillRecords()
    }

    @Test
    fun unsupportedValuesAreFoundAtAnyDepthAndNamed() {
        val deep = mapOf("a" to listOf(1, mapOf("when" to java.util.Date())))
        val error = onSmallStack {
            runCatching { jsonOf("outer" to deep) }.exceptionOrNull()
        }
        assertTrue(error is BeckonException.InvalidArgument, "$error")
        assertTrue(error.message!!.startsWith("invalid argument: outer.a[1].when: java.util.Date"), error.message)
    }
}
