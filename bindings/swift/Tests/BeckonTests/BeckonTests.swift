// Tests of the generated Swift binding against a host build of libbeckon and a live
// beckon-server child process (target/debug/beckon-server, or BECKON_SERVER_BINARY).
import Beckon
import Foundation
import XCTest

final class BeckonTests: XCTestCase {
    private var cleanups: [() -> Void] = []

    override func tearDown() {
        for cleanup in cleanups.reversed() { cleanup() }
        cleanups.removeAll()
        super.tearDown()
    }

    private func tempDir() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("beckon-swift-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        cleanups.append { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    private static let quiet = FlushPolicy(flushAt: 500, flushIntervalMs: 3_600_000)

    private func open(_ dir: URL, serverUrl: String) throws -> Beckon {
        let beckon = try Beckon(config: BeckonConfig(
            dataDir: dir.path, serverUrl: serverUrl, appKey: TestServer.appKey, flushPolicy: Self.quiet))
        cleanups.append { beckon.shutdown() }
        return beckon
    }

    /// The README's Swift example, against a live server.
    func testTrackAndFlushDeliverToALiveServer() throws {
        let server = try TestServer.start(workDir: try tempDir())
        cleanups.append { server.stop() }
        let beckon = try open(try tempDir(), serverUrl: server.url)

        try beckon.identify(userId: "user-42", traits: ["plan": .text(value: "gold")])
        XCTAssertEqual(beckon.userId(), "user-42")
        let shoe = Product(productId: "sku-42", name: "Trail Runner", price: 89.90, currency: "EUR")
        try beckon.track(event: .productViewed(product: shoe))
        try beckon.track(event: .orderCompleted(order: Order(
            orderId: "order-1001", total: 97.06, revenue: 92.16, currency: "EUR", products: [shoe])))
        try beckon.screen(name: "Order Confirmation", properties: [:])
        XCTAssertEqual(try beckon.stats().queuedEvents, 4)

        let report = try beckon.flush(timeoutMs: 20_000)
        XCTAssertEqual(report.outcome, .delivered, "\(report)")
        XCTAssertEqual(report.uploaded, 4)
        XCTAssertEqual(report.queued, 0)
        let stats = try beckon.stats()
        XCTAssertEqual(stats.uploadedEvents, 4)
        XCTAssertEqual(stats.queuedEvents, 0)
    }

    func testAnInvalidEventThrowsInvalidEventNamingTheField() throws {
        let beckon = try open(try tempDir(), serverUrl: "http://127.0.0.1:9")
        let cases: [(Event, String)] = [
            (.productViewed(product: Product(productId: "")), "product.product_id"),
            (.productViewed(product: Product(productId: "sku-1", price: .nan)), "product.price"),
            (.cartViewed(cart: Cart(products: [], currency: "euro")), "cart.currency"),
            (.custom(name: "Order Completed"), "Order Completed"),
        ]
        for (event, field) in cases {
            XCTAssertThrowsError(try beckon.track(event: event)) { error in
                guard case let BeckonError.InvalidEvent(message) = error else {
                    return XCTFail("expected BeckonError.InvalidEvent, got \(error)")
                }
                XCTAssertTrue(message.contains(field), "\"\(message)\" should name \(field)")
            }
        }
        let stats = try beckon.stats()
        XCTAssertEqual(stats.queuedEvents, 0)
        XCTAssertEqual(stats.rejectedAtTrack, UInt64(cases.count))
    }

    func testAnInvalidConfigThrowsInvalidConfig() throws {
        let dir = try tempDir()
        XCTAssertThrowsError(try Beckon(config: BeckonConfig(dataDir: dir.path, serverUrl: "beckon.shop.example", appKey: "k"))) { error in
            guard case BeckonError.InvalidConfig = error else { return XCTFail("got \(error)") }
        }
        XCTAssertThrowsError(try Beckon(config: BeckonConfig(dataDir: dir.path, serverUrl: "https://beckon.shop.example", appKey: ""))) { error in
            guard case let BeckonError.InvalidConfig(message) = error else { return XCTFail("got \(error)") }
            XCTAssertTrue(message.contains("app_key"), message)
        }
    }

    func testIdentityResetAndPersistence() throws {
        let dir = try tempDir()
        let first = try open(dir, serverUrl: "http://127.0.0.1:9")
        let anonymous = first.anonymousId()
        try first.identify(userId: "user-7", traits: [:])
        try first.track(event: .custom(name: "Queued"))
        first.shutdown()
        XCTAssertThrowsError(try first.track(event: .custom(name: "Late"))) { error in
            guard case BeckonError.ShutDown = error else { return XCTFail("got \(error)") }
        }

        let second = try open(dir, serverUrl: "http://127.0.0.1:9")
        XCTAssertEqual(second.anonymousId(), anonymous)
        XCTAssertEqual(second.userId(), "user-7")
        XCTAssertEqual(try second.stats().queuedEvents, 2)
        XCTAssertThrowsError(try open(dir, serverUrl: "http://127.0.0.1:9")) { error in
            guard case BeckonError.AlreadyOpen = error else { return XCTFail("got \(error)") }
        }
        try second.reset()
        XCTAssertNil(second.userId())
        XCTAssertNotEqual(second.anonymousId(), anonymous)
    }

    func testFlushToADeadServerWillRetry() throws {
        let beckon = try open(try tempDir(), serverUrl: "http://127.0.0.1:9")
        try beckon.track(event: .applicationOpened(fromBackground: false))
        let report = try beckon.flush(timeoutMs: 20_000)
        XCTAssertEqual(report.outcome, .willRetry, "\(report)")
        XCTAssertEqual(report.queued, 1)
        XCTAssertNotNil(report.error)
    }
}

/// A beckon-server child process on loopback with its own SQLite file.
final class TestServer {
    static let appKey = "swift-test-key"
    let url: String
    private let process: Process

    private init(process: Process, url: String) {
        self.process = process
        self.url = url
    }

    static func start(workDir: URL) throws -> TestServer {
        let root = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let binary = ProcessInfo.processInfo.environment["BECKON_SERVER_BINARY"]
            ?? root.appendingPathComponent("target/debug/beckon-server").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "--listen", "127.0.0.1:0", "--db", workDir.appendingPathComponent("server.db").path,
            "--app-key", appKey, "--admin-token", "swift-test-admin",
        ]
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        // The first stdout line is "beckon-server listening on http://HOST:PORT".
        var line = Data()
        let deadline = Date().addingTimeInterval(60)
        while !line.contains(UInt8(ascii: "\n")) && Date() < deadline {
            let chunk = stdout.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let prefix = "beckon-server listening on "
        guard text.hasPrefix(prefix) else {
            process.terminate()
            throw NSError(domain: "TestServer", code: 1, userInfo: [NSLocalizedDescriptionKey: "beckon-server printed \"\(text)\""])
        }
        return TestServer(process: process, url: String(text.dropFirst(prefix.count)))
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
    }
}
