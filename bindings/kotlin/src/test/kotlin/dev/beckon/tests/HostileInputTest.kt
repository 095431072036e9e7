package dev.beckon.tests

import dev.beckon.Beckon
import dev.beckon.BeckonException
import dev.beckon.Channel
import dev.beckon.InAppMessage
import dev.beckon.InAppMessageListener
import dev.beckon.PermissionState
import dev.beckon.PushProvider
import dev.beckon.SegmentChange
import dev.beckon.SegmentListener
import dev.beckon.handlePush
import dev.beckon.identify
import dev.beckon.jsonOf
import dev.beckon.permission
import dev.beckon.removeIdentityTokenListener
import dev.beckon.setIdentityToken
import dev.beckon.setIdentityTokenListener
import dev.beckon.toJsonProperties
import dev.beckon.toJsonValue
import dev.beckon.track
import org.junit.Test
import kotlin.random.Random
import kotlin.test.assertTrue
import kotlin.test.fail

/**
 * Property: whatever values of the public types an app passes, every public call of
 * the binding returns or throws a [BeckonException], and nothing else (no
 * StackOverflowError, no java.nio exception, no IllegalStateException), on the main
 * thread and on a thread with a 256 KB stack; and the instance keeps recording.
 *
 * The values come from [Generators] with a seed printed at the start; to replay a run,
 * set it with `-Dbeckon.fuzz.seed=N` or `BECKON_FUZZ_SEED=N`
 * (`BECKON_FUZZ_SEED=N scripts/kotlin-tests HostileInputTest`).
 */
class HostileInputTest : BeckonTestBase() {
    private val seed: Long = (System.getProperty("beckon.fuzz.seed") ?: System.getenv("BECKON_FUZZ_SEED"))?.toLong()
        ?: System.nanoTime()

    /** Every public call, each taking its arguments from the generators. */
    private fun calls(beckon: Beckon, gen: Generators, random: Random): List<Pair<String, () -> Any?>> = listOf(
        "track" to { beckon.track(gen.event()) },
        "track" to { beckon.track(gen.event()) },
        "track" to { beckon.track(gen.event()) },
        "trackChecked" to { beckon.trackChecked(gen.event()) },
        "screen" to { beckon.screen(gen.text(), gen.properties()) },
        "identify" to { beckon.identify(gen.id(), gen.properties(), gen.maybe { gen.text() }) },
        "identifyChecked" to { beckon.identifyChecked(gen.text(), gen.properties(), gen.maybe { gen.id() }) },
        "setIdentityToken" to { beckon.setIdentityToken(gen.id(), gen.text()) },
        "setIdentityTokenChecked" to { beckon.setIdentityTokenChecked(gen.text(), gen.id()) },
        "setIdentityTokenListener" to { beckon.setIdentityTokenListener { _, _ -> } },
        "removeIdentityTokenListener" to { beckon.removeIdentityTokenListener() },
        "reset" to { beckon.reset() },
        "anonymousId" to { beckon.anonymousId() },
        "userId" to { beckon.userId() },
        "instanceId" to { beckon.instanceId() },
        "flush" to { beckon.flush(random.nextLong(-5, 30)) },
        "sync" to { beckon.sync(random.nextLong(-5, 30)) },
        "stats" to { beckon.stats() },
        "onForeground" to { beckon.onForeground() },
        "onBackground" to { beckon.onBackground() },
        "isOptedOut" to { beckon.isOptedOut() },
        "optOut" to { if (random.nextInt(10) == 0) beckon.optOut() else beckon.optIn() },
        "optIn" to { beckon.optIn() },
        "deleteLocalData" to { if (random.nextInt(10) == 0) beckon.deleteLocalData() },
        "permissions" to { beckon.permissions() },
        "permission" to { beckon.permission(Channel.entries.random(random)) },
        "permissionHistory" to { beckon.permissionHistory() },
        "setPermission" to { beckon.setPermission(Channel.entries.random(random), PermissionState.entries.random(random), gen.text()) },
        "pushPermission" to { beckon.pushPermission() },
        "setPushPermission" to { beckon.setPushPermission(random.nextBoolean()) },
        "pushToken" to { beckon.pushToken() },
        "registerPushToken" to { beckon.registerPushToken(PushProvider.entries.random(random), gen.text()) },
        "removePushToken" to { beckon.removePushToken() },
        "setDeviceProfile" to { beckon.setDeviceProfile(gen.text(), gen.text()) },
        "setLocale" to { beckon.setLocale(gen.text()) },
        "setInAppListener" to {
            beckon.setInAppListener(
                if (random.nextBoolean()) {
                    null
                } else {
                    object : InAppMessageListener {
                        override fun onMessage(message: InAppMessage) = false
                    }
                },
            )
        },
        "setSegmentListener" to {
            beckon.setSegmentListener(
                if (random.nextBoolean()) {
                    null
                } else {
                    object : SegmentListener {
                        override fun onSegmentsChanged(changes: List<SegmentChange>) {}
                    }
                },
            )
        },
        // These wait for the engagement thread (Busy after 5 s): called now and then.
        "segments" to { if (random.nextInt(8) == 0) beckon.segments() },
        "takeInAppMessage" to { if (random.nextInt(8) == 0) beckon.takeInAppMessage() },
        "inAppMessageClicked" to { if (random.nextInt(4) == 0) beckon.inAppMessageClicked(gen.text(), gen.text()) },
        "inAppMessageDismissed" to { if (random.nextInt(4) == 0) beckon.inAppMessageDismissed(gen.text()) },
        "refreshSegments" to { beckon.refreshSegments() },
        "setDeepLinkRoutes" to { beckon.setDeepLinkRoutes(gen.routes(), List(random.nextInt(3)) { gen.text() }) },
        "openDeepLink" to { beckon.openDeepLink(gen.url()) },
        "deepLinkRouterReady" to { beckon.deepLinkRouterReady() },
        "handlePush (map)" to { beckon.handlePush(gen.pushData()) },
        "handlePush (JSON)" to { beckon.handlePush(gen.pushJson()) },
        "handlePushData" to { beckon.handlePushData(gen.pushData()) },
        "activePromos" to { beckon.activePromos() },
        "bestPromoFor" to { beckon.bestPromoFor(gen.cart(), if (random.nextBoolean()) null else gen.double()) },
        "applyPromo" to { beckon.applyPromo(gen.id(), gen.cart(), if (random.nextBoolean()) null else gen.double()) },
        "jsonOf" to { jsonOf(*Array(random.nextInt(4)) { gen.text() to gen.plain() }) },
        "toJsonValue" to { gen.plain().toJsonValue() },
        "toJsonProperties" to { (0 until random.nextInt(4)).associate { gen.text() to gen.plain() }.toJsonProperties() },
    )

    /** Makes random calls for up to [iterations] or [millis]; fails on anything but a BeckonException. */
    private fun run(beckon: Beckon, random: Random, iterations: Int, millis: Long, where: String): Map<String, Int> {
        val gen = Generators(random)
        val calls = calls(beckon, gen, random)
        val outcomes = HashMap<String, Int>()
        val deadline = System.nanoTime() + millis * 1_000_000
        for (i in 0 until iterations) {
            if (System.nanoTime() > deadline) break
            val (name, call) = calls.random(random)
            val outcome = try {
                call()
                "returned"
            } catch (e: BeckonException) {
                e.javaClass.simpleName
            } catch (e: Throwable) {
                // Not the arguments: a deep value's toString() would overflow the stack.
                fail("seed $seed, $where, call $i: $name threw ${e.javaClass.name}: ${e.message?.take(300)}", e)
            }
            outcomes.merge(outcome, 1, Int::plus)
        }
        return outcomes
    }

    @Test
    fun everyPublicCallThrowsOnlyBeckonExceptionsWhateverItIsGiven() {
        println("      HostileInputTest seed $seed (replay: BECKON_FUZZ_SEED=$seed)")
        val beckon = open(tempDir(), deadServerUrl())
        val started = System.nanoTime()
        val main = run(beckon, Random(seed), iterations = 300, millis = 3_000, where = "main thread")
        val small = onSmallStack { run(beckon, Random(seed + 1), iterations = 150, millis = 2_000, where = "256 KB thread") }
        val seconds = (System.nanoTime() - started) / 1e9
        println("      main thread: $main")
        println("      256 KB thread: $small")
        println("      %d calls in %.1f s".format(main.values.sum() + small.values.sum(), seconds))
        assertTrue(main.values.sum() >= 100 && small.values.sum() >= 50, "too few calls ran: $main $small")
        assertTrue(main.keys.any { it != "returned" }, "some calls were refused: $main")
        beckon.optIn()
        beckon.assertStillRecords()
    }
}
