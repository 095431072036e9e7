// Deeply nested properties and traits, passed on the main thread and on threads with
// small stacks: the core refuses them with its own error naming the field, stores nothing,
// and keeps working. Before the binding wrote JsonValue without recursion, a value 3,000
// levels deep (1,000 in a debug build) crashed a 512 KB thread with SIGSEGV inside the
// generated writer.
import Beckon
import Foundation
import XCTest

final class DeepValueTests: BeckonTestCase {
    /// What the core's refusal of a value nested past its 8 levels says.
    static let tooDeep = "nests deeper than 8 levels"

    func testEveryEventKindWithADeepPropertyIsRefusedOnEveryThread() throws {
        XCTAssertEqual(Set(everyEvent(properties: [:]).map(caseName)), try EventCatalogue.declaredKinds(),
                       "everyEvent(properties:) needs every Event case")
        let beckon = try open(try tempDir(), serverUrl: try deadServerUrl())
        for place in Place.all {
            for (name, deep) in Deep.all {
                let before = try beckon.stats()
                let refusals = try place.run { () -> [String] in
                    everyEvent(properties: ["d": deep]).map { event in
                        Self.refusal { try beckon.track(event) }
                    }
                }
                for (event, refusal) in zip(everyEvent(properties: [:]), refusals) {
                    Self.check(refusal, is: "InvalidEvent", naming: "properties.d", "\(caseName(event)) with \(name) on \(place)")
                }
                let after = try beckon.stats()
                XCTAssertEqual(after.queuedEvents, before.queuedEvents, "\(name) on \(place): stored")
                XCTAssertEqual(after.queuedBytes, before.queuedBytes)
                XCTAssertEqual(after.rejectedAtTrack, before.rejectedAtTrack + UInt64(refusals.count))
            }
            try place.run { try beckon.track(.custom(name: "Valid After", properties: ["d": Deep.objects(7)])) }
        }
        XCTAssertEqual(try beckon.stats().queuedEvents, UInt64(Place.all.count), "the valid events were stored")
    }

    /// The report's case, as written there: a `JsonValue` nested 3,000 deep tracked on a
    /// 512 KB thread; also 20,000 deep, on 256 KB and on the main thread.
    func testTheReportedCaseAndDeeperOnesThrowInvalidEventNamingTheField() throws {
        let beckon = try open(try tempDir(), serverUrl: try deadServerUrl())
        for place in Place.all {
            for deep in [Deep.objects3000, Deep.objects20000] {
                let refusal = try place.run { Self.refusal { try beckon.track(.custom(name: "Deep", properties: ["d": deep])) } }
                Self.check(refusal, is: "InvalidEvent", naming: "properties.d", "track on \(place)")
                XCTAssertTrue(refusal.contains("properties.d.k.k.k.k.k.k.k"), refusal)
            }
            try place.run { try beckon.track(.custom(name: "Shallow", properties: ["d": ["k": "x"]])) }
        }
        let stats = try beckon.stats()
        XCTAssertEqual(stats.queuedEvents, UInt64(Place.all.count))
        XCTAssertEqual(stats.rejectedAtTrack, UInt64(2 * Place.all.count))
    }

    func testScreenWithADeepPropertyIsRefusedOnEveryThread() throws {
        let beckon = try open(try tempDir(), serverUrl: try deadServerUrl())
        for place in Place.all {
            for (name, deep) in Deep.all {
                let before = try beckon.stats()
                let refusal = try place.run { Self.refusal { try beckon.screen("Home", properties: ["d": deep]) } }
                Self.check(refusal, is: "InvalidEvent", naming: "properties.d", "screen with \(name) on \(place)")
                let after = try beckon.stats()
                XCTAssertEqual(after.queuedEvents, before.queuedEvents, "\(name) on \(place): stored")
                XCTAssertEqual(after.rejectedAtTrack, before.rejectedAtTrack + 1)
            }
            try place.run { try beckon.screen("Home", properties: ["ok": true]) }
        }
        XCTAssertEqual(try beckon.stats().queuedEvents, UInt64(Place.all.count))
    }

    func testIdentifyWithDeepTraitsIsRefusedOnEveryThreadAndChangesNothing() throws {
        let beckon = try open(try tempDir(), serverUrl: try deadServerUrl())
        try beckon.identify("user-1", traits: ["plan": "gold"])
        for place in Place.all {
            for (name, deep) in Deep.all {
                let before = try beckon.stats()
                let refusal = try place.run {
                    Self.refusal { try beckon.identify("user-2", traits: ["d": deep], identityToken: "token-2") }
                }
                Self.check(refusal, is: "InvalidArgument", naming: "traits.d", "identify with \(name) on \(place)")
                XCTAssertEqual(beckon.userId(), "user-1", "\(name) on \(place): the refused identify changed the user")
                XCTAssertEqual(try beckon.stats().queuedEvents, before.queuedEvents, "\(name) on \(place): stored")
            }
        }
        for place in Place.all {
            try place.run { try beckon.identify("user-3", traits: ["d": Deep.objects(7)]) }
        }
        XCTAssertEqual(beckon.userId(), "user-3")
        XCTAssertEqual(try beckon.stats().queuedEvents, UInt64(1 + Place.all.count), "each valid identify is an event")
    }

    /// What reaches the core is refused by the same rule at any depth past 8: just past
    /// it, around the writer's cut at 64 levels, and far beyond.
    func testTheCoreRefusesEveryDepthPastEightTheSameWay() throws {
        let beckon = try open(try tempDir(), serverUrl: try deadServerUrl())
        for depth in [7, 8, 9, 63, 64, 65, 66, 200] {
            // `depth` objects around a string: the string sits at level depth + 1.
            let result = Self.refusal { try beckon.track(.custom(name: "Deep", properties: ["d": Deep.objects(depth)])) }
            if depth + 1 <= 8 {
                XCTAssertEqual(result, "", "depth \(depth + 1) is allowed")
            } else {
                Self.check(result, is: "InvalidEvent", naming: "properties.d", "depth \(depth + 1)")
                let path = "properties.d" + String(repeating: ".k", count: 8)
                XCTAssertTrue(result.contains("invalid event: \(path): \(Self.tooDeep)"), "depth \(depth + 1): \(result)")
            }
        }
        XCTAssertEqual(try beckon.stats().queuedEvents, 1, "only the value 8 levels deep")
    }

    /// A push's `userInfo` is written as JSON text without recursion: nested 20,000 levels
    /// deep it is over the core's 4096-byte limit, 200 levels deep (in under 4096 bytes) it
    /// is deeper than the core's JSON reader takes; both are refused with
    /// `BeckonError.InvalidPush` on every thread, and nothing is recorded. 100 levels are
    /// read, and the push handled.
    func testADeeplyNestedUserInfoIsRefusedByTheCoreOnEveryThread() throws {
        let beckon = try open(try tempDir(), serverUrl: try deadServerUrl())
        try beckon.setDeepLinkRoutes(routes: Pushes.routes, allowedHosts: Pushes.hosts)
        for (number, place) in Place.all.enumerated() {
            let before = try beckon.stats().queuedEvents
            let oversized = try place.run { Self.refusal { _ = try beckon.handlePush(DeepUserInfo.levels20000) } }
            XCTAssertTrue(oversized.hasPrefix("InvalidPush: "), "on \(place): \(oversized)")
            XCTAssertTrue(oversized.contains("4096-byte limit"), "on \(place): \(oversized)")
            let tooDeep = try place.run { Self.refusal { _ = try beckon.handlePush(DeepUserInfo.levels200) } }
            XCTAssertTrue(tooDeep.hasPrefix("InvalidPush: "), "on \(place): \(tooDeep)")
            XCTAssertTrue(tooDeep.contains("is not JSON"), "on \(place): \(tooDeep)")
            XCTAssertEqual(try beckon.stats().queuedEvents, before, "on \(place): recorded")
            // The push reader goes 32 levels deep (its own bound, for a 256 KB stack); a
            // nested entry within it does not stop the Beckon payload beside it.
            let handled = try place.run { try beckon.handlePush(DeepUserInfo.levels30(messageId: "m-\(number)")) }
            XCTAssertEqual(handled.messageId, "m-\(number)")
        }
        XCTAssertEqual(try beckon.stats().queuedEvents, UInt64(Place.all.count), "one Push Opened per handled push")
    }

    /// "" when `call` returns, else how it failed: `Case: message` for a `BeckonError`,
    /// anything else spelled out so the check fails.
    static func refusal(_ call: () throws -> Void) -> String {
        do {
            try call()
            return ""
        } catch let error as BeckonError {
            return "\(Mirror(reflecting: error).children.first?.label ?? "?"): \(error.message)"
        } catch {
            return "not a BeckonError: \(type(of: error)) \(error)"
        }
    }

    static func check(_ refusal: String, is kind: String, naming field: String, _ what: String,
                      file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(refusal.hasPrefix("\(kind): "), "\(what): expected BeckonError.\(kind), got \"\(refusal)\"", file: file, line: line)
        XCTAssertTrue(refusal.contains(field), "\(what): \"\(refusal)\" should name \(field)", file: file, line: line)
        XCTAssertTrue(refusal.contains(tooDeep), "\(what): \"\(refusal)\"", file: file, line: line)
    }
}

/// Push `userInfo`s with a nested entry beside a valid Beckon payload, kept for the whole run
/// (Swift frees nested containers by recursion, on the thread that lets them go). Swift
/// dictionaries and arrays: on Linux, Foundation itself bridges a nested NSDictionary whole,
/// by recursion, whenever one of its values is read, so deep NSDictionary trees cannot be
/// tested here (on Apple platforms reading one bridges one level).
enum DeepUserInfo {
    static func nested(_ levels: Int, messageId: String) -> [AnyHashable: Any] {
        var deep: Any = "x"
        for level in 0..<levels { deep = level % 2 == 0 ? [deep] : ["k": deep] }
        var userInfo = Pushes.userInfo(Pushes.payload(messageId))
        userInfo["extra"] = deep
        return userInfo
    }

    static let levels20000 = nested(20_000, messageId: "m-deep")
    static let levels200 = nested(200, messageId: "m-deep")

    static func levels30(messageId: String) -> [AnyHashable: Any] { nested(30, messageId: messageId) }
}
