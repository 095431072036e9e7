// The scripted shopping session behind `scripts/demo`: what an app does with Beckon,
// through the Kotlin binding, against a local beckon-server.
//
//   java … dev.beckon.demo.DemoKt SERVER_URL APP_KEY ADMIN_TOKEN DATA_DIR FCM_URL
//
// FCM_URL is the local FCM stand-in the server delivers pushes through; the demo reads
// back what it received, as a phone would be handed the notification.
package dev.beckon.demo

import dev.beckon.Beckon
import dev.beckon.BeckonConfig
import dev.beckon.BeckonException
import dev.beckon.Cart
import dev.beckon.CheckoutStep
import dev.beckon.DeepLinkRoute
import dev.beckon.Event
import dev.beckon.FlushOutcome
import dev.beckon.Order
import dev.beckon.Product
import dev.beckon.PushLink
import dev.beckon.PushProvider
import dev.beckon.identify
import dev.beckon.jsonOf
import dev.beckon.support.EventExport
import dev.beckon.support.ExportedEvent
import dev.beckon.support.MiniJson
import dev.beckon.track
import dev.beckon.InAppMessage
import dev.beckon.InAppMessageListener
import dev.beckon.SegmentChange
import dev.beckon.SegmentListener
import java.net.HttpURLConnection
import java.net.URI
import java.time.Instant
import java.time.ZoneId
import java.time.ZonedDateTime
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

/// The FCM registration token Firebase would hand this install.
private const val FCM_TOKEN = "demo-install-fcm-token:APA91bH-beckon-demo"

/// The app's navigation: where deep links may lead.
private val ROUTES = listOf(
    DeepLinkRoute(name = "cart", pattern = "shop://cart"),
    DeepLinkRoute(name = "product", pattern = "shop://product/{id}"),
    DeepLinkRoute(name = "web_product", pattern = "https://shop.example/p/{id}"),
)

/// The push the marketing team sends to cart abandoners, with a promo code valid until
/// midnight in Berlin; the server renders it per user with the shared template engine.
private fun cartPush(expiresAt: String) = """
    {"schema_version": 1,
     "audience": {"segment": "cart_abandoner"},
     "channels": ["push"],
     "content": {
       "default_locale": "en",
       "variants": {
         "en": {"title": "{{first_name | Hi}}, your cart misses you",
                "body": "{{promo_code}}: 15% off {{cart_items}} until midnight"},
         "de": {"title": "{{first_name | Hallo}}, dein Warenkorb vermisst dich",
                "body": "{{promo_code}}: 15 % auf {{cart_items}} bis Mitternacht"}
       },
       "deep_link": "shop://cart?utm_source=beckon&utm_medium=push&utm_campaign=cart-rescue",
       "promo": {"code": "CART15", "discount": {"percent": 15}, "expires_at": "$expiresAt", "max_uses": 1}
     },
     "collapse_id": "cart-rescue"}
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
    if (args.size != 5) {
        System.err.println("usage: DemoKt SERVER_URL APP_KEY ADMIN_TOKEN DATA_DIR FCM_URL")
        exitProcess(2)
    }
    val (serverUrl, appKey, adminToken, dataDir, fcmUrl) = args

    section("1. The marketing team creates an in-app campaign (POST /v1/admin/campaigns)")
    val created = adminPost(serverUrl, adminToken, "/v1/admin/campaigns", FREE_SHIPPING_CAMPAIGN)
    println("HTTP $created: free-shipping-nudge, shown once to shoppers entering cart_abandoner")

    section("2. Open Beckon and sync (GET /v1/sync)")
    val config = BeckonConfig(dataDir = dataDir, serverUrl = serverUrl, appKey = appKey)
    var beckon = Beckon(config)
    println("data dir      $dataDir")
    println("server        $serverUrl")
    println("anonymous id  ${beckon.anonymousId()}")
    val synced = beckon.sync(10_000)
    println("sync          ${synced.outcome}${synced.error?.let { ": $it" } ?: ""}")
    val screen = Screen()
    beckon.setInAppListener(screen)
    beckon.setSegmentListener(SegmentLog())
    beckon.setDeepLinkRoutes(ROUTES, listOf("shop.example"))
    beckon.deepLinkRouterReady()
    beckon.setDeviceProfile("Europe/Berlin", "DE")
    beckon.setPushPermission(true)
    beckon.registerPushToken(PushProvider.FCM, FCM_TOKEN)
    println("push          FCM token registered, OS permission granted, Europe/Berlin")

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

    section("5. The shopper leaves; the server sends cart abandoners a push (POST /v1/admin/sends)")
    // The server evaluates cart_abandoner over the events it holds, so upload them first.
    beckon.flush(15_000)
    val berlin = ZoneId.of("Europe/Berlin")
    val midnight = ZonedDateTime.now(berlin).toLocalDate().plusDays(1).atStartOfDay(berlin).toInstant()
    val (sendStatus, sendAnswer) = admin(serverUrl, adminToken, "/v1/admin/sends", "POST", cartPush(midnight.toString()))
    if (sendStatus != 201) {
        System.err.println("demo: POST /v1/admin/sends answered $sendStatus: $sendAnswer")
        exitProcess(1)
    }
    println("HTTP $sendStatus: ${MiniJson.parseObject(sendAnswer)["id"]}, promo CART15 (15 %) until $midnight")
    val sendId = MiniJson.parseObject(sendAnswer)["id"]
    val delivered = awaitPush(fcmUrl, FCM_TOKEN) {
        adminGet(serverUrl, adminToken, "/v1/admin/sends/$sendId/deliveries") +
            "\nthe user as the server knows them: " + adminGet(serverUrl, adminToken, "/v1/admin/users/shopper-1042")
    }
    println("FCM delivered to this install:")
    println("  title     ${delivered["title"]}")
    println("  body      ${delivered["body"]}")
    @Suppress("UNCHECKED_CAST")
    val data = delivered["data"] as Map<String, String>
    println("  data      ${data.keys.sorted()} (${data.values.sumOf { it.length }} bytes)")

    section("6. The shopper taps it: the app cold-starts on the cart, the code applied")
    beckon.shutdown()
    beckon.close()
    beckon = Beckon(config)
    // The app hands Firebase's data map over before its navigation is set up.
    val action = beckon.handlePushData(data)
    println("handlePushData   Push Opened recorded (message ${action.messageId}, send ${action.sendId})")
    println("                 link ${describe(action.link)}, promo ${action.promo?.code} active=${action.promoActive}")
    beckon.setDeepLinkRoutes(ROUTES, listOf("shop.example"))
    val landing = beckon.deepLinkRouterReady()
    if (landing == null || landing.route != "cart") {
        System.err.println("demo: the push did not lead to the cart: $landing")
        exitProcess(1)
    }
    println("router ready     -> route '${landing.route}' (utm_campaign=${landing.utmCampaign}); Deep Link Opened recorded")
    println("again?           ${beckon.deepLinkRouterReady() ?: "nothing: delivered exactly once"}")
    beckon.setInAppListener(screen)

    section("7. Back at the cart: checkout and order")
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
    val checkoutCart = Cart(cartId = "cart-9", products = cart, currency = "EUR")
    val best = beckon.bestPromoFor(checkoutCart)
    val quote = beckon.applyPromo(best?.code ?: "CART15", checkoutCart)
    println("  %-16s %s".format("promo", "${quote.code} from the push: -%.2f %s, Coupon Applied recorded".format(quote.discount, quote.currency)))
    try {
        beckon.applyPromo("CART15", checkoutCart)
    } catch (e: BeckonException.PromoUsedUp) {
        println("  %-16s %s".format("promo again", "refused: ${e.message}"))
    }
    step("payment", "card") {
        beckon.track(Event.PaymentInfoEntered(orderId = "order-1001", step = CheckoutStep(checkoutId = "checkout-77", step = 2, paymentMethod = "card")))
    }
    step("order completed", "order-1001, %.2f EUR".format(quote.totalAfterDiscount)) {
        beckon.track(
            Event.OrderCompleted(
                order = Order(
                    orderId = "order-1001",
                    checkoutId = "checkout-77",
                    subtotal = 127.40,
                    discount = quote.discount,
                    shipping = 0.0,
                    total = quote.totalAfterDiscount,
                    coupon = quote.code,
                    currency = "EUR",
                    products = cart,
                ),
            ),
        )
    }
    println("  segments now     ${beckon.segments()}")

    section("8. A mistake the SDK refuses")
    println("track(ProductViewed(productId = \"\", price = NaN)):")
    try {
        beckon.track(Event.ProductViewed(product = Product(productId = "", price = Double.NaN)))
        println("  stored?! (this should not happen)")
        exitProcess(1)
    } catch (e: BeckonException.InvalidEvent) {
        println("  BeckonException.InvalidEvent: ${e.message}")
        println("  nothing was stored; the rejection is counted in stats().rejectedAtTrack")
    }

    section("9. Recorded on the device (stats before flush)")
    val before = beckon.stats()
    println("queued events      ${before.queuedEvents} (${before.queuedBytes} bytes in SQLite)")
    println("rejected at track  ${before.rejectedAtTrack}")
    println("uploaded so far    ${before.uploadedEvents} (the queue flushes itself at 20 events or every 30 s)")

    section("10. Uploaded (flush)")
    val report = beckon.flush(15_000)
    println("outcome   ${report.outcome}")
    println("uploaded  ${report.uploaded}")
    println("rejected  ${report.rejected}")
    println("queued    ${report.queued}")
    report.error?.let { println("error     $it") }
    val after = beckon.stats()
    println("stats     uploaded ${after.uploadedEvents} events in ${after.uploadedBatches} batch(es), ${after.queuedEvents} queued")

    section("11. Exported by the server (GET /v1/events, NDJSON)")
    val exported = EventExport(serverUrl, adminToken).all()
    println("%-24s  %-26s  %s".format("timestamp (corrected)", "event", "key properties"))
    for (event in exported) {
        val at = Instant.parse(event.timestamp).truncatedTo(ChronoUnit.MILLIS)
        println("%-24s  %-26s  %s".format(at, label(event), keyProperties(event)))
    }
    println()
    val unique = exported.map { it.id }.toSet().size
    println("${exported.size} events on the server ($unique distinct ids); user ${exported.lastOrNull()?.userId}, anonymous id ${beckon.anonymousId()}")


    section("12. Segments on the server (device reports and the server's own evaluation)")
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

/// Waits for the FCM stand-in to have accepted a message for `token`.
private fun awaitPush(fcmUrl: String, token: String, deliveries: () -> String): Map<String, Any?> {
    val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15)
    while (System.nanoTime() < deadline) {
        val listed = URI("$fcmUrl/mock/received").toURL().readText()
        @Suppress("UNCHECKED_CAST")
        val mine = (MiniJson.parse(listed) as List<Map<String, Any?>>).firstOrNull { it["token"] == token }
        if (mine != null) return mine
        Thread.sleep(100)
    }
    System.err.println("demo: no push reached FCM for this install; the server's deliveries: ${deliveries()}")
    exitProcess(1)
}

private fun describe(link: PushLink): String = when (link) {
    is PushLink.None -> "none"
    is PushLink.Open -> "open ${link.link.route}"
    is PushLink.Pending -> "pending until the router is ready (${link.url})"
    is PushLink.Refused -> "refused: ${link.reason}"
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
    "currency", "tab", "segment_id", "campaign_id", "button_id", "message_id", "route", "promo_code",
    "channel", "state", "provider", "granted",
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
