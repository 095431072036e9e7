package dev.beckon.tests

import dev.beckon.Beckon
import dev.beckon.BeckonConfig
import dev.beckon.FlushPolicy
import dev.beckon.HttpClient
import dev.beckon.support.ExportedEvent
import dev.beckon.support.ProviderStandIns
import dev.beckon.support.ServerProcess
import dev.beckon.support.SyncProxy
import org.junit.After
import java.net.InetAddress
import java.net.ServerSocket
import java.nio.file.Files
import java.nio.file.Path

/**
 * What the tests share: temporary directories, `beckon-server` child processes and
 * Beckon instances, all cleaned up after each test (instances shut down and closed,
 * servers stopped, directories deleted).
 */
abstract class BeckonTestBase {
    private val cleanups = ArrayList<() -> Unit>()

    @After
    fun cleanUp() {
        for (cleanup in cleanups.asReversed()) {
            runCatching(cleanup)
        }
        cleanups.clear()
    }

    fun tempDir(prefix: String = "beckon-test"): Path {
        val dir = Files.createTempDirectory(prefix)
        cleanups.add { dir.toFile().deleteRecursively() }
        return dir
    }

    /**
     * A fresh `beckon-server` on loopback with an empty database, started with
     * [extraArgs] after the usual flags (`--verify-identities required`…).
     */
    fun startServer(extraArgs: List<String> = emptyList()): ServerProcess {
        val server = ServerProcess.start(
            tempDir("beckon-server"),
            appKey = APP_KEY,
            adminToken = ADMIN_TOKEN,
            extraArgs = extraArgs,
        )
        cleanups.add { server.close() }
        return server
    }

    /** A `beckon-server` that delivers pushes through fresh [ProviderStandIns]. */
    fun startServerWithProviders(): Pair<ServerProcess, ProviderStandIns> {
        val providers = ProviderStandIns.start(tempDir("beckon-providers"))
        cleanups.add { providers.close() }
        val server = ServerProcess.start(
            tempDir("beckon-server"),
            appKey = APP_KEY,
            adminToken = ADMIN_TOKEN,
            environment = providers.environment,
        )
        cleanups.add { server.close() }
        return server to providers
    }

    /** A [SyncProxy] in front of [upstream], stopped after the test. */
    fun startProxy(upstream: String): SyncProxy {
        val proxy = SyncProxy.start(upstream)
        cleanups.add { proxy.close() }
        return proxy
    }

    /**
     * Opens Beckon, with its requests made by [http] when given (else the platform's
     * client, as apps get it); it is shut down and its native handle freed after the test.
     */
    fun open(
        dataDir: Path,
        serverUrl: String,
        flushPolicy: FlushPolicy = QUIET,
        http: HttpClient? = null,
    ): Beckon {
        val config = BeckonConfig(dataDir.toString(), serverUrl, APP_KEY, flushPolicy = flushPolicy)
        val beckon = if (http == null) Beckon(config) else Beckon(config, http)
        cleanups.add {
            beckon.shutdown()
            beckon.close()
        }
        return beckon
    }

    /** A loopback URL nothing listens on: uploads to it fail with "connection refused". */
    fun deadServerUrl(): String {
        val port = ServerSocket(0, 1, InetAddress.getLoopbackAddress()).use { it.localPort }
        return "http://127.0.0.1:$port"
    }

    companion object {
        const val APP_KEY = "test-app-key"
        const val ADMIN_TOKEN = "test-admin-token"

        /** Never uploads on its own during a test: only `flush()` does. */
        val QUIET = FlushPolicy(flushAt = 500, flushIntervalMs = 3_600_000, requestTimeoutMs = 5_000)

        const val FLUSH_TIMEOUT_MS = 20_000L
        const val SYNC_TIMEOUT_MS = 10_000L

        /** The events the SDK records itself when the user enters or leaves a segment. */
        const val SEGMENT_ENTERED = "Segment Entered"
        const val SEGMENT_EXITED = "Segment Exited"
    }
}

/** Whether this is one of the SDK's own segment membership reports. */
val ExportedEvent.isMembershipReport: Boolean
    get() = type == "track" && (name == BeckonTestBase.SEGMENT_ENTERED || name == BeckonTestBase.SEGMENT_EXITED)

/** What the app recorded: the export without the SDK's membership reports. */
fun List<ExportedEvent>.appEvents(): List<ExportedEvent> = filterNot { it.isMembershipReport }

/** The membership reports in store order, as `"Segment Entered cart_abandoner"`. */
fun List<ExportedEvent>.membershipReports(): List<String> =
    filter { it.isMembershipReport }.map { "${it.name} ${it.properties["segment_id"]}" }

