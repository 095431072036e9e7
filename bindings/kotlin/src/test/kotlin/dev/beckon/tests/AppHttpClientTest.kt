package dev.beckon.tests

import dev.beckon.Event
import dev.beckon.FlushOutcome
import dev.beckon.HttpClient
import dev.beckon.HttpClientException
import dev.beckon.HttpMethod
import dev.beckon.HttpRequest
import dev.beckon.HttpResponse
import dev.beckon.PlatformHttpClient
import dev.beckon.SyncOutcome
import dev.beckon.jsonOf
import dev.beckon.track
import org.junit.Test
import java.io.IOException
import java.net.Proxy
import java.net.ProxySelector
import java.net.SocketAddress
import java.net.URI
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.atomic.AtomicInteger
import kotlin.test.assertEquals
import kotlin.test.assertNotNull
import kotlin.test.assertTrue

/** Records every exchange an app's client makes, around another client. */
private class RecordingClient(private val inner: HttpClient) : HttpClient {
    val exchanges = CopyOnWriteArrayList<Pair<HttpRequest, HttpResponse>>()

    override fun send(request: HttpRequest): HttpResponse = inner.send(request).also { exchanges.add(request to it) }
}

private fun HttpRequest.header(name: String): String? = headers.firstOrNull { it.name.equals(name, ignoreCase = true) }?.value

/**
 * The device's requests through an [HttpClient]: the platform's one `Beckon(config)`
 * gives, and one of the app's own, against a real `beckon-server`.
 */
class AppHttpClientTest : BeckonTestBase() {
    @Test
    fun anAppsOwnClientCarriesTheEventsAndTheSync() {
        val server = startServer()
        val recording = RecordingClient(PlatformHttpClient())
        val beckon = open(tempDir(), server.url, http = recording)
        repeat(3) { i -> beckon.track(Event.Custom(name = "Through The App", properties = jsonOf("i" to i))) }

        val report = beckon.flush(FLUSH_TIMEOUT_MS)
        assertEquals(FlushOutcome.DELIVERED, report.outcome, "$report")
        assertEquals(listOf(0L, 1L, 2L), server.events().appEvents().map { it.properties["i"] as Long }.sorted())

        val batches = recording.exchanges.filter { (request, _) -> request.url == "${server.url}/v1/batch" }
        assertTrue(batches.isNotEmpty(), "no batch went through the app's client: ${recording.exchanges.map { it.first }}")
        for ((request, response) in batches) {
            assertEquals(HttpMethod.POST, request.method)
            assertEquals("gzip", request.header("content-encoding"))
            assertEquals(APP_KEY, request.header("x-beckon-app-key"))
            assertEquals(0x1f, request.body[0].toInt() and 0xff, "the batch is gzip")
            assertEquals(0x8b, request.body[1].toInt() and 0xff, "the batch is gzip")
            assertTrue(response.status.toInt() in 200..299, "${response.status}")
        }

        // The definitions (the SDK may have synced on its own at start), then a sync the
        // server answers 304 to the ETag of the first.
        val first = beckon.sync(SYNC_TIMEOUT_MS)
        assertTrue(first.outcome == SyncOutcome.UPDATED || first.outcome == SyncOutcome.NOT_MODIFIED, "$first")
        assertEquals(SyncOutcome.NOT_MODIFIED, beckon.sync(SYNC_TIMEOUT_MS).outcome)
        val syncs = recording.exchanges.filter { (request, _) -> request.url.startsWith("${server.url}/v1/sync") }
        assertTrue(syncs.size >= 2, "${syncs.map { it.first }}")
        val (download, document) = syncs.first()
        assertEquals(null, download.header("if-none-match"))
        assertEquals(200, document.status.toInt())
        assertTrue(document.body.decodeToString().trimStart().startsWith("{"), "the document is decoded JSON")
        val (revalidation, notModified) = syncs.last()
        assertEquals(HttpMethod.GET, revalidation.method)
        assertNotNull(revalidation.header("if-none-match"), "the second sync names the first one's ETag")
        assertEquals(304, notModified.status.toInt())
    }

    @Test
    fun anAppsClientThatThrowsLosesNoEvent() {
        val server = startServer()
        val dir = tempDir()
        val calls = AtomicInteger()
        val failing = object : HttpClient {
            override fun send(request: HttpRequest): HttpResponse {
                calls.incrementAndGet()
                throw IllegalStateException("the app's client is broken on purpose")
            }
        }
        open(dir, server.url, http = failing).let { broken ->
            repeat(3) { i -> broken.track(Event.Custom(name = "Kept", properties = jsonOf("i" to i))) }
            val report = broken.flush(FLUSH_TIMEOUT_MS)
            assertEquals(FlushOutcome.WILL_RETRY, report.outcome, "$report")
            assertEquals(0uL, report.uploaded)
            assertEquals(3uL, report.queued)
            val error = assertNotNull(report.error, "a failed flush says why")
            assertTrue(error.contains("broken on purpose"), error)
            assertNotNull(report.retryInMs)
            assertTrue(calls.get() >= 1)
            assertEquals(3uL, broken.stats().queuedEvents)
            broken.shutdown()
            broken.close()
        }
        assertEquals(emptyList(), server.events().appEvents())

        // The same data directory with a working client delivers what was kept.
        val working = open(dir, server.url)
        val report = working.flush(FLUSH_TIMEOUT_MS)
        assertEquals(FlushOutcome.DELIVERED, report.outcome, "$report")
        assertEquals(0uL, working.stats().queuedEvents)
        assertEquals(listOf(0L, 1L, 2L), server.events().appEvents().map { it.properties["i"] as Long }.sorted())
    }

    @Test
    fun aNetworkErrorOfTheAppsClientIsReportedAsIs() {
        val failing = object : HttpClient {
            override fun send(request: HttpRequest): HttpResponse =
                throw HttpClientException.Network("the VPN refused the request")
        }
        val beckon = open(tempDir(), startServer().url, http = failing)
        beckon.track(Event.Custom(name = "Blocked"))
        val report = beckon.flush(FLUSH_TIMEOUT_MS)
        assertEquals(FlushOutcome.WILL_RETRY, report.outcome, "$report")
        assertTrue(report.error?.contains("the VPN refused the request") == true, "${report.error}")
        assertEquals(1uL, beckon.stats().queuedEvents)
    }

    @Test
    fun beckonWithAConfigAloneUsesThePlatformsHttpStack() {
        // HttpURLConnection asks the JVM's proxy selector where to connect; the library's
        // own Rust client would not.
        val server = startServer()
        val asked = CopyOnWriteArrayList<URI>()
        val previous = ProxySelector.getDefault()
        ProxySelector.setDefault(object : ProxySelector() {
            override fun select(uri: URI): List<Proxy> {
                asked.add(uri)
                return listOf(Proxy.NO_PROXY)
            }

            override fun connectFailed(uri: URI, sa: SocketAddress, ioe: IOException) {}
        })
        try {
            val beckon = open(tempDir(), server.url)
            beckon.track(Event.Custom(name = "Platform"))
            assertEquals(FlushOutcome.DELIVERED, beckon.flush(FLUSH_TIMEOUT_MS).outcome)
        } finally {
            ProxySelector.setDefault(previous)
        }
        assertTrue(asked.any { it.toString() == "${server.url}/v1/batch" }, "the proxy selector saw $asked")
        assertEquals(listOf("Platform"), server.events().appEvents().map { it.name })
    }
}
