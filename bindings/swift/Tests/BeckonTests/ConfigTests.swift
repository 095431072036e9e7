import Beckon
import XCTest

final class ConfigTests: BeckonTestCase {
    func testAValidConfigOpensAnInstanceWithTheDesignDefaults() throws {
        let config = BeckonConfig(dataDir: try tempDir().path, serverUrl: "https://beckon.shop.example", appKey: Self.appKey)
        XCTAssertEqual(config.flushPolicy.flushAt, 20)
        XCTAssertEqual(config.flushPolicy.flushIntervalMs, 30_000)
        XCTAssertEqual(config.flushPolicy.maxBatchEvents, 500)
        XCTAssertEqual(config.flushPolicy.maxBatchBytes, 512_000)
        XCTAssertEqual(config.flushPolicy.retryBaseMs, 500)
        XCTAssertEqual(config.flushPolicy.retryMaxMs, 300_000)
        XCTAssertEqual(config.queueLimits.maxEvents, 10_000)
        XCTAssertEqual(config.queueLimits.maxBytes, 10 * 1024 * 1024)
        XCTAssertEqual(config.queueLimits.maxAgeSeconds, 30 * 24 * 3600)
        let beckon = try Beckon(config: config)
        defer { beckon.shutdown() }
        XCTAssertFalse(beckon.anonymousId().isEmpty)
        XCTAssertNil(beckon.userId())
        let stats = try beckon.stats()
        XCTAssertEqual(stats.queuedEvents, 0)
        XCTAssertEqual(stats.uploadedEvents, 0)
        XCTAssertEqual(stats.rejectedAtTrack, 0)
    }

    func testEachInvalidSettingThrowsInvalidConfigNamingIt() throws {
        let dir = try tempDir().path
        let good = BeckonConfig(dataDir: dir, serverUrl: "https://beckon.shop.example", appKey: Self.appKey)
        func with(_ change: (inout BeckonConfig) -> Void) -> BeckonConfig {
            var config = good
            change(&config)
            return config
        }
        let cases: [(BeckonConfig, String)] = [
            (with { $0.dataDir = "  " }, "data_dir"),
            (with { $0.serverUrl = "beckon.shop.example" }, "beckon.shop.example"),
            (with { $0.serverUrl = "ftp://beckon.shop.example" }, "http"),
            (with { $0.appKey = "" }, "app_key"),
            (with { $0.flushPolicy = FlushPolicy(flushAt: 0) }, "flush_at"),
            (with { $0.flushPolicy = FlushPolicy(maxBatchEvents: 501) }, "max_batch_events"),
            (with { $0.flushPolicy = FlushPolicy(maxBatchBytes: 1000) }, "max_batch_bytes"),
            (with { $0.flushPolicy = FlushPolicy(requestTimeoutMs: 0) }, "timeouts"),
            (with { $0.flushPolicy = FlushPolicy(retryBaseMs: 1000, retryMaxMs: 10) }, "retry_base_ms"),
            (with { $0.queueLimits = QueueLimits(maxEvents: 0) }, "queue_limits"),
        ]
        for (config, named) in cases {
            do {
                let beckon = try Beckon(config: config)
                beckon.shutdown()
                XCTFail("\(config) should be refused")
            } catch BeckonError.InvalidConfig(let message) {
                XCTAssertTrue(message.contains(named), "\"\(message)\" should name \(named)")
            } catch {
                XCTFail("expected BeckonError.InvalidConfig for \(config), got \(error)")
            }
        }
        // None of the refused configs left a lock behind: the directory still opens.
        let beckon = try Beckon(config: good)
        beckon.shutdown()
    }
}
