package dev.beckon.tests

import dev.beckon.BeckonException
import dev.beckon.Cart
import dev.beckon.Event
import dev.beckon.JsonValue
import dev.beckon.Product
import dev.beckon.handlePush
import dev.beckon.identify
import dev.beckon.track
import org.junit.Test
import kotlin.test.assertEquals
import kotlin.test.assertNull
import kotlin.test.assertTrue

/**
 * Texts and arguments of any size. uniffi sizes an argument before writing it (3 bytes per
 * UTF-16 unit) in `Int`-sized buffers, so a text of 2 GiB of UTF-8, or an argument whose
 * texts add up past that, failed with `OutOfMemoryError` or `IllegalArgumentException`
 * before the core saw it. A text over 1 MiB, or an argument sized over 16 MiB, is refused
 * with the typed exception naming the field; the core's own limits are far lower, so
 * nothing it accepts is refused here.
 */
class TextSizeTest : BeckonTestBase() {
    private val limit = 1 shl 20

    @Test
    fun aTextOfMoreThan2GiBOfUtf8IsRefusedNamingTheField() {
        // 1.1 billion chars, 2.2 GB of UTF-8 (é takes 2 bytes), 1.1 GB on the heap (Latin-1).
        val huge = "é".repeat(1_100_000_000)
        val beckon = open(tempDir(), deadServerUrl())
        val tooLong = "is 1100000000 characters, over the $limit-byte limit of a text"
        val refusals = listOf(
            beckon.assertRefused<BeckonException.InvalidArgument>("user_id") { beckon.identify(huge) },
            beckon.assertRefused<BeckonException.InvalidEvent>("name") { beckon.screen(huge, emptyMap()) },
            beckon.assertRefused<BeckonException.InvalidEvent>("product.name") {
                beckon.track(Event.ProductViewed(product = Product(productId = "p", name = huge)))
            },
            beckon.assertRefused<BeckonException.InvalidEvent>("product.name") {
                beckon.trackChecked(Event.ProductViewed(product = Product(productId = "p", name = huge)))
            },
            beckon.assertRefused<BeckonException.InvalidEvent>("properties.v") {
                beckon.track(Event.Custom(name = "Big", properties = mapOf("v" to JsonValue.Text(huge))))
            },
            beckon.assertRefused<BeckonException.InvalidPush>("payload") { beckon.handlePush(huge) },
            beckon.assertRefused<BeckonException.InvalidArgument>("country") { beckon.setDeviceProfile("Europe/Berlin", huge) },
        )
        for (refusal in refusals) {
            assertTrue(refusal.message!!.endsWith(tooLong), refusal.message)
        }
        assertNull(beckon.userId())
        beckon.assertStillRecords()
    }

    @Test
    fun aTextOfMoreThan1MiBOfUtf8IsRefusedAndOneOf1MiBReachesTheCore() {
        val beckon = open(tempDir(), deadServerUrl())
        val over = "é".repeat(limit / 2) + "e" // 1 MiB + 1 byte, in fewer chars than that
        val error = beckon.assertRefused<BeckonException.InvalidArgument>("user_id") { beckon.identify(over) }
        assertTrue(error.message!!.endsWith("is ${limit + 1} bytes, over the $limit-byte limit of a text"), error.message)
        // At the limit it crosses, and the core refuses it with its own limit.
        val at = beckon.assertRefused<BeckonException.InvalidArgument>("user_id") { beckon.identify(over.dropLast(1)) }
        assertTrue(at.message!!.endsWith("is $limit bytes, over the 256-byte limit"), at.message)
        beckon.assertStillRecords()
    }

    /** 3,000 products sharing one 1 MB name: 3 GB to write, refused before anything is allocated. */
    @Test
    fun anArgumentWhoseTextsAddUpPast2GiBIsRefusedNamingIt() {
        val name = "e".repeat(1_000_000)
        val products = List(3_000) { Product(productId = "p", name = name, price = 1.0) }
        val beckon = open(tempDir(), deadServerUrl())
        val tooLarge = Regex("takes \\d+ bytes to encode, over the ${16 shl 20}-byte limit of an argument$")
        val refusals = listOf(
            beckon.assertRefused<BeckonException.InvalidEvent>("event") {
                beckon.track(Event.CartViewed(cart = Cart(products = products)))
            },
            beckon.assertRefused<BeckonException.InvalidEvent>("event") {
                beckon.trackChecked(Event.CartViewed(cart = Cart(products = products)))
            },
            beckon.assertRefused<BeckonException.InvalidArgument>("cart") {
                beckon.bestPromoFor(Cart(products = products, currency = "EUR"))
            },
            beckon.assertRefused<BeckonException.InvalidArgument>("traits") {
                beckon.identify("u", (0 until 3_000).associate { "k$it" to JsonValue.Text(name) })
            },
            beckon.assertRefused<BeckonException.InvalidPush>("data") {
                beckon.handlePush((0 until 3_000).associate { "k$it" to name })
            },
        )
        for (refusal in refusals) {
            assertTrue(tooLarge.containsMatchIn(refusal.message!!), refusal.message)
        }
        // Within the limits the core judges: a 1 MB name makes a cart too large for an event.
        val small = beckon.assertRefused<BeckonException.InvalidArgument>("cart") {
            beckon.bestPromoFor(Cart(products = products.take(2), currency = "EUR"))
        }
        assertTrue(small.message!!.contains("over the 32768-byte limit of an event"), small.message)
        assertEquals(0uL, beckon.stats().queuedEvents)
        beckon.assertStillRecords()
    }
}
