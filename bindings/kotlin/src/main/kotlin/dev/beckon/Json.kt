// Hand-written: plain Kotlin values to the SDK's JsonValue, for event properties and
// user traits.
package dev.beckon

/**
 * Builds a properties (or traits) map from plain Kotlin values:
 *
 * ```
 * beckon.identify("user-42", jsonOf("plan" to "gold", "age" to 37, "tags" to listOf("vip")))
 * ```
 *
 * Values are converted with [toJsonValue]; an unsupported value throws
 * [BeckonException.InvalidArgument] naming its key.
 */
fun jsonOf(vararg pairs: Pair<String, Any?>): Map<String, JsonValue> =
    JsonConversion(null).fields(pairs.iterator(), pairs.size)

/** Converts every value of a map, as [jsonOf] does. */
fun Map<String, Any?>.toJsonProperties(): Map<String, JsonValue> =
    JsonConversion(null).fields(entries.iterator(), size)

/**
 * Converts a plain Kotlin value to a [JsonValue]:
 *
 * | Kotlin | JsonValue |
 * |---|---|
 * | `null` | [JsonValue.Null] |
 * | `String` | [JsonValue.Text] |
 * | `Boolean` | [JsonValue.Bool] |
 * | `Int`, `Long`, `Short`, `Byte` | [JsonValue.Integer] |
 * | `Double`, `Float` | [JsonValue.Number] (a `Float` is widened exactly: `0.1f` becomes `0.10000000149011612`) |
 * | `Map` with `String` keys | [JsonValue.Object] |
 * | `List`, `Set`, `Array` | [JsonValue.Array] |
 * | `JsonValue` | itself |
 *
 * Anything else (a `Char`, a `Date`, a `BigDecimal`, a map with non-`String` keys…)
 * throws [BeckonException.InvalidArgument] naming where the value was
 * (`items[0].price`). Non-finite numbers are converted; the SDK rejects them when the
 * event is tracked, naming the field.
 *
 * Any value converts without recursion, so nesting cannot overflow the stack, and in
 * bounded time: maps and lists nested deeper than the SDK could ever accept (64 levels,
 * where it accepts 8), or holding themselves, are cut there, and the SDK then refuses
 * the event naming the field that nests too deep; the same for more than 100,000 values
 * in one value (an event holds at most 32 KB).
 */
fun Any?.toJsonValue(): JsonValue = JsonConversion("value").root(this)

/**
 * One conversion, walking the value with an explicit stack. [rootName] starts the
 * paths in error messages (`value.tags[2]`); `null` for a map of properties, whose keys
 * start them (`tags[2]`).
 */
private class JsonConversion(private val rootName: String?) {
    private var budget = JsonWire.MAX_VALUES
    private var stack: ArrayList<Source>? = null

    /** An open map or list: what is left of it, and what it converts into. */
    private class Source(
        /** Map entries (or [Pair]s for [jsonOf]) when converting into [fields]. */
        val entries: Iterator<Any?>?,
        val items: Iterator<Any?>?,
        var left: Int,
        val depth: Int,
        val fields: MutableMap<String, JsonValue>?,
        val values: MutableList<JsonValue>?,
    ) {
        var key: String? = null
        var index = -1
    }

    fun root(value: Any?): JsonValue {
        budget--
        val converted = convert(value, 1)
        drain()
        return converted
    }

    fun fields(entries: Iterator<Any?>, size: Int): Map<String, JsonValue> {
        val n = reserve(size)
        val out = LinkedHashMap<String, JsonValue>(capacity(n))
        if (n > 0) push(Source(entries, null, n, 1, out, null))
        drain()
        return out
    }

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
                val key: Any?
                val value: Any?
                when (val entry = entries.next()) {
                    is Map.Entry<*, *> -> {
                        key = entry.key
                        value = entry.value
                    }
                    else -> {
                        val pair = entry as Pair<*, *>
                        key = pair.first
                        value = pair.second
                    }
                }
                if (key !is String) {
                    throw invalid(path(stack.size - 1), "map keys must be strings, got ${typeName(key)}")
                }
                top.key = key
                top.fields!![key] = convert(value, top.depth)
            } else {
                top.index++
                top.values!!.add(convert(top.items!!.next(), top.depth))
            }
        }
    }

    private fun convert(value: Any?, depth: Int): JsonValue = when (value) {
        null -> JsonValue.Null
        is JsonValue -> value
        is String -> JsonValue.Text(value)
        is Boolean -> JsonValue.Bool(value)
        is Int -> JsonValue.Integer(value.toLong())
        is Long -> JsonValue.Integer(value)
        is Short -> JsonValue.Integer(value.toLong())
        is Byte -> JsonValue.Integer(value.toLong())
        is Double -> JsonValue.Number(value)
        is Float -> JsonValue.Number(value.toDouble())
        is Map<*, *> -> if (depth >= JsonWire.MAX_DEPTH) {
            JsonValue.Null
        } else {
            val n = reserve(value.size)
            val fields = LinkedHashMap<String, JsonValue>(capacity(n))
            if (n > 0) push(Source(value.entries.iterator(), null, n, depth + 1, fields, null))
            JsonValue.Object(fields)
        }
        is List<*> -> array(value.iterator(), value.size, depth)
        is Set<*> -> array(value.iterator(), value.size, depth)
        is Array<*> -> array(value.iterator(), value.size, depth)
        else -> throw invalid(
            path(stack?.size ?: 0),
            "${typeName(value)} cannot be converted to JSON; use a String, Boolean, " +
                "Int, Long, Double, Float, Map<String, *>, List, or null",
        )
    }

    private fun array(items: Iterator<Any?>, size: Int, depth: Int): JsonValue {
        if (depth >= JsonWire.MAX_DEPTH) return JsonValue.Null
        val n = reserve(size)
        val values = ArrayList<JsonValue>(n)
        if (n > 0) push(Source(null, items, n, depth + 1, null, values))
        return JsonValue.Array(values)
    }

    private fun reserve(count: Int): Int {
        val n = minOf(count, budget)
        budget -= n
        return n
    }

    private fun capacity(n: Int): Int = if (n < 3) n + 1 else n + n / 3 + 1

    private fun push(source: Source) {
        (stack ?: ArrayList<Source>().also { stack = it }).add(source)
    }

    /** The path of the item being converted in each of the outermost [levels] open containers. */
    private fun path(levels: Int): String = buildString {
        rootName?.let { append(it) }
        val stack = stack ?: return@buildString
        for (i in 0 until levels) {
            val source = stack[i]
            if (source.entries != null) {
                if (isNotEmpty()) append('.')
                append(source.key)
            } else {
                append('[').append(source.index).append(']')
            }
        }
    }

    private fun invalid(path: String, problem: String) =
        BeckonException.InvalidArgument(if (path.isEmpty()) "invalid argument: $problem" else "invalid argument: $path: $problem")

    private fun typeName(value: Any?): String = value?.let { it::class.java.name } ?: "null"
}
