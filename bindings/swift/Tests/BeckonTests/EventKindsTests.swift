import Beckon
import XCTest

final class EventKindsTests: BeckonTestCase {
    func testTheCatalogueHasOneSampleOfEveryEventKind() throws {
        let declared = try EventCatalogue.declaredKinds()
        let sampled = EventCatalogue.samples.map(\.kind)
        XCTAssertEqual(sampled.count, Set(sampled).count, "a kind is sampled twice: \(sampled)")
        XCTAssertEqual(Set(sampled), declared, "every Event case needs a sample in EventCatalogue")
        XCTAssertGreaterThanOrEqual(declared.count, 36, "expected the full vocabulary, found \(declared.sorted())")
    }

    func testEveryEventKindIsStoredUploadedAndExportedWithItsNameAndProperties() throws {
        let server = try startServer()
        let beckon = try openSynced(try tempDir(), server: server)
        try beckon.identify("shopper-1", traits: ["plan": "gold"])
        for sample in EventCatalogue.samples {
            try beckon.track(sample.event)
        }
        // Waits until the engagement thread has seen every event, so the membership
        // reports those events cause are queued too.
        let segments = try beckon.segments()
        let expected = EventCatalogue.samples.count + 1 // the identify call is an event too
        let queued = try beckon.stats().queuedEvents

        let report = try beckon.flush(timeoutMs: Self.flushTimeoutMs)
        XCTAssertEqual(report.outcome, .delivered, "\(report)")
        XCTAssertEqual(report.uploaded, queued)
        XCTAssertEqual(report.rejected, 0)
        XCTAssertEqual(report.queued, 0)

        let all = try server.events()
        XCTAssertEqual(UInt64(all.count), queued, "the export holds exactly what was queued")
        XCTAssertEqual(all.count, Set(all.map(\.id)).count, "an event id repeats")
        for line in all {
            XCTAssertEqual(line.anonymousId, beckon.anonymousId())
            XCTAssertEqual(line.userId, "shopper-1")
        }
        // The SDK's own membership reports: one entry per segment the shopper is in now,
        // or an exit for one they passed through, never anything else.
        let reports = all.filter(\.isMembershipReport)
        let entered = reports.filter { $0.name == "Segment Entered" }.compactMap { $0.properties["segment_id"]?.string }
        let exited = reports.filter { $0.name == "Segment Exited" }.compactMap { $0.properties["segment_id"]?.string }
        XCTAssertEqual(entered.count + exited.count, reports.count, "every report names its segment: \(reports)")
        XCTAssertEqual(Set(entered).subtracting(exited), Set(segments), "reports: \(reports)")

        let app = all.filter { !$0.isMembershipReport }
        XCTAssertEqual(app.count, expected, "exported: \(app.map(\.label))")
        let identify = app.filter { $0.type == "identify" }
        XCTAssertEqual(identify.count, 1)
        XCTAssertEqual(identify.first?.traits["plan"], "gold")

        let byName = Dictionary(grouping: app.filter { $0.type != "identify" }, by: \.label)
        for sample in EventCatalogue.samples {
            guard let lines = byName[sample.name] else {
                XCTFail("\(sample.name) is missing from the export")
                continue
            }
            XCTAssertEqual(lines.count, 1, "\(sample.name) exported \(lines.count) times")
            let line = lines[0]
            XCTAssertEqual(line.type, sample.type, "type of \(sample.name)")
            for (key, value) in sample.properties {
                XCTAssertEqual(line.properties[key], value, "\(sample.name): property \(key) in \(line.properties)")
            }
            XCTAssertNotNil(line.timestamp)
        }
    }
}
