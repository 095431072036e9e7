package dev.beckon.tests

import dev.beckon.BeckonException
import dev.beckon.Event
import dev.beckon.FlushOutcome
import dev.beckon.identify
import dev.beckon.jsonOf
import dev.beckon.track
import org.junit.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNotEquals
import kotlin.test.assertNull
import kotlin.test.assertTrue

class IdentityTest : BeckonTestBase() {
    @Test
    fun identifySetsTheUserIdAndResetStartsAFreshAnonymousUser() {
        val beckon = open(tempDir(), deadServerUrl())
        val anonymous = beckon.anonymousId()
        assertTrue(anonymous.isNotBlank())
        assertEquals(anonymous, beckon.anonymousId(), "the anonymous id is stable")
        assertNull(beckon.userId())

        beckon.identify("user-42", jsonOf("plan" to "gold"))
        assertEquals("user-42", beckon.userId())
        assertEquals(anonymous, beckon.anonymousId(), "identify keeps the anonymous id")

        beckon.identify("user-43", emptyMap())
        assertEquals("user-43", beckon.userId())

        beckon.reset()
        assertNull(beckon.userId())
        val fresh = beckon.anonymousId()
        assertNotEquals(anonymous, fresh, "reset must make a new anonymous id")
        beckon.reset()
        assertNotEquals(fresh, beckon.anonymousId())
    }

    @Test
    fun aBlankUserIdThrowsInvalidArgumentNamingIt() {
        val beckon = open(tempDir(), deadServerUrl())
        val error = assertFailsWith<BeckonException.InvalidArgument> { beckon.identify(" ", emptyMap()) }
        assertTrue(error.message!!.contains("user_id"), error.message)
        assertNull(beckon.userId())
        assertEquals(0uL, beckon.stats().queuedEvents, "a refused identify stores nothing")
    }

    @Test
    fun eventsCarryTheIdentityTheyWereTrackedUnder() {
        val server = startServer()
        val beckon = open(tempDir(), server.url)
        val first = beckon.anonymousId()
        beckon.track(Event.Custom(name = "Before Login"))
        beckon.identify("user-42", jsonOf("email_opt_in" to true))
        beckon.track(Event.Custom(name = "While Logged In"))
        beckon.reset()
        val second = beckon.anonymousId()
        beckon.track(Event.Custom(name = "After Logout"))

        assertEquals(FlushOutcome.DELIVERED, beckon.flush(FLUSH_TIMEOUT_MS).outcome)
        val exported = server.events().associateBy { it.name ?: it.type }
        assertEquals(setOf("Before Login", "identify", "While Logged In", "After Logout"), exported.keys)
        exported.getValue("Before Login").let {
            assertEquals(first, it.anonymousId)
            assertNull(it.userId)
        }
        exported.getValue("identify").let {
            assertEquals("user-42", it.userId)
            assertEquals(true, it.traits["email_opt_in"])
        }
        exported.getValue("While Logged In").let {
            assertEquals(first, it.anonymousId)
            assertEquals("user-42", it.userId)
        }
        exported.getValue("After Logout").let {
            assertEquals(second, it.anonymousId)
            assertNull(it.userId)
        }
    }
}
