// What the push, deep-link and permission tests share: pushes as the platforms hand them
// over (src/push/README.md, "Payload format, version 1"), the app's deep-link routes,
// carts, and a reader for the events the server exported.
package dev.beckon.tests

import dev.beckon.Beckon
import dev.beckon.Cart
import dev.beckon.DeepLinkRoute
import dev.beckon.Product
import dev.beckon.support.ExportedEvent
import java.time.Instant
import java.time.temporal.ChronoUnit
import kotlin.test.assertTrue

const val PUSH_OPENED = "Push Opened"
const val DEEP_LINK_OPENED = "Deep Link Opened"
const val COUPON_APPLIED = "Coupon Applied"
const val COUPON_DENIED = "Coupon Denied"

/** The routes a shop app registers, as in src/push/README.md. */
val SHOP_ROUTES = listOf(
    DeepLinkRoute("product", "shop://product/{id}"),
    DeepLinkRoute("cart", "shop://cart"),
    DeepLinkRoute("web_product", "https://shop.example/p/{id}"),
)
val SHOP_HOSTS = listOf("shop.example")

/** [text] as a JSON string literal. */
fun jsonString(text: String): String = buildString {
    append('"')
    for (c in text) {
        when {
            c == '"' -> append("\\\"")
            c == '\\' -> append("\\\\")
            c < ' ' -> append("\\u%04x".format(c.code))
            else -> append(c)
        }
    }
    append('"')
}

/** An RFC 3339 instant [days] from now, to the second. */
fun inDays(days: Long): String = Instant.now().plus(days, ChronoUnit.DAYS).truncatedTo(ChronoUnit.SECONDS).toString()

/** A promo object of a Beckon payload. [discount] is the `discount` object's JSON. */
fun promoJson(
    code: String,
    discount: String,
    currency: String? = "EUR",
    expiresAt: String = inDays(2),
    minBasket: Double? = null,
    maxUses: Int? = null,
): String = listOfNotNull(
    "\"code\": ${jsonString(code)}",
    "\"discount\": $discount",
    currency?.let { "\"currency\": ${jsonString(it)}" },
    "\"expires_at\": ${jsonString(expiresAt)}",
    minBasket?.let { "\"min_basket\": $it" },
    maxUses?.let { "\"max_uses\": $it" },
).joinToString(", ", "{", "}")

/** Beckon's part of a push (version 1), as JSON. [promo] is a [promoJson]. */
fun beckonPayload(
    messageId: String,
    campaignId: String? = "black-friday",
    sendId: String? = "send-1",
    deepLink: String? = null,
    promo: String? = null,
): String = listOfNotNull(
    "\"v\": 1",
    "\"message_id\": ${jsonString(messageId)}",
    campaignId?.let { "\"campaign_id\": ${jsonString(it)}" },
    sendId?.let { "\"send_id\": ${jsonString(it)}" },
    deepLink?.let { "\"deep_link\": ${jsonString(it)}" },
    promo?.let { "\"promo\": $it" },
).joinToString(", ", "{", "}")

/**
 * An FCM data map as Android hands it over (`RemoteMessage.data`): the payload is a
 * string of JSON under `beckon`, beside the keys other code put there.
 */
fun fcmData(payload: String): Map<String, String> =
    mapOf("beckon" to payload, "google.message_id" to "0:1700000000000000%abc", "other_sdk" to "{\"x\":1}")

/** The same FCM data map as a JSON object. */
fun fcmDataJson(payload: String): String =
    fcmData(payload).entries.joinToString(", ", "{", "}") { (k, v) -> "${jsonString(k)}: ${jsonString(v)}" }

/** An APNs `userInfo` as JSON: the payload is an object next to `aps`. */
fun apnsUserInfoJson(payload: String): String =
    """{"aps": {"alert": {"title": "Black Friday", "body": "10 % off"}, "sound": "default"}, "beckon": $payload}"""

/** A cart of one product at [price] euros. */
fun cartOf(price: Double, cartId: String = "cart-1") = Cart(
    cartId = cartId,
    currency = "EUR",
    products = listOf(Product(productId = "coat", price = price, quantity = 1, currency = "EUR")),
)

fun List<ExportedEvent>.named(name: String) = filter { it.name == name }

/** A number the server exported, whether it wrote it as `8` or `8.0`. */
fun ExportedEvent.number(key: String): Double? = (properties[key] as Number?)?.toDouble()

/** Every event the app's device queued is uploaded; fails otherwise. */
fun flushAll(beckon: Beckon) {
    val report = beckon.flush(BeckonTestBase.FLUSH_TIMEOUT_MS)
    assertTrue(report.outcome == dev.beckon.FlushOutcome.DELIVERED, "$report")
}
