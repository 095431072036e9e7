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
 */
fun Beckon.handlePush(data: Map<String, String>): PushAction = handlePushData(data)

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
