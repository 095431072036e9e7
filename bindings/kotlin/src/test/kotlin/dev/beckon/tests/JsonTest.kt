package dev.beckon.tests

import dev.beckon.BeckonException
import dev.beckon.Event
import dev.beckon.FlushOutcome
import dev.beckon.JsonValue
import dev.beckon.identify
import dev.beckon.jsonOf
import dev.beckon.support.MiniJson
import dev.beckon.toJsonProperties
import dev.beckon.toJsonValue
import dev.beckon.track
import org.junit.Test
import java.math.BigDecimal
import java.util.Date
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertSame
import kotlin.test.assertTrue

class JsonTest : BeckonTestBase() {
    @Test
    fun scalarsConvertToTheMatchingJsonValue() {
        assertEquals(JsonValue.Null, null.toJsonValue())
        assertEquals(JsonValue.Text("hi"), "hi".toJsonValue())
        assertEquals(JsonValue.Bool(true), true.toJsonValue())
        assertEquals(JsonValue.Integer(7), 7.toJsonValue())
        assertEquals(JsonValue.Integer(Long.MAX_VALUE), Long.MAX_VALUE.toJsonValue())
        assertEquals(JsonValue.Integer(-3), (-3).toShort().toJsonValue())
        assertEquals(JsonValue.Integer(5), 5.toByte().toJsonValue())
        assertEquals(JsonValue.Number(2.5), 2.5.toJsonValue())
        assertEquals(JsonValue.Number(0.5), 0.5f.toJsonValue())
        assertEquals(JsonValue.Number(0.1f.toDouble()), 0.1f.toJsonValue())
        val already = JsonValue.Text("as is")
        assertSame(already, already.toJsonValue())
    }

    @Test
    fun collectionsConvertRecursively() {
        val value = mapOf(
            "tags" to listOf("new", "sale", null),
            "sizes" to setOf(42, 43),
            "dims" to arrayOf<Any>(1.5, 2),
            "nested" to mapOf("ok" to false, "deeper" to mapOf("n" to 1L)),
        ).toJsonValue()
        val expected = JsonValue.Object(
            mapOf(
                "tags" to JsonValue.Array(listOf(JsonValue.Text("new"), JsonValue.Text("sale"), JsonValue.Null)),
                "sizes" to JsonValue.Array(listOf(JsonValue.Integer(42), JsonValue.Integer(43))),
                "dims" to JsonValue.Array(listOf(JsonValue.Number(1.5), JsonValue.Integer(2))),
                "nested" to JsonValue.Object(
                    mapOf(
                        "ok" to JsonValue.Bool(false),
                        "deeper" to JsonValue.Object(mapOf("n" to JsonValue.Integer(1))),
                    ),
                ),
            ),
        )
        assertEquals(expected, value)
    }

    @Test
    fun jsonOfBuildsAPropertiesMapInOrder() {
        val properties = jsonOf("color" to "blue", "size" to 42, "gift" to false, "note" to null)
        assertEquals(listOf("color", "size", "gift", "note"), properties.keys.toList())
        assertEquals(JsonValue.Integer(42), properties["size"])
        assertEquals(JsonValue.Null, properties["note"])
        assertEquals(properties, mapOf("color" to "blue", "size" to 42, "gift" to false, "note" to null).toJsonProperties())
        assertEquals(emptyMap(), jsonOf())
    }

    @Test
    fun unsupportedValuesThrowInvalidArgumentNamingWhereTheyAre() {
        val date = assertFailsWith<BeckonException.InvalidArgument> { jsonOf("when" to Date()) }
        assertTrue(date.message!!.startsWith("invalid argument: when: java.util.Date"), date.message)
        val nested = assertFailsWith<BeckonException.InvalidArgument> {
            jsonOf("items" to listOf(mapOf("price" to BigDecimal("9.99"))))
        }
        assertTrue(nested.message!!.startsWith("invalid argument: items[0].price: java.math.BigDecimal"), nested.message)
        val char = assertFailsWith<BeckonException.InvalidArgument> { 'x'.toJsonValue() }
        assertTrue(char.message!!.startsWith("invalid argument: value: java.lang.Character"), char.message)
        val keys = assertFailsWith<BeckonException.InvalidArgument> { mapOf(1 to "one").toJsonValue() }
        assertTrue(keys.message!!.startsWith("invalid argument: value: map keys must be strings"), keys.message)
        val deepKeys = assertFailsWith<BeckonException.InvalidArgument> {
            mapOf("a" to mapOf("b" to listOf(mapOf(2 to "two")))).toJsonProperties()
        }
        assertTrue(deepKeys.message!!.startsWith("invalid argument: a.b[0]: map keys must be strings, got java.lang.Integer"), deepKeys.message)
    }

    @Test
    fun convertedValuesArriveAtTheServerUnchanged() {
        val server = startServer()
        val beckon = open(tempDir(), server.url)
        val properties = mapOf(
            "text" to "naïve café ☕",
            "int" to 42,
            "long" to 9_007_199_254_740_993L,
            "double" to 3.25,
            "bool" to true,
            "null" to null,
            "list" to listOf(1, "two", listOf(3.5)),
            "map" to mapOf("a" to mapOf("b" to "c")),
        )
        beckon.identify("json-user", properties.toJsonProperties())
        beckon.track(Event.Custom(name = "Json Round Trip", properties = properties.toJsonProperties()))
        assertEquals(FlushOutcome.DELIVERED, beckon.flush(FLUSH_TIMEOUT_MS).outcome)

        val expected = mapOf(
            "text" to "naïve café ☕",
            "int" to 42L,
            "long" to 9_007_199_254_740_993L,
            "double" to 3.25,
            "bool" to true,
            "null" to null,
            "list" to listOf(1L, "two", listOf(3.5)),
            "map" to mapOf("a" to mapOf("b" to "c")),
        )
        val exported = server.events()
        assertEquals(expected, exported.single { it.type == "identify" }.traits)
        assertEquals(expected, exported.single { it.name == "Json Round Trip" }.properties)
    }

    @Test
    fun nonFiniteNumbersConvertButTheSdkRefusesThemNamingTheField() {
        val beckon = open(tempDir(), deadServerUrl())
        val properties = jsonOf("ratio" to Double.NaN)
        val error = assertFailsWith<BeckonException.InvalidEvent> {
            beckon.track(Event.Custom(name = "Ratio", properties = properties))
        }
        assertTrue(error.message!!.contains("properties.ratio"), error.message)
    }

    @Test
    fun theExportReaderParsesWhatTheServerWrites() {
        val parsed = MiniJson.parseObject("""{"a":[1,-2.5e1,"x\n\u00e9"],"b":{"c":null,"d":true},"e":""}""")
        assertEquals(mapOf("a" to listOf(1L, -25.0, "x\né"), "b" to mapOf("c" to null, "d" to true), "e" to ""), parsed)
        assertFailsWith<IllegalArgumentException> { MiniJson.parse("{\"a\":1,}") }
        assertFailsWith<IllegalArgumentException> { MiniJson.parse("[1 2]") }
    }
}
