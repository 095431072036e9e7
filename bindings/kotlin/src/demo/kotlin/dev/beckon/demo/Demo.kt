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
import java.time.Instant
import java.time.temporal.ChronoUnit
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

fun main(args: Array<String>) {
    if (args.size != 4) {
        System.err.println("usage: DemoKt SERVER_URL APP_KEY ADMIN_TOKEN DATA_DIR")
        exitProcess(2)
    }
    val (serverUrl, appKey, adminToken, dataDir) = args

    section("1. Open Beckon")
    val beckon = Beckon(BeckonConfig(dataDir = dataDir, serverUrl = serverUrl, appKey = appKey))
    println("data dir      $dataDir")
    println("server        $serverUrl")
    println("anonymous id  ${beckon.anonymousId()}")

    section("2. A shopping session")
    step("identify", "shopper-1042 (plan: gold)") {
        beckon.identify("shopper-1042", jsonOf("plan" to "gold", "email_opt_in" to true, "country" to "DE"))
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
    step("add to cart", "${trailRunner.name} ×1") {
        beckon.track(Event.ProductAdded(cartId = "cart-9", product = trailRunner.copy(quantity = 1)))
    }
    step("add to cart", "${woolSocks.name} ×2") {
        beckon.track(Event.ProductAdded(cartId = "cart-9", product = woolSocks.copy(quantity = 2)))
    }
    step("remove", "${woolSocks.name} ×1") {
        beckon.track(Event.ProductRemoved(cartId = "cart-9", product = woolSocks.copy(quantity = 1)))
    }
    val cart = listOf(trailRunner.copy(quantity = 1), woolSocks.copy(quantity = 1))
    step("cart viewed", "2 lines") {
        beckon.track(Event.CartViewed(cart = Cart(cartId = "cart-9", products = cart, currency = "EUR")))
    }
    step("checkout", "checkout-77, 102.40 EUR") {
        beckon.track(Event.CheckoutStarted(order = Order(checkoutId = "checkout-77", total = 102.40, currency = "EUR", products = cart)))
    }
    step("checkout step", "1: shipping (express)") {
        beckon.track(Event.CheckoutStepCompleted(step = CheckoutStep(checkoutId = "checkout-77", step = 1, shippingMethod = "express")))
    }
    step("coupon", "SPRING10 entered and applied") {
        val coupon = Coupon(couponId = "SPRING10", couponName = "Spring sale", cartId = "cart-9", discount = 10.24)
        beckon.track(Event.CouponEntered(coupon = coupon))
        beckon.track(Event.CouponApplied(coupon = coupon))
    }
    step("payment", "card") {
        beckon.track(Event.PaymentInfoEntered(orderId = "order-1001", step = CheckoutStep(checkoutId = "checkout-77", step = 2, paymentMethod = "card")))
    }
    step("order completed", "order-1001, 92.16 EUR") {
        beckon.track(
            Event.OrderCompleted(
                order = Order(
                    orderId = "order-1001",
                    checkoutId = "checkout-77",
                    subtotal = 102.40,
                    discount = 10.24,
                    shipping = 4.90,
                    tax = 14.71,
                    total = 97.06,
                    revenue = 92.16,
                    coupon = "SPRING10",
                    currency = "EUR",
                    products = cart,
                ),
            ),
        )
    }

    section("3. A mistake the SDK refuses")
    println("track(ProductViewed(productId = \"\", price = NaN)):")
    try {
        beckon.track(Event.ProductViewed(product = Product(productId = "", price = Double.NaN)))
        println("  stored?! (this should not happen)")
        exitProcess(1)
    } catch (e: BeckonException.InvalidEvent) {
        println("  BeckonException.InvalidEvent: ${e.message}")
        println("  nothing was stored; the rejection is counted in stats().rejectedAtTrack")
    }

    section("4. Recorded on the device (stats before flush)")
    val before = beckon.stats()
    println("queued events      ${before.queuedEvents} (${before.queuedBytes} bytes in SQLite)")
    println("rejected at track  ${before.rejectedAtTrack}")
    println("uploaded so far    ${before.uploadedEvents} (the queue flushes itself at 20 events or every 30 s)")

    section("5. Uploaded (flush)")
    val report = beckon.flush(15_000)
    println("outcome   ${report.outcome}")
    println("uploaded  ${report.uploaded}")
    println("rejected  ${report.rejected}")
    println("queued    ${report.queued}")
    report.error?.let { println("error     $it") }
    val after = beckon.stats()
    println("stats     uploaded ${after.uploadedEvents} events in ${after.uploadedBatches} batch(es), ${after.queuedEvents} queued")

    section("6. Exported by the server (GET /v1/events, NDJSON)")
    val exported = EventExport(serverUrl, adminToken).all()
    println("%-24s  %-26s  %s".format("timestamp (corrected)", "event", "key properties"))
    for (event in exported) {
        val at = Instant.parse(event.timestamp).truncatedTo(ChronoUnit.MILLIS)
        println("%-24s  %-26s  %s".format(at, label(event), keyProperties(event)))
    }
    println()
    val unique = exported.map { it.id }.toSet().size
    println("${exported.size} events on the server ($unique distinct ids); user ${exported.firstOrNull()?.userId}, anonymous id ${beckon.anonymousId()}")

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
    "currency", "tab",
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
