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
 * [IllegalArgumentException] naming its key.
 */
fun jsonOf(vararg pairs: Pair<String, Any?>): Map<String, JsonValue> {
    val out = LinkedHashMap<String, JsonValue>(pairs.size)
    for ((key, value) in pairs) {
        out[key] = toJsonValueAt(value, key)
    }
    return out
}

/** Converts every value of a map, as [jsonOf] does. */
fun Map<String, Any?>.toJsonProperties(): Map<String, JsonValue> {
    val out = LinkedHashMap<String, JsonValue>(size)
    for ((key, value) in this) {
        out[key] = toJsonValueAt(value, key)
    }
    return out
}

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
 * throws [IllegalArgumentException] naming where the value was. Non-finite numbers are
 * converted; the SDK rejects them when the event is tracked, naming the field.
 */
fun Any?.toJsonValue(): JsonValue = toJsonValueAt(this, "value")

private fun toJsonValueAt(value: Any?, path: String): JsonValue = when (value) {
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
    is Map<*, *> -> {
        val fields = LinkedHashMap<String, JsonValue>(value.size)
        for ((key, item) in value) {
            require(key is String) {
                "$path: map keys must be strings, got ${typeName(key)}"
            }
            fields[key] = toJsonValueAt(item, "$path.$key")
        }
        JsonValue.Object(fields)
    }
    is List<*> -> JsonValue.Array(value.mapIndexed { i, item -> toJsonValueAt(item, "$path[$i]") })
    is Set<*> -> JsonValue.Array(value.mapIndexed { i, item -> toJsonValueAt(item, "$path[$i]") })
    is Array<*> -> JsonValue.Array(value.mapIndexed { i, item -> toJsonValueAt(item, "$path[$i]") })
    else -> throw IllegalArgumentException(
        "$path: ${typeName(value)} cannot be converted to JSON; use a String, Boolean, " +
            "Int, Long, Double, Float, Map<String, *>, List, or null",
    )
}

private fun typeName(value: Any?): String = value?.let { it::class.java.name } ?: "null"
