package dev.beckon.tests

import dev.beckon.Beckon
import dev.beckon.BeckonException
import dev.beckon.Event
import dev.beckon.FlushOutcome
import dev.beckon.FlushReport
import dev.beckon.IdentityProblem
import dev.beckon.identify
import dev.beckon.jsonOf
import dev.beckon.setIdentityToken
import dev.beckon.setIdentityTokenListener
import dev.beckon.support.ServerProcess
import dev.beckon.track
import org.junit.Test
import java.nio.file.Files
import java.security.KeyPair
import java.security.KeyPairGenerator
import java.security.Signature
import java.util.Base64
import java.util.Collections
import javax.crypto.Mac
import javax.crypto.spec.SecretKeySpec
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNull
import kotlin.test.assertTrue

/**
 * Verified identities against a live `beckon-server` started with `--verify-identities
 * required`: the app's backend is played by the test (HMAC-SHA256 with the app's secret,
 * RS256 JWTs with a key pair made here), and the events are read back from the export.
 */
class IdentityVerificationTest : BeckonTestBase() {
    /** A server requiring verified identities, with the secret and the JWT public key. */
    private fun verifyingServer(): ServerProcess {
        val pem = tempDir("beckon-identity-key").resolve("jwt-public.pem")
        Files.writeString(pem, publicKeyPem())
        return startServer(
            listOf(
                "--verify-identities", "required",
                "--identity-secret", SECRET,
                "--identity-jwt-key", pem.toString(),
            ),
        )
    }

    private fun openOn(server: ServerProcess): Beckon = open(tempDir(), server.url)

    /** Beckon on [server], with an identity token listener recording what it hears. */
    private fun openListening(server: ServerProcess): Pair<Beckon, Requests> {
        val beckon = openOn(server)
        val requests = Requests()
        beckon.setIdentityTokenListener(requests::record)
        return beckon to requests
    }

    private fun flushed(beckon: Beckon, outcome: FlushOutcome): FlushReport {
        val report = beckon.flush(FLUSH_TIMEOUT_MS)
        assertEquals(outcome, report.outcome, report.toString())
        return report
    }

    /** The app's events, as `"name user"`, after checking none was stored twice. */
    private fun exportedOnce(server: ServerProcess): List<String> {
        val events = server.events()
        assertEquals(events.size, events.map { it.id }.toSet().size, "an event was stored twice: $events")
        return events.appEvents().map { "${it.name ?: it.type} ${it.userId}" }
    }

    /** Records each request for a token, with the thread it came on. */
    private class Requests {
        val heard: MutableList<Pair<String, IdentityProblem>> = Collections.synchronizedList(ArrayList())
        val threads: MutableList<String> = Collections.synchronizedList(ArrayList())

        fun record(userId: String, problem: IdentityProblem) {
            threads.add(Thread.currentThread().name)
            heard.add(userId to problem)
        }

        fun await(count: Int): List<Pair<String, IdentityProblem>> {
            val deadline = System.nanoTime() + 10_000_000_000L
            while (heard.size < count && System.nanoTime() < deadline) Thread.sleep(10)
            return heard.toList()
        }
    }

    @Test
    fun identifyWithAnHmacTokenUploadsTheUsersEventsOnce() {
        val server = verifyingServer()
        val (beckon, requests) = openListening(server)

        beckon.identify("ana", jsonOf("plan" to "gold"), identityToken = hmac("ana"))
        beckon.track(Event.Custom(name = "Viewed"))
        beckon.track(Event.Custom(name = "Bought"))
        flushed(beckon, FlushOutcome.DELIVERED)
        assertEquals(0uL, flushed(beckon, FlushOutcome.DELIVERED).uploaded)

        assertEquals(listOf("identify ana", "Viewed ana", "Bought ana"), exportedOnce(server))
        assertTrue(requests.heard.isEmpty())
    }

    @Test
    fun anExpiredJwtIsRenewedFromInsideTheCallbackAndEverythingArrivesOnce() {
        val server = verifyingServer()
        val beckon = openOn(server)
        val requests = Requests()
        beckon.setIdentityTokenListener { userId, problem ->
            requests.record(userId, problem)
            // The app's backend hands out a fresh token; given from inside the callback.
            beckon.setIdentityToken(userId, jwt(userId, nowSeconds() + 3600))
        }
        // Valid for 4 more seconds: the server allows a minute of clock difference.
        val issuedAt = System.nanoTime()
        beckon.identify("cleo", identityToken = jwt("cleo", nowSeconds() - 56))
        beckon.track(Event.Custom(name = "Viewed"))
        flushed(beckon, FlushOutcome.DELIVERED)

        beckon.track(Event.Custom(name = "Added"))
        beckon.track(Event.Custom(name = "Checked Out"))
        val left = 5_000 - (System.nanoTime() - issuedAt) / 1_000_000
        if (left > 0) Thread.sleep(left)
        val refused = flushed(beckon, FlushOutcome.WILL_RETRY)
        assertTrue(refused.error!!.contains("\"cleo\" (expired)"), refused.error)
        assertTrue(refused.queued >= 2uL, "nothing dropped: $refused")

        assertEquals(listOf("cleo" to IdentityProblem.EXPIRED), requests.await(1))
        val deadline = System.nanoTime() + 10_000_000_000L
        while (beckon.stats().queuedEvents > 0uL && System.nanoTime() < deadline) Thread.sleep(20)
        flushed(beckon, FlushOutcome.DELIVERED)

        assertEquals(listOf("cleo" to IdentityProblem.EXPIRED), requests.heard.toList(), "asked once")
        assertTrue(requests.threads.none { it == Thread.currentThread().name }, "not on the caller's thread")
        assertEquals(
            listOf("identify cleo", "Viewed cleo", "Added cleo", "Checked Out cleo"),
            exportedOnce(server),
        )
        val stats = beckon.stats()
        assertEquals(0uL, stats.dropped.rejectedByServer)
        assertEquals(0uL, stats.queuedEvents)
    }

    @Test
    fun aWrongTokenIsReportedInvalidAndTheEventsWaitForTheRightOne() {
        val server = verifyingServer()
        val (beckon, requests) = openListening(server)

        beckon.identify("dan", identityToken = hmac("eve"))
        beckon.track(Event.Custom(name = "Viewed"))
        val refused = flushed(beckon, FlushOutcome.WILL_RETRY)
        assertTrue(refused.error!!.contains("\"dan\" (invalid)"), refused.error)
        assertEquals(listOf("dan" to IdentityProblem.INVALID), requests.await(1))
        assertTrue(beckon.stats().lastError!!.contains("\"dan\" (invalid)"))
        assertTrue(server.events().isEmpty(), "nothing stored without a valid token")

        // After the callback: the app got the right token from its backend.
        beckon.setIdentityToken("dan", hmac("dan"))
        flushed(beckon, FlushOutcome.DELIVERED)
        assertEquals(listOf("identify dan", "Viewed dan"), exportedOnce(server))
        assertEquals(1, requests.heard.size)
    }

    @Test
    fun badTokensThrowOnlyTheTypedExceptionNamingTheArgument() {
        val beckon = open(tempDir(), deadServerUrl())
        val bad = listOf("", " ", "two words", "x".repeat(5_000), "café", "emoji\uD83D\uDE00", "\uD800", "a\uDC00b")
        for (token in bad) {
            val thrown = assertFailsWith<BeckonException.InvalidArgument>(token) {
                beckon.identify("ivy", emptyMap(), token)
            }
            assertTrue(thrown.message!!.contains("identity_token"), thrown.message)
            val again = assertFailsWith<BeckonException.InvalidArgument>(token) {
                beckon.setIdentityToken("ivy", token)
            }
            assertTrue(again.message!!.contains("identity_token"), again.message)
        }
        val lone = assertFailsWith<BeckonException.InvalidArgument> { beckon.identify("iv\uD800y") }
        assertTrue(lone.message!!.contains("user_id"), lone.message)
        assertNull(beckon.userId(), "a refused identify changes nothing")
        assertEquals(0uL, beckon.stats().queuedEvents)
    }

    companion object {
        const val SECRET = "kotlin-identity-test-secret-51d2"

        /** What the app's backend computes: hex HMAC-SHA256 of the user id. */
        fun hmac(userId: String): String {
            val mac = Mac.getInstance("HmacSHA256")
            mac.init(SecretKeySpec(SECRET.toByteArray(), "HmacSHA256"))
            return mac.doFinal(userId.toByteArray()).joinToString("") { "%02x".format(it) }
        }

        private val keys: KeyPair by lazy {
            KeyPairGenerator.getInstance("RSA").apply { initialize(2048) }.generateKeyPair()
        }

        fun publicKeyPem(): String =
            "-----BEGIN PUBLIC KEY-----\n" +
                Base64.getMimeEncoder(64, "\n".toByteArray()).encodeToString(keys.public.encoded) +
                "\n-----END PUBLIC KEY-----\n"

        /** An RS256 JWT for [userId] expiring at [exp] (seconds since the epoch). */
        fun jwt(userId: String, exp: Long): String {
            val base64 = Base64.getUrlEncoder().withoutPadding()
            val header = base64.encodeToString("""{"alg":"RS256","typ":"JWT"}""".toByteArray())
            val claims = base64.encodeToString("""{"sub":"$userId","exp":$exp}""".toByteArray())
            val signature = Signature.getInstance("SHA256withRSA").run {
                initSign(keys.private)
                update("$header.$claims".toByteArray())
                sign()
            }
            return "$header.$claims.${base64.encodeToString(signature)}"
        }

        fun nowSeconds(): Long = System.currentTimeMillis() / 1000
    }
}
