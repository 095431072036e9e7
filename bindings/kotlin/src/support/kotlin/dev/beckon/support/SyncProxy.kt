// Test support: a loopback proxy in front of a live beckon-server that can rewrite the
// sync document on its way to the device. Not part of the SDK.
package dev.beckon.support

import com.sun.net.httpserver.HttpExchange
import com.sun.net.httpserver.HttpServer
import java.net.HttpURLConnection
import java.net.InetAddress
import java.net.InetSocketAddress
import java.net.URI
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors
import java.util.concurrent.atomic.AtomicInteger

/**
 * Passes every request to [upstream] and every answer back unchanged, except the body
 * of a `200` answer to `GET /v1/sync`, which goes through [rewrite] first (ETag and
 * status are kept). Tests point the SDK at [url] to give it settings the server has no
 * flag for, such as a shorter in-app gap, or a document the server would never send.
 * A rewrite that throws answers `502` with the reason, so the sync fails visibly.
 */
class SyncProxy private constructor(
    private val http: HttpServer,
    private val executor: ExecutorService,
    private val upstream: String,
) : AutoCloseable {
    val url: String = "http://127.0.0.1:${http.address.port}"

    /** Applied to each sync document passed through; the identity by default. */
    @Volatile
    var rewrite: (String) -> String = { it }

    /** Sync documents passed through [rewrite] so far. */
    val rewritten = AtomicInteger()

    override fun close() {
        http.stop(0)
        executor.shutdownNow()
    }

    private fun handle(exchange: HttpExchange) {
        try {
            forward(exchange)
        } catch (e: Exception) {
            val body = "proxy: ${e.message ?: e.toString()}".toByteArray()
            runCatching {
                exchange.sendResponseHeaders(502, body.size.toLong())
                exchange.responseBody.write(body)
            }
        } finally {
            exchange.close()
        }
    }

    private fun forward(exchange: HttpExchange) {
        val target = upstream.trimEnd('/') + exchange.requestURI.rawPath +
            (exchange.requestURI.rawQuery?.let { "?$it" } ?: "")
        val connection = URI(target).toURL().openConnection() as HttpURLConnection
        connection.requestMethod = exchange.requestMethod
        connection.instanceFollowRedirects = false
        connection.useCaches = false
        connection.connectTimeout = 5_000
        connection.readTimeout = 15_000
        for ((name, values) in exchange.requestHeaders) {
            // Hop-by-hop headers are the connection's own; without Accept-Encoding the
            // sync document arrives as plain text to rewrite.
            if (name.lowercase() in NOT_FORWARDED) continue
            for (value in values) connection.addRequestProperty(name, value)
        }
        val requestBody = exchange.requestBody.readBytes()
        try {
            if (requestBody.isNotEmpty()) {
                connection.doOutput = true
                connection.setFixedLengthStreamingMode(requestBody.size)
                connection.outputStream.use { it.write(requestBody) }
            }
            val status = connection.responseCode
            val stream = if (status < 400) connection.inputStream else connection.errorStream
            var body = stream?.use { it.readBytes() } ?: ByteArray(0)
            if (exchange.requestMethod == "GET" && exchange.requestURI.path == "/v1/sync" && status == 200) {
                check(connection.contentEncoding == null) { "the sync document came encoded: ${connection.contentEncoding}" }
                body = rewrite(body.toString(Charsets.UTF_8)).toByteArray(Charsets.UTF_8)
                rewritten.incrementAndGet()
            }
            for ((name, values) in connection.headerFields) {
                if (name == null || name.lowercase() in NOT_FORWARDED) continue
                exchange.responseHeaders[name] = values
            }
            exchange.sendResponseHeaders(status, if (body.isEmpty()) -1 else body.size.toLong())
            if (body.isNotEmpty()) exchange.responseBody.write(body)
        } finally {
            connection.disconnect()
        }
    }

    companion object {
        private val NOT_FORWARDED = setOf(
            "host", "connection", "keep-alive", "content-length", "transfer-encoding", "accept-encoding",
        )
        private val MIN_GAP = Regex("\"in_app_min_gap_seconds\"\\s*:\\s*\\d+")

        /** A proxy to [upstream] on a free loopback port; [close] stops it. */
        fun start(upstream: String): SyncProxy {
            val http = HttpServer.create(InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0)
            val executor = Executors.newCachedThreadPool { task ->
                Thread(task, "sync-proxy").apply { isDaemon = true }
            }
            val proxy = SyncProxy(http, executor, upstream)
            http.createContext("/") { proxy.handle(it) }
            http.executor = executor
            http.start()
            return proxy
        }

        /** A [rewrite] that sets the document's minimum gap between in-app messages. */
        fun minGapSeconds(seconds: Int): (String) -> String = { document ->
            check(MIN_GAP.containsMatchIn(document)) { "no in_app_min_gap_seconds in the sync document: $document" }
            MIN_GAP.replace(document, "\"in_app_min_gap_seconds\":$seconds")
        }
    }
}
