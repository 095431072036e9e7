// An app's own HttpClient in `Beckon(config:http:)`, against a real beckon-server: the
// device's requests go through it, and a client that fails leaves the events queued.
// (Every other test opens Beckon with `Beckon(config:)`, so URLSessionHttpClient carries
// their uploads and syncs.)
import Beckon
import Foundation
import XCTest

/// The kind of client an app gives to see or shape the device's requests: it records each
/// one and hands it to URLSessionHttpClient.
final class RecordingHttpClient: HttpClient, @unchecked Sendable {
    struct Call {
        let request: HttpRequest
        let status: UInt16?
        let onMainThread: Bool
    }

    private let inner = URLSessionHttpClient()
    private let lock = NSLock()
    private var recorded: [Call] = []
    private var inFlight = 0
    private var mostInFlight = 0

    func send(request: HttpRequest) throws -> HttpResponse {
        lock.lock()
        inFlight += 1
        mostInFlight = max(mostInFlight, inFlight)
        lock.unlock()
        defer {
            lock.lock()
            inFlight -= 1
            lock.unlock()
        }
        var status: UInt16?
        defer {
            lock.lock()
            recorded.append(Call(request: request, status: status, onMainThread: Thread.isMainThread))
            lock.unlock()
        }
        let response = try inner.send(request: request)
        status = response.status
        return response
    }

    var calls: [Call] {
        lock.lock()
        defer { lock.unlock() }
        return recorded
    }

    /// The most requests that were ever in `send` at once.
    var concurrency: Int {
        lock.lock()
        defer { lock.unlock() }
        return mostInFlight
    }
}

/// An app's client whose network stack is down, failing with an error of the app's own
/// (not an HttpClientError).
final class FailingHttpClient: HttpClient, @unchecked Sendable {
    struct StackDown: Error, CustomStringConvertible {
        var description: String { "the app's network stack is down" }
    }

    let urls = Inbox<String>()

    func send(request: HttpRequest) throws -> HttpResponse {
        urls.add(request.url)
        throw StackDown()
    }
}

final class HttpClientEndToEndTests: BeckonTestCase {
    func config(_ dir: URL, serverUrl: String) -> BeckonConfig {
        BeckonConfig(dataDir: dir.path, serverUrl: serverUrl, appKey: Self.appKey, flushPolicy: Self.quiet)
    }

    func testTheDevicesRequestsGoThroughTheAppsClient() throws {
        let server = try startServer()
        let recorder = RecordingHttpClient()
        let beckon = try Beckon(config: config(try tempDir(), serverUrl: server.url), http: recorder)
        addCleanup { beckon.shutdown() }

        let synced = try beckon.sync(timeoutMs: 10_000)
        XCTAssertTrue([.updated, .notModified].contains(synced.outcome), "\(synced)")
        for i in 0..<3 {
            try beckon.track(.custom(name: "Through The App", properties: ["i": .integer(value: Int64(i))]))
        }
        let report = try beckon.flush(timeoutMs: Self.flushTimeoutMs)
        XCTAssertEqual(report.outcome, .delivered, "\(report)")
        XCTAssertEqual(report.uploaded, 3)
        XCTAssertEqual(try server.appEvents().compactMap { $0.properties["i"] }, [0, 1, 2])

        let calls = recorder.calls
        let batches = calls.filter { $0.request.url == server.url + "/v1/batch" }
        XCTAssertFalse(batches.isEmpty, "the upload went through the app's client: \(calls.map(\.request.url))")
        for call in batches {
            let request = call.request
            XCTAssertEqual(request.method, .post)
            XCTAssertEqual(value(request, "content-encoding"), "gzip")
            XCTAssertEqual(value(request, "x-beckon-app-key"), Self.appKey)
            XCTAssertEqual(Array(request.body.prefix(2)), [0x1F, 0x8B], "the body is the gzip the header names")
            XCTAssertGreaterThan(request.timeoutMs, 0)
            XCTAssertGreaterThan(request.maxResponseBytes, 0)
            XCTAssertEqual(call.status, 200)
        }
        let syncs = calls.filter { $0.request.url.hasPrefix(server.url + "/v1/sync") }
        XCTAssertFalse(syncs.isEmpty, "the sync went through the app's client too")
        XCTAssertTrue(syncs.allSatisfy { $0.request.method == .get && $0.request.body.isEmpty })
        XCTAssertTrue(syncs.allSatisfy { value($0.request, "x-beckon-app-key") == Self.appKey })
        XCTAssertTrue(calls.allSatisfy { !$0.onMainThread }, "send is called on Beckon's threads")
        XCTAssertEqual(recorder.concurrency, 1, "one request at a time")
    }

    func testEventsAClientFailedToSendStayQueuedForTheNextOne() throws {
        let server = try startServer()
        let dir = try tempDir()
        let failing = FailingHttpClient()
        do {
            let first = try Beckon(config: config(dir, serverUrl: server.url), http: failing)
            for i in 0..<2 {
                try first.track(.custom(name: "Held Back", properties: ["i": .integer(value: Int64(i))]))
            }
            let report = try first.flush(timeoutMs: Self.flushTimeoutMs)
            XCTAssertEqual(report.outcome, .willRetry, "\(report)")
            XCTAssertEqual(report.uploaded, 0)
            XCTAssertEqual(report.queued, 2)
            let error = try XCTUnwrap(report.error)
            XCTAssertTrue(error.contains("the app's network stack is down"), "the app's error is named: \(error)")
            XCTAssertTrue(failing.urls.all.contains(server.url + "/v1/batch"), "\(failing.urls.all)")
            let stats = try first.stats()
            XCTAssertEqual(stats.queuedEvents, 2)
            XCTAssertEqual(stats.uploadedEvents, 0)
            first.shutdown()
        }
        XCTAssertEqual(try server.appEvents().count, 0, "nothing reached the server")

        // The same data directory with a working client (URLSession's): the events go.
        let second = try open(dir, serverUrl: server.url)
        let report = try second.flush(timeoutMs: Self.flushTimeoutMs)
        XCTAssertEqual(report.outcome, .delivered, "\(report)")
        XCTAssertEqual(report.uploaded, 2)
        let exported = try server.appEvents()
        XCTAssertEqual(exported.map(\.label), ["Held Back", "Held Back"])
        XCTAssertEqual(exported.compactMap { $0.properties["i"] }, [0, 1])
        XCTAssertEqual(Set(exported.map(\.id)).count, 2)
        XCTAssertEqual(try second.stats().queuedEvents, 0)
    }

    private func value(_ request: HttpRequest, _ name: String) -> String? {
        request.headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}
