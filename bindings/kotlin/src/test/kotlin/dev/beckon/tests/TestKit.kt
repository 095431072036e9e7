package dev.beckon.tests

import dev.beckon.Beckon
import dev.beckon.BeckonConfig
import dev.beckon.FlushPolicy
import dev.beckon.support.ServerProcess
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

    /** A fresh `beckon-server` on loopback with an empty database. */
    fun startServer(): ServerProcess {
        val server = ServerProcess.start(tempDir("beckon-server"), appKey = APP_KEY, adminToken = ADMIN_TOKEN)
        cleanups.add { server.close() }
        return server
    }

    /** Opens Beckon; it is shut down and its native handle freed after the test. */
    fun open(
        dataDir: Path,
        serverUrl: String,
        flushPolicy: FlushPolicy = QUIET,
    ): Beckon {
        val beckon = Beckon(BeckonConfig(dataDir.toString(), serverUrl, APP_KEY, flushPolicy = flushPolicy))
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
    }
}

