// Hand-written: strings on their way to the core, and the typed errors for those that
// are not text or are too big. The generated converters call in here through the fixes of
// uniffi-bindgen/src/bin/patch-generated/kotlin.rs; nothing here is public API.
//
// A Kotlin String is UTF-16 and may hold a lone surrogate (half of an emoji, what
// cutting user text at an arbitrary index produces), which has no UTF-8 form. The
// generated `FfiConverterString.toUtf8` calls [utf8], which throws [RefusedArgument]
// for it. As that exception unwinds through the generated writers, each names the part
// it was writing (a record field, a list index, a map key), the lowering of the
// argument names the argument, and the call turns it into the typed `BeckonException`
// whose message names the field as the core names fields (`product.name`,
// `cart.products[1].sku`, `properties.tags[0]`, `user_id`).
package dev.beckon

import java.nio.ByteBuffer

/** What kind of argument a refused text was in: it picks the typed exception. */
internal enum class TextArg {
    /** An event (`track`): [BeckonException.InvalidEvent], fields named as the core does. */
    EVENT,

    /** The configuration (the constructor): [BeckonException.InvalidConfig]. */
    CONFIG,

    /** A push handed to `handlePush`: [BeckonException.InvalidPush]. */
    PUSH,

    /** Any other argument: [BeckonException.InvalidArgument], prefixed with its name. */
    ARGUMENT,
}

/**
 * An argument refused while it was lowered, before the call: a string holding a lone
 * surrogate ([loneSurrogate]) or longer than [MAX_TEXT_BYTES] ([tooLong]), an argument
 * taking more than [MAX_ARGUMENT_BYTES] to encode ([tooLarge]), or one that changed
 * while it was written ([unreadable]). Internal: every public
 * call turns it into a `BeckonException` naming the field (see [toBeckonException]).
 * Without a stack trace, as it is only ever caught.
 */
internal class RefusedArgument private constructor(
    private val text: String?,
    private val index: Int,
    private val tooBig: String?,
) : RuntimeException(null, null, false, false) {
    companion object {
        private const val QUOTED = 40

        private fun escape(c: Char): String = "\\u%04X".format(c.code)

        /** [text] holds a lone UTF-16 surrogate at [index]. */
        fun loneSurrogate(text: String, index: Int) = RefusedArgument(text, index, null)

        /** A text of [chars] UTF-16 units (and [bytes] of UTF-8, when counted) is too long. */
        fun tooLong(chars: Int, bytes: Long?) = RefusedArgument(
            null,
            -1,
            if (bytes == null) {
                "is $chars characters, over the $MAX_TEXT_BYTES-byte limit of a text"
            } else {
                "is $bytes bytes, over the $MAX_TEXT_BYTES-byte limit of a text"
            },
        )

        /**
         * An argument could not be read: the app's collection changed while it was
         * written (another thread's change, or a collection whose size and contents
         * disagree), shown by the exception [thrown] it caused.
         */
        fun unreadable(thrown: RuntimeException) = RefusedArgument(
            null,
            -1,
            "could not be read (${thrown.javaClass.name}); pass a value no other thread " +
                "changes while the call runs",
        )

        /** An argument would take [bytes] to encode. */
        fun tooLarge(bytes: ULong) = RefusedArgument(
            null,
            -1,
            "takes $bytes bytes to encode, over the $MAX_ARGUMENT_BYTES-byte limit of an argument",
        )
    }

    /** Where the text was, innermost first: field and key names, and list indices. */
    private val path = ArrayList<Any>(4)

    /** Whether the text was a map key (then [path] ends at the map). */
    private var isKey = false
    private var argument: String? = null
    private var kind = TextArg.ARGUMENT

    /** Adds the field or map key the text was under (one level further out). */
    fun under(name: String): RefusedArgument {
        path.add(name)
        return this
    }

    /** Adds the list index the text was at (one level further out). */
    fun item(index: Int): RefusedArgument {
        path.add(index)
        return this
    }

    /** Marks the text as the key of the map being written, not a value. */
    fun asKey(): RefusedArgument {
        isKey = true
        return this
    }

    /**
     * Records the argument the text was in, the outermost part of the path: its [name],
     * or "" for an event or configuration passed whole.
     */
    fun inArgument(name: String, kind: TextArg): RefusedArgument {
        if (argument == null) {
            argument = name
            this.kind = kind
        }
        return this
    }

    /** The typed exception for the call: its message names the field. */
    fun toBeckonException(): BeckonException {
        val field = fieldName().ifEmpty {
            when (kind) {
                TextArg.EVENT -> "event"
                TextArg.CONFIG -> "config"
                TextArg.PUSH -> "push"
                TextArg.ARGUMENT -> ""
            }
        }
        val problem = when {
            text != null -> {
                val what = if (isKey) "the key ${quote(text)}" else quote(text)
                "$what holds a lone UTF-16 surrogate (${escape(text[index])}) at index $index, " +
                    "which is not text; cut text at whole characters"
            }
            isKey -> "a key $tooBig"
            else -> tooBig!!
        }
        val message = if (field.isEmpty()) problem else "$field: $problem"
        return when (kind) {
            TextArg.EVENT -> BeckonException.InvalidEvent("invalid event: $message")
            TextArg.CONFIG -> BeckonException.InvalidConfig("invalid configuration: $message")
            TextArg.PUSH -> BeckonException.InvalidPush("push not handled: $message")
            TextArg.ARGUMENT -> BeckonException.InvalidArgument("invalid argument: $message")
        }
    }

    /**
     * The path as the core writes it: `order.products[1].name`, `traits.plan`. An event
     * or a configuration passed whole is an argument without a name: the core names
     * what is in it from its fields.
     */
    private fun fieldName(): String = buildString {
        argument?.let { append(it) }
        for (i in path.indices.reversed()) {
            when (val part = path[i]) {
                is Int -> append('[').append(part).append(']')
                else -> {
                    if (isNotEmpty()) append('.')
                    append(part)
                }
            }
        }
    }

    /**
     * At most [QUOTED] characters of the text around the surrogate, in quotes, with
     * every unpaired surrogate (and control character) written as `\uXXXX`.
     */
    private fun quote(text: String): String {
        val start = if (text.length <= QUOTED) 0 else (index - QUOTED / 2).coerceIn(0, text.length - QUOTED)
        val end = minOf(text.length, start + QUOTED)
        return buildString {
            append('"')
            if (start > 0) append('…')
            var i = start
            while (i < end) {
                val c = text[i]
                val paired = c.isHighSurrogate() && i + 1 < end && text[i + 1].isLowSurrogate()
                when {
                    paired -> {
                        append(c).append(text[i + 1])
                        i += 2
                        continue
                    }
                    c.isSurrogate() || c < ' ' || c == '"' || c == '\\' -> append(escape(c))
                    else -> append(c)
                }
                i++
            }
            if (end < text.length) append('…')
            append('"')
        }
    }

}

/**
 * The most UTF-8 bytes one text may take to the core. Far above every limit the core
 * has for a field (an event takes at most 32 KB whole), so only a text the core would
 * refuse anyway is refused here, where its length is known before anything is copied;
 * the Swift binding cuts texts at the same size.
 */
internal const val MAX_TEXT_BYTES = 1 shl 20

/**
 * The most bytes one argument may take encoded, as uniffi sizes it before writing (3
 * bytes per UTF-16 unit of text, so over twice what it writes for most text). The
 * largest argument the core accepts, 256 deep-link routes of 2 KB patterns, is sized
 * under 2 MiB; past 2 GiB uniffi's buffers and lengths no longer fit an Int.
 */
internal const val MAX_ARGUMENT_BYTES = 16 shl 20

/**
 * The UTF-8 bytes of [value] (what the generated `FfiConverterString.toUtf8` returns),
 * or [RefusedArgument] for a text holding a lone surrogate or longer than
 * [MAX_TEXT_BYTES]. One scan over the chars, then the JDK's encoder, which replaces lone
 * surrogates silently and so is only used once none is.
 */
internal fun utf8(value: String): ByteBuffer {
    if (value.length > MAX_TEXT_BYTES) throw RefusedArgument.tooLong(value.length, null)
    val at = loneSurrogateAt(value)
    if (at >= 0) throw RefusedArgument.loneSurrogate(value, at)
    val bytes = value.toByteArray(Charsets.UTF_8)
    if (bytes.size > MAX_TEXT_BYTES) throw RefusedArgument.tooLong(value.length, bytes.size.toLong())
    return ByteBuffer.wrap(bytes)
}

/**
 * What the generated `FfiConverterString.allocationSize` reserves for [value]: uniffi's
 * length prefix and 3 bytes per UTF-16 unit, but never more than a text may take, as
 * [utf8] refuses a longer one before anything is written.
 */
internal fun textAllocation(value: String): ULong =
    4UL + minOf(value.length.toULong() * 3UL, MAX_TEXT_BYTES.toULong())

/**
 * The bytes [value] takes in UTF-8, or [MAX_TEXT_BYTES] for a text too long to be
 * written ([utf8] refuses it, naming the field, when it comes to be written).
 */
internal fun textSize(value: String): Int =
    if (value.length > MAX_TEXT_BYTES) MAX_TEXT_BYTES else minOf(utf8Length(value), MAX_TEXT_BYTES)

/** [size], the bytes an argument takes encoded, or [RefusedArgument] past [MAX_ARGUMENT_BYTES]. */
internal fun checkedArgumentSize(size: ULong): ULong {
    if (size > MAX_ARGUMENT_BYTES.toULong()) throw RefusedArgument.tooLarge(size)
    return size
}

/** The index of the first lone surrogate of [value], or -1 if it is all text. */
internal fun loneSurrogateAt(value: String): Int {
    val n = value.length
    var i = 0
    while (i < n) {
        val c = value[i]
        if (c >= '\uD800' && c <= '\uDFFF') {
            if (c <= '\uDBFF' && i + 1 < n && value[i + 1] >= '\uDC00' && value[i + 1] <= '\uDFFF') {
                i += 2
                continue
            }
            return i
        }
        i++
    }
    return -1
}

/** The length in bytes of [value] in UTF-8 (a lone surrogate counts 3, as in CESU-8). */
internal fun utf8Length(value: String): Int {
    val n = value.length
    var bytes = n
    var i = 0
    while (i < n) {
        val c = value[i]
        when {
            c < '\u0080' -> {}
            c < '\u0800' -> bytes += 1
            c.isHighSurrogate() && i + 1 < n && value[i + 1].isLowSurrogate() -> {
                bytes += 2 // 4 bytes for 2 chars
                i++
            }
            else -> bytes += 2
        }
        i++
    }
    return bytes
}

/** A record field's write, naming the field ([name], as the core spells it) on refusal. */
internal inline fun textField(name: String, write: () -> Unit) {
    try {
        write()
    } catch (refused: RefusedArgument) {
        throw refused.under(name)
    }
}

/** A list item's write, naming its [index] on refusal. */
internal inline fun textItem(index: Int, write: () -> Unit) {
    try {
        write()
    } catch (refused: RefusedArgument) {
        throw refused.item(index)
    }
}

/** A map key's write: a refusal says the key is at fault. */
internal inline fun textKey(write: () -> Unit) {
    try {
        write()
    } catch (refused: RefusedArgument) {
        throw refused.asKey()
    }
}

/**
 * The lowering of a method's argument [name]: a refusal is rethrown with the argument
 * named, for the method's `callWithHandle` to release the handle it cloned and throw the
 * typed exception.
 */
internal inline fun <R> loweringArg(name: String, kind: TextArg, lower: () -> R): R {
    try {
        return lower()
    } catch (refused: RefusedArgument) {
        throw refused.inArgument(name, kind)
    } catch (changed: RuntimeException) {
        throw RefusedArgument.unreadable(changed).inArgument(name, kind)
    }
}

/** The lowering of a constructor's argument: a refusal throws the typed exception. */
internal inline fun <R> checkedArg(name: String, kind: TextArg, lower: () -> R): R {
    try {
        return lower()
    } catch (refused: RefusedArgument) {
        throw refused.inArgument(name, kind).toBeckonException()
    } catch (changed: RuntimeException) {
        throw RefusedArgument.unreadable(changed).inArgument(name, kind).toBeckonException()
    }
}

/**
 * What a throwing call throws when the core failed unexpectedly ([message] says how: a
 * panic, or an argument it could not read back): a bug in Beckon, reported as the one
 * exception type apps catch.
 */
internal fun unexpectedFailure(message: String): BeckonException =
    BeckonException.Internal("internal error: $message (a bug in Beckon; please report it)")

/** What every call on a closed instance throws, with the core's words for a shut-down one. */
internal fun closedInstance(): BeckonException = BeckonException.ShutDown("this Beckon instance has been shut down")

/** `close()`'s first step: shut down, unless a racing `close()`/`destroy()` got there first. */
internal fun shutDownForClose(beckon: Beckon) {
    try {
        beckon.shutdown()
    } catch (_: BeckonException.ShutDown) {
    }
}
