package dev.beckon.tests

import dev.beckon.BeckonException
import dev.beckon.DeepLinkRoute
import dev.beckon.PushLink
import org.junit.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertIs
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue

/**
 * Deep links through the Kotlin binding: a push that cold-starts the app keeps its link
 * on disk until the app's router is ready, and it is delivered once, even across a
 * restart; links from hosts the app does not allow are refused.
 */
class DeepLinkTest : BeckonTestBase() {
    @Test
    fun aLinkThatColdStartsTheAppWaitsForTheRouterInTheStoreAndIsDeliveredOnce() {
        val server = startServer()
        val dir = tempDir()
        val link = "shop://product/42?size=M&q=red+shoes&utm_source=push&utm_medium=notification&utm_campaign=bf&utm_term=shoes&utm_content=banner-1"

        val first = open(dir, server.url)
        first.setDeepLinkRoutes(SHOP_ROUTES, SHOP_HOSTS)
        val action = first.handlePush(apnsUserInfoJson(beckonPayload("m-cold", deepLink = link)))
        assertEquals(PushLink.Pending(link), action.link, "the router is not ready yet")
        // The app goes away before its router comes up.
        first.shutdown()
        first.close()

        val beckon = open(dir, server.url)
        val noRoutes = assertFailsWith<BeckonException.DeepLink>("the link cannot be routed yet") { beckon.deepLinkRouterReady() }
        assertTrue(noRoutes.message!!.contains("routes"), noRoutes.message)
        beckon.setDeepLinkRoutes(SHOP_ROUTES, SHOP_HOSTS)
        val delivered = assertNotNull(beckon.deepLinkRouterReady(), "kept across the restart")
        assertEquals("product", delivered.route)
        assertEquals(link, delivered.url)
        assertEquals(mapOf("id" to "42", "size" to "M", "q" to "red shoes"), delivered.params)
        assertEquals(
            listOf("push", "notification", "bf", "shoes", "banner-1"),
            listOf(delivered.utmSource, delivered.utmMedium, delivered.utmCampaign, delivered.utmTerm, delivered.utmContent),
        )
        assertNull(beckon.deepLinkRouterReady(), "delivered once")

        // Ready now: the next push's link comes back at once.
        val warm = beckon.handlePush(fcmDataJson(beckonPayload("m-warm", deepLink = "shop://cart")))
        assertEquals("cart", assertIs<PushLink.Open>(warm.link).link.route)

        beckon.shutdown()
        beckon.close()
        val again = open(dir, server.url)
        again.setDeepLinkRoutes(SHOP_ROUTES, SHOP_HOSTS)
        assertNull(again.deepLinkRouterReady(), "never again")

        flushAll(again)
        val exported = server.events()
        assertEquals(listOf("m-cold", "m-warm"), exported.named(PUSH_OPENED).map { it.properties["message_id"] })
        val opened = exported.named(DEEP_LINK_OPENED).map { it.properties }
        assertEquals(listOf("m-cold", "m-warm"), opened.map { it["message_id"] })
        assertEquals(listOf("product", "cart"), opened.map { it["route"] })
        assertEquals(link, opened[0]["url"])
        assertEquals(listOf("black-friday", "send-1", "push", "notification", "bf", "shoes", "banner-1"),
            listOf("campaign_id", "send_id", "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content").map { opened[0][it] })
    }

    @Test
    fun linksFromHostsNotAllowedAreRefusedAndNotKept() {
        val server = startServer()
        val beckon = open(tempDir(), server.url)
        beckon.setDeepLinkRoutes(SHOP_ROUTES, SHOP_HOSTS)

        // Before the router is ready, a link that can never be routed is refused, not kept.
        val evil = beckon.handlePush(fcmDataJson(beckonPayload("m-evil", deepLink = "https://evil.example/p/1")))
        val refused = assertIs<PushLink.Refused>(evil.link)
        assertEquals("https://evil.example/p/1", refused.url)
        assertTrue(refused.reason.contains("evil.example") && refused.reason.contains("allowed"), refused.reason)
        assertNull(beckon.deepLinkRouterReady(), "a refused link is not kept")

        for (url in listOf("https://evil.example/p/7", "https://shop.example@evil.example/p/7", "https://shop.example.evil.example/p/7")) {
            val error = assertFailsWith<BeckonException.DeepLink>(url) { beckon.openDeepLink(url) }
            assertTrue(error.message!!.contains("deep link"), error.message)
        }
        assertFailsWith<BeckonException.DeepLink>("no route takes it") { beckon.openDeepLink("shop://wishlist") }
        val web = beckon.openDeepLink("https://SHOP.example/p/7?utm_source=newsletter&utm_medium=email")
        assertEquals(Triple("web_product", mapOf("id" to "7"), "newsletter"), Triple(web.route, web.params, web.utmSource))

        // Bad routes are refused, naming the entry; the earlier routes stay.
        val bad = assertFailsWith<BeckonException.InvalidArgument> {
            beckon.setDeepLinkRoutes(listOf(DeepLinkRoute("product", "shop://product/{id}"), DeepLinkRoute("evil", "https://evil.example/{id}")), SHOP_HOSTS)
        }
        assertTrue(bad.message!!.contains("routes[1].pattern"), bad.message)
        assertEquals("web_product", beckon.openDeepLink("https://shop.example/p/8").route)

        flushAll(beckon)
        val exported = server.events()
        assertEquals(listOf("m-evil"), exported.named(PUSH_OPENED).map { it.properties["message_id"] }, "the open is recorded")
        assertEquals(listOf("web_product", "web_product"), exported.named(DEEP_LINK_OPENED).map { it.properties["route"] }, "refused links are not")
        assertEquals("newsletter", exported.named(DEEP_LINK_OPENED).first().properties["utm_source"])
    }
}
