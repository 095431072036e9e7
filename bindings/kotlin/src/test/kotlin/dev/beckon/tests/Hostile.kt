// What the tests of hostile input share: values apps can build that uniffi's generated
// code did not survive (deep JSON, lone surrogates), a small-stack thread to run calls
// on, and the checks that a refusal names its field and stores nothing.
package dev.beckon.tests

import dev.beckon.Beckon
import dev.beckon.BeckonException
import dev.beckon.Event
import dev.beckon.JsonValue
import dev.beckon.track
import kotlin.test.assertEquals
import kotlin.test.assertTrue
import kotlin.test.fail

/** A lone high surrogate (the first half of 😀) in the middle of a text. */
const val LONE_HIGH = "ab\uD83Dcd"

/** A lone low surrogate (the second half of 😀) in the middle of a text. */
const val LONE_LOW = "ab\uDE00cd"

/** Text cut in the middle of an emoji: a high surrogate at the end. */
const val CUT_AT_END = "Great shoes \uD83D"

/** A stack as small as the smallest an Android app might give a thread. */
const val SMALL_STACK = 256 * 1024

/** `{"k": {"k": … "x" …}}`, [depth] objects deep. */
fun deepJson(depth: Int): JsonValue {
    var value: JsonValue = JsonValue.Text("x")
    repeat(depth) { value = JsonValue.Object(mapOf("k" to value)) }
    return value
}

/** The same as plain Kotlin maps, for `jsonOf`. */
fun deepMaps(depth: Int): Any {
    var value: Any = "x"
    repeat(depth) { value = mapOf("k" to value) }
    return value
}

/**
 * Runs [block] on a thread with a [SMALL_STACK] stack and returns its result, or throws
 * what it threw (an Error included, such as a StackOverflowError).
 */
fun <T> onSmallStack(block: () -> T): T {
    var result: Result<T>? = null
    val thread = Thread(null, { result = runCatching(block) }, "small", SMALL_STACK.toLong())
    thread.start()
    thread.join()
    return result!!.getOrThrow()
}

/** What a refused call must leave as it was. */
data class Stored(val queuedEvents: ULong, val queuedBytes: ULong)

fun Beckon.stored(): Stored = stats().let { Stored(it.queuedEvents, it.queuedBytes) }

/**
 * Runs [call], which must throw [T] (not a subclass of anything else) with a message
 * that names [field] right after its prefix (`invalid event: product.name: …`), and must
 * store nothing. Returns the exception.
 */
inline fun <reified T : BeckonException> Beckon.assertRefused(field: String, call: () -> Unit): T =
    assertRefusedAt<T>(Regex.escape(field), field, call)

/** [assertRefused] for a field the [pattern] matches (a regular expression). */
inline fun <reified T : BeckonException> Beckon.assertRefusedAt(
    pattern: String,
    field: String = pattern,
    call: () -> Unit,
): T {
    val before = stored()
    val thrown = try {
        call()
        null
    } catch (e: Throwable) {
        e
    }
    if (thrown !is T) {
        fail("expected ${T::class.simpleName} naming $field, got ${thrown?.let { "$it" } ?: "no exception"}", thrown)
    }
    val message = thrown.message ?: ""
    val named = Regex("^[a-z ]+: $pattern(: |$)").containsMatchIn(message)
    assertTrue(named, "the message should name $field first: $message")
    assertEquals(before, stored(), "a refused call stores nothing: $message")
    return thrown
}

/** Tracks a valid event and checks it was stored: the instance still works. */
fun Beckon.assertStillRecords() {
    val before = stats().queuedEvents
    track(Event.Custom(name = "Still Recording"))
    assertEquals(before + 1uL, stats().queuedEvents, "a valid event after the refusals is stored")
}
