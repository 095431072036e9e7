package dev.beckon.tests

import dev.beckon.FfiConverterMapStringTypeJsonValue
import dev.beckon.FfiConverterTypeJsonValue
import dev.beckon.JsonValue
import dev.beckon.JsonWire
import dev.beckon.utf8Length
import org.junit.Test
import java.io.ByteArrayOutputStream
import java.io.DataOutputStream
import java.nio.ByteBuffer
import kotlin.random.Random
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertTrue

/**
 * The hand-written JsonValue writer (JsonWire.kt) against uniffi's encoding: the bytes
 * of the recursive writer uniffi generated (copied below as the reference) for every
 * value within the cuts, the generated reader reading them back, and a size that is
 * exactly the bytes written.
 */
class JsonWireTest {
    @Test
    fun randomValuesEncodeAsUniffiDoesAndReadBack() {
        val random = Random(20_250_601)
        repeat(500) { round ->
            val value = randomJson(random, depth = 1 + random.nextInt(12))
            val bytes = written(value)
            assertContentEquals(reference { value(value) }, bytes, "round $round")
            assertEquals(value, FfiConverterTypeJsonValue.read(ByteBuffer.wrap(bytes)), "round $round")

            val fields = mapOf("a" to value, "é😀" to JsonValue.Null)
            val fieldBytes = writtenFields(fields)
            assertContentEquals(reference { fields(fields) }, fieldBytes, "round $round")
            assertEquals(fields, FfiConverterMapStringTypeJsonValue.read(ByteBuffer.wrap(fieldBytes)))
        }
    }

    @Test
    fun containersDeeperThanTheCutAreWrittenAsNull() {
        for (depth in listOf(JsonWire.MAX_DEPTH - 1, JsonWire.MAX_DEPTH, JsonWire.MAX_DEPTH + 1, 1_000, 100_000)) {
            val deep = deepJson(depth)
            val expected = reference { value(cut(deep, 1)) }
            assertContentEquals(expected, written(deep), "depth $depth")
            val fields = mapOf("d" to deep)
            assertContentEquals(reference { fields(mapOf("d" to cut(deep, 1))) }, writtenFields(fields), "depth $depth")
        }
        // 64 levels of objects: the innermost object holds the text, nothing is cut.
        assertEquals(deepJson(JsonWire.MAX_DEPTH - 1), FfiConverterTypeJsonValue.read(ByteBuffer.wrap(written(deepJson(JsonWire.MAX_DEPTH - 1)))))
    }

    @Test
    fun sharedContainersAreWrittenWithinTheBudget() {
        var shared: JsonValue = JsonValue.Integer(1)
        repeat(40) { shared = JsonValue.Object(mapOf("a" to shared, "b" to shared)) }
        val started = System.nanoTime()
        val bytes = written(shared)
        assertTrue(System.nanoTime() - started < 5_000_000_000L, "bounded time")
        val values = count(FfiConverterTypeJsonValue.read(ByteBuffer.wrap(bytes)))
        assertTrue(values in JsonWire.MAX_VALUES..JsonWire.MAX_VALUES + 1, "$values values written")
        // The JSON of that many values is far over the core's 32 KB for an event.
        assertTrue(bytes.size > 32 * 1024 * 16)
    }

    @Test
    fun theLengthOfTextInUtf8IsCountedExactly() {
        val random = Random(7)
        repeat(2_000) {
            val text = randomText(random, random.nextInt(40), loneSurrogates = false)
            assertEquals(text.toByteArray(Charsets.UTF_8).size, utf8Length(text), text)
        }
    }

    /** What the binding writes, checking that its size was exact. */
    private fun written(value: JsonValue): ByteArray {
        val size = FfiConverterTypeJsonValue.allocationSize(value).toInt()
        assertEquals(JsonWire.size(value).toInt(), size)
        val buf = ByteBuffer.allocate(size)
        FfiConverterTypeJsonValue.write(value, buf)
        assertEquals(size, buf.position(), "allocationSize and write agree")
        return buf.array()
    }

    private fun writtenFields(fields: Map<String, JsonValue>): ByteArray {
        val size = FfiConverterMapStringTypeJsonValue.allocationSize(fields).toInt()
        val buf = ByteBuffer.allocate(size)
        FfiConverterMapStringTypeJsonValue.write(fields, buf)
        assertEquals(size, buf.position(), "allocationSize and write agree")
        return buf.array()
    }

    /** [value] as JsonWire cuts it: containers at the cut depth become Null. */
    private fun cut(value: JsonValue, depth: Int): JsonValue = when (value) {
        is JsonValue.Array -> if (depth >= JsonWire.MAX_DEPTH) JsonValue.Null else JsonValue.Array(value.values.map { cut(it, depth + 1) })
        is JsonValue.Object -> if (depth >= JsonWire.MAX_DEPTH) JsonValue.Null else JsonValue.Object(value.fields.mapValues { cut(it.value, depth + 1) })
        else -> value
    }

    private fun count(value: JsonValue): Int = 1 + when (value) {
        is JsonValue.Array -> value.values.sumOf { count(it) }
        is JsonValue.Object -> value.fields.values.sumOf { count(it) }
        else -> 0
    }

    /** uniffi 0.32's generated `write` for JsonValue and its map, as it was: recursive. */
    private class Reference(val out: DataOutputStream) {
        fun value(value: JsonValue) {
            when (value) {
                is JsonValue.Null -> out.writeInt(1)
                is JsonValue.Bool -> {
                    out.writeInt(2)
                    out.writeByte(if (value.value) 1 else 0)
                }
                is JsonValue.Integer -> {
                    out.writeInt(3)
                    out.writeLong(value.value)
                }
                is JsonValue.Number -> {
                    out.writeInt(4)
                    out.writeDouble(value.value)
                }
                is JsonValue.Text -> {
                    out.writeInt(5)
                    string(value.value)
                }
                is JsonValue.Array -> {
                    out.writeInt(6)
                    out.writeInt(value.values.size)
                    value.values.forEach { value(it) }
                }
                is JsonValue.Object -> {
                    out.writeInt(7)
                    fields(value.fields)
                }
            }
        }

        fun fields(fields: Map<String, JsonValue>) {
            out.writeInt(fields.size)
            fields.forEach { (k, v) ->
                string(k)
                value(v)
            }
        }

        private fun string(text: String) {
            val bytes = text.toByteArray(Charsets.UTF_8)
            out.writeInt(bytes.size)
            out.write(bytes)
        }
    }

    private fun reference(write: Reference.() -> Unit): ByteArray {
        val bytes = ByteArrayOutputStream()
        DataOutputStream(bytes).use { Reference(it).write() }
        return bytes.toByteArray()
    }

    companion object {
        fun randomJson(random: Random, depth: Int): JsonValue = when (if (depth <= 1) random.nextInt(5) else random.nextInt(7)) {
            0 -> JsonValue.Null
            1 -> JsonValue.Bool(random.nextBoolean())
            2 -> JsonValue.Integer(random.nextLong())
            3 -> JsonValue.Number(listOf(random.nextDouble(), Double.NaN, -0.0, Double.MAX_VALUE).random(random))
            4 -> JsonValue.Text(randomText(random, random.nextInt(30), loneSurrogates = false))
            5 -> JsonValue.Array(List(random.nextInt(4)) { randomJson(random, depth - 1) })
            else -> JsonValue.Object(
                (0 until random.nextInt(4)).associate { randomText(random, 1 + random.nextInt(8), false) to randomJson(random, depth - 1) },
            )
        }
    }
}
