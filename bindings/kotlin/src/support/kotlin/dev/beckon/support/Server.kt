// Test and demo support: runs a beckon-server child process and reads its events export.
// Not part of the SDK.
package dev.beckon.support

import java.io.File
import java.net.HttpURLConnection
import java.net.URI
import java.nio.file.Path
import java.util.concurrent.TimeUnit

/** One line of `GET /v1/events`: the event as the server stored it. */
class ExportedEvent(val json: Map<String, Any?>) {
    val id: String get() = json["id"] as String
    val type: String get() = json["type"] as String
    val name: String? get() = json["name"] as String?
    val anonymousId: String get() = json["anonymous_id"] as String
    val userId: String? get() = json["user_id"] as String?
    /** The server's clock-corrected time. */
    val timestamp: String get() = json["timestamp"] as String

    @Suppress("UNCHECKED_CAST")
    val properties: Map<String, Any?> get() = json["properties"] as Map<String, Any?>? ?: emptyMap()

    @Suppress("UNCHECKED_CAST")
    val traits: Map<String, Any?> get() = json["traits"] as Map<String, Any?>? ?: emptyMap()

    override fun toString() = json.toString()
}

/** Reads the admin events export of a server at [baseUrl], page by page. */
class EventExport(private val baseUrl: String, private val adminToken: String) {
    /** Every event the server holds, oldest first. */
    fun all(pageSize: Int = 100): List<ExportedEvent> {
        val out = ArrayList<ExportedEvent>()
        var cursor: String? = null
        while (true) {
            val query = buildString {
                append("limit=").append(pageSize)
                if (cursor != null) append("&cursor=").append(java.net.URLEncoder.encode(cursor, "UTF-8"))
            }
            val page = get("/v1/events?$query")
            val lines = page.body.lineSequence().filter { it.isNotBlank() }.toList()
            lines.mapTo(out) { ExportedEvent(MiniJson.parseObject(it)) }
            val next = page.headers["beckon-next-cursor"]
                ?: throw IllegalStateException("export response has no beckon-next-cursor header")
            if (lines.isEmpty() || next == cursor) return out
            cursor = next
        }
    }

    class Response(val status: Int, val headers: Map<String, String>, val body: String)

    fun get(pathAndQuery: String): Response {
        val connection = URI(baseUrl.trimEnd('/') + pathAndQuery).toURL().openConnection() as HttpURLConnection
        connection.connectTimeout = 5_000
        connection.readTimeout = 15_000
        connection.setRequestProperty("Authorization", "Bearer $adminToken")
        try {
            val status = connection.responseCode
            val stream = if (status in 200..299) connection.inputStream else connection.errorStream
            val body = stream?.use { it.readBytes().toString(Charsets.UTF_8) } ?: ""
            check(status == 200) { "GET $pathAndQuery answered $status: $body" }
            val headers = connection.headerFields
                .filterKeys { it != null }
                .mapKeys { it.key.lowercase() }
                .mapValues { it.value.joinToString(",") }
            return Response(status, headers, body)
        } finally {
            connection.disconnect()
        }
    }
}

/**
 * The admin routes of a server at [baseUrl] (segments, campaigns, sizes), with the
 * admin token. Answers of every status are returned, not thrown, so tests can check
 * refusals too.
 */
class AdminApi(private val baseUrl: String, private val adminToken: String) {
    /** An answer: the status and the body, parsed when it is a JSON object. */
    class Answer(val status: Int, val body: String) {
        val json: Map<String, Any?> by lazy { MiniJson.parseObject(body) }

        override fun toString() = "$status $body"
    }

    fun get(path: String): Answer = send("GET", path, null)

    fun post(path: String, json: String? = null): Answer = send("POST", path, json)

    /** `GET`, failing unless the answer is 200; returns the JSON object. */
    fun read(path: String): Map<String, Any?> {
        val answer = get(path)
        check(answer.status == 200) { "GET $path answered $answer" }
        return answer.json
    }

    /** Creates a segment; fails unless the server answers 201. */
    fun createSegment(definition: String): Map<String, Any?> = created("/v1/admin/segments", definition)

    /** Creates a campaign; fails unless the server answers 201. */
    fun createCampaign(definition: String): Map<String, Any?> = created("/v1/admin/campaigns", definition)

    private fun created(path: String, definition: String): Map<String, Any?> {
        val answer = post(path, definition)
        check(answer.status == 201) { "POST $path answered $answer" }
        return answer.json
    }

    private fun send(method: String, path: String, json: String?): Answer {
        val connection = URI(baseUrl.trimEnd('/') + path).toURL().openConnection() as HttpURLConnection
        connection.requestMethod = method
        connection.connectTimeout = 5_000
        connection.readTimeout = 15_000
        connection.setRequestProperty("Authorization", "Bearer $adminToken")
        try {
            if (json != null) {
                val bytes = json.toByteArray(Charsets.UTF_8)
                connection.doOutput = true
                connection.setRequestProperty("Content-Type", "application/json")
                connection.setFixedLengthStreamingMode(bytes.size)
                connection.outputStream.use { it.write(bytes) }
            }
            val status = connection.responseCode
            val stream = if (status in 200..299) connection.inputStream else connection.errorStream
            return Answer(status, stream?.use { it.readBytes().toString(Charsets.UTF_8) } ?: "")
        } finally {
            connection.disconnect()
        }
    }
}

/**
 * A `beckon-server` child process on loopback with its own SQLite file in [workDir],
 * started with `extraArgs` after the usual flags (`--verify-identities required`…).
 * Its log goes to `server.log` there. [close] stops it (SIGTERM, then SIGKILL).
 */
class ServerProcess private constructor(
    private val process: Process,
    val url: String,
    val appKey: String,
    val adminToken: String,
    val log: File,
) : AutoCloseable {
    val export = EventExport(url, adminToken)
    val admin = AdminApi(url, adminToken)

    fun events(): List<ExportedEvent> = export.all()

    override fun close() {
        process.destroy()
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly()
            process.waitFor(5, TimeUnit.SECONDS)
        }
    }

    companion object {
        private val LISTENING = Regex("^beckon-server listening on (http://\\S+)$")

        /** The server binary: `-Dbeckon.server.binary=…`, else `target/debug/beckon-server`. */
        fun binary(): File = File(System.getProperty("beckon.server.binary") ?: "target/debug/beckon-server")

        fun start(
            workDir: Path,
            appKey: String = "test-app-key",
            adminToken: String = "test-admin-token",
            environment: Map<String, String> = emptyMap(),
            extraArgs: List<String> = emptyList(),
        ): ServerProcess {
            val binary = binary()
            check(binary.canExecute()) { "beckon-server binary not found at ${binary.absolutePath}" }
            val log = workDir.resolve("server.log").toFile()
            val process = ProcessBuilder(
                listOf(
                    binary.absolutePath,
                    "--listen", "127.0.0.1:0",
                    "--db", workDir.resolve("server.db").toString(),
                    "--app-key", appKey,
                    "--admin-token", adminToken,
                ) + extraArgs,
            )
                // The tests rely on a new database starting with the built-in segments.
                .apply {
                    environment().remove("BECKON_NO_BUILTIN_SEGMENTS")
                    environment().putAll(environment)
                }
                .redirectError(ProcessBuilder.Redirect.appendTo(log))
                .redirectInput(ProcessBuilder.Redirect.PIPE)
                .start()
            process.outputStream.close()
            val stdout = process.inputStream.bufferedReader()
            // The first stdout line tells the bound port; wait for it, but not forever.
            val first = java.util.concurrent.CompletableFuture.supplyAsync { stdout.readLine() }
            val line = try {
                first.get(60, TimeUnit.SECONDS)
            } catch (e: Exception) {
                process.destroyForcibly()
                throw IllegalStateException("beckon-server did not report its address: ${log.readTextOrEmpty()}", e)
            }
            val url = line?.let { LISTENING.matchEntire(it.trim()) }?.groupValues?.get(1)
            if (url == null) {
                process.destroyForcibly()
                throw IllegalStateException("beckon-server printed ${line?.let { "\"$it\"" } ?: "nothing"}: ${log.readTextOrEmpty()}")
            }
            // Keep draining stdout so the server can never block on a full pipe.
            Thread({ stdout.use { r -> while (r.readLine() != null) Unit } }, "beckon-server-stdout")
                .apply { isDaemon = true }
                .start()
            return ServerProcess(process, url, appKey, adminToken, log)
        }

        private fun File.readTextOrEmpty() = if (exists()) readText().takeLast(4000) else ""
    }
}

/**
 * Local stand-ins for FCM, APNs and the messaging webhook (`beckon-mock-providers`),
 * checking what the real providers check. [environment] is what a `beckon-server`
 * needs to deliver through them; [fcmReceived] lists what FCM accepted.
 */
class ProviderStandIns private constructor(
    private val process: Process,
    val environment: Map<String, String>,
) : AutoCloseable {
    val fcmUrl: String get() = environment.getValue("BECKON_FCM_BASE_URL")

    /** The messages FCM accepted, oldest first: `token`, `title`, `body`, `data`. */
    @Suppress("UNCHECKED_CAST")
    fun fcmReceived(): List<Map<String, Any?>> =
        MiniJson.parse(URI("$fcmUrl/mock/received").toURL().readText()) as List<Map<String, Any?>>

    override fun close() {
        process.destroy()
        if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly()
    }

    companion object {
        /** `-Dbeckon.providers.binary=…`, else `target/debug/beckon-mock-providers`. */
        fun binary(): File =
            File(System.getProperty("beckon.providers.binary") ?: "target/debug/beckon-mock-providers")

        fun start(workDir: Path): ProviderStandIns {
            val binary = binary()
            check(binary.canExecute()) { "beckon-mock-providers not found at ${binary.absolutePath}" }
            val log = workDir.resolve("providers.log").toFile()
            val process = ProcessBuilder(binary.absolutePath, workDir.toString())
                .redirectError(ProcessBuilder.Redirect.appendTo(log))
                .start()
            process.outputStream.close()
            val stdout = process.inputStream.bufferedReader()
            // It prints `KEY=value` lines, then `beckon-mock-providers ready`.
            val environment = java.util.concurrent.CompletableFuture.supplyAsync<Map<String, String>?> {
                val lines = HashMap<String, String>()
                var line = stdout.readLine()
                while (line != null && line != "beckon-mock-providers ready") {
                    line.split('=', limit = 2).takeIf { it.size == 2 }?.let { lines[it[0]] = it[1] }
                    line = stdout.readLine()
                }
                if (line == null) null else lines
            }
            val ready = try {
                environment.get(60, TimeUnit.SECONDS)
            } catch (e: Exception) {
                null
            }
            if (ready == null) {
                process.destroyForcibly()
                throw IllegalStateException("beckon-mock-providers did not start: ${if (log.exists()) log.readText() else ""}")
            }
            Thread({ stdout.use { r -> while (r.readLine() != null) Unit } }, "beckon-mock-providers-stdout")
                .apply { isDaemon = true }
                .start()
            return ProviderStandIns(process, ready)
        }
    }
}
