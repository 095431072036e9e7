import Beckon
import XCTest

final class LifecycleTests: BeckonTestCase {
    func testIdentityAndQueuedEventsSurviveARecreatedInstance() throws {
        let dir = try tempDir()
        let anonymousId: String
        do {
            let first = try open(dir, serverUrl: try deadServerUrl())
            try first.identify("user-7", traits: ["tier": "silver"])
            try first.track(.productViewed(product: Product(productId: "sku-1")))
            try first.track(.productAdded(cartId: "cart-1", product: Product(productId: "sku-1")))
            try first.track(.custom(name: "Before Restart"))
            XCTAssertEqual(try first.segments(), ["cart_abandoner"])
            anonymousId = first.anonymousId()
            // The four events and the report of entering cart_abandoner.
            XCTAssertEqual(try first.stats().queuedEvents, 5)
            first.shutdown()
        }

        let server = try startServer()
        let second = try openSynced(dir, server: server)
        XCTAssertEqual(second.anonymousId(), anonymousId)
        XCTAssertEqual(second.userId(), "user-7")
        XCTAssertEqual(try second.stats().queuedEvents, 5)
        XCTAssertEqual(try second.segments(), ["cart_abandoner"], "the user's history is kept too")

        try second.track(.custom(name: "After Restart"))
        _ = try second.segments()
        let report = try second.flush(timeoutMs: Self.flushTimeoutMs)
        XCTAssertEqual(report.outcome, .delivered, "\(report)")
        XCTAssertEqual(report.queued, 0)
        let exported = try server.events()
        XCTAssertEqual(exported.filter { !$0.isMembershipReport }.map(\.label),
                       ["identify", "Product Viewed", "Product Added", "Before Restart", "After Restart"])
        let reports = exported.filter(\.isMembershipReport)
        XCTAssertEqual(reports.map(\.label), ["Segment Entered"], "entered once, not again after the restart")
        XCTAssertEqual(reports.first?.properties["segment_id"], "cart_abandoner")
        XCTAssertTrue(exported.allSatisfy { $0.anonymousId == anonymousId && $0.userId == "user-7" }, "\(exported)")
    }

    func testReleasingTheLastReferenceWithoutShutdownAlsoReleasesTheDirectory() throws {
        let dir = try tempDir()
        let config = BeckonConfig(dataDir: dir.path, serverUrl: try deadServerUrl(), appKey: Self.appKey, flushPolicy: Self.quiet)
        let anonymousId: String = try {
            let first = try Beckon(config: config)
            try first.track(.custom(name: "Kept"))
            return first.anonymousId()
        }()
        let second = try Beckon(config: config)
        defer { second.shutdown() }
        XCTAssertEqual(second.anonymousId(), anonymousId)
        XCTAssertEqual(try second.stats().queuedEvents, 1)
    }

    func testTwoLiveInstancesCannotShareADataDirectory() throws {
        let dir = try tempDir()
        let url = try deadServerUrl()
        let first = try open(dir, serverUrl: url)
        XCTAssertThrowsError(try open(dir, serverUrl: url)) { error in
            guard case let BeckonError.AlreadyOpen(message) = error else {
                return XCTFail("expected BeckonError.AlreadyOpen, got \(error)")
            }
            XCTAssertTrue(message.contains(dir.lastPathComponent), "the message names the directory: \(message)")
        }
        // The first instance is unaffected, and once it is shut down the directory opens.
        try first.track(.custom(name: "Still Working"))
        first.shutdown()
        let second = try open(dir, serverUrl: url)
        XCTAssertEqual(try second.stats().queuedEvents, 1)
        // A different directory was never a problem.
        try open(try tempDir(), serverUrl: url).shutdown()
    }

    func testEveryCallAfterShutdownThrowsShutDown() throws {
        let beckon = try open(try tempDir(), serverUrl: try deadServerUrl())
        try beckon.track(.custom(name: "Before Shutdown"))
        beckon.shutdown()
        beckon.shutdown() // a second shutdown is harmless
        let calls: [(String, () throws -> Void)] = [
            ("track", { try beckon.track(.custom(name: "After Shutdown")) }),
            ("track(event:)", { try beckon.track(event: .custom(name: "After Shutdown")) }),
            ("screen", { try beckon.screen("Home") }),
            ("identify", { try beckon.identify("user-1") }),
            ("reset", { try beckon.reset() }),
            ("flush", { _ = try beckon.flush(timeoutMs: 1_000) }),
            ("sync", { _ = try beckon.sync(timeoutMs: 1_000) }),
            ("onForeground", { try beckon.onForeground() }),
            ("onBackground", { try beckon.onBackground() }),
            ("segments", { _ = try beckon.segments() }),
            ("setLocale", { try beckon.setLocale(locale: "pt-BR") }),
            ("setSegmentListener", { try beckon.setSegmentListener { _ in } }),
            ("setInAppListener", { try beckon.setInAppListener { _ in true } }),
            ("takeInAppMessage", { _ = try beckon.takeInAppMessage() }),
        ]
        for (name, call) in calls {
            XCTAssertThrowsError(try call(), name) { error in
                guard case let BeckonError.ShutDown(message) = error else {
                    return XCTFail("\(name): expected BeckonError.ShutDown, got \(error)")
                }
                XCTAssertTrue(message.contains("shut down"), "\(name): \(message)")
            }
        }
    }
}
