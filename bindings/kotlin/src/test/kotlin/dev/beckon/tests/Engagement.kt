// What the segment and in-app tests share: listeners that record what they are told
// (and on which thread), the campaign documents, and the shopping events that move a
// shopper in and out of the built-in cart_abandoner segment.
package dev.beckon.tests

import dev.beckon.Beckon
import dev.beckon.Event
import dev.beckon.InAppMessage
import dev.beckon.InAppMessageListener
import dev.beckon.Order
import dev.beckon.Product
import dev.beckon.SegmentChange
import dev.beckon.SegmentListener
import dev.beckon.SyncOutcome
import dev.beckon.track
import java.io.File
import kotlin.test.assertEquals
import kotlin.test.assertNotEquals
import kotlin.test.assertNotSame
import kotlin.test.assertTrue

/** The thread Beckon calls its listeners on. */
const val ENGAGEMENT_THREAD = "beckon-engagement"

/**
 * The calling thread's name as the operating system knows it: JNA attaches Beckon's
 * native threads to the JVM under generic names (`Thread-7`), so the JVM's name does
 * not tell them apart. Linux keeps the first 15 bytes of a name; compare with
 * [osThreadName].
 */
fun currentOsThreadName(): String =
    File("/proc/thread-self/comm").takeIf { it.exists() }?.readText()?.trim() ?: Thread.currentThread().name

/** [name] as [currentOsThreadName] reports it. */
fun osThreadName(name: String): String =
    if (File("/proc/thread-self/comm").exists()) name.take(15) else name

/** Where a listener was called: the JVM's thread and the OS's name for it. */
data class CalledOn(val thread: Thread, val osName: String) {
    companion object {
        fun here() = CalledOn(Thread.currentThread(), currentOsThreadName())
    }
}

const val SHOWN = "In-App Message Shown"
const val CLICKED = "In-App Message Clicked"
const val DISMISSED = "In-App Message Dismissed"

/** Fails unless every call in [calls] ran on Beckon's engagement thread, not the caller's. */
fun assertOnEngagementThread(calls: List<CalledOn>) {
    assertTrue(calls.isNotEmpty(), "the listener was never called")
    val caller = CalledOn.here()
    for (call in calls) {
        assertEquals(osThreadName(ENGAGEMENT_THREAD), call.osName, "listeners run on Beckon's thread: $calls")
        assertNotSame(caller.thread, call.thread, "a listener ran on the calling thread")
        assertNotEquals(caller.osName, call.osName)
    }
}

/** Records every change it is told about, as `+segment` (entered) or `-segment` (left). */
class RecordingSegmentListener : SegmentListener {
    private val changes = ArrayList<String>()
    private val calls = ArrayList<CalledOn>()

    override fun onSegmentsChanged(changes: List<SegmentChange>) {
        val on = CalledOn.here()
        synchronized(this) {
            calls.add(on)
            changes.mapTo(this.changes) { (if (it.entered) "+" else "-") + it.segmentId }
        }
    }

    /** Every change so far, in the order told. */
    fun changes(): List<String> = synchronized(this) { changes.toList() }

    /** Where each call ran. */
    fun calls(): List<CalledOn> = synchronized(this) { calls.toList() }
}

/**
 * An app screen that is offered in-app messages: it answers with [answers] in turn
 * (`true`: put on screen), then with `true`. Records each offer and the thread.
 */
class ScriptedScreen(vararg answers: Boolean) : InAppMessageListener {
    private val answers = ArrayDeque(answers.toList())
    private val offered = ArrayList<InAppMessage>()
    private val accepted = ArrayList<InAppMessage>()
    private val calls = ArrayList<CalledOn>()

    override fun onMessage(message: InAppMessage): Boolean = synchronized(this) {
        calls.add(CalledOn.here())
        offered.add(message)
        val answer = answers.removeFirstOrNull() ?: true
        if (answer) accepted.add(message)
        answer
    }

    fun offered(): List<InAppMessage> = synchronized(this) { offered.toList() }

    /** The offers it answered `true` to. */
    fun accepted(): List<InAppMessage> = synchronized(this) { accepted.toList() }

    /** Where each call ran. */
    fun calls(): List<CalledOn> = synchronized(this) { calls.toList() }
}

/**
 * Syncs and waits for the outcome. The SDK also syncs on its own at start, so this
 * either brings the server's document or finds it already current; either way, what
 * the server held before this call is in use when it returns.
 */
fun syncNow(beckon: Beckon) {
    val report = beckon.sync(BeckonTestBase.SYNC_TIMEOUT_MS)
    assertTrue(report.outcome == SyncOutcome.UPDATED || report.outcome == SyncOutcome.NOT_MODIFIED, "$report")
}

/** An order ends the cart abandonment; a new product in the cart starts another. */
fun leaveAndReenterCartAbandoners(beckon: Beckon, orderId: String) {
    beckon.track(ordered(orderId))
    assertTrue("cart_abandoner" !in beckon.segments())
    beckon.track(added("hat-$orderId", 20.0))
    assertTrue("cart_abandoner" in beckon.segments())
}

/** A product added to the cart, in euros. */
fun added(productId: String, price: Double) = Event.ProductAdded(
    product = Product(productId = productId, name = "Product $productId", price = price, currency = "EUR"),
)

fun ordered(orderId: String) = Event.OrderCompleted(order = Order(orderId = orderId, revenue = 10.0, currency = "EUR"))

fun viewed(productId: String, category: String) =
    Event.ProductViewed(product = Product(productId = productId, name = "Product $productId", category = category))

/**
 * The free-shipping nudge: fires when the shopper becomes a cart abandoner, shown to
 * cart abandoners, with a 50 EUR threshold; English by default, and Portuguese.
 */
fun freeShippingCampaign(
    id: String = "free-shipping",
    cap: String = """{"total": 1}""",
    priority: Int = 5,
) = """
    {
      "schema_version": 1,
      "id": "$id",
      "name": "Free shipping nudge",
      "status": "active",
      "priority": $priority,
      "trigger": {"segment_entered": "cart_abandoner"},
      "audience": {"segments": ["cart_abandoner"]},
      "cap": $cap,
      "free_shipping_threshold": {"EUR": 50},
      "default_locale": "en",
      "variants": {
        "en": {"title": "Hi {{first_name | there}}",
               "body": "Add {{free_shipping_remaining}} more for free shipping",
               "buttons": [{"id": "cart", "label": "View cart ({{cart_item_count}})", "url": "shop://cart"}]},
        "pt": {"title": "Olá {{first_name | você}}",
               "body": "Faltam {{free_shipping_remaining}} para o frete grátis",
               "buttons": [{"id": "cart", "label": "Ver carrinho ({{cart_item_count}})", "url": "shop://cart"}]}
      }
    }
""".trimIndent()

/** A tip shown when the shopper views a product of [category]. */
fun productViewedCampaign(id: String, category: String, cap: String = """{"total": 1}""") = """
    {
      "schema_version": 1,
      "id": "$id",
      "name": "Tip for $category",
      "status": "active",
      "trigger": {"event": "Product Viewed", "where": {"category": "$category"}},
      "cap": $cap,
      "default_locale": "en",
      "variants": {"en": {"title": "About {{last_viewed_product | this product}}", "body": "Free returns on $category."}}
    }
""".trimIndent()
