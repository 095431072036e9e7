package dev.beckon.tests

import dev.beckon.Beckon
import dev.beckon.BeckonConfig
import dev.beckon.BeckonException
import dev.beckon.Channel
import dev.beckon.Event
import dev.beckon.InAppMessage
import dev.beckon.InAppMessageListener
import dev.beckon.JsonValue
import dev.beckon.PermissionState
import dev.beckon.PushProvider
import dev.beckon.SegmentChange
import dev.beckon.SegmentListener
import dev.beckon.handlePush
import dev.beckon.identify
import dev.beckon.permission
import dev.beckon.removeIdentityTokenListener
import dev.beckon.setIdentityToken
import dev.beckon.setIdentityTokenListener
import dev.beckon.track
import org.junit.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue
import kotlin.test.fail

/**
 * `close()` is `shutdown()` plus releasing the native object: the directory is free when
 * it returns, and every later call throws [BeckonException.ShutDown], as after
 * `shutdown()`, never uniffi's IllegalStateException.
 */
class CloseTest : BeckonTestBase() {
    /** One call of every kind the binding offers, by name. */
    private fun everyCall(beckon: Beckon): List<Pair<String, () -> Any?>> = listOf(
        "track" to { beckon.track(Event.Custom(name = "After Close")) },
        "track (lone surrogate)" to { beckon.track(Event.Custom(name = LONE_HIGH)) },
        "trackChecked" to { beckon.trackChecked(Event.Custom(name = "After Close")) },
        "screen" to { beckon.screen("Home", emptyMap()) },
        "identify" to { beckon.identify("user-1", mapOf("plan" to JsonValue.Text("gold"))) },
        "identify (lone surrogate)" to { beckon.identify(LONE_LOW) },
        "identifyChecked" to { beckon.identifyChecked("user-1", emptyMap(), null) },
        "setIdentityToken" to { beckon.setIdentityToken("user-1", "token") },
        "setIdentityTokenListener" to { beckon.setIdentityTokenListener { _, _ -> } },
        "removeIdentityTokenListener" to { beckon.removeIdentityTokenListener() },
        "reset" to { beckon.reset() },
        "anonymousId" to { beckon.anonymousId() },
        "userId" to { beckon.userId() },
        "instanceId" to { beckon.instanceId() },
        "flush" to { beckon.flush(1_000) },
        "sync" to { beckon.sync(1_000) },
        "stats" to { beckon.stats() },
        "onForeground" to { beckon.onForeground() },
        "onBackground" to { beckon.onBackground() },
        "deleteLocalData" to { beckon.deleteLocalData() },
        "isOptedOut" to { beckon.isOptedOut() },
        "optIn" to { beckon.optIn() },
        "optOut" to { beckon.optOut() },
        "permissions" to { beckon.permissions() },
        "permission" to { beckon.permission(Channel.PUSH) },
        "permissionHistory" to { beckon.permissionHistory() },
        "setPermission" to { beckon.setPermission(Channel.SMS, PermissionState.OPTED_IN, "checkout") },
        "pushPermission" to { beckon.pushPermission() },
        "setPushPermission" to { beckon.setPushPermission(true) },
        "pushToken" to { beckon.pushToken() },
        "registerPushToken" to { beckon.registerPushToken(PushProvider.FCM, "token") },
        "removePushToken" to { beckon.removePushToken() },
        "setDeviceProfile" to { beckon.setDeviceProfile("Europe/Berlin", "DE") },
        "setInAppListener" to {
            beckon.setInAppListener(object : InAppMessageListener {
                override fun onMessage(message: InAppMessage) = true
            })
        },
        "setSegmentListener" to {
            beckon.setSegmentListener(object : SegmentListener {
                override fun onSegmentsChanged(changes: List<SegmentChange>) {}
            })
        },
        "setLocale" to { beckon.setLocale("pt-BR") },
        "segments" to { beckon.segments() },
        "refreshSegments" to { beckon.refreshSegments() },
        "takeInAppMessage" to { beckon.takeInAppMessage() },
        "inAppMessageClicked" to { beckon.inAppMessageClicked("m-1", "ok") },
        "inAppMessageDismissed" to { beckon.inAppMessageDismissed("m-1") },
        "setDeepLinkRoutes" to { beckon.setDeepLinkRoutes(SHOP_ROUTES, SHOP_HOSTS) },
        "openDeepLink" to { beckon.openDeepLink("shop://cart") },
        "deepLinkRouterReady" to { beckon.deepLinkRouterReady() },
        "handlePush (map)" to { beckon.handlePush(fcmData(beckonPayload("m-1"))) },
        "handlePush (JSON)" to { beckon.handlePush(fcmDataJson(beckonPayload("m-1"))) },
        "handlePushData" to { beckon.handlePushData(fcmData(beckonPayload("m-1"))) },
        "activePromos" to { beckon.activePromos() },
        "bestPromoFor" to { beckon.bestPromoFor(cartOf(10.0)) },
        "applyPromo" to { beckon.applyPromo("CODE", cartOf(10.0)) },
        "shutdown" to { beckon.shutdown() },
    )

    @Test
    fun everyCallAfterCloseThrowsShutDown() {
        val beckon = open(tempDir(), deadServerUrl())
        beckon.track(Event.Custom(name = "Before Close")) // the one-call path knows the instance
        beckon.close()
        for ((name, call) in everyCall(beckon)) {
            val thrown = runCatching { call() }.exceptionOrNull()
            if (thrown !is BeckonException.ShutDown) fail("$name after close() gave ${thrown ?: "no exception"}", thrown)
            assertEquals("this Beckon instance has been shut down", thrown.message, name)
        }
        beckon.close() // a second close is harmless
    }

    @Test
    fun theOneCallTrackThrowsShutDownWhenItNeverRanBeforeClose() {
        val beckon = open(tempDir(), deadServerUrl())
        beckon.close()
        assertFailsWith<BeckonException.ShutDown> { beckon.track(Event.Custom(name = "After Close")) }
    }

    @Test
    fun useClosesShutsDownAndReleasesTheDirectory() {
        val dir = tempDir()
        val config = BeckonConfig(dir.toString(), deadServerUrl(), APP_KEY, flushPolicy = QUIET)
        val first = Beckon(config)
        first.use { it.track(Event.Custom(name = "Kept")) }
        assertTrue(first.uniffiIsDestroyed)
        assertFailsWith<BeckonException.ShutDown> { first.track(Event.Custom(name = "Too Late")) }
        assertFailsWith<BeckonException.ShutDown> { first.stats() }
        Beckon(config).use { second ->
            assertEquals(1uL, second.stats().queuedEvents)
        }
    }

    @Test
    fun closeAfterShutdownAndCloseAfterCloseAreHarmless() {
        val config = BeckonConfig(tempDir().toString(), deadServerUrl(), APP_KEY, flushPolicy = QUIET)
        val beckon = Beckon(config)
        beckon.shutdown()
        assertFailsWith<BeckonException.ShutDown> { beckon.track(Event.Custom(name = "After Shutdown")) }
        beckon.close()
        beckon.close()
        assertFailsWith<BeckonException.ShutDown> { beckon.anonymousId() }
        Beckon(config).use { it.assertStillRecords() }
    }

    @Test
    fun callsRacingCloseThrowOnlyShutDown() {
        val config = BeckonConfig(tempDir().toString(), deadServerUrl(), APP_KEY, flushPolicy = QUIET)
        val beckon = Beckon(config)
        val problems = java.util.concurrent.ConcurrentLinkedQueue<Throwable>()
        val stored = java.util.concurrent.atomic.AtomicInteger()
        val threads = List(4) { n ->
            Thread {
                for (i in 0 until 200) {
                    try {
                        beckon.track(Event.Custom(name = "Racing", properties = mapOf("i" to JsonValue.Integer(i.toLong()))))
                        stored.incrementAndGet()
                        if (n == 0 && i == 20) beckon.close()
                    } catch (e: BeckonException.ShutDown) {
                        // expected once closed
                    } catch (e: Throwable) {
                        problems.add(e)
                    }
                }
            }
        }
        threads.forEach { it.start() }
        threads.forEach { it.join() }
        assertTrue(problems.isEmpty(), "$problems")
        assertTrue(stored.get() >= 21, "${stored.get()} stored")
        Beckon(config).use { assertEquals(stored.get().toULong(), it.stats().queuedEvents) }
    }
}
