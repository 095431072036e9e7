package dev.beckon.tests

import dev.beckon.Beckon
import dev.beckon.BeckonConfig
import dev.beckon.BeckonException
import dev.beckon.Cart
import dev.beckon.Channel
import dev.beckon.DeepLinkRoute
import dev.beckon.Event
import dev.beckon.JsonValue
import dev.beckon.Order
import dev.beckon.PermissionState
import dev.beckon.Product
import dev.beckon.PushProvider
import dev.beckon.handlePush
import dev.beckon.identify
import dev.beckon.setIdentityToken
import dev.beckon.track
import org.junit.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNull
import kotlin.test.assertTrue

/**
 * A string holding a lone UTF-16 surrogate has no UTF-8 form. Passed to any call, it is
 * refused with the typed exception naming the field, as the core names fields, and
 * nothing is stored; the instance keeps working.
 */
class LoneSurrogateTest : BeckonTestBase() {
    private val shoe = Product(productId = "sku-1", name = "Trail Runner", price = 10.0)

    @Test
    fun eventsAreRefusedNamingTheFieldOnBothTrackPaths() {
        val beckon = open(tempDir(), deadServerUrl())
        val rejected = beckon.stats().rejectedAtTrack
        val cases = listOf(
            Event.Custom(name = LONE_HIGH) to "name",
            Event.ProductViewed(product = shoe.copy(name = LONE_LOW)) to "product.name",
            Event.ProductViewed(product = shoe.copy(imageUrl = CUT_AT_END)) to "product.image_url",
            Event.CartViewed(cart = Cart(products = listOf(shoe, shoe.copy(sku = CUT_AT_END)))) to "cart.products[1].sku",
            Event.OrderCompleted(order = Order(orderId = "o-1", products = listOf(shoe.copy(productId = LONE_LOW)))) to
                "order.products[0].product_id",
            Event.Custom(name = "Key", properties = mapOf(LONE_HIGH to JsonValue.Null)) to "properties",
            Event.Custom(name = "Value", properties = mapOf("note" to JsonValue.Text(CUT_AT_END))) to "properties.note",
            Event.Custom(
                name = "Nested",
                properties = mapOf(
                    "outer" to JsonValue.Object(
                        mapOf("tags" to JsonValue.Array(listOf(JsonValue.Text("ok"), JsonValue.Text(LONE_LOW)))),
                    ),
                ),
            ) to "properties.outer.tags[1]",
            Event.Custom(
                name = "Nested Key",
                properties = mapOf("outer" to JsonValue.Object(mapOf("ok" to JsonValue.Null, LONE_LOW to JsonValue.Null))),
            ) to "properties.outer",
            Event.DeepLinkOpened(url = "shop://product/$LONE_HIGH") to "url",
        )
        for ((event, field) in cases) {
            val fast = beckon.assertRefused<BeckonException.InvalidEvent>(field) { beckon.track(event) }
            val checked = beckon.assertRefused<BeckonException.InvalidEvent>(field) { beckon.trackChecked(event) }
            assertEquals(fast.message, checked.message)
        }
        val key = beckon.assertRefused<BeckonException.InvalidEvent>("properties") {
            beckon.track(Event.Custom(name = "Key", properties = mapOf(LONE_HIGH to JsonValue.Null)))
        }
        assertTrue(key.message!!.contains("the key \"ab\\uD83Dcd\" holds a lone UTF-16 surrogate (\\uD83D) at index 2"), key.message)
        assertEquals(rejected, beckon.stats().rejectedAtTrack, "refused before reaching the core")
        beckon.assertStillRecords()
    }

    @Test
    fun theMessageQuotesAtMostFortyCharactersAroundTheSurrogate() {
        val beckon = open(tempDir(), deadServerUrl())
        val long = "x".repeat(1_000) + "\uDE00" + "y".repeat(1_000)
        val error = beckon.assertRefused<BeckonException.InvalidEvent>("properties.review") {
            beckon.track(Event.Custom(name = "Review", properties = mapOf("review" to JsonValue.Text(long))))
        }
        val message = error.message!!
        assertTrue(message.contains("\"…" + "x".repeat(20) + "\\uDE00" + "y".repeat(19) + "…\""), message)
        assertTrue(message.contains("at index 1000"), message)
        assertTrue(message.length < 200, message)
        assertTrue(message.none { it.isSurrogate() }, "the message itself is text: $message")
    }

    @Test
    fun screenIdentifyAndTokensAreRefusedNamingTheArgument() {
        val beckon = open(tempDir(), deadServerUrl())
        beckon.assertRefused<BeckonException.InvalidEvent>("name") { beckon.screen(LONE_HIGH, emptyMap()) }
        beckon.assertRefused<BeckonException.InvalidEvent>("properties.tab") {
            beckon.screen("Home", mapOf("tab" to JsonValue.Text(LONE_LOW)))
        }
        beckon.assertRefused<BeckonException.InvalidEvent>("properties") {
            beckon.screen("Home", mapOf(CUT_AT_END to JsonValue.Null))
        }
        beckon.assertRefused<BeckonException.InvalidArgument>("user_id") { beckon.identify(LONE_HIGH) }
        beckon.assertRefused<BeckonException.InvalidArgument>("user_id") { beckon.identify(CUT_AT_END, emptyMap()) }
        beckon.assertRefused<BeckonException.InvalidArgument>("traits.plan") {
            beckon.identify("user-1", mapOf("plan" to JsonValue.Text(LONE_LOW)))
        }
        beckon.assertRefused<BeckonException.InvalidArgument>("traits.address.city") {
            beckon.identify("user-1", mapOf("address" to JsonValue.Object(mapOf("city" to JsonValue.Text(CUT_AT_END)))))
        }
        beckon.assertRefused<BeckonException.InvalidArgument>("traits") {
            beckon.identify("user-1", mapOf(LONE_HIGH to JsonValue.Bool(true)))
        }
        beckon.assertRefused<BeckonException.InvalidArgument>("identity_token") {
            beckon.identify("user-1", emptyMap(), "token\uD800")
        }
        beckon.assertRefused<BeckonException.InvalidArgument>("user_id") { beckon.setIdentityToken(LONE_LOW, "token") }
        beckon.assertRefused<BeckonException.InvalidArgument>("identity_token") { beckon.setIdentityToken("user-1", CUT_AT_END) }
        assertNull(beckon.userId(), "a refused identify changes nothing")
        beckon.assertStillRecords()
    }

    @Test
    fun everyOtherStringArgumentIsRefusedNamingIt() {
        val beckon = open(tempDir(), deadServerUrl())
        val cart = cartOf(50.0)
        beckon.assertRefused<BeckonException.InvalidArgument>("url") { beckon.openDeepLink("shop://product/$LONE_HIGH") }
        beckon.assertRefused<BeckonException.InvalidArgument>("routes[1].pattern") {
            beckon.setDeepLinkRoutes(listOf(DeepLinkRoute("cart", "shop://cart"), DeepLinkRoute("p", "shop://p/$LONE_LOW")), emptyList())
        }
        beckon.assertRefused<BeckonException.InvalidArgument>("routes[0].name") {
            beckon.setDeepLinkRoutes(listOf(DeepLinkRoute(CUT_AT_END, "shop://cart")), emptyList())
        }
        beckon.assertRefused<BeckonException.InvalidArgument>("allowed_hosts[1]") {
            beckon.setDeepLinkRoutes(SHOP_ROUTES, listOf("shop.example", "shop\uD800.example"))
        }
        beckon.assertRefused<BeckonException.InvalidArgument>("token") { beckon.registerPushToken(PushProvider.FCM, LONE_HIGH) }
        beckon.assertRefused<BeckonException.InvalidArgument>("time_zone") { beckon.setDeviceProfile(LONE_LOW, "DE") }
        beckon.assertRefused<BeckonException.InvalidArgument>("country") { beckon.setDeviceProfile("Europe/Berlin", CUT_AT_END) }
        beckon.assertRefused<BeckonException.InvalidArgument>("source") {
            beckon.setPermission(Channel.SMS, PermissionState.OPTED_IN, LONE_HIGH)
        }
        beckon.assertRefused<BeckonException.InvalidArgument>("message_id") { beckon.inAppMessageClicked(LONE_LOW, "ok") }
        beckon.assertRefused<BeckonException.InvalidArgument>("button_id") { beckon.inAppMessageClicked("m-1", CUT_AT_END) }
        beckon.assertRefused<BeckonException.InvalidArgument>("message_id") { beckon.inAppMessageDismissed(LONE_HIGH) }
        beckon.assertRefused<BeckonException.InvalidArgument>("locale") { beckon.setLocale("pt-BR\uDBFF") }
        beckon.assertRefused<BeckonException.InvalidArgument>("code") { beckon.applyPromo(LONE_LOW, cart) }
        beckon.assertRefused<BeckonException.InvalidArgument>("cart.products[0].product_id") {
            beckon.applyPromo("CODE", cart.copy(products = listOf(shoe.copy(productId = LONE_HIGH))))
        }
        beckon.assertRefused<BeckonException.InvalidArgument>("cart.currency") { beckon.bestPromoFor(cart.copy(currency = CUT_AT_END)) }
        beckon.assertRefused<BeckonException.InvalidArgument>("cart.cart_id") { beckon.bestPromoFor(cart.copy(cartId = LONE_LOW), 4.9) }
        assertEquals(emptyList(), beckon.activePromos())
        beckon.assertStillRecords()
    }

    @Test
    fun pushesAreRefusedOnlyForTheEntryBeckonReads() {
        val beckon = open(tempDir(), deadServerUrl())
        beckon.setDeepLinkRoutes(SHOP_ROUTES, SHOP_HOSTS)
        val payload = beckonPayload("m-1", deepLink = "shop://cart")

        // Beckon's own entry must be text.
        beckon.assertRefused<BeckonException.InvalidPush>("data.beckon") {
            beckon.handlePush(fcmData(payload.replace("m-1", "m-$LONE_HIGH")))
        }
        beckon.assertRefused<BeckonException.InvalidPush>("payload") { beckon.handlePush(fcmDataJson(payload) + CUT_AT_END) }
        // The generated call reads every entry as it is.
        beckon.assertRefused<BeckonException.InvalidPush>("data.other_sdk") {
            beckon.handlePushData(fcmData(payload) + ("other_sdk" to LONE_LOW))
        }
        beckon.assertRefused<BeckonException.InvalidPush>("data") { beckon.handlePushData(mapOf(LONE_LOW to "x")) }

        // Another SDK's push stays another SDK's push, whatever its text.
        val before = beckon.stored()
        assertFailsWith<BeckonException.NotBeckonPush> {
            beckon.handlePush(mapOf("title" to CUT_AT_END, LONE_HIGH to "body"))
        }
        assertEquals(before, beckon.stored())
        // A Beckon push is handled when the broken text is in someone else's entry.
        val action = beckon.handlePush(fcmData(payload) + mapOf("other_sdk" to LONE_LOW, CUT_AT_END to "x"))
        assertEquals("m-1", action.messageId)
        assertTrue(beckon.stored().queuedEvents > before.queuedEvents, "Push Opened is recorded")
        beckon.assertStillRecords()
    }

    @Test
    fun configFieldsAreRefusedNamingThemAndLeaveNoLockBehind() {
        val dir = tempDir()
        val good = BeckonConfig(dir.toString(), deadServerUrl(), APP_KEY, flushPolicy = QUIET)
        val cases = listOf(
            good.copy(dataDir = "$dir/$LONE_HIGH") to "data_dir",
            good.copy(serverUrl = "https://beckon.shop.example/$LONE_LOW") to "server_url",
            good.copy(appKey = CUT_AT_END) to "app_key",
        )
        for ((config, field) in cases) {
            val error = assertFailsWith<BeckonException.InvalidConfig> { Beckon(config).close() }
            assertTrue(error.message!!.startsWith("invalid configuration: $field: "), error.message)
        }
        Beckon(good).use { beckon ->
            assertEquals(0uL, beckon.stats().queuedEvents)
            beckon.assertStillRecords()
        }
    }

    @Test
    fun aRefusedArgumentLeavesNoReferenceToTheInstanceBehind() {
        // destroy() frees the native object once no call holds it, and freeing it shuts
        // it down and releases the directory. A handle cloned for a refused call and
        // never released would keep the directory locked.
        val dir = tempDir()
        val config = BeckonConfig(dir.toString(), deadServerUrl(), APP_KEY, flushPolicy = QUIET)
        val first = Beckon(config)
        repeat(20) {
            assertFailsWith<BeckonException.InvalidArgument> { first.identify(LONE_HIGH) }
            assertFailsWith<BeckonException.InvalidEvent> { first.trackChecked(Event.Custom(name = LONE_LOW)) }
            assertFailsWith<BeckonException.InvalidEvent> { first.track(Event.Custom(name = LONE_LOW)) }
        }
        first.track(Event.Custom(name = "Kept"))
        first.destroy()
        Beckon(config).use { second ->
            assertEquals(1uL, second.stats().queuedEvents)
        }
    }

    @Test
    fun refusalsOnASmallThreadAreTheSame() {
        val beckon = open(tempDir(), deadServerUrl())
        onSmallStack {
            beckon.assertRefused<BeckonException.InvalidEvent>("product.name") {
                beckon.track(Event.ProductViewed(product = shoe.copy(name = LONE_LOW)))
            }
            beckon.assertRefused<BeckonException.InvalidArgument>("traits.plan") {
                beckon.identify("user-1", mapOf("plan" to JsonValue.Text(LONE_HIGH)))
            }
            beckon.assertStillRecords()
        }
    }
}
