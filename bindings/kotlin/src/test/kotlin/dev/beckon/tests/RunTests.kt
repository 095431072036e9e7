// Runs every `*Test` class of this package with JUnit 4 and prints one line per test and
// a closing `N passed, N failed` line. Exits 1 if any test failed (or none ran).
//
//   java -cp … dev.beckon.tests.RunTestsKt [substring…]
//
// With arguments, only tests whose `Class.method` contains one of them run.
package dev.beckon.tests

import org.junit.runner.Description
import org.junit.runner.JUnitCore
import org.junit.runner.Request
import org.junit.runner.Result
import org.junit.runner.manipulation.Filter
import org.junit.runner.notification.Failure
import org.junit.runner.notification.RunListener
import java.io.File
import java.util.jar.JarFile
import kotlin.system.exitProcess

private const val PACKAGE = "dev.beckon.tests"

fun main(args: Array<String>) {
    val classes = testClasses()
    if (classes.isEmpty()) {
        println("no test classes found in $PACKAGE")
        println("0 passed, 1 failed")
        exitProcess(1)
    }
    val listener = PrintingListener()
    val core = JUnitCore()
    core.addListener(listener)
    var request = Request.classes(*classes.toTypedArray())
    if (args.isNotEmpty()) {
        request = request.filterWith(object : Filter() {
            override fun shouldRun(d: Description) =
                d.isSuite || args.any { "${d.testClass?.simpleName}.${d.methodName}".contains(it) }

            override fun describe() = "tests matching ${args.joinToString()}"
        })
    }
    val result = core.run(request)
    val passed = listener.passed
    val failed = result.failureCount
    val skipped = result.ignoreCount + listener.assumptionFailures
    println()
    println("Kotlin tests: ${classes.size} classes, %.1f s".format(result.runTime / 1000.0))
    if (skipped > 0) println("$passed passed, $failed failed, $skipped skipped") else println("$passed passed, $failed failed")
    exitProcess(if (failed == 0 && passed > 0) 0 else 1)
}

/** The `…Test` classes of [PACKAGE] in the jar (or directory) this runner was loaded from. */
private fun testClasses(): List<Class<*>> {
    val location = File(PrintingListener::class.java.protectionDomain.codeSource.location.toURI())
    val prefix = PACKAGE.replace('.', '/') + "/"
    val names = if (location.isFile) {
        JarFile(location).use { jar -> jar.entries().toList().map { it.name } }
    } else {
        location.walkTopDown().filter { it.isFile }.map { it.relativeTo(location).invariantSeparatorsPath }.toList()
    }
    return names
        .filter { it.startsWith(prefix) && it.endsWith("Test.class") && '$' !in it }
        .map { Class.forName(it.removeSuffix(".class").replace('/', '.')) }
        .sortedBy { it.simpleName }
}

private class PrintingListener : RunListener() {
    var passed = 0
    var assumptionFailures = 0
    private var failedCurrent = false
    private var started = 0L

    override fun testStarted(description: Description) {
        failedCurrent = false
        started = System.nanoTime()
    }

    override fun testFailure(failure: Failure) {
        failedCurrent = true
        val d = failure.description
        println("FAIL  ${d.testClass?.simpleName ?: d.displayName}.${d.methodName ?: ""}")
        // The message, then the frames worth reading: not JUnit's, not reflection's, not
        // the generated binding's plumbing (beckon.kt).
        val lines = failure.trace.lines().filter { it.isNotBlank() }
        val (frames, text) = lines.partition { it.trimStart().startsWith("at ") }
        text.take(10).forEach { println("      $it") }
        frames
            .filterNot { f -> listOf("at org.junit.", "at java.base/", "at jdk.internal.", "(beckon.kt:").any { f.contains(it) } }
            .take(8)
            .forEach { println("      $it") }
    }

    override fun testAssumptionFailure(failure: Failure) {
        failedCurrent = true
        assumptionFailures++
        println("SKIP  ${failure.description.testClass?.simpleName}.${failure.description.methodName}: ${failure.message}")
    }

    override fun testIgnored(description: Description) {
        println("SKIP  ${description.testClass?.simpleName}.${description.methodName} (ignored)")
    }

    override fun testFinished(description: Description) {
        if (!failedCurrent) {
            passed++
            val ms = (System.nanoTime() - started) / 1_000_000
            println("PASS  ${description.testClass?.simpleName}.${description.methodName} ($ms ms)")
        }
    }

    override fun testRunFinished(result: Result) {}
}
