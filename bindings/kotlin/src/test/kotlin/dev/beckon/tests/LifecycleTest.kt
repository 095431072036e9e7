package dev.beckon.tests

import dev.beckon.Beckon
import dev.beckon.BeckonConfig
import dev.beckon.BeckonException
import dev.beckon.Event
import dev.beckon.FlushOutcome
import dev.beckon.Product
import dev.beckon.identify
import dev.beckon.jsonOf
import dev.beckon.track
import org.junit.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue

class LifecycleTest : BeckonTestBase() {
    @Test
    fun identityAndQueuedEventsSurviveARecreatedInstance() {
        val dir = tempDir()
        val anonymousId: String
        open(dir, deadServerUrl()).let { first ->
            first.identify("user-7", jsonOf("tier" to "silver"))
            first.track(Event.ProductViewed(product = Product(productId = "sku-1")))
            first.track(Event.ProductAdded(cartId = "cart-1", product = Product(productId = "sku-1")))
            first.track(Event.Custom(name = "Before Restart"))
            anonymousId = first.anonymousId()
            // The product added makes the user a cart abandoner: the SDK queues that
            // report too (segments() waits until it has).
            assertEquals(listOf("cart_abandoner"), first.segments())
            assertEquals(4uL + 1uL, first.stats().queuedEvents)
            first.shutdown()
            first.close()
        }

        val server = startServer()
        val second = open(dir, server.url)
        assertEquals(anonymousId, second.anonymousId())
        assertEquals("user-7", second.userId())
        // The membership is restored with the history, not reported a second time.
        assertEquals(listOf("cart_abandoner"), second.segments())
        assertEquals(4uL + 1uL, second.stats().queuedEvents)

        second.track(Event.Custom(name = "After Restart"))
        assertEquals(listOf("cart_abandoner"), second.segments())
        val report = second.flush(FLUSH_TIMEOUT_MS)
        assertEquals(FlushOutcome.DELIVERED, report.outcome, "$report")
        assertEquals(6uL, report.uploaded)
        assertEquals(0uL, report.queued)
        val exported = server.events()
        assertEquals(
            listOf("identify", "Product Viewed", "Product Added", "Before Restart", "After Restart"),
            exported.appEvents().map { it.name ?: it.type },
        )
        assertEquals(listOf("$SEGMENT_ENTERED cart_abandoner"), exported.membershipReports())
        val names = exported.map { it.name }
        assertTrue(names.indexOf(SEGMENT_ENTERED) > names.indexOf("Product Added"), "report after its cause: $names")
        assertTrue(exported.all { it.anonymousId == anonymousId && it.userId == "user-7" }, "$exported")
    }

    @Test
    fun closingWithoutShutdownAlsoReleasesTheDirectory() {
        val dir = tempDir()
        val config = BeckonConfig(dir.toString(), deadServerUrl(), APP_KEY, flushPolicy = QUIET)
        val anonymousId = Beckon(config).use { first ->
            first.track(Event.Custom(name = "Kept"))
            first.anonymousId()
        }
        Beckon(config).use { second ->
            assertEquals(anonymousId, second.anonymousId())
            assertEquals(1uL, second.stats().queuedEvents)
            second.shutdown()
        }
    }

    @Test
    fun twoLiveInstancesCannotShareADataDirectory() {
        val dir = tempDir()
        val url = deadServerUrl()
        val first = open(dir, url)
        val error = assertFailsWith<BeckonException.AlreadyOpen> { open(dir, url) }
        assertTrue(error.message!!.contains(dir.fileName.toString()), "the message names the directory: ${error.message}")
        // The first instance is unaffected, and once it is shut down the directory opens.
        first.track(Event.Custom(name = "Still Working"))
        first.shutdown()
        val second = open(dir, url)
        assertEquals(1uL, second.stats().queuedEvents)
        // A different directory was never a problem.
        open(tempDir(), url).shutdown()
    }

    @Test
    fun everyCallAfterShutdownThrowsShutDown() {
        val beckon = open(tempDir(), deadServerUrl())
        beckon.track(Event.Custom(name = "Before Shutdown"))
        beckon.shutdown()
        beckon.shutdown() // a second shutdown is harmless
        assertFailsWith<BeckonException.ShutDown> { beckon.track(Event.Custom(name = "After Shutdown")) }
        assertFailsWith<BeckonException.ShutDown> { beckon.trackChecked(Event.Custom(name = "After Shutdown")) }
        assertFailsWith<BeckonException.ShutDown> { beckon.screen("Home", emptyMap()) }
        assertFailsWith<BeckonException.ShutDown> { beckon.identify("user-1", emptyMap()) }
        assertFailsWith<BeckonException.ShutDown> { beckon.reset() }
        assertFailsWith<BeckonException.ShutDown> { beckon.flush(1_000) }
        assertFailsWith<BeckonException.ShutDown> { beckon.onForeground() }
        val error = assertFailsWith<BeckonException.ShutDown> { beckon.onBackground() }
        assertTrue(error.message!!.contains("shut down"), error.message)
    }
}
