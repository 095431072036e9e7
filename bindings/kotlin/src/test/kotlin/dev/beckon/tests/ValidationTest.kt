package dev.beckon.tests

import dev.beckon.BeckonException
import dev.beckon.Cart
import dev.beckon.Event
import dev.beckon.FlushOutcome
import dev.beckon.Order
import dev.beckon.Product
import dev.beckon.jsonOf
import dev.beckon.track
import org.junit.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertTrue

class ValidationTest : BeckonTestBase() {
    private val shoe = Product(productId = "sku-run-42", price = 89.9)

    /** Invalid events and the field path their error message must name. */
    private val invalid: List<Pair<Event, String>> = listOf(
        Event.ProductViewed(product = Product(productId = "")) to "product.product_id",
        Event.ProductViewed(product = shoe.copy(price = Double.NaN)) to "product.price",
        Event.ProductAdded(product = shoe.copy(price = -1.0)) to "product.price",
        Event.ProductAdded(product = shoe.copy(quantity = 0)) to "product.quantity",
        Event.CartViewed(cart = Cart(products = listOf(shoe), currency = "euro")) to "cart.currency",
        Event.CartViewed(cart = Cart(products = listOf(shoe, Product(productId = " ")))) to "cart.products[1].product_id",
        Event.OrderCompleted(order = Order(total = 10.0)) to "order.order_id",
        Event.Custom(name = "Order Completed") to "Order Completed",
        Event.Custom(name = "") to "name",
        Event.ProductViewed(product = shoe, properties = jsonOf("product_id" to "other")) to "properties.product_id",
        Event.Custom(name = "Scored", properties = jsonOf("score" to Double.POSITIVE_INFINITY)) to "properties.score",
    )

    @Test
    fun anInvalidEventThrowsInvalidEventNamingTheFieldAndStoresNothing() {
        val beckon = open(tempDir(), deadServerUrl())
        beckon.track(Event.Custom(name = "Valid Before"))
        var rejected = beckon.stats().rejectedAtTrack
        for ((event, field) in invalid) {
            val before = beckon.stats()
            val error = assertFailsWith<BeckonException.InvalidEvent>("$event should be refused") {
                beckon.track(event)
            }
            val message = error.message ?: ""
            assertTrue(message.contains(field), "\"$message\" should name $field")
            assertFalse(message.contains("field="), "a readable message, not a dump: $message")
            val after = beckon.stats()
            assertEquals(before.queuedEvents, after.queuedEvents, "$event was enqueued")
            assertEquals(before.queuedBytes, after.queuedBytes)
            assertEquals(rejected + 1uL, after.rejectedAtTrack, "rejectedAtTrack after $event")
            rejected = after.rejectedAtTrack
        }
        assertEquals(1uL, beckon.stats().queuedEvents)
    }

    @Test
    fun theCheckedPathThrowsTheSameErrors() {
        val beckon = open(tempDir(), deadServerUrl())
        for ((event, _) in invalid) {
            val fast = assertFailsWith<BeckonException.InvalidEvent> { beckon.track(event) }
            val checked = assertFailsWith<BeckonException.InvalidEvent> { beckon.trackChecked(event) }
            assertEquals(checked.message, fast.message)
        }
        assertEquals(0uL, beckon.stats().queuedEvents)
        assertEquals((2 * invalid.size).toULong(), beckon.stats().rejectedAtTrack)
    }

    @Test
    fun aRejectedEventNeverReachesTheServerAndDoesNotBlockLaterOnes() {
        val server = startServer()
        val beckon = open(tempDir(), server.url)
        beckon.track(Event.ProductViewed(product = shoe))
        for ((event, _) in invalid) {
            assertFailsWith<BeckonException.InvalidEvent> { beckon.track(event) }
        }
        beckon.track(Event.Custom(name = "After Rejections"))
        val report = beckon.flush(FLUSH_TIMEOUT_MS)
        assertEquals(FlushOutcome.DELIVERED, report.outcome, "$report")
        assertEquals(2uL, report.uploaded)
        assertEquals(listOf("Product Viewed", "After Rejections"), server.events().map { it.name })
    }
}
