// Random values of the binding's public types, for the property-based test: strings of
// random UTF-16 code units (lone surrogates and control characters included, sometimes
// huge), JsonValue trees of random depth and width (sometimes thousands of levels deep,
// sometimes holding themselves), events of every kind, push maps, URLs, and plain Kotlin
// values for jsonOf. Everything comes from one seeded Random, so a seed replays a run.
package dev.beckon.tests

import dev.beckon.Cart
import dev.beckon.DeepLinkRoute
import dev.beckon.Event
import dev.beckon.JsonValue
import java.lang.reflect.Constructor
import java.lang.reflect.ParameterizedType
import java.lang.reflect.Type
import java.lang.reflect.WildcardType
import java.math.BigDecimal
import java.util.Date
import kotlin.random.Random

/** A string of [length] random UTF-16 code units; with [loneSurrogates], halves of pairs too. */
fun randomText(random: Random, length: Int, loneSurrogates: Boolean): String {
    val out = StringBuilder(length)
    while (out.length < length) {
        when (random.nextInt(10)) {
            in 0..4 -> out.append('a' + random.nextInt(26))
            5 -> out.append(random.nextInt(0x20).toChar()) // control characters, NUL
            6 -> out.append((0x80 + random.nextInt(0xD800 - 0x80)).toChar()) // below the surrogates
            7 -> out.append((0xE000 + random.nextInt(0x2000)).toChar()) // above them
            8 -> out.appendCodePoint(0x10000 + random.nextInt(0x100000)) // a pair
            else -> if (loneSurrogates) {
                out.append((0xD800 + random.nextInt(0x800)).toChar()) // a lone half, or a pair by chance
            } else {
                out.append("😀")
            }
        }
    }
    return out.toString()
}

class Generators(private val random: Random) {
    /** Mostly short, sometimes long, rarely huge; with lone surrogates one time in five. */
    fun text(): String {
        val length = when (random.nextInt(100)) {
            in 0..69 -> random.nextInt(17)
            in 70..89 -> 17 + random.nextInt(300)
            in 90..97 -> 300 + random.nextInt(5_000)
            else -> 20_000 + random.nextInt(200_000)
        }
        return randomText(random, length, loneSurrogates = random.nextInt(5) == 0)
    }

    /** A plausible identifier most of the time, so calls get past validation too. */
    fun id(): String = if (random.nextInt(3) == 0) text() else "id-" + random.nextInt(1_000)

    fun maybe(make: () -> String): String? = if (random.nextInt(4) == 0) null else make()

    fun double(): Double = when (random.nextInt(8)) {
        0 -> Double.NaN
        1 -> Double.POSITIVE_INFINITY
        2 -> -1.5
        3 -> Double.MAX_VALUE
        4 -> 0.0
        else -> random.nextDouble(0.0, 500.0)
    }

    /** A JsonValue: a random tree, a deep chain, a wide list, or one holding itself. */
    fun json(): JsonValue = when (random.nextInt(20)) {
        0 -> chain(9 + random.nextInt(5_000))
        1 -> JsonValue.Array(List(random.nextInt(20_000)) { JsonValue.Integer(it.toLong()) })
        2 -> {
            val fields = HashMap<String, JsonValue>()
            val loop = JsonValue.Object(fields)
            repeat(1 + random.nextInt(2)) { fields["k$it"] = loop }
            loop
        }
        else -> tree(1 + random.nextInt(10))
    }

    private fun tree(depth: Int): JsonValue = when (if (depth <= 1) random.nextInt(5) else random.nextInt(7)) {
        0 -> JsonValue.Null
        1 -> JsonValue.Bool(random.nextBoolean())
        2 -> JsonValue.Integer(random.nextLong())
        3 -> JsonValue.Number(double())
        4 -> JsonValue.Text(text())
        5 -> JsonValue.Array(List(random.nextInt(5)) { tree(depth - 1) })
        else -> JsonValue.Object((0 until random.nextInt(5)).associate { text() to tree(depth - 1) })
    }

    private fun chain(depth: Int): JsonValue {
        var value: JsonValue = JsonValue.Text(text())
        repeat(depth) {
            value = if (random.nextBoolean()) JsonValue.Object(mapOf(text() to value)) else JsonValue.Array(listOf(value))
        }
        return value
    }

    fun properties(): Map<String, JsonValue> = (0 until random.nextInt(4)).associate { text() to json() }

    /** A plain Kotlin value for `jsonOf`: supported or not, deep, or holding itself. */
    fun plain(depth: Int = 4): Any? = when (random.nextInt(if (depth <= 0) 9 else 14)) {
        0 -> null
        1 -> text()
        2 -> random.nextInt()
        3 -> random.nextLong()
        4 -> double()
        5 -> random.nextFloat()
        6 -> random.nextBoolean()
        7 -> listOf(Date(), 'c', BigDecimal.ONE, IntArray(2), Any()).random(random) // unsupported
        8 -> json()
        9 -> List(random.nextInt(4)) { plain(depth - 1) }
        10 -> (0 until random.nextInt(4)).associate { text() to plain(depth - 1) }
        11 -> setOf(random.nextInt(), "s") // scalars only: a set hashes its items
        12 -> {
            val loop = HashMap<Any?, Any?>()
            loop[if (random.nextInt(4) == 0) 1 else "self"] = loop // sometimes a key that is not a String
            loop["other"] = if (random.nextBoolean()) loop else plain(depth - 1)
            loop
        }
        else -> {
            var value: Any? = text()
            repeat(random.nextInt(10_000)) { value = if (random.nextBoolean()) mapOf("k" to value) else listOf(value) }
            value
        }
    }

    /** An event of a random kind, every field random, built through its constructor. */
    fun event(): Event = make(EVENT_KINDS.random(random)) as Event

    fun cart(): Cart = make(Cart::class.java) as Cart

    fun routes(): List<DeepLinkRoute> = List(random.nextInt(4)) {
        DeepLinkRoute(id(), if (random.nextBoolean()) "shop://product/{id}" else url())
    }

    fun url(): String = when (random.nextInt(5)) {
        0 -> "shop://product/" + text()
        1 -> "https://shop.example/p/" + id() + "?utm_source=" + text()
        2 -> "shop://cart"
        3 -> "https://" + text() + "/x"
        else -> text()
    }

    /** An FCM data map: sometimes a Beckon push, with entries of other SDKs around it. */
    fun pushData(): Map<String, String> {
        val data = LinkedHashMap<String, String>()
        repeat(random.nextInt(4)) { data[text()] = text() }
        when (random.nextInt(3)) {
            0 -> data["beckon"] = beckonPayload(id(), deepLink = url(), promo = promoJson(id(), """{"kind": "percent", "value": 10}"""))
            1 -> data["beckon"] = text()
        }
        return data
    }

    fun pushJson(): String = if (random.nextBoolean()) fcmDataJson(beckonPayload(id(), deepLink = url())) else text()

    private fun make(declared: Type): Any? {
        // Kotlin's List<out E> and Map<K, out V> reach Java as `? extends E`.
        val type = if (declared is WildcardType) declared.upperBounds[0] else declared
        if (type is ParameterizedType) {
            val raw = type.rawType as Class<*>
            val args = type.actualTypeArguments.map { if (it is WildcardType) it.upperBounds[0] else it }
            return when {
                List::class.java.isAssignableFrom(raw) -> List(random.nextInt(4)) { make(args[0]) }
                Map::class.java.isAssignableFrom(raw) && args[1] == JsonValue::class.java -> properties()
                Map::class.java.isAssignableFrom(raw) -> (0 until random.nextInt(4)).associate { text() to text() }
                else -> error("no generator for $type")
            }
        }
        val cls = type as Class<*>
        return when {
            cls == String::class.java -> if (random.nextBoolean()) id() else text()
            cls == java.lang.Boolean.TYPE -> random.nextBoolean()
            cls == java.lang.Integer.TYPE -> random.nextInt(-5, 10)
            cls == java.lang.Long.TYPE -> random.nextLong()
            cls == java.lang.Double.TYPE -> double()
            cls == java.lang.Double::class.java -> if (random.nextInt(3) == 0) null else double()
            cls == java.lang.Integer::class.java -> if (random.nextInt(3) == 0) null else random.nextInt(-5, 10)
            cls == java.lang.Long::class.java -> if (random.nextInt(3) == 0) null else random.nextLong()
            cls == JsonValue::class.java -> json()
            cls.isEnum -> cls.enumConstants.random(random)
            else -> {
                val constructor = primaryConstructor(cls)
                constructor.newInstance(*constructor.genericParameterTypes.map { make(it) }.toTypedArray())
            }
        }
    }

    private companion object {
        val EVENT_KINDS: List<Class<*>> = Event::class.java.declaredClasses
            .filter { Event::class.java.isAssignableFrom(it) && it != Event::class.java }
            .sortedBy { it.simpleName }

        val constructors = HashMap<Class<*>, Constructor<*>>()

        /** The constructor with every field (not the synthetic one taking defaults). */
        fun primaryConstructor(cls: Class<*>): Constructor<*> = synchronized(constructors) {
            constructors.getOrPut(cls) {
                cls.constructors
                    .filter { c -> !c.isSynthetic && c.parameterTypes.none { it.name == "kotlin.jvm.internal.DefaultConstructorMarker" } }
                    .maxBy { it.parameterCount }
            }
        }
    }
}
