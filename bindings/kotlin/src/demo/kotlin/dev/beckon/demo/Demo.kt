// The scripted shopping session behind `scripts/demo`: what an app does with Beckon,
// through the Kotlin binding, against a local beckon-server.
//
//   java … dev.beckon.demo.DemoKt SERVER_URL APP_KEY ADMIN_TOKEN DATA_DIR
package dev.beckon.demo

import dev.beckon.Beckon
import dev.beckon.BeckonConfig
import dev.beckon.BeckonException
import dev.beckon.Cart
import dev.beckon.CheckoutStep
import dev.beckon.Coupon
import dev.beckon.Event
import dev.beckon.FlushOutcome
import dev.beckon.Order
import dev.beckon.Product
import dev.beckon.jsonOf
import dev.beckon.support.EventExport
import dev.beckon.support.ExportedEvent
import dev.beckon.track
import dev.beckon.InAppMessage
import dev.beckon.InAppMessageListener
import dev.beckon.SegmentChange
import dev.beckon.SegmentListener
import java.net.HttpURLConnection
import java.net.URI
import java.time.Instant
import java.time.temporal.ChronoUnit
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit
import kotlin.system.exitProcess

private val trailRunner = Product(
    productId = "sku-run-42",
    sku = "RUN-42-BLU",
    name = "Trail Runner",
    brand = "Beckon Sports",
    category = "Shoes",
    variant = "blue / 43",
    price = 89.90,
    currency = "EUR",
)
private val woolSocks = Product(productId = "sku-sock-7", name = "Wool Socks", category = "Socks", price = 12.50, currency = "EUR")
private val rainJacket = Product(productId = "sku-jkt-3", name = "Rain Jacket", category = "Jackets", price = 129.00, currency = "EUR")

/// What the marketing team sets up on the server: a nudge for shoppers who leave a cart
/// below the free-shipping threshold. The same template engine renders it on the device.
private val FREE_SHIPPING_CAMPAIGN = """
    {"schema_version": 1, "id": "free-shipping-nudge", "name": "Free shipping nudge",
     "status": "active", "priority": 10,
     "trigger": {"segment_entered": "cart_abandoner"},
     "audience": {"segments": ["cart_abandoner"]},
     "cap": {"total": 1},
     "free_shipping_threshold": {"EUR": 50},
     "default_locale": "en",
     "variants": {
       "en": {"title": "{{first_name | Hi}}, your cart is waiting",
              "body": "Add {{free_shipping_remaining}} more for free shipping",
              "buttons": [{"id": "view-cart", "label": "View cart ({{cart_item_count}})", "url": "shop://cart"}]},
       "de": {"title": "{{first_name | Hallo}}, dein Warenkorb wartet",
              "body": "Noch {{free_shipping_remaining}} bis zum kostenlosen Versand"}
     }}
""".trimIndent()

/// The app's in-app message view: prints the message and reports it as displayed.
private class Screen : InAppMessageListener {
    val shown = LinkedBlockingQueue<InAppMessage>()
    override fun onMessage(message: InAppMessage): Boolean {
        shown.add(message)
        return true
    }
}

private class SegmentLog : SegmentListener {
    override fun onSegmentsChanged(changes: List<SegmentChange>) {
        for (change in changes) {
            println("  %-16s %s %s".format("segment", if (change.entered) "entered" else "left   ", change.segmentId))
        }
    }
}

fun main(args: Array<String>) {
    if (args.size != 4) {
        System.err.println("usage: DemoKt SERVER_URL APP_KEY ADMIN_TOKEN DATA_DIR")
        exitProcess(2)
    }
    val (serverUrl, appKey, adminToken, dataDir) = args

    section("1. The marketing team creates an in-app campaign (POST /v1/admin/campaigns)")
    val created = adminPost(serverUrl, adminToken, "/v1/admin/campaigns", FREE_SHIPPING_CAMPAIGN)
    println("HTTP $created: free-shipping-nudge, shown once to shoppers entering cart_abandoner")

    section("2. Open Beckon and sync (GET /v1/sync)")
    val beckon = Beckon(BeckonConfig(dataDir = dataDir, serverUrl = serverUrl, appKey = appKey))
    println("data dir      $dataDir")
    println("server        $serverUrl")
    println("anonymous id  ${beckon.anonymousId()}")
    val synced = beckon.sync(10_000)
    println("sync          ${synced.outcome}${synced.error?.let { ": $it" } ?: ""}")
    val screen = Screen()
    beckon.setInAppListener(screen)
    beckon.setSegmentListener(SegmentLog())

    section("3. A shopping session that ends with an abandoned cart")
    step("identify", "shopper-1042 (Ana, plan: gold)") {
        beckon.identify("shopper-1042", jsonOf("first_name" to "Ana", "plan" to "gold", "email_opt_in" to true, "country" to "DE"))
    }
    step("screen", "Home") { beckon.screen("Home", jsonOf("tab" to "featured")) }
    step("search", "\"trail shoes\"") { beckon.track(Event.ProductsSearched(query = "trail shoes")) }
    step("list viewed", "Shoes: 2 products") {
        beckon.track(
            Event.ProductListViewed(
                listId = "search-results",
                category = "Shoes",
                products = listOf(trailRunner.copy(position = 1), rainJacket.copy(position = 2)),
            ),
        )
    }
    step("view", trailRunner.name!!) { beckon.track(Event.ProductViewed(product = trailRunner)) }
    step("view", rainJacket.name!!) { beckon.track(Event.ProductViewed(product = rainJacket)) }
    step("favourite", rainJacket.name!!) {
        beckon.track(Event.ProductAddedToWishlist(wishlistId = "wish-1", wishlistName = "Favourites", product = rainJacket))
    }
    step("add to cart", "${woolSocks.name} ×3 (cart: 37.50 EUR)") {
        beckon.track(Event.ProductAdded(cartId = "cart-9", product = woolSocks.copy(quantity = 3)))
    }
    println("  segments now     ${beckon.segments()}")

    section("4. The in-app message the app is handed")
    val nudge = screen.shown.poll(5, TimeUnit.SECONDS)
    if (nudge == null) {
        System.err.println("demo: no in-app message arrived")
        exitProcess(1)
    }
    println("campaign  ${nudge.campaignId} (locale ${nudge.locale})")
    println("title     ${nudge.title}")
    println("body      ${nudge.body}")
    nudge.buttons.forEach { println("button    [${it.label}] -> ${it.url}") }
    beckon.inAppMessageClicked(nudge.messageId, nudge.buttons.first().id)
    println("the shopper taps [${nudge.buttons.first().label}]: In-App Message Clicked recorded")

    section("5. Back at the cart: checkout and order")
    step("add to cart", "${trailRunner.name} ×1") {
        beckon.track(Event.ProductAdded(cartId = "cart-9", product = trailRunner.copy(quantity = 1)))
    }
    val cart = listOf(trailRunner.copy(quantity = 1), woolSocks.copy(quantity = 3))
    step("cart viewed", "2 lines") {
        beckon.track(Event.CartViewed(cart = Cart(cartId = "cart-9", products = cart, currency = "EUR")))
    }
    step("checkout", "checkout-77, 127.40 EUR") {
        beckon.track(Event.CheckoutStarted(order = Order(checkoutId = "checkout-77", total = 127.40, currency = "EUR", products = cart)))
    }
    step("checkout step", "1: shipping (standard, free)") {
        beckon.track(Event.CheckoutStepCompleted(step = CheckoutStep(checkoutId = "checkout-77", step = 1, shippingMethod = "standard")))
    }
    step("coupon", "SPRING10 entered and applied") {
        val coupon = Coupon(couponId = "SPRING10", couponName = "Spring sale", cartId = "cart-9", discount = 12.74)
        beckon.track(Event.CouponEntered(coupon = coupon))
        beckon.track(Event.CouponApplied(coupon = coupon))
    }
    step("payment", "card") {
        beckon.track(Event.PaymentInfoEntered(orderId = "order-1001", step = CheckoutStep(checkoutId = "checkout-77", step = 2, paymentMethod = "card")))
    }
    step("order completed", "order-1001, 114.66 EUR") {
        beckon.track(
            Event.OrderCompleted(
                order = Order(
                    orderId = "order-1001",
                    checkoutId = "checkout-77",
                    subtotal = 127.40,
                    discount = 12.74,
                    shipping = 0.0,
                    tax = 18.31,
                    total = 114.66,
                    revenue = 96.35,
                    coupon = "SPRING10",
                    currency = "EUR",
                    products = cart,
                ),
            ),
        )
    }
    println("  segments now     ${beckon.segments()}")

    section("6. A mistake the SDK refuses")
    println("track(ProductViewed(productId = \"\", price = NaN)):")
    try {
        beckon.track(Event.ProductViewed(product = Product(productId = "", price = Double.NaN)))
        println("  stored?! (this should not happen)")
        exitProcess(1)
    } catch (e: BeckonException.InvalidEvent) {
        println("  BeckonException.InvalidEvent: ${e.message}")
        println("  nothing was stored; the rejection is counted in stats().rejectedAtTrack")
    }

    section("7. Recorded on the device (stats before flush)")
    val before = beckon.stats()
    println("queued events      ${before.queuedEvents} (${before.queuedBytes} bytes in SQLite)")
    println("rejected at track  ${before.rejectedAtTrack}")
    println("uploaded so far    ${before.uploadedEvents} (the queue flushes itself at 20 events or every 30 s)")

    section("8. Uploaded (flush)")
    val report = beckon.flush(15_000)
    println("outcome   ${report.outcome}")
    println("uploaded  ${report.uploaded}")
    println("rejected  ${report.rejected}")
    println("queued    ${report.queued}")
    report.error?.let { println("error     $it") }
    val after = beckon.stats()
    println("stats     uploaded ${after.uploadedEvents} events in ${after.uploadedBatches} batch(es), ${after.queuedEvents} queued")

    section("9. Exported by the server (GET /v1/events, NDJSON)")
    val exported = EventExport(serverUrl, adminToken).all()
    println("%-24s  %-26s  %s".format("timestamp (corrected)", "event", "key properties"))
    for (event in exported) {
        val at = Instant.parse(event.timestamp).truncatedTo(ChronoUnit.MILLIS)
        println("%-24s  %-26s  %s".format(at, label(event), keyProperties(event)))
    }
    println()
    val unique = exported.map { it.id }.toSet().size
    println("${exported.size} events on the server ($unique distinct ids); user ${exported.firstOrNull()?.userId}, anonymous id ${beckon.anonymousId()}")


    section("10. Segments on the server (device reports and the server's own evaluation)")
    for (segment in listOf("cart_abandoner", "first_time_customer")) {
        println("%-20s %s".format(segment, adminGet(serverUrl, adminToken, "/v1/admin/segments/$segment/size")))
    }

    beckon.shutdown()
    beckon.close()
    val ok = report.outcome == FlushOutcome.DELIVERED && exported.size.toULong() == after.uploadedEvents && unique == exported.size
    if (!ok) {
        System.err.println("demo: the server does not hold what was uploaded")
        exitProcess(1)
    }
}

private fun section(title: String) {
    println()
    println("── $title " + "─".repeat((70 - title.length).coerceAtLeast(3)))
}

private fun step(what: String, detail: String, call: () -> Unit) {
    call()
    println("  %-16s %s".format(what, detail))
}

private fun label(event: ExportedEvent): String = when (event.type) {
    "track" -> event.name ?: "?"
    "screen" -> "screen: ${event.name}"
    else -> event.type
}

private val KEYS = listOf(
    "query", "product_id", "name", "price", "quantity", "cart_id", "list_id", "wishlist_name", "checkout_id",
    "step", "shipping_method", "payment_method", "order_id", "coupon_id", "discount", "total", "revenue",
    "currency", "tab", "segment_id", "campaign_id", "button_id",
)

private fun keyProperties(event: ExportedEvent): String {
    if (event.type == "identify") {
        return "user_id=${event.userId} " + event.traits.entries.joinToString(" ") { "${it.key}=${it.value}" }
    }
    val props = event.properties
    val parts = KEYS.filter { it in props }.map { "$it=${props[it]}" }.toMutableList()
    (props["products"] as? List<*>)?.let { parts.add("products=${it.size}") }
    return parts.joinToString(" ")
}

private fun admin(serverUrl: String, token: String, path: String, method: String, body: String?): Pair<Int, String> {
    val connection = URI(serverUrl + path).toURL().openConnection() as HttpURLConnection
    connection.requestMethod = method
    connection.setRequestProperty("Authorization", "Bearer $token")
    if (body != null) {
        connection.doOutput = true
        connection.setRequestProperty("Content-Type", "application/json")
        connection.outputStream.use { it.write(body.toByteArray()) }
    }
    val status = connection.responseCode
    val text = (if (status < 400) connection.inputStream else connection.errorStream)?.use { it.readBytes().decodeToString() } ?: ""
    return status to text
}

private fun adminPost(serverUrl: String, token: String, path: String, body: String): Int {
    val (status, text) = admin(serverUrl, token, path, "POST", body)
    if (status != 201) {
        System.err.println("demo: POST $path answered $status: $text")
        exitProcess(1)
    }
    return status
}

private fun adminGet(serverUrl: String, token: String, path: String): String = admin(serverUrl, token, path, "GET", null).second
