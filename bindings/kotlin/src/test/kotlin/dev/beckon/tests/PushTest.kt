package dev.beckon.tests

import dev.beckon.BeckonException
import dev.beckon.DiscountKind
import dev.beckon.PushLink
import dev.beckon.expiresAt
import dev.beckon.handlePush
import dev.beckon.receivedAt
import org.junit.Test
import java.time.Instant
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertIs
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue

/**
 * Opened pushes through the Kotlin binding against a live server: each platform shape
 * the app may hand over activates the push's promo, which applies within its
 * conditions and limits, and the open reaches the server with its attribution.
 */
class PushTest : BeckonTestBase() {
    @Test
    fun aPushFromTheFcmDataMapActivatesItsPromoWhichAppliesOnceAndTheOpenReachesTheServer() {
        val server = startServer()
        val beckon = open(tempDir(), server.url)
        beckon.setDeepLinkRoutes(SHOP_ROUTES, SHOP_HOSTS)
        assertNull(beckon.deepLinkRouterReady(), "nothing pending")
        val expiresAt = inDays(2)
        val link = "shop://product/42?color=dark%20blue&utm_source=push&utm_campaign=bf"
        val before = Instant.now().toEpochMilli()

        val action = beckon.handlePush(
            fcmData(beckonPayload("m-1", deepLink = link, promo = promoJson("BF10", """{"kind": "percent", "value": 10}""", expiresAt = expiresAt, maxUses = 1))),
        )

        assertEquals(Triple("m-1", "black-friday", "send-1"), Triple(action.messageId, action.campaignId, action.sendId))
        val opened = assertIs<PushLink.Open>(action.link, "the router is ready: the link comes back at once").link
        assertEquals("product", opened.route)
        assertEquals(link, opened.url)
        assertEquals(mapOf("id" to "42", "color" to "dark blue"), opened.params, "decoded, UTM fields taken out")
        assertEquals(listOf("push", null, "bf", null, null), listOf(opened.utmSource, opened.utmMedium, opened.utmCampaign, opened.utmTerm, opened.utmContent))
        val promo = assertNotNull(action.promo)
        assertTrue(action.promoActive)
        assertEquals("BF10", promo.code)
        assertEquals(DiscountKind.PERCENT, promo.kind)
        assertEquals(10.0, promo.value)
        assertEquals("EUR", promo.currency)
        assertEquals(Instant.parse(expiresAt), promo.expiresAt)
        assertEquals(Pair(1u, 0u), Pair(promo.maxUses, promo.uses))
        assertEquals(Pair("m-1", "black-friday"), Pair(promo.messageId, promo.campaignId))
        assertTrue(promo.receivedAt.toEpochMilli() >= before, "${promo.receivedAt}")

        assertEquals(listOf(promo), beckon.activePromos())
        val best = assertNotNull(beckon.bestPromoFor(cartOf(80.0)))
        assertEquals("BF10", best.code)
        assertEquals(8.0, best.discount)
        assertEquals(72.0, best.totalAfterDiscount)
        assertEquals("EUR", best.currency)
        assertEquals(Instant.parse(expiresAt), best.expiresAt)

        val applied = beckon.applyPromo("bf10", cartOf(80.0), shipping = 4.95)
        assertEquals(Triple("BF10", 8.0, 76.95), Triple(applied.code, applied.discount, applied.totalAfterDiscount), "codes match whatever their case")
        val again = assertFailsWith<BeckonException.PromoUsedUp> { beckon.applyPromo("BF10", cartOf(80.0)) }
        assertEquals("promo code BF10 has been used its 1 time(s) already", again.message)
        assertEquals(emptyList(), beckon.activePromos(), "used up")
        assertNull(beckon.bestPromoFor(cartOf(80.0)))

        flushAll(beckon)
        val exported = server.events()
        val open = exported.named(PUSH_OPENED).single()
        assertEquals(
            mapOf("message_id" to "m-1", "campaign_id" to "black-friday", "send_id" to "send-1", "deep_link" to link, "promo_code" to "BF10"),
            open.properties,
        )
        assertEquals(beckon.anonymousId(), open.anonymousId)
        val linkOpened = exported.named(DEEP_LINK_OPENED).single().properties
        assertEquals("product", linkOpened["route"])
        assertEquals("m-1", linkOpened["message_id"])
        assertEquals("bf", linkOpened["utm_campaign"])
        val coupon = exported.named(COUPON_APPLIED).single()
        assertEquals(listOf("BF10", "EUR", "cart-1", "m-1", "black-friday"), listOf("coupon_id", "currency", "cart_id", "message_id", "campaign_id").map { coupon.properties[it] })
        assertEquals(8.0, coupon.number("discount"))
        assertEquals(listOf("used_up"), exported.named(COUPON_DENIED).map { it.properties["reason"] })
    }

    @Test
    fun pushesAsJsonInEveryPlatformShapeActivateTheirPromosAndTheBestOneDependsOnTheCart() {
        val server = startServer()
        val beckon = open(tempDir(), server.url)

        // The FCM data map as JSON, then an APNs userInfo, then a whole FCM message.
        val ten = beckon.handlePush(fcmDataJson(beckonPayload("m-10", promo = promoJson("TEN", """{"kind": "percent", "value": 10}"""))))
        val five = beckon.handlePush(
            apnsUserInfoJson(beckonPayload("m-5", campaignId = "spring", sendId = null, promo = promoJson("FIVE", """{"kind": "fixed", "value": 5}""", minBasket = 30.0, maxUses = 2))),
        )
        val ship = beckon.handlePush(
            """{"data": ${fcmDataJson(beckonPayload("m-ship", campaignId = null, promo = promoJson("SHIP", """{"kind": "free_shipping"}""", currency = null, expiresAt = inDays(1))))}}""",
        )
        for (action in listOf(ten, five, ship)) {
            assertEquals(PushLink.None, action.link, "no deep link: the app opens where it is")
            assertTrue(action.promoActive, "$action")
        }
        assertEquals(Triple("m-5", "spring", null), Triple(five.messageId, five.campaignId, five.sendId))
        assertEquals(Pair(DiscountKind.FIXED, 5.0), Pair(five.promo?.kind, five.promo?.value))
        assertEquals(Pair(DiscountKind.FREE_SHIPPING, null), Pair(ship.promo?.kind, ship.promo?.value))
        assertEquals(listOf("SHIP", "TEN", "FIVE").sorted(), beckon.activePromos().map { it.code }.sorted())
        assertEquals("SHIP", beckon.activePromos().first().code, "soonest to expire first")

        assertEquals("TEN", beckon.bestPromoFor(cartOf(100.0))?.code, "10 % of 100 beats 5 EUR")
        assertEquals("FIVE", beckon.bestPromoFor(cartOf(40.0))?.code, "5 EUR beats 10 % of 40")
        assertEquals("TEN", beckon.bestPromoFor(cartOf(20.0))?.code, "under FIVE's 30 EUR minimum")
        val shipping = assertNotNull(beckon.bestPromoFor(cartOf(20.0), shipping = 6.9))
        assertEquals(Triple("SHIP", 6.9, 20.0), Triple(shipping.code, shipping.discount, shipping.totalAfterDiscount), "free shipping, priced")

        val notEligible = assertFailsWith<BeckonException.PromoNotEligible> { beckon.applyPromo("FIVE", cartOf(20.0)) }
        assertTrue(notEligible.message!!.contains("FIVE"), notEligible.message)
        val unknown = assertFailsWith<BeckonException.PromoUnknown> { beckon.applyPromo("NOPE", cartOf(20.0)) }
        assertEquals("promo code NOPE is not one this device holds", unknown.message)
        val badCode = assertFailsWith<BeckonException.InvalidArgument> { beckon.applyPromo("NO PE", cartOf(20.0)) }
        assertTrue(badCode.message!!.contains("code"), badCode.message)
        // Two uses, then refused.
        repeat(2) { assertEquals(5.0, beckon.applyPromo("FIVE", cartOf(40.0)).discount) }
        assertFailsWith<BeckonException.PromoUsedUp> { beckon.applyPromo("FIVE", cartOf(40.0)) }

        flushAll(beckon)
        val exported = server.events()
        assertEquals(listOf("m-10", "m-5", "m-ship"), exported.named(PUSH_OPENED).map { it.properties["message_id"] })
        assertEquals(listOf("black-friday", "spring", null), exported.named(PUSH_OPENED).map { it.properties["campaign_id"] })
        assertEquals(listOf("FIVE", "FIVE"), exported.named(COUPON_APPLIED).map { it.properties["coupon_id"] })
        assertEquals(listOf("not_eligible", "used_up"), exported.named(COUPON_DENIED).map { it.properties["reason"] })
        assertTrue(exported.named(COUPON_DENIED).none { it.properties["coupon_id"] == "NOPE" }, "an unknown code records nothing")
    }
}
