package dev.beckon.tests

import dev.beckon.BeckonException
import dev.beckon.Cart
import dev.beckon.Event
import dev.beckon.JsonValue
import dev.beckon.Product
import dev.beckon.identify
import dev.beckon.track
import org.junit.Test
import kotlin.test.assertEquals
import kotlin.test.assertTrue
import kotlin.test.fail

/**
 * Collections are interfaces: an app may pass its own, or one another thread changes
 * while the call writes it. uniffi sizes an argument, then writes it, then the core
 * reads it back, and a collection that answers differently each time broke one of those
 * steps with a `BufferOverflowException`, a `NoSuchElementException` or uniffi's own
 * `InternalException`. Each comes back as the one exception type, naming the argument,
 * and nothing is stored.
 */
class UnreadableArgumentTest : BeckonTestBase() {
    private val shoe = Product(productId = "sku-1", price = 10.0)

    /** A map that holds one more entry each time it is read: another thread adding to it. */
    private class GrowingMap : AbstractMap<String, JsonValue>() {
        private var reads = 0
        override val entries: Set<Map.Entry<String, JsonValue>>
            get() = (0..reads++).associate { "k$it" to JsonValue.Integer(it.toLong()) as JsonValue }.entries
    }

    /** A list whose size says two items while it holds one. */
    private class ShortList(private val item: Product) : AbstractList<Product>() {
        override val size = 2
        override fun get(index: Int): Product = if (index == 0) item else throw IndexOutOfBoundsException("$index")
        override fun iterator(): Iterator<Product> = listOf(item).iterator()
    }

    private inline fun refusal(call: () -> Unit): BeckonException {
        try {
            call()
        } catch (e: BeckonException) {
            return e
        } catch (e: Throwable) {
            fail("expected a BeckonException, got $e", e)
        }
        fail("expected a BeckonException, got none")
    }

    @Test
    fun aMapThatChangesWhileItIsWrittenIsRefusedNamingTheArgument() {
        val beckon = open(tempDir(), deadServerUrl())
        val traits = refusal { beckon.identify("user-1", GrowingMap()) }
        assertTrue(traits is BeckonException.InvalidArgument, "$traits")
        assertTrue(traits.message!!.startsWith("invalid argument: traits: could not be read ("), traits.message)
        for (call in listOf<() -> Unit>(
            { beckon.track(Event.Custom(name = "Growing", properties = GrowingMap())) },
            { beckon.trackChecked(Event.Custom(name = "Growing", properties = GrowingMap())) },
            { beckon.screen("Home", GrowingMap()) },
        )) {
            val event = refusal(call)
            assertTrue(event is BeckonException.InvalidEvent, "$event")
            assertTrue(event.message!!.contains("could not be read ("), event.message)
        }
        assertEquals(0uL, beckon.stats().queuedEvents, "nothing was stored")
        beckon.assertStillRecords()
    }

    @Test
    fun aListWhoseSizeDisagreesWithItsItemsIsAnInternalError() {
        val beckon = open(tempDir(), deadServerUrl())
        for (call in listOf<() -> Unit>(
            { beckon.track(Event.CartViewed(cart = Cart(products = ShortList(shoe)))) },
            { beckon.bestPromoFor(Cart(products = ShortList(shoe), currency = "EUR")) },
        )) {
            val error = refusal(call)
            assertTrue(error is BeckonException.Internal, "$error")
            assertTrue(error.message!!.startsWith("internal error: "), error.message)
        }
        assertEquals(0uL, beckon.stats().queuedEvents, "nothing was stored")
        beckon.assertStillRecords()
    }
}
