package dev.beckon.tests

import dev.beckon.HttpClientException
import dev.beckon.HttpHeader
import dev.beckon.HttpMethod
import dev.beckon.HttpRequest
import dev.beckon.HttpResponse
import dev.beckon.PlatformHttpClient
import org.junit.After
import org.junit.Test
import java.net.InetAddress
import java.net.ServerSocket
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicBoolean
import java.util.concurrent.atomic.AtomicInteger
import kotlin.random.Random
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertTrue

/**
 * [PlatformHttpClient] against real servers on loopback: what goes on the wire, what
 * comes back, and every way an exchange can fail.
 */
class PlatformHttpClientTest {
    private val client = PlatformHttpClient()
    private val closing = ArrayList<AutoCloseable>()

    @After
    fun closeServers() {
        closing.asReversed().forEach { runCatching { it.close() } }
    }

    private fun jdkServer() = JdkServer().also { closing.add(it) }

    private fun rawServer(respond: (RawRequest, java.io.OutputStream) -> Unit) = RawServer(respond).also { closing.add(it) }

    private fun request(
        url: String,
        method: HttpMethod = HttpMethod.GET,
        headers: List<HttpHeader> = emptyList(),
        body: ByteArray = ByteArray(0),
        timeoutMs: Long = 5_000,
        limit: Long = 1 shl 20,
    ) = HttpRequest(method, url, headers, body, timeoutMs.toULong(), limit.toULong())

    private fun HttpResponse.values(name: String) = headers.filter { it.name.equals(name, ignoreCase = true) }.map { it.value }

    @Test
    fun aGetGoesOutAsGivenAndItsAnswerComesBackWithEveryHeaderInOrder() {
        val answered = listOf(
            "ETag" to "\"v1\"",
            "X-Multi" to "one",
            "Date" to "Tue, 02 Jun 2026 10:00:00 GMT",
            "X-Multi" to "two",
            "Content-Length" to "5",
        )
        val server = rawServer { _, out -> out.writeAnswer("200 OK", answered, "hello".toByteArray()) }
        val given = listOf(
            HttpHeader("user-agent", "beckon-sdk/test"),
            HttpHeader("x-beckon-app-key", "key-1"),
            HttpHeader("X-Repeat", "a"),
            HttpHeader("accept", "application/json"),
            HttpHeader("X-Repeat", "b"),
            HttpHeader("if-none-match", "\"v0\""),
        )
        val response = client.send(request("${server.url}/v1/sync?since=1", headers = given))

        val sent = server.requests.single()
        assertEquals("GET /v1/sync?since=1 HTTP/1.1", sent.line)
        // The request's own headers first, in its order, repeats kept, none replaced by
        // the platform's (one user agent, one accept).
        assertEquals(given.map { it.name to it.value }, sent.headers.take(given.size), "${sent.headers}")
        assertEquals(listOf("beckon-sdk/test"), sent.values("user-agent"))
        assertEquals(listOf("application/json"), sent.values("accept"))
        assertEquals(listOf("gzip"), sent.values("accept-encoding"), "the client asks for gzip itself")
        assertEquals(emptyList(), sent.values("cookie"))
        assertEquals(emptyList(), sent.values("content-length"), "a GET has no body")
        assertEquals(0, sent.body.size)

        assertEquals(200.toUShort(), response.status)
        assertEquals("hello", response.body.decodeToString())
        val received = response.headers.map { it.name to it.value }.filter { it.first != "Connection" }
        assertEquals(answered, received)
    }

    @Test
    fun aPostSendsItsBodyByteForByteWithItsLength() {
        val server = jdkServer()
        val seen = CopyOnWriteArrayList<String>()
        server.handle("/v1/batch") { exchange ->
            val body = exchange.requestBody.readBytes()
            seen.add("${exchange.requestMethod} ${exchange.requestHeaders.getFirst("Content-Length")} ${exchange.requestHeaders.getFirst("Content-Encoding")} ${exchange.requestHeaders.getFirst("Content-Type")}")
            exchange.answer(200, body.reversedArray())
        }
        val body = Random(7).nextBytes(300_000)
        val response = client.send(
            request(
                "${server.url}/v1/batch",
                HttpMethod.POST,
                listOf(HttpHeader("content-type", "application/json"), HttpHeader("content-encoding", "gzip")),
                body,
            ),
        )
        assertEquals(200.toUShort(), response.status)
        assertContentEquals(body.reversedArray(), response.body)
        assertEquals(listOf("POST 300000 gzip application/json"), seen)

        // An empty POST still says its length.
        val empty = client.send(request("${server.url}/v1/batch", HttpMethod.POST))
        assertEquals(0, empty.body.size)
        assertTrue(seen.last().startsWith("POST 0 null "), seen.last())
    }

    @Test
    fun errorStatusesAreAnswersWithTheirBodies() {
        val server = jdkServer()
        server.handle("/status/") { exchange ->
            exchange.requestBody.readBytes()
            val code = exchange.requestURI.path.substringAfterLast('/').toInt()
            if (code == 401) exchange.responseHeaders.add("WWW-Authenticate", "Bearer realm=\"beckon\"")
            if (code == 503) exchange.responseHeaders.add("Retry-After", "120")
            exchange.answer(code, if (code == 410) ByteArray(0) else "{\"error\":\"code $code\"}".toByteArray())
        }
        for (method in listOf(HttpMethod.GET, HttpMethod.POST)) {
            for (code in listOf(400, 401, 403, 404, 413, 429, 500, 503)) {
                val body = if (method == HttpMethod.POST) "{}".toByteArray() else ByteArray(0)
                val response = client.send(request("${server.url}/status/$code", method, body = body))
                assertEquals(code.toUShort(), response.status, "$method $code")
                assertEquals("{\"error\":\"code $code\"}", response.body.decodeToString(), "$method $code")
            }
            // A refusal with no body at all.
            val bare = client.send(request("${server.url}/status/410", method))
            assertEquals(410.toUShort(), bare.status)
            assertEquals(0, bare.body.size)
        }
        val unavailable = client.send(request("${server.url}/status/503"))
        assertEquals(listOf("120"), unavailable.values("retry-after"))
    }

    @Test
    fun notModifiedHasNoBodyWhateverItsHeadersSay() {
        val server = jdkServer()
        server.handle("/v1/sync") { exchange ->
            exchange.responseHeaders.add("ETag", "\"v7\"")
            exchange.responseHeaders.add("Content-Encoding", "gzip")
            exchange.answer(304)
        }
        val response = client.send(request("${server.url}/v1/sync", headers = listOf(HttpHeader("if-none-match", "\"v7\""))))
        assertEquals(304.toUShort(), response.status)
        assertEquals(0, response.body.size)
        assertEquals(listOf("\"v7\""), response.values("etag"))
    }

    @Test
    fun aRedirectIsTheAnswerAndIsNotFollowed() {
        val server = jdkServer()
        val followed = AtomicInteger()
        server.handle("/elsewhere") { exchange ->
            followed.incrementAndGet()
            exchange.answer(200, "followed".toByteArray())
        }
        server.handle("/v1/") { exchange ->
            exchange.requestBody.readBytes()
            exchange.responseHeaders.add("Location", "${server.url}/elsewhere")
            exchange.answer(302, "moved".toByteArray())
        }
        for (method in listOf(HttpMethod.GET, HttpMethod.POST)) {
            val body = if (method == HttpMethod.POST) "[]".toByteArray() else ByteArray(0)
            val response = client.send(request("${server.url}/v1/batch", method, body = body))
            assertEquals(302.toUShort(), response.status, "$method")
            assertEquals(listOf("${server.url}/elsewhere"), response.values("location"))
            assertEquals("moved", response.body.decodeToString())
        }
        assertEquals(0, followed.get(), "a redirect was followed")
    }

    @Test
    fun gzipAnswersAreDecodedAndOnlyAskedForWhenTheRequestDoesNot() {
        val server = jdkServer()
        val document = "{\"segments\":[${(1..2_000).joinToString(",") { "\"segment-$it\"" }}]}".toByteArray()
        val asked = CopyOnWriteArrayList<String?>()
        server.handle("/v1/sync") { exchange ->
            val accept = exchange.requestHeaders.getFirst("Accept-Encoding")
            asked.add(accept)
            if (accept == "gzip") {
                exchange.responseHeaders.add("Content-Encoding", "gzip")
                exchange.answer(200, gzip(document), chunked = exchange.requestURI.query == "chunked")
            } else {
                exchange.answer(200, document)
            }
        }
        for (query in listOf("fixed", "chunked")) {
            val response = client.send(request("${server.url}/v1/sync?$query"))
            assertContentEquals(document, response.body, query)
        }
        // A request naming its own accept-encoding gets no gzip it did not ask for.
        val identity = client.send(request("${server.url}/v1/sync", headers = listOf(HttpHeader("Accept-Encoding", "identity"))))
        assertContentEquals(document, identity.body)
        assertEquals(listOf<String?>("gzip", "gzip", "identity"), asked)
        assertTrue(gzip(document).size < document.size / 4, "the test's document should compress")
    }

    @Test
    fun anUnknownEncodingOrDamagedGzipIsADecodeError() {
        val server = jdkServer()
        server.handle("/br") { exchange ->
            exchange.responseHeaders.add("Content-Encoding", "br")
            exchange.answer(200, "not brotli".toByteArray())
        }
        server.handle("/damaged") { exchange ->
            exchange.responseHeaders.add("Content-Encoding", "gzip")
            val good = gzip("a body that will be damaged in the middle".repeat(20).toByteArray())
            for (i in 20 until 40) good[i] = (good[i].toInt() xor 0x5a).toByte()
            exchange.answer(200, good)
        }
        server.handle("/not-gzip") { exchange ->
            exchange.responseHeaders.add("Content-Encoding", "gzip")
            exchange.answer(200, "plain text said to be gzip".toByteArray())
        }
        val unknown = assertFailsWith<HttpClientException.Decode> { client.send(request("${server.url}/br")) }
        assertTrue(unknown.message.contains("br"), unknown.message)
        assertFailsWith<HttpClientException.Decode> { client.send(request("${server.url}/damaged")) }
        assertFailsWith<HttpClientException.Decode> { client.send(request("${server.url}/not-gzip")) }
    }

    @Test
    fun aBodyOverTheLimitIsTooLargeWithOrWithoutItsLength() {
        val server = jdkServer()
        val body = Random(3).nextBytes(10_000)
        server.handle("/fixed") { it.answer(200, body) }
        server.handle("/chunked") { it.answer(200, body, chunked = true) }
        server.handle("/error") { it.answer(500, body, chunked = true) }
        server.handle("/bomb") { exchange ->
            // 20 MB of zeros in a few kilobytes of gzip.
            exchange.responseHeaders.add("Content-Encoding", "gzip")
            exchange.answer(200, gzip(ByteArray(20 shl 20)))
        }
        for (path in listOf("/fixed", "/chunked", "/error", "/bomb")) {
            val error = assertFailsWith<HttpClientException.TooLarge>(path) {
                client.send(request("${server.url}$path", limit = 9_999))
            }
            assertEquals(9_999uL, error.limit, path)
        }
        // Exactly at the limit is fine.
        for (path in listOf("/fixed", "/chunked")) {
            assertContentEquals(body, client.send(request("${server.url}$path", limit = 10_000)).body, path)
        }
    }

    @Test
    fun anEndlessBodyIsNotReadPastTheLimit() {
        val server = jdkServer()
        val written = AtomicInteger()
        val finished = AtomicBoolean(false)
        server.handle("/endless") { exchange ->
            exchange.sendResponseHeaders(200, 0)
            val chunk = ByteArray(64 * 1024)
            exchange.responseBody.use { out ->
                // 1 GB unless the client stops reading.
                repeat(16 * 1024) {
                    out.write(chunk)
                    written.addAndGet(chunk.size)
                }
            }
            finished.set(true)
        }
        val started = System.nanoTime()
        assertFailsWith<HttpClientException.TooLarge> { client.send(request("${server.url}/endless", limit = 100_000)) }
        assertTrue(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started) < 5_000)
        Thread.sleep(500)
        assertFalse(finished.get(), "the whole endless body was read")
        assertTrue(written.get() < 64 shl 20, "the server wrote ${written.get()} bytes")
    }

    @Test
    fun aServerThatStallsIsANetworkErrorWithinTheTimeout() {
        val server = jdkServer()
        server.handle("/silent") { exchange ->
            exchange.requestBody.readBytes()
            server.released.await(30, TimeUnit.SECONDS)
        }
        server.handle("/dripping") { exchange ->
            // The head at once, then a byte every 100 ms: no read ever times out, the
            // exchange as a whole does.
            exchange.sendResponseHeaders(200, 0)
            exchange.responseBody.use { out ->
                repeat(300) {
                    out.write('x'.code)
                    out.flush()
                    if (server.released.await(100, TimeUnit.MILLISECONDS)) return@handle
                }
            }
        }
        for ((path, method) in listOf("/silent" to HttpMethod.GET, "/silent" to HttpMethod.POST, "/dripping" to HttpMethod.GET)) {
            val body = if (method == HttpMethod.POST) "[1]".toByteArray() else ByteArray(0)
            val started = System.nanoTime()
            val error = assertFailsWith<HttpClientException.Network>("$method $path") {
                client.send(request("${server.url}$path", method, body = body, timeoutMs = 800))
            }
            val ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started)
            assertTrue(ms in 700..2_500, "$method $path gave up after $ms ms: ${error.message}")
            assertTrue(error.message.contains("800 ms"), error.message)
        }
    }

    @Test
    fun aClosedPortIsANetworkErrorNamingWhatFailed() {
        val port = ServerSocket(0, 1, InetAddress.getLoopbackAddress()).use { it.localPort }
        val error = assertFailsWith<HttpClientException.Network> { client.send(request("http://127.0.0.1:$port/v1/sync")) }
        assertTrue(error.message.contains("connect"), error.message)
        assertTrue(error.message.contains("127.0.0.1:$port/v1/sync"), error.message)
        // Not HTTP at all, or no URL: still a Network error, not an exception of another kind.
        assertFailsWith<HttpClientException.Network> { client.send(request("ftp://127.0.0.1:$port/x")) }
        assertFailsWith<HttpClientException.Network> { client.send(request("not a url")) }
    }

    @Test
    fun aServerThatClosesMidBodyIsANetworkError() {
        val body = Random(5).nextBytes(4_000)
        val server = rawServer { request, out ->
            when (request.line.split(' ')[1]) {
                "/fixed" -> out.writeAnswer("200 OK", listOf("Content-Length" to "4000"), body.copyOf(1_000))
                "/gzip" -> {
                    val zipped = gzip(body)
                    out.writeAnswer(
                        "200 OK",
                        listOf("Content-Length" to zipped.size.toString(), "Content-Encoding" to "gzip"),
                        zipped.copyOf(zipped.size / 2),
                    )
                }
                "/chunked" -> out.writeAnswer("200 OK", listOf("Transfer-Encoding" to "chunked"), "3e8\r\n".toByteArray() + body.copyOf(1_000) + "\r\n3e8\r\n".toByteArray() + body.copyOf(10))
                "/whole" -> out.writeAnswer("200 OK", listOf("Content-Length" to "4000"), body)
                "/nothing" -> {}
            }
        }
        for (path in listOf("/fixed", "/gzip", "/chunked", "/nothing")) {
            assertFailsWith<HttpClientException.Network>(path) { client.send(request("${server.url}$path")) }
        }
        // The same server's whole answer is fine.
        assertContentEquals(body, client.send(request("${server.url}/whole")).body)
    }

    @Test
    fun aConnectionIsReusedAfterABodyReadToItsEndAndCarriesNoCookies() {
        val server = jdkServer()
        val ports = CopyOnWriteArrayList<Int>()
        val cookies = CopyOnWriteArrayList<String?>()
        server.handle("/v1/sync") { exchange ->
            ports.add(exchange.remoteAddress.port)
            cookies.add(exchange.requestHeaders.getFirst("Cookie"))
            exchange.responseHeaders.add("Set-Cookie", "session=abc; Path=/")
            exchange.answer(200, ByteArray(2_000) { 'y'.code.toByte() }, chunked = ports.size == 2)
        }
        repeat(3) { assertEquals(2_000, client.send(request("${server.url}/v1/sync")).body.size) }
        assertEquals(1, ports.toSet().size, "connections: $ports")
        assertEquals(listOf<String?>(null, null, null), cookies)
    }
}
