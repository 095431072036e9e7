import Beckon
import XCTest

final class FlushTests: BeckonTestCase {
    func testFlushDeliversEveryQueuedEventToTheServerExactlyOnce() throws {
        let server = try startServer()
        let beckon = try openSynced(try tempDir(), server: server)
        let count = 45
        for i in 0..<count {
            try beckon.track(.custom(name: "Tick", properties: ["i": .integer(value: Int64(i))]))
        }
        XCTAssertEqual(try beckon.segments(), [], "ticks put the user in no built-in segment")
        let queued = try beckon.stats()
        XCTAssertEqual(queued.queuedEvents, UInt64(count))
        XCTAssertGreaterThan(queued.queuedBytes, 0)
        XCTAssertEqual(queued.uploadedEvents, 0)

        let report = try beckon.flush(timeoutMs: Self.flushTimeoutMs)
        XCTAssertEqual(report.outcome, .delivered, "\(report)")
        XCTAssertEqual(report.uploaded, UInt64(count))
        XCTAssertEqual(report.rejected, 0)
        XCTAssertEqual(report.queued, 0)
        XCTAssertNil(report.retryInMs)
        XCTAssertNil(report.error)

        let stats = try beckon.stats()
        XCTAssertEqual(stats.queuedEvents, 0)
        XCTAssertEqual(stats.queuedBytes, 0)
        XCTAssertEqual(stats.uploadedEvents, UInt64(count))
        XCTAssertGreaterThanOrEqual(stats.uploadedBatches, 1)
        XCTAssertEqual(stats.dropped.rejectedByServer, 0)
        XCTAssertNil(stats.lastError)

        let exported = try server.events()
        XCTAssertEqual(exported.count, count, "nothing but the ticks: \(exported.map(\.label))")
        XCTAssertEqual(Set(exported.map(\.id)).count, count, "an event id repeats")
        XCTAssertEqual(exported.compactMap { $0.properties["i"] }, (0..<count).map { JSON.number(Double($0)) })
        XCTAssertTrue(exported.allSatisfy { $0.name == "Tick" && $0.anonymousId == beckon.anonymousId() })

        // Nothing left: a second flush uploads nothing and the export is unchanged.
        let again = try beckon.flush(timeoutMs: Self.flushTimeoutMs)
        XCTAssertEqual(again.outcome, .delivered)
        XCTAssertEqual(again.uploaded, 0)
        XCTAssertEqual(try server.events().count, count)
    }

    func testFlushSplitsABigQueueIntoSeveralBatches() throws {
        let server = try startServer()
        var policy = Self.quiet
        policy.maxBatchEvents = 10
        policy.flushAt = 10
        let beckon = try open(try tempDir(), serverUrl: server.url, flushPolicy: policy)
        // flushAt = 10 lets the worker start uploading on its own; flush waits for the rest.
        for i in 0..<35 {
            try beckon.track(.custom(name: "Tock", properties: ["i": .integer(value: Int64(i))]))
        }
        let report = try beckon.flush(timeoutMs: Self.flushTimeoutMs)
        XCTAssertEqual(report.outcome, .delivered, "\(report)")
        XCTAssertEqual(report.queued, 0)
        let stats = try beckon.stats()
        XCTAssertEqual(stats.uploadedEvents, 35)
        XCTAssertGreaterThanOrEqual(stats.uploadedBatches, 4, "35 events in batches of 10: \(stats)")
        let exported = try server.appEvents()
        XCTAssertEqual(exported.compactMap { $0.properties["i"] }.sorted { "\($0)" < "\($1)" },
                       (0..<35).map { JSON.number(Double($0)) }.sorted { "\($0)" < "\($1)" })
        XCTAssertEqual(Set(exported.map(\.id)).count, 35)
    }

    func testFlushToADeadServerWillRetryAndKeepsTheEvents() throws {
        let beckon = try open(try tempDir(), serverUrl: try deadServerUrl())
        for _ in 0..<3 { try beckon.track(.custom(name: "Offline")) }
        let report = try beckon.flush(timeoutMs: Self.flushTimeoutMs)
        XCTAssertEqual(report.outcome, .willRetry, "\(report)")
        XCTAssertEqual(report.uploaded, 0)
        XCTAssertEqual(report.queued, 3)
        XCTAssertNotNil(report.error, "a failed flush says why")
        XCTAssertNotNil(report.retryInMs, "a failed flush says when it retries")

        let stats = try beckon.stats()
        XCTAssertEqual(stats.queuedEvents, 3)
        XCTAssertEqual(stats.uploadedEvents, 0)
        XCTAssertGreaterThanOrEqual(stats.retries, 1, "\(stats)")
        XCTAssertNotNil(stats.lastError)
    }

    func testEventsQueuedWhileTheServerWasDownAreDeliveredOnceItIsUp() throws {
        let dir = try tempDir()
        do {
            let offline = try open(dir, serverUrl: try deadServerUrl())
            for i in 0..<4 {
                try offline.track(.custom(name: "Queued Offline", properties: ["i": .integer(value: Int64(i))]))
            }
            XCTAssertEqual(try offline.flush(timeoutMs: Self.flushTimeoutMs).outcome, .willRetry)
            offline.shutdown()
        }
        let server = try startServer()
        let online = try open(dir, serverUrl: server.url)
        let report = try online.flush(timeoutMs: Self.flushTimeoutMs)
        XCTAssertEqual(report.outcome, .delivered, "\(report)")
        XCTAssertEqual(try online.stats().queuedEvents, 0)
        XCTAssertEqual(try server.events().compactMap { $0.properties["i"] }, [0, 1, 2, 3])
    }

    /// `try await beckon.flush(timeout:)` can only mean the async call: no synchronous
    /// `flush(timeout:)` or `sync(timeout:)` exists for an `await` to pick instead (as one
    /// did in a main.swift's top-level code), and the blocking ones have names of their own.
    func testFlushAndSyncTakingSecondsAreOnlyAsync() throws {
        let beckon = try open(try tempDir(), serverUrl: try deadServerUrl())
        // Each reference compiles only while one declaration has the name.
        let flush = beckon.flush(timeout:)
        let sync = beckon.sync(timeout:)
        let flushBlocking = beckon.flushBlocking(timeout:)
        let syncBlocking = beckon.syncBlocking(timeout:)
        XCTAssertTrue(type(of: flush) == ((TimeInterval) async throws -> FlushReport).self, "\(type(of: flush))")
        XCTAssertTrue(type(of: sync) == ((TimeInterval) async throws -> SyncReport).self, "\(type(of: sync))")
        XCTAssertTrue(type(of: flushBlocking) == ((TimeInterval) throws -> FlushReport).self)
        XCTAssertTrue(type(of: syncBlocking) == ((TimeInterval) throws -> SyncReport).self)
    }

    func testTheSecondsAndAsyncVariantsWaitForTheSameOutcome() async throws {
        let server = try startServer()
        let beckon = try open(try tempDir(), serverUrl: server.url)
        let synced = try await beckon.sync(timeout: 10)
        XCTAssertTrue([.updated, .notModified].contains(synced.outcome), "\(synced)")
        try beckon.track(.custom(name: "Async"))
        let report = try await beckon.flush(timeout: 20)
        XCTAssertEqual(report.outcome, .delivered, "\(report)")
        XCTAssertEqual(report.uploaded, 1)
        try beckon.track(.custom(name: "Blocking"))
        // The blocking variant has a name of its own, for synchronous code.
        func blockingFlush() throws -> FlushReport { try beckon.flushBlocking(timeout: 20) }
        let blocking = try blockingFlush()
        XCTAssertEqual(blocking.outcome, .delivered, "\(blocking)")
        XCTAssertEqual(try server.appEvents().map(\.label), ["Async", "Blocking"])

        // A server that takes the connection and never answers: flush gives up after the
        // timeout given in seconds (0.5 s: not 0, not 500 s).
        let silent = try SilentListener()
        defer { silent.close() }
        let stuck = try open(try tempDir(), serverUrl: silent.url)
        try stuck.track(.custom(name: "Stuck"))
        let started = Date()
        let timedOut = try await stuck.flush(timeout: 0.5)
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertEqual(timedOut.outcome, .timedOut, "\(timedOut)")
        XCTAssertEqual(timedOut.queued, 1)
        XCTAssertGreaterThanOrEqual(elapsed, 0.45)
        XCTAssertLessThan(elapsed, 4)
    }
}
