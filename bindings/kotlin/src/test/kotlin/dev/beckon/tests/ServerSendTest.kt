package dev.beckon.tests

import dev.beckon.Beckon
import dev.beckon.Channel
import dev.beckon.PermissionState
import dev.beckon.PushLink
import dev.beckon.PushProvider
import dev.beckon.handlePush
import dev.beckon.identify
import dev.beckon.jsonOf
import dev.beckon.track
import org.junit.Test
import kotlin.test.assertEquals
import kotlin.test.assertTrue

/**
 * A server send to a segment, through the real send API and the FCM stand-in: only the
 * shoppers who permit push, gave the OS permission and hold a token get it, and the
 * push the phone receives opens the cart with its promo active.
 */
class ServerSendTest : BeckonTestBase() {
    @Test
    fun aSegmentSendReachesFcmOnlyForShoppersWhoPermitPush() {
        val (server, providers) = startServerWithProviders()
        // Three shoppers abandon a cart, each on their own phone.
        fun shopper(userId: String, token: String, osGranted: Boolean, push: PermissionState): Beckon {
            val beckon = open(tempDir(), server.url)
            beckon.identify(userId, jsonOf("first_name" to userId))
            beckon.registerPushToken(PushProvider.FCM, token)
            beckon.setPushPermission(osGranted)
            beckon.setPermission(Channel.PUSH, push, "settings_screen")
            beckon.track(added("socks-$userId", 37.5))
            flushAll(beckon)
            return beckon
        }
        val ana = shopper("ana", "fcm-token-ana", osGranted = true, push = PermissionState.OPTED_IN)
        shopper("bob", "fcm-token-bob", osGranted = true, push = PermissionState.UNSUBSCRIBED)
        shopper("cleo", "fcm-token-cleo", osGranted = false, push = PermissionState.SUBSCRIBED)

        val created = server.admin.post("/v1/admin/sends", cartRescue())
        assertEquals(201, created.status, "$created")
        val sendId = created.json["id"] as String
        val done = awaitDone(server.admin, sendId)
        @Suppress("UNCHECKED_CAST")
        val deliveries = (server.admin.read("/v1/admin/sends/$sendId/deliveries")["deliveries"] as List<Map<String, Any?>>)
            .associate { it["user_key"] to it["status"] }
        assertEquals<Map<Any?, Any?>>(
            mapOf("ana" to "delivered", "bob" to "skipped", "cleo" to "skipped"),
            deliveries,
            "$done",
        )

        val received = providers.fcmReceived()
        assertEquals(listOf("fcm-token-ana"), received.map { it["token"] }, "FCM got only Ana's push")
        assertEquals("Your cart misses you, ana", received.single()["title"])

        // Ana taps it: the app opens on the cart with the code active.
        @Suppress("UNCHECKED_CAST")
        val data = received.single()["data"] as Map<String, String>
        ana.setDeepLinkRoutes(SHOP_ROUTES, SHOP_HOSTS)
        ana.deepLinkRouterReady()
        val action = ana.handlePush(data)
        assertEquals(sendId, action.sendId)
        val link = action.link
        assertTrue(link is PushLink.Open && link.link.route == "cart", "$link")
        assertEquals("CART15", action.promo?.code)
        assertTrue(action.promoActive)
        assertEquals(listOf("CART15"), ana.activePromos().map { it.code })
    }

    private fun cartRescue() = """
        {"schema_version": 1,
         "audience": {"segment": "cart_abandoner"},
         "channels": ["push"],
         "content": {
           "default_locale": "en",
           "variants": {"en": {"title": "Your cart misses you, {{first_name | there}}", "body": "{{promo_code}}: 15% off"}},
           "deep_link": "shop://cart?utm_source=beckon",
           "promo": {"code": "CART15", "discount": {"percent": 15}, "expires_at": "${inDays(2)}", "max_uses": 1}
         }}
    """.trimIndent()

    /** The send once the server has planned and finished every delivery. */
    private fun awaitDone(admin: dev.beckon.support.AdminApi, sendId: String): Map<String, Any?> {
        val deadline = System.nanoTime() + 20_000_000_000L
        while (System.nanoTime() < deadline) {
            val send = admin.read("/v1/admin/sends/$sendId")
            if (send["status"] == "done") return send
            Thread.sleep(100)
        }
        throw AssertionError("send $sendId did not finish: ${admin.read("/v1/admin/sends/$sendId")}")
    }
}
