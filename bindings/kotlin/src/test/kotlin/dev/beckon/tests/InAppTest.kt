package dev.beckon.tests

import dev.beckon.Beckon
import dev.beckon.BeckonException
import dev.beckon.FlushOutcome
import dev.beckon.InAppButton
import dev.beckon.SyncOutcome
import dev.beckon.identify
import dev.beckon.jsonOf
import dev.beckon.support.SyncProxy
import dev.beckon.track
import org.junit.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNotEquals
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue

/**
 * The in-app loop against a live server: a campaign created through the admin API
 * reaches the device by sync, fires when a tracked event triggers it, is rendered for
 * the shopper, and its impressions and clicks reach the server and count toward the
 * caps and the 30 s gap between messages.
 *
 * Listeners run on the engagement thread, and `segments()` returns only once every
 * event tracked before it has been evaluated (triggers included), so calling it makes
 * "nothing was offered" a settled fact rather than a race.
 */
class InAppTest : BeckonTestBase() {
    @Test
    fun aCartAbandonerIsNudgedInTheirLanguageOnTheEngagementThreadAndTheClickReachesTheServer() {
        val server = startServer()
        val beckon = open(tempDir(), server.url)
        syncNow(beckon)
        server.admin.createCampaign(freeShippingCampaign(cap = """{"total": 1}"""))
        val synced = beckon.sync(SYNC_TIMEOUT_MS)
        assertEquals(SyncOutcome.UPDATED, synced.outcome, "$synced")
        assertEquals(SyncOutcome.NOT_MODIFIED, beckon.sync(SYNC_TIMEOUT_MS).outcome, "the second sync finds nothing new")

        val screen = ScriptedScreen()
        beckon.setInAppListener(screen)
        beckon.identify("ana", jsonOf("first_name" to "Ana <b>"))
        beckon.setLocale("pt-BR")
        beckon.track(added("socks", 37.5))
        assertEquals(listOf("cart_abandoner"), beckon.segments())

        val message = screen.offered().single()
        assertOnEngagementThread(screen.calls())
        assertEquals("free-shipping", message.campaignId)
        assertEquals("pt", message.locale, "pt-BR falls back to the pt variant")
        assertEquals("Olá Ana <b>", message.title, "plain text: the name is not markup")
        assertEquals("Faltam 12.50 EUR para o frete grátis", message.body)
        assertEquals(listOf(InAppButton("cart", "Ver carrinho (1)", "shop://cart")), message.buttons)
        assertNull(message.imageUrl)

        beckon.inAppMessageClicked(message.messageId, "cart")
        val unknown = assertFailsWith<BeckonException.InvalidArgument> {
            beckon.inAppMessageClicked("never-shown", "cart")
        }
        assertTrue(unknown.message!!.contains("never-shown"), unknown.message)

        assertEquals(FlushOutcome.DELIVERED, beckon.flush(FLUSH_TIMEOUT_MS).outcome)
        val exported = server.events()
        val shown = exported.named(SHOWN).single()
        assertEquals(message.messageId, shown.properties["message_id"])
        assertEquals("free-shipping", shown.properties["campaign_id"])
        val clicked = exported.named(CLICKED).single()
        assertEquals(message.messageId, clicked.properties["message_id"])
        assertEquals("free-shipping", clicked.properties["campaign_id"])
        assertEquals("cart", clicked.properties["button_id"])
        assertTrue(exported.indexOf(shown) < exported.indexOf(clicked), "shown, then clicked")
        assertTrue(listOf(shown, clicked).all { it.userId == "ana" && it.anonymousId == beckon.anonymousId() })
    }

    @Test
    fun withoutAListenerTheMessageWaitsForAPollAndTheGapHoldsAcrossARestart() {
        val server = startServer()
        server.admin.createCampaign(freeShippingCampaign(cap = """{"total": 5}"""))
        val dir = tempDir()
        val beckon = open(dir, server.url)
        syncNow(beckon)

        assertNull(beckon.takeInAppMessage(), "nothing fired yet")
        beckon.track(added("socks", 37.5))
        val message = assertNotNull(beckon.takeInAppMessage(), "the nudge waits for a poll")
        assertEquals("free-shipping", message.campaignId)
        assertEquals("en", message.locale, "no locale set: the default variant")
        assertEquals("Hi there", message.title, "the fallback for a missing first name")
        assertEquals("Add 12.50 EUR more for free shipping", message.body, "a 37.50 EUR cart, a 50 EUR threshold")
        assertEquals(listOf(InAppButton("cart", "View cart (1)", "shop://cart")), message.buttons)
        assertNull(beckon.takeInAppMessage(), "taken once")

        // Out of the segment and back in, right after the message: the gap holds
        // (the cap of 5 is far off).
        leaveAndReenterCartAbandoners(beckon, "order-1")
        assertNull(beckon.takeInAppMessage(), "within the 30 s gap")
        beckon.inAppMessageDismissed(message.messageId)

        // The impression is stored: a new instance keeps the gap too.
        beckon.shutdown()
        beckon.close()
        val again = open(dir, server.url)
        leaveAndReenterCartAbandoners(again, "order-2")
        assertNull(again.takeInAppMessage(), "within the 30 s gap after a restart")

        assertEquals(FlushOutcome.DELIVERED, again.flush(FLUSH_TIMEOUT_MS).outcome)
        val exported = server.events()
        assertEquals(listOf(message.messageId), exported.named(SHOWN).map { it.properties["message_id"] })
        val dismissed = exported.named(DISMISSED).single()
        assertEquals(message.messageId, dismissed.properties["message_id"])
        assertEquals("free-shipping", dismissed.properties["campaign_id"])
    }

    @Test
    fun aSecondTriggerRightAfterAShownMessageIsNotOffered() {
        val server = startServer()
        server.admin.createCampaign(productViewedCampaign("shoe-tip", "Shoes", cap = """{"total": 10}"""))
        server.admin.createCampaign(freeShippingCampaign(cap = """{"total": 10}"""))
        val beckon = open(tempDir(), server.url)
        syncNow(beckon)
        val screen = ScriptedScreen()
        beckon.setInAppListener(screen)

        beckon.track(viewed("boot-1", "Shoes"))
        beckon.segments()
        assertEquals(listOf("shoe-tip"), screen.accepted().map { it.campaignId })
        assertEquals("About Product boot-1", screen.accepted().single().title)
        // Another campaign's trigger, then the same one again: both within 30 s.
        beckon.track(added("socks", 37.5))
        beckon.track(viewed("boot-2", "Shoes"))
        assertEquals(listOf("cart_abandoner"), beckon.segments())
        assertEquals(1, screen.offered().size, "offered within the gap: ${screen.offered()}")

        assertEquals(FlushOutcome.DELIVERED, beckon.flush(FLUSH_TIMEOUT_MS).outcome)
        assertEquals(listOf("shoe-tip"), server.events().named(SHOWN).map { it.properties["campaign_id"] })
    }

    @Test
    fun aMessageTheAppDoesNotDisplayIsNotShownAndTheNextTriggerMayShowIt() {
        val server = startServer()
        server.admin.createCampaign(productViewedCampaign("shoe-tip", "Shoes", cap = """{"total": 1}"""))
        val beckon = open(tempDir(), server.url)
        syncNow(beckon)
        val screen = ScriptedScreen(false) // busy on the first offer, then displays
        beckon.setInAppListener(screen)

        beckon.track(viewed("bag-1", "Bags"))
        beckon.segments()
        assertEquals(emptyList(), screen.offered(), "the trigger's where does not match Bags")

        beckon.track(viewed("boot-1", "Shoes"))
        beckon.segments()
        val declined = screen.offered().single()
        // Not shown: neither the cap of 1 nor the gap counts it, so the next view shows.
        beckon.track(viewed("boot-2", "Shoes"))
        beckon.segments()
        val offers = screen.offered()
        assertEquals(2, offers.size, "$offers")
        val displayed = offers[1]
        assertNotEquals(declined.messageId, displayed.messageId, "each offer is a new message")
        assertEquals(listOf(displayed), screen.accepted())
        assertEquals("About Product boot-2", displayed.title)
        assertOnEngagementThread(screen.calls())

        assertFailsWith<BeckonException.InvalidArgument>("a message never displayed cannot be clicked") {
            beckon.inAppMessageClicked(declined.messageId, "ok")
        }
        beckon.inAppMessageDismissed(displayed.messageId)
        // Shown once: the cap (and the gap) hold from now on.
        beckon.track(viewed("boot-3", "Shoes"))
        beckon.segments()
        assertEquals(2, screen.offered().size)

        assertEquals(FlushOutcome.DELIVERED, beckon.flush(FLUSH_TIMEOUT_MS).outcome)
        val exported = server.events()
        assertEquals(listOf(displayed.messageId), exported.named(SHOWN).map { it.properties["message_id"] })
        assertEquals(listOf(displayed.messageId), exported.named(DISMISSED).map { it.properties["message_id"] })
        assertTrue(exported.none { it.properties["message_id"] == declined.messageId }, "$exported")
    }

    @Test
    fun theTotalCapHoldsAcrossARestartAndTheNextCampaignTakesOver() {
        // The server always asks for 30 s between messages; the proxy gives the device
        // a gap of 0 so that only the caps decide.
        val server = startServer()
        val proxy = startProxy(server.url)
        proxy.rewrite = SyncProxy.minGapSeconds(0)
        server.admin.createCampaign(freeShippingCampaign(id = "free-shipping", cap = """{"total": 2}""", priority = 5))
        server.admin.createCampaign(freeShippingCampaign(id = "cart-reminder", cap = """{"total": 100}""", priority = 1))
        val dir = tempDir()
        val beckon = open(dir, proxy.url)
        syncNow(beckon)
        assertTrue(proxy.rewritten.get() > 0, "the device got its document through the proxy")
        val screen = ScriptedScreen()
        beckon.setInAppListener(screen)

        beckon.track(added("socks", 37.5))
        leaveAndReenterCartAbandoners(beckon, "order-1")
        leaveAndReenterCartAbandoners(beckon, "order-2")
        assertEquals(
            listOf("free-shipping", "free-shipping", "cart-reminder"),
            screen.accepted().map { it.campaignId },
            "the higher priority until its cap of 2 is reached",
        )

        beckon.shutdown()
        beckon.close()
        val again = open(dir, proxy.url)
        val after = ScriptedScreen()
        again.setInAppListener(after)
        leaveAndReenterCartAbandoners(again, "order-3")
        assertEquals(listOf("cart-reminder"), after.accepted().map { it.campaignId }, "the cap is stored")

        assertEquals(FlushOutcome.DELIVERED, again.flush(FLUSH_TIMEOUT_MS).outcome)
        val shown = server.events().named(SHOWN)
        assertEquals(
            listOf("free-shipping", "free-shipping", "cart-reminder", "cart-reminder"),
            shown.map { it.properties["campaign_id"] },
        )
        assertEquals((screen.accepted() + after.accepted()).map { it.messageId }, shown.map { it.properties["message_id"] })
    }

    @Test
    fun theServerRefusesAnInvalidCampaignAndTheDeviceDocumentStaysTheSame() {
        val server = startServer()
        val beckon = open(tempDir(), server.url)
        syncNow(beckon)

        val typo = server.admin.post(
            "/v1/admin/campaigns",
            freeShippingCampaign().replace("{{first_name | there}}", "{{frist_name | there}}"),
        )
        assertEquals(400, typo.status, "$typo")
        assertTrue(typo.body.contains("frist_name") && typo.body.contains("first_name"), "names the field and the fix: $typo")
        val unknownSegment = server.admin.post(
            "/v1/admin/campaigns",
            freeShippingCampaign().replace("\"segments\": [\"cart_abandoner\"]", "\"segments\": [\"nope\"]"),
        )
        assertEquals(400, unknownSegment.status, "$unknownSegment")
        assertTrue(unknownSegment.body.contains("nope"), "$unknownSegment")

        assertEquals(SyncOutcome.NOT_MODIFIED, beckon.sync(SYNC_TIMEOUT_MS).outcome)
        assertNull(beckon.takeInAppMessage())
        beckon.track(added("socks", 37.5))
        assertNull(beckon.takeInAppMessage(), "no campaign reached the device")
    }

    @Test
    fun aDocumentTheDeviceRefusesLeavesTheLastGoodOneInUse() {
        val server = startServer()
        val proxy = startProxy(server.url)
        val beckon = open(tempDir(), proxy.url)
        syncNow(beckon)
        val screen = ScriptedScreen()
        beckon.setInAppListener(screen)
        server.admin.createCampaign(freeShippingCampaign(cap = """{"total": 1}"""))

        // A document from a newer server: refused whole, nothing of it applied.
        proxy.rewrite = { it.replaceFirst("\"schema\":1,", "\"schema\":2,") }
        val refused = beckon.sync(SYNC_TIMEOUT_MS)
        assertEquals(SyncOutcome.REFUSED, refused.outcome, "$refused")
        assertTrue(refused.error!!.contains("version 2"), "$refused")
        val stats = beckon.stats()
        assertEquals(1uL, stats.syncFailures, "$stats")
        assertTrue(stats.lastSyncError?.contains("version 2") == true, "$stats")
        beckon.track(added("socks", 37.5))
        assertEquals(listOf("cart_abandoner"), beckon.segments(), "the last good segments still apply")
        assertEquals(emptyList(), screen.offered(), "the refused campaign is not used")

        proxy.rewrite = { it }
        assertEquals(SyncOutcome.UPDATED, beckon.sync(SYNC_TIMEOUT_MS).outcome)
        assertNull(beckon.stats().lastSyncError, "cleared by a good sync")
        leaveAndReenterCartAbandoners(beckon, "order-1")
        assertEquals(listOf("free-shipping"), screen.accepted().map { it.campaignId })
    }
}
