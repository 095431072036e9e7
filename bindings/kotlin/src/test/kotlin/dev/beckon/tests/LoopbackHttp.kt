// Loopback HTTP servers for the tests of PlatformHttpClient: the JDK's HttpServer for
// ordinary exchanges, and a raw socket server for what HttpServer hides or cannot do
// (header order on the wire, answers cut short).
package dev.beckon.tests

import com.sun.net.httpserver.HttpExchange
import com.sun.net.httpserver.HttpServer
import java.io.ByteArrayOutputStream
import java.io.InputStream
import java.io.OutputStream
import java.net.InetAddress
import java.net.InetSocketAddress
import java.net.ServerSocket
import java.net.Socket
import java.net.SocketException
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.CountDownLatch
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit
import java.util.zip.GZIPOutputStream

/** A JDK [HttpServer] on loopback; each handler runs on a thread of its own. */
class JdkServer : AutoCloseable {
    private val server = HttpServer.create(InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0)
    private val threads: ExecutorService = Executors.newCachedThreadPool { r -> Thread(r, "jdk-server").apply { isDaemon = true } }

    /** Released at [close]: handlers that stall wait on it. */
    val released = CountDownLatch(1)

    init {
        server.executor = threads
        server.start()
    }

    val url: String get() = "http://127.0.0.1:${server.address.port}"

    fun handle(path: String, handler: (HttpExchange) -> Unit) {
        server.createContext(path) { exchange ->
            try {
                handler(exchange)
            } catch (_: java.io.IOException) {
                // The client went away, as some tests want.
            } finally {
                exchange.close()
            }
        }
    }

    override fun close() {
        released.countDown()
        server.stop(0)
        threads.shutdownNow()
        threads.awaitTermination(5, TimeUnit.SECONDS)
    }
}

/** Sends [body] with [status] (a fixed length; chunked when [chunked]). */
fun HttpExchange.answer(status: Int, body: ByteArray = ByteArray(0), chunked: Boolean = false) {
    when {
        chunked -> {
            sendResponseHeaders(status, 0)
            responseBody.use { it.write(body) }
        }
        body.isEmpty() -> sendResponseHeaders(status, -1)
        else -> {
            sendResponseHeaders(status, body.size.toLong())
            responseBody.use { it.write(body) }
        }
    }
}

fun gzip(data: ByteArray): ByteArray {
    val out = ByteArrayOutputStream()
    GZIPOutputStream(out).use { it.write(data) }
    return out.toByteArray()
}

/** A request as it came over the wire: the request line, each header line in order, the body. */
class RawRequest(val line: String, val headers: List<Pair<String, String>>, val body: ByteArray) {
    fun values(name: String): List<String> = headers.filter { it.first.equals(name, ignoreCase = true) }.map { it.second }
}

/**
 * A server on a raw socket: reads one request per connection, records it, and lets
 * [respond] write whatever bytes it likes before the connection is closed.
 */
class RawServer(private val respond: (RawRequest, OutputStream) -> Unit) : AutoCloseable {
    private val socket = ServerSocket(0, 50, InetAddress.getLoopbackAddress())
    val requests = CopyOnWriteArrayList<RawRequest>()
    private val acceptor = Thread({ acceptAll() }, "raw-server").apply { isDaemon = true; start() }

    val url: String get() = "http://127.0.0.1:${socket.localPort}"

    private fun acceptAll() {
        while (true) {
            val client = try {
                socket.accept()
            } catch (_: SocketException) {
                return
            }
            Thread({ serve(client) }, "raw-server-connection").apply { isDaemon = true; start() }
        }
    }

    private fun serve(client: Socket) {
        client.use {
            try {
                val input = client.getInputStream()
                val head = readHead(input) ?: return
                val lines = head.split("\r\n")
                val headers = lines.drop(1).filter { it.isNotEmpty() }.map {
                    it.substringBefore(':') to it.substringAfter(':').trim()
                }
                val length = headers.lastOrNull { it.first.equals("content-length", ignoreCase = true) }?.second?.toInt() ?: 0
                val body = input.readNBytes(length)
                val request = RawRequest(lines[0], headers, body)
                requests.add(request)
                val output = client.getOutputStream()
                respond(request, output)
                output.flush()
            } catch (_: java.io.IOException) {
            }
        }
    }

    private fun readHead(input: InputStream): String? {
        val out = ByteArrayOutputStream()
        var matched = 0
        val end = "\r\n\r\n"
        while (matched < 4) {
            val b = input.read()
            if (b < 0) return null
            out.write(b)
            matched = if (b.toChar() == end[matched]) matched + 1 else if (b == '\r'.code) 1 else 0
        }
        return out.toString(Charsets.ISO_8859_1).removeSuffix(end)
    }

    override fun close() {
        socket.close()
        acceptor.join(5_000)
    }
}

/** Writes an HTTP/1.1 answer head (a `Connection: close` one) and then [body]. */
fun OutputStream.writeAnswer(statusLine: String, headers: List<Pair<String, String>>, body: ByteArray = ByteArray(0)) {
    val head = buildString {
        append("HTTP/1.1 ").append(statusLine).append("\r\n")
        for ((name, value) in headers) append(name).append(": ").append(value).append("\r\n")
        append("Connection: close\r\n\r\n")
    }
    write(head.toByteArray(Charsets.ISO_8859_1))
    write(body)
    flush()
}
