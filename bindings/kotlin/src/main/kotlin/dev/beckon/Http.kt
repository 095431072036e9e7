// Hand-written: the device's HTTP requests over the platform's own stack
// (java.net.HttpURLConnection: OkHttp inside on Android, the JDK's client on the JVM),
// which brings the system's trust store, proxies and network rules and keeps TLS out of
// the native library. The contract every HttpClient keeps is in src/net/exchange.rs.
package dev.beckon

import java.io.ByteArrayOutputStream
import java.io.EOFException
import java.io.FilterInputStream
import java.io.IOException
import java.io.InputStream
import java.io.PushbackInputStream
import java.net.ConnectException
import java.net.HttpURLConnection
import java.net.SocketTimeoutException
import java.net.URI
import java.net.UnknownHostException
import java.util.zip.GZIPInputStream
import java.util.zip.ZipException
import javax.net.ssl.SSLException

/**
 * Opens Beckon with its requests made by [PlatformHttpClient], the platform's own HTTP
 * stack: what apps call.
 *
 * ```
 * val beckon = Beckon(BeckonConfig(dataDir = dir, serverUrl = url, appKey = key))
 * ```
 *
 * To make the requests with a client of the app's own (its OkHttp client with its
 * certificate pinning, say), call `Beckon(config, http)` with an [HttpClient] instead.
 * Throws [BeckonException.InvalidConfig] on an invalid config, and fails on an unusable
 * data directory or one another live instance holds.
 */
fun Beckon(config: BeckonConfig): Beckon = Beckon(config, PlatformHttpClient())

/**
 * An [HttpClient] over [HttpURLConnection]: the system's trust store, proxies and
 * network rules, nothing to add to the app. Stateless: one instance may serve any number
 * of Beckon instances and threads.
 *
 * What it does with a request, as the contract of [HttpClient] asks:
 * - sends the method, URL, headers (in order, repeated names kept) and body as given;
 *   no cache (`useCaches = false`), no redirect followed (a 3xx is the answer), no
 *   cookies or credentials of its own;
 * - asks for gzip itself (unless the request names an `accept-encoding`) and decodes
 *   it; a body with any other content encoding is refused ([HttpClientException.Decode]);
 * - returns every status as an [HttpResponse] with all its headers in the order
 *   received, the body of a 4xx or 5xx included;
 * - reads at most [HttpRequest.maxResponseBytes] of the decoded body, in bounded
 *   chunks, and throws [HttpClientException.TooLarge] past it without reading on;
 * - gives up after [HttpRequest.timeoutMs]: connecting and each read are bounded by it,
 *   and the body is abandoned once the whole exchange has taken longer
 *   ([HttpClientException.Network]);
 * - throws [HttpClientException.Network] when there is no whole answer (no connection,
 *   a timeout, TLS, the connection closed before the body's end).
 *
 * Limits of [HttpURLConnection] (JDK and Android alike): a cookie handler or
 * authenticator the app installed process-wide (`CookieHandler.setDefault`,
 * `Authenticator.setDefault`) is consulted for every connection; on the JVM,
 * `useCaches = false` adds `Cache-Control: no-cache` and `Pragma: no-cache` to the
 * request. A POST body is buffered, not streamed: on the JVM a streamed request cannot
 * read a 401 answer (it throws `HttpRetryException`), and the device's 401 carries the
 * refused identity tokens.
 */
class PlatformHttpClient : HttpClient {
    override fun send(request: HttpRequest): HttpResponse {
        val timeoutMs = request.timeoutMs.coerceIn(1uL, Int.MAX_VALUE.toULong()).toLong()
        val exchange = Exchange(request, System.nanoTime() + timeoutMs * 1_000_000, timeoutMs)
        return exchange.run()
    }
}

/** The steps of one request, for the messages of the errors thrown. */
private enum class Step(val doing: String) {
    OPENING("opening a connection to"),
    CONNECTING("connecting to"),
    SENDING("sending the request to"),
    WAITING("waiting for the answer of"),
    READING("reading the answer of"),
}

private const val CHUNK = 16 * 1024

private class Exchange(
    private val request: HttpRequest,
    private val deadline: Long,
    private val timeoutMs: Long,
) {
    private var step = Step.OPENING
    private var connection: HttpURLConnection? = null

    /** `GET https://host/path`: the query left out of messages, it is not ours to show. */
    private val target: String = "${request.method.wire} ${request.url.substringBefore('?')}"

    fun run(): HttpResponse {
        var finished = false
        try {
            val connection = open()
            this.connection = connection
            step = Step.CONNECTING
            connection.connect()
            if (request.method == HttpMethod.POST) {
                step = Step.SENDING
                connection.outputStream.use { it.write(request.body) }
            }
            step = Step.WAITING
            val status = connection.responseCode
            if (status !in 100..999) throw IOException("the answer has no HTTP status line")
            checkDeadline()
            val headers = headersOf(connection)
            step = Step.READING
            val responseBody = readBody(connection, status, headers)
            finished = true
            return HttpResponse(status.toUShort(), headers, responseBody)
        } catch (e: HttpClientException) {
            throw e
        } catch (e: IOException) {
            throw HttpClientException.Network(describe(e))
        } catch (e: Exception) {
            // A URL HttpURLConnection cannot take, a header value it refuses…
            throw HttpClientException.Network("$target: ${step.doing} the server failed: ${e.javaClass.simpleName}: ${e.message}")
        } finally {
            // After a whole answer the stream was closed at its end and the connection is
            // back in the platform's pool; anything else must not be reused.
            if (!finished) connection?.disconnect()
        }
    }

    private fun open(): HttpURLConnection {
        val url = URI(request.url).toURL()
        val connection = url.openConnection() as? HttpURLConnection
            ?: throw IllegalArgumentException("not an http or https URL")
        connection.requestMethod = request.method.wire
        connection.useCaches = false
        connection.instanceFollowRedirects = false
        connection.allowUserInteraction = false
        connection.connectTimeout = timeoutMs.toInt()
        connection.readTimeout = timeoutMs.toInt()
        for (header in request.headers) {
            connection.addRequestProperty(header.name, header.value)
        }
        if (request.headers.none { it.name.equals("accept-encoding", ignoreCase = true) }) {
            connection.addRequestProperty("Accept-Encoding", "gzip")
        }
        // HttpURLConnection turns a GET with a body into a POST; the device sends none.
        require(request.method == HttpMethod.POST || request.body.isEmpty()) { "a GET request has no body" }
        if (request.method == HttpMethod.POST) {
            connection.doOutput = true
            // Not setFixedLengthStreamingMode: on the JVM a streamed request throws
            // HttpRetryException at a 401, and its body (the refused identity tokens) is
            // lost. The body is in memory already; buffering it costs one copy.
        }
        return connection
    }

    private fun checkDeadline() {
        if (System.nanoTime() - deadline > 0) {
            throw HttpClientException.Network("$target: no whole answer within the $timeoutMs ms timeout (${step.doing} the server)")
        }
    }

    private fun readBody(connection: HttpURLConnection, status: Int, headers: List<HttpHeader>): ByteArray {
        val limit = request.maxResponseBytes
        // No body by definition; some servers still name an encoding for it.
        if (status in 100..199 || status == 204 || status == 304) {
            runCatching { connection.inputStreamOrNull(status)?.close() }
            return ByteArray(0)
        }
        val encoding = headers.lastOrNull { it.name.equals("content-encoding", ignoreCase = true) }
            ?.value?.trim()?.lowercase()?.takeIf { it.isNotEmpty() } ?: "identity"
        val gzip = when (encoding) {
            "identity" -> false
            "gzip", "x-gzip" -> true
            else -> throw HttpClientException.Decode("the answer's content encoding \"$encoding\" is not one this client asked for")
        }
        val chunked = headers.any { it.name.equals("transfer-encoding", ignoreCase = true) }
        val declared = if (chunked) null else {
            headers.lastOrNull { it.name.equals("content-length", ignoreCase = true) }?.value?.trim()?.toLongOrNull()
        }
        // A gzip body's length says little of the decoded one's; an identity body's is it.
        if (!gzip && declared != null && declared >= 0 && declared.toULong() > limit) {
            throw HttpClientException.TooLarge(limit)
        }
        val raw = Counting(connection.inputStreamOrNull(status) ?: return ByteArray(0))
        val input = PushbackInputStream(raw, 1)
        var decoded: InputStream = input
        try {
            val first = input.read()
            if (first < 0) {
                // An empty body, even one said to be gzip: nothing to decode.
                checkLength(raw, declared)
                return ByteArray(0)
            }
            input.unread(first)
            if (gzip) {
                decoded = try {
                    GZIPInputStream(input, CHUNK)
                } catch (e: IOException) {
                    throw decodeOrNetwork(raw, declared, e)
                }
            }
            val initial = minOf(declared?.coerceAtLeast(0L)?.toULong() ?: CHUNK.toULong(), limit, CHUNK.toULong())
            val out = ByteArrayOutputStream(initial.toInt())
            val buffer = ByteArray(CHUNK)
            var total = 0uL
            while (true) {
                checkDeadline()
                // Up to one byte past the limit, to know whether there is more.
                val left = limit - total
                val want = if (left >= CHUNK.toULong()) CHUNK else left.toInt() + 1
                val n = try {
                    decoded.read(buffer, 0, want)
                } catch (e: IOException) {
                    throw if (gzip) decodeOrNetwork(raw, declared, e) else e
                }
                if (n < 0) break
                total += n.toULong()
                if (total > limit) throw HttpClientException.TooLarge(limit)
                out.write(buffer, 0, n)
            }
            if (gzip) {
                // The gzip data may end before the connection's stream does: read on (a
                // little) so the length can be checked and the connection reused.
                var left = CHUNK
                while (left > 0) {
                    val n = input.read(buffer, 0, left)
                    if (n < 0) break
                    left -= n
                }
            }
            checkLength(raw, declared)
            return out.toByteArray()
        } finally {
            // At the body's end this hands the connection back to the platform's pool.
            runCatching { decoded.close() }
        }
    }

    /** The JDK ends a body cut short of its `Content-Length` like a whole one. */
    private fun checkLength(raw: Counting, declared: Long?) {
        if (declared != null && raw.count < declared) {
            throw IOException("the connection closed after ${raw.count} of the answer's $declared bytes")
        }
    }

    /**
     * A gzip stream that fails: the connection's fault when its stream failed or ended
     * short, else the data's.
     */
    private fun decodeOrNetwork(raw: Counting, declared: Long?, e: IOException): Exception = when {
        raw.failure != null -> e
        declared != null && raw.ended && raw.count < declared -> e
        e is ZipException || e is EOFException -> HttpClientException.Decode("the answer's gzip body is damaged: ${e.message}")
        else -> e
    }

    private fun describe(e: IOException): String {
        val what = when (e) {
            is SocketTimeoutException -> "timed out after $timeoutMs ms"
            is UnknownHostException -> "unknown host ${e.message}"
            is ConnectException -> "connection failed: ${e.message}"
            is SSLException -> "TLS failed: ${e.message}"
            else -> "${e.javaClass.simpleName}: ${e.message}"
        }
        return "$target: ${step.doing} the server failed: $what"
    }
}

private val HttpMethod.wire: String
    get() = when (this) {
        HttpMethod.GET -> "GET"
        HttpMethod.POST -> "POST"
    }

/** The answer's body stream: the error stream for a 4xx or 5xx (null when it has none). */
private fun HttpURLConnection.inputStreamOrNull(status: Int): InputStream? =
    if (status >= 400) errorStream else inputStream

/**
 * Every header of the answer in the order received, one [HttpHeader] per line; left out:
 * the status line (the JDK's header 0, with no name) and the `X-Android-…` lines
 * Android's implementation adds of its own (timings, protocol), which no server sent.
 */
private fun headersOf(connection: HttpURLConnection): List<HttpHeader> {
    val headers = ArrayList<HttpHeader>()
    var i = 0
    while (true) {
        val name = connection.getHeaderFieldKey(i)
        val value = connection.getHeaderField(i)
        if (name == null && value == null) break
        if (name != null && value != null && !name.startsWith("X-Android-", ignoreCase = true)) {
            headers.add(HttpHeader(name, value))
        }
        i++
    }
    return headers
}

/** Counts the bytes read, and notes whether the stream ended or failed. */
private class Counting(stream: InputStream) : FilterInputStream(stream) {
    var count = 0L
    var ended = false
    var failure: IOException? = null

    override fun read(): Int {
        val b = guarded { super.read() }
        if (b < 0) ended = true else count++
        return b
    }

    override fun read(b: ByteArray, off: Int, len: Int): Int {
        val n = guarded { super.read(b, off, len) }
        if (n < 0) ended = true else count += n
        return n
    }

    private inline fun guarded(read: () -> Int): Int = try {
        read()
    } catch (e: IOException) {
        failure = e
        throw e
    }
}
