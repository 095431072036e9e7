// Hand-written: uniffi's encoding of JsonValue (and of the properties and traits maps
// made of them), without recursion. The generated FfiConverterTypeJsonValue and
// FfiConverterMapStringTypeJsonValue call in here through the fixes of
// uniffi-bindgen/src/bin/patch-generated/kotlin.rs.
//
// uniffi's generated converter recurses once per level, so a value nested a few
// thousand levels deep overflowed the caller's stack (a StackOverflowError, which
// `catch (e: Exception)` misses) before the core could refuse it; a map holding itself
// recursed forever. Here an explicit stack walks the value, and two cuts bound the work
// whatever the app built. Neither changes what the app is told: the core allows
// MAX_VALUE_DEPTH (8) levels and 32 KB per event, so a value cut here is one the core
// refuses anyway, and it does so with its own error naming the field
// (`invalid event: properties.d.k.k.k.k.k.k.k.k: nests deeper than 8 levels`). The rule
// stays in one place, the core, and nothing is stored.
package dev.beckon

import java.nio.ByteBuffer

internal object JsonWire {
    /**
     * Containers this deep are written as a `Null` stand-in instead of their contents.
     * Far above the core's 8 levels, so the value sent still nests too deep and is
     * refused by the core at the same path; low enough that the Rust side, which lifts
     * and drops a `JsonValue` recursively on the calling thread, stays well within a
     * small thread stack (it is tested on a 256 KB thread, with a debug build).
     */
    const val MAX_DEPTH = 64

    /**
     * Values written per map or value at most: past this, containers get no more
     * entries. Each value takes at least 2 bytes of the event's JSON, so a value cut
     * here is over 16 times the core's 32 KB limit and refused as too large. It bounds
     * the work for a value that shares containers (a map holding itself twice would
     * otherwise expand to 2^64 entries within the depth cut).
     */
    const val MAX_VALUES = 100_000

    private const val NULL = 1
    private const val BOOL = 2
    private const val INTEGER = 3
    private const val NUMBER = 4
    private const val TEXT = 5
    private const val ARRAY = 6
    private const val OBJECT = 7

    /** `FfiConverterTypeJsonValue.allocationSize`: exactly the bytes [write] writes. */
    fun size(value: JsonValue): ULong = Walk(null).root(value).toULong()

    /** `FfiConverterTypeJsonValue.write`. */
    fun write(value: JsonValue, buf: ByteBuffer) {
        Walk(buf).root(value)
    }

    /** `FfiConverterMapStringTypeJsonValue.allocationSize`: exactly the bytes [writeFields] writes. */
    fun sizeFields(fields: Map<String, JsonValue>): ULong = Walk(null).rootFields(fields).toULong()

    /** `FfiConverterMapStringTypeJsonValue.write`: a properties or traits map. */
    fun writeFields(fields: Map<String, JsonValue>, buf: ByteBuffer) {
        Walk(buf).rootFields(fields)
    }

    /** An open array or object: what is left of its items, and where the walk is in it. */
    private class Frame(
        val entries: Iterator<Map.Entry<String, JsonValue>>?,
        val items: Iterator<JsonValue>?,
        var left: Int,
        /** The depth of its items (the values of a properties map are at depth 1). */
        val depth: Int,
    ) {
        /** The key (objects) or index (arrays) of the item being written, for error paths. */
        var key: String? = null
        var index = -1
    }

    /**
     * One walk over a value: writes it to [buf], or with no buffer only counts the bytes.
     * Both run the same code, so the size and the written bytes always agree.
     */
    private class Walk(private val buf: ByteBuffer?) {
        private var bytes = 0L
        private var budget = MAX_VALUES
        private var stack: ArrayList<Frame>? = null
        private var writingKey = false

        fun root(value: JsonValue): Long {
            budget--
            guarded { value(value, 1) }
            return bytes
        }

        fun rootFields(fields: Map<String, JsonValue>): Long {
            guarded {
                val n = reserve(fields.size)
                int(n)
                if (n > 0) push(Frame(fields.entries.iterator(), null, n, 1))
            }
            return bytes
        }

        private inline fun guarded(start: () -> Unit) {
            try {
                start()
                drain()
            } catch (refused: RefusedArgument) {
                throw pathOf(refused)
            }
        }

        /** Writes the items of the open containers, innermost first, until none is left. */
        private fun drain() {
            val stack = stack ?: return
            while (stack.isNotEmpty()) {
                val top = stack[stack.size - 1]
                if (top.left == 0) {
                    stack.removeAt(stack.size - 1)
                    continue
                }
                top.left--
                val entries = top.entries
                if (entries != null) {
                    val entry = entries.next()
                    top.key = entry.key
                    writingKey = true
                    text(entry.key)
                    writingKey = false
                    value(entry.value, top.depth)
                } else {
                    top.index++
                    value(top.items!!.next(), top.depth)
                }
            }
        }

        private fun value(value: JsonValue, depth: Int) {
            when (value) {
                is JsonValue.Null -> int(NULL)
                is JsonValue.Bool -> {
                    int(BOOL)
                    bytes += 1
                    buf?.put(if (value.value) 1.toByte() else 0.toByte())
                }
                is JsonValue.Integer -> {
                    int(INTEGER)
                    bytes += 8
                    buf?.putLong(value.value)
                }
                is JsonValue.Number -> {
                    int(NUMBER)
                    bytes += 8
                    buf?.putDouble(value.value)
                }
                is JsonValue.Text -> {
                    int(TEXT)
                    text(value.value)
                }
                is JsonValue.Array -> if (depth >= MAX_DEPTH) {
                    int(NULL)
                } else {
                    int(ARRAY)
                    val n = reserve(value.values.size)
                    int(n)
                    if (n > 0) push(Frame(null, value.values.iterator(), n, depth + 1))
                }
                is JsonValue.Object -> if (depth >= MAX_DEPTH) {
                    int(NULL)
                } else {
                    int(OBJECT)
                    val n = reserve(value.fields.size)
                    int(n)
                    if (n > 0) push(Frame(value.fields.entries.iterator(), null, n, depth + 1))
                }
            }
        }

        /** How many of [count] items may still be written; they are taken from the budget. */
        private fun reserve(count: Int): Int {
            val n = minOf(count, budget)
            budget -= n
            return n
        }

        private fun push(frame: Frame) {
            (stack ?: ArrayList<Frame>().also { stack = it }).add(frame)
        }

        private fun int(value: Int) {
            bytes += 4
            buf?.putInt(value)
        }

        /** A string as `FfiConverterString` writes it: its byte length, then UTF-8. */
        private fun text(value: String) {
            if (buf == null) {
                bytes += 4 + textSize(value)
            } else {
                FfiConverterString.write(value, buf)
            }
        }

        /** [refused], with the keys and indices of the open containers (innermost first). */
        private fun pathOf(refused: RefusedArgument): RefusedArgument {
            val stack = stack ?: return refused
            for (i in stack.indices.reversed()) {
                val frame = stack[i]
                if (i == stack.size - 1 && writingKey) {
                    refused.asKey()
                    continue
                }
                if (frame.entries != null) refused.under(frame.key!!) else refused.item(frame.index)
            }
            return refused
        }
    }
}
