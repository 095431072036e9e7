package dev.beckon.tests

import dev.beckon.BeckonException
import dev.beckon.Channel
import dev.beckon.Event
import dev.beckon.PermissionState
import dev.beckon.Product
import dev.beckon.PushProvider
import dev.beckon.PushToken
import dev.beckon.handlePush
import dev.beckon.identify
import dev.beckon.permission
import dev.beckon.track
import dev.beckon.updatedAt
import org.junit.Test
import kotlin.reflect.KClass
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNotEquals
import kotlin.test.assertNull
import kotlin.test.assertTrue

/**
 * Channel permissions, push tokens, opt-out and deleting local data through the Kotlin
 * binding: a channel without permission gets nothing on the device, every change is
 * kept with its history and reaches the server, opting out stores nothing, and bad
 * input is refused with a typed exception that changes nothing.
 */
class PermissionsTest : BeckonTestBase() {
    @Test
    fun noInAppMessageIsShownWhileInAppIsUnsubscribedAndTheNextTriggerShowsItOnceAllowed() {
        val server = startServer()
        server.admin.createCampaign(freeShippingCampaign(cap = """{"total": 5}"""))
        val beckon = open(tempDir(), server.url)
        syncNow(beckon)

        beckon.setPermission(Channel.IN_APP, PermissionState.UNSUBSCRIBED, "settings_screen")
        assertEquals(PermissionState.UNSUBSCRIBED, beckon.permission(Channel.IN_APP).state)
        // Polling: the trigger fires, but nothing is kept for a poll.
        beckon.track(added("socks", 37.5))
        assertEquals(listOf("cart_abandoner"), beckon.segments())
        assertNull(beckon.takeInAppMessage(), "in-app is unsubscribed")
        // A listener: not called.
        val screen = ScriptedScreen()
        beckon.setInAppListener(screen)
        leaveAndReenterCartAbandoners(beckon, "order-1")
        assertEquals(emptyList(), screen.offered(), "in-app is unsubscribed")

        beckon.setPermission(Channel.IN_APP, PermissionState.OPTED_IN, "settings_screen")
        leaveAndReenterCartAbandoners(beckon, "order-2")
        assertEquals(listOf("free-shipping"), screen.accepted().map { it.campaignId }, "the next trigger shows it")
        assertOnEngagementThread(screen.calls())
        assertEquals(
            listOf(PermissionState.UNSUBSCRIBED, PermissionState.OPTED_IN),
            beckon.permissionHistory().map { it.state },
        )

        flushAll(beckon)
        val exported = server.events()
        assertEquals(listOf(screen.accepted().single().messageId), exported.named(SHOWN).map { it.properties["message_id"] })
        assertEquals(
            listOf(
                mapOf("channel" to "in_app", "state" to "unsubscribed", "source" to "settings_screen"),
                mapOf("channel" to "in_app", "state" to "opted_in", "source" to "settings_screen"),
            ),
            exported.named(CHANNEL_PERMISSION_CHANGED).map { it.properties },
        )
    }

    @Test
    fun permissionsPushTokensAndTheOsPermissionAreKeptWithTheirHistoryAndReachTheServer() {
        val server = startServer()
        val beckon = open(tempDir(), server.url)
        val defaults = beckon.permissions()
        assertEquals(Channel.entries.toSet(), defaults.map { it.channel }.toSet())
        for (p in defaults) {
            assertEquals(Triple(PermissionState.SUBSCRIBED, "default", null), Triple(p.state, p.source, p.updatedAt), "$p")
        }
        assertNull(beckon.pushPermission(), "never reported")

        beckon.setPermission(Channel.SMS, PermissionState.OPTED_IN, "checkout")
        beckon.setPermission(Channel.EMAIL, PermissionState.UNSUBSCRIBED, "settings_screen")
        beckon.setPushPermission(true)
        beckon.setPushPermission(true)
        beckon.registerPushToken(PushProvider.FCM, FCM_TOKEN)
        beckon.registerPushToken(PushProvider.FCM, FCM_TOKEN)
        beckon.registerPushToken(PushProvider.APNS, APNS_TOKEN.uppercase())
        assertEquals(PushToken(PushProvider.APNS, APNS_TOKEN), beckon.pushToken(), "the refreshed token, lower-cased")
        beckon.setDeviceProfile("Europe/Lisbon", "pt")
        beckon.track(Event.ProductViewed(product = Product(productId = "socks")))
        beckon.removePushToken()
        assertNull(beckon.pushToken())

        assertEquals(PermissionState.OPTED_IN, beckon.permission(Channel.SMS).state)
        val email = beckon.permission(Channel.EMAIL)
        assertEquals(Pair(PermissionState.UNSUBSCRIBED, "settings_screen"), Pair(email.state, email.source))
        assertTrue(email.updatedAtMs > 0, "$email")
        assertEquals(PermissionState.SUBSCRIBED, beckon.permission(Channel.PUSH).state)
        assertEquals(listOf(Channel.SMS, Channel.EMAIL), beckon.permissionHistory().map { it.channel })
        assertEquals(true, beckon.pushPermission())

        flushAll(beckon)
        val exported = server.events()
        assertEquals(
            listOf(
                mapOf("channel" to "sms", "state" to "opted_in", "source" to "checkout"),
                mapOf("channel" to "email", "state" to "unsubscribed", "source" to "settings_screen"),
            ),
            exported.named(CHANNEL_PERMISSION_CHANGED).map { it.properties },
        )
        assertEquals(listOf(mapOf("granted" to true)), exported.named(PUSH_PERMISSION_CHANGED).map { it.properties }, "one report per change")
        val fcm = mapOf("provider" to "fcm", "token" to FCM_TOKEN)
        val apns = mapOf("provider" to "apns", "token" to APNS_TOKEN)
        assertEquals(listOf(fcm, apns), exported.named(PUSH_TOKEN_REGISTERED).map { it.properties })
        assertEquals(listOf(fcm, apns), exported.named(PUSH_TOKEN_REMOVED).map { it.properties }, "the refreshed one and the removed one")
        @Suppress("UNCHECKED_CAST")
        val context = exported.named("Product Viewed").single().json["context"] as Map<String, Any?>
        assertEquals(Pair("Europe/Lisbon", "PT"), Pair(context["timezone"], context["country"]))
    }

    @Test
    fun optingOutStoresAndUploadsNothingUntilTheUserOptsBackIn() {
        val server = startServer()
        val dir = tempDir()
        val beckon = open(dir, server.url)
        beckon.track(viewed("a", "Shoes"))
        beckon.track(viewed("b", "Shoes"))
        val queued = beckon.stats().queuedEvents
        assertTrue(queued >= 2uL, "$queued")

        beckon.optOut()
        assertTrue(beckon.isOptedOut())
        assertEquals(0uL, beckon.stats().queuedEvents, "the queue is discarded")
        assertEquals(queued, beckon.stats().dropped.optedOut)
        beckon.track(viewed("c", "Shoes"))
        beckon.screen("Cart", emptyMap())
        val stats = beckon.stats()
        assertEquals(0uL, stats.queuedEvents, "nothing stored: $stats")
        assertEquals(queued + 2uL, stats.dropped.optedOut, "each counted: $stats")
        flushAll(beckon)
        beckon.shutdown()
        beckon.close()

        val again = open(dir, server.url)
        assertTrue(again.isOptedOut(), "kept across restarts")
        again.track(viewed("d", "Shoes"))
        flushAll(again)
        assertEquals(emptyList(), server.events(), "nothing uploaded")

        again.optIn()
        assertTrue(!again.isOptedOut())
        again.track(viewed("e", "Shoes"))
        flushAll(again)
        val uploaded = server.events().appEvents()
        assertEquals(listOf("Product Viewed" to "e"), uploaded.map { it.name to it.properties["product_id"] }, "nothing from the opted-out time")
    }

    @Test
    fun deletingLocalDataLeavesAFreshAnonymousUserWithNothingOfTheOldOne() {
        val dir = tempDir()
        val beckon = open(dir, deadServerUrl())
        beckon.identify("ana", emptyMap())
        val oldAnonymousId = beckon.anonymousId()
        beckon.setPermission(Channel.SMS, PermissionState.OPTED_IN, "checkout")
        beckon.registerPushToken(PushProvider.APNS, APNS_TOKEN)
        beckon.setPushPermission(true)
        beckon.handlePush(fcmData(beckonPayload("m-1", promo = promoJson("TEN", """{"kind": "percent", "value": 10}"""))))
        beckon.track(added("socks", 37.5))
        assertEquals(listOf("cart_abandoner"), beckon.segments())

        beckon.deleteLocalData()

        val fresh = beckon.anonymousId()
        assertNotEquals(oldAnonymousId, fresh)
        assertNull(beckon.userId())
        assertEquals(0uL, beckon.stats().queuedEvents)
        assertEquals(emptyList(), beckon.segments())
        assertEquals(emptyList(), beckon.permissionHistory())
        assertEquals(PermissionState.SUBSCRIBED, beckon.permission(Channel.SMS).state)
        assertNull(beckon.pushToken())
        assertNull(beckon.pushPermission())
        assertEquals(emptyList(), beckon.activePromos())
        assertTrue(!beckon.isOptedOut())

        beckon.shutdown()
        beckon.close()
        val again = open(dir, deadServerUrl())
        assertEquals(fresh, again.anonymousId(), "the fresh id is the one kept")
        assertNull(again.userId())
    }

    @Test
    fun badInputsThrowTypedExceptionsAndChangeNothing() {
        val beckon = open(tempDir(), deadServerUrl())
        beckon.setDeepLinkRoutes(SHOP_ROUTES, SHOP_HOSTS)
        beckon.registerPushToken(PushProvider.FCM, FCM_TOKEN)
        beckon.setPermission(Channel.SMS, PermissionState.OPTED_IN, "app")
        beckon.handlePush(fcmData(beckonPayload("m-good", promo = promoJson("TEN", """{"kind": "percent", "value": 10}"""))))
        fun snapshot() = listOf(beckon.stats().queuedEvents, beckon.permissionHistory(), beckon.pushToken(), beckon.activePromos())
        val before = snapshot()

        for (source in listOf("", "by hand", "x".repeat(65))) {
            val e = assertFailsWith<BeckonException.InvalidArgument>("source \"$source\"") {
                beckon.setPermission(Channel.SMS, PermissionState.UNSUBSCRIBED, source)
            }
            assertTrue(e.message!!.startsWith("invalid argument: source: "), e.message)
        }
        val shortApns = assertFailsWith<BeckonException.InvalidArgument> { beckon.registerPushToken(PushProvider.APNS, APNS_TOKEN.take(40)) }
        assertEquals("invalid argument: token: an APNs token is an even number of hex digits, at least 64; found 40", shortApns.message)
        val notHex = assertFailsWith<BeckonException.InvalidArgument> { beckon.registerPushToken(PushProvider.APNS, FCM_TOKEN) }
        assertTrue(notHex.message!!.contains("an APNs token is hexadecimal"), notHex.message)
        assertFailsWith<BeckonException.InvalidArgument> { beckon.registerPushToken(PushProvider.FCM, "has space") }
        assertFailsWith<BeckonException.InvalidArgument> { beckon.registerPushToken(PushProvider.FCM, "") }
        val zone = assertFailsWith<BeckonException.InvalidArgument> { beckon.setDeviceProfile("Europe/Atlantis", "PT") }
        assertTrue(zone.message!!.contains("time_zone"), zone.message)

        // Pushes, each with a deep link that would be kept pending and a promo.
        val promo = promoJson("SAVE5", """{"kind": "fixed", "value": 5}""")
        val good = beckonPayload("m-bad", deepLink = "shop://cart", promo = promo)
        val cases = listOf(
            BadPush("not JSON", BeckonException.InvalidPush::class, "push not handled") { beckon.handlePush("{not json") },
            BadPush("not Beckon's", BeckonException.NotBeckonPush::class, "no \"beckon\" entry") {
                beckon.handlePush("""{"aps": {"alert": "hi"}}""")
            },
            BadPush("oversized", BeckonException.InvalidPush::class, "4096-byte limit") {
                beckon.handlePush(fcmData(good) + ("padding" to "x".repeat(4096)))
            },
            BadPush("a negative discount", BeckonException.InvalidPush::class, "beckon.promo.discount.value") {
                beckon.handlePush(apnsUserInfoJson(good.replace("\"value\": 5", "\"value\": -5")))
            },
            BadPush("a newer version", BeckonException.InvalidPush::class, "version 2") {
                beckon.handlePush(apnsUserInfoJson(good.replace("\"v\": 1", "\"v\": 2")))
            },
            BadPush("a misspelt field", BeckonException.InvalidPush::class, "deeplink") {
                beckon.handlePush(fcmData(good.replace("\"deep_link\"", "\"deeplink\"")))
            },
            BadPush("no message id", BeckonException.InvalidPush::class, "message_id") {
                beckon.handlePush(fcmData(good.replace("\"message_id\": \"m-bad\", ", "")))
            },
        )
        for (case in cases) {
            val e = assertFailsWith<BeckonException>(case.what) { case.call() }
            assertEquals(case.kind, e::class, "${case.what}: ${e.message}")
            assertTrue(e.message!!.contains(case.says), "${case.what}: ${e.message}")
        }

        assertEquals(before, snapshot(), "no event, no permission, no token, no promo")
        assertNull(beckon.deepLinkRouterReady(), "no pending link")
    }

    private class BadPush(val what: String, val kind: KClass<out BeckonException>, val says: String, val call: () -> Unit)

    companion object {
        const val CHANNEL_PERMISSION_CHANGED = "Channel Permission Changed"
        const val PUSH_PERMISSION_CHANGED = "Push Permission Changed"
        const val PUSH_TOKEN_REGISTERED = "Push Token Registered"
        const val PUSH_TOKEN_REMOVED = "Push Token Removed"
        const val APNS_TOKEN = "9f2c4a1b7e3d5c6a8b0f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6e5f4a3"
        const val FCM_TOKEN = "dQw4w9WgXcQ:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx_eW7fE1cR-0tR9n2"
    }
}
