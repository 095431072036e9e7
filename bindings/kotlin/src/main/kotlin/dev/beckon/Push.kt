// Hand-written: Kotlin names and types for pushes, promo codes and channel permissions.
// Each one is a thin layer over a generated call and passes its exceptions through.
package dev.beckon

import java.time.Instant

/**
 * An opened push from its FCM data map, as Android hands it over
 * (`RemoteMessage.data`, or the `data` the app read from the notification's intent):
 *
 * ```
 * val action = beckon.handlePush(remoteMessage.data)
 * ```
 *
 * The same call as [Beckon.handlePushData]. Throws [BeckonException.NotBeckonPush] for a
 * push Beckon did not send (hand it to whatever else handles pushes) and
 * [BeckonException.InvalidPush] for a malformed or oversized one; neither records
 * anything.
 *
 * Beckon reads only its own entry (`beckon`) of the map. Text that is not text (a lone
 * UTF-16 surrogate, which a server cutting a string in the middle of an emoji sends as
 * `"\ud83d"`) makes the push malformed only when it is in that entry: elsewhere it is
 * read as U+FFFD, so another SDK's push still answers `NotBeckonPush` and a Beckon push
 * is handled.
 */
fun Beckon.handlePush(data: Map<String, String>): PushAction = handlePushData(othersAsText(data))

/** The entry of a push's data map that Beckon reads (src/push/README.md). */
private const val BECKON_ENTRY = "beckon"

/**
 * [data], with every lone surrogate of the entries other than [BECKON_ENTRY] replaced by
 * U+FFFD: the core only measures those entries, and U+FFFD takes the 3 bytes of UTF-8
 * a lone surrogate would, so the 4 KB limit of a push counts the same.
 */
private fun othersAsText(data: Map<String, String>): Map<String, String> {
    val broken = data.entries.any { (key, value) ->
        key != BECKON_ENTRY && (loneSurrogateAt(key) >= 0 || loneSurrogateAt(value) >= 0)
    }
    if (!broken) return data
    val out = LinkedHashMap<String, String>(data.size * 2)
    for ((key, value) in data) {
        if (key == BECKON_ENTRY) out[key] = value else out[asText(key)] = asText(value)
    }
    return out
}

/** [text] with each lone surrogate replaced by U+FFFD. */
private fun asText(text: String): String {
    if (loneSurrogateAt(text) < 0) return text
    val out = StringBuilder(text.length)
    var i = 0
    while (i < text.length) {
        val c = text[i]
        if (c.isHighSurrogate() && i + 1 < text.length && text[i + 1].isLowSurrogate()) {
            out.append(c).append(text[i + 1])
            i += 2
            continue
        }
        out.append(if (c.isSurrogate()) '\uFFFD' else c)
        i++
    }
    return out.toString()
}

/** When the promo stops being usable, judged on the server's clock. */
val Promo.expiresAt: Instant get() = Instant.ofEpochMilli(expiresAtMs)

/** When the push that brought the promo was handled. */
val Promo.receivedAt: Instant get() = Instant.ofEpochMilli(receivedAtMs)

/** When the quoted promo stops being usable. */
val PromoQuote.expiresAt: Instant get() = Instant.ofEpochMilli(expiresAtMs)

/**
 * When the permission was last changed; `null` for a channel never set (its state is
 * then the default, [PermissionState.SUBSCRIBED]).
 */
val ChannelPermission.updatedAt: Instant? get() = if (updatedAtMs == 0L) null else Instant.ofEpochMilli(updatedAtMs)

/** The permission of [channel]: one entry of [Beckon.permissions], which lists every channel. */
fun Beckon.permission(channel: Channel): ChannelPermission =
    permissions().firstOrNull { it.channel == channel }
        ?: throw IllegalStateException("permissions() has no entry for $channel")
