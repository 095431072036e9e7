import Beckon
import XCTest

final class IdentityTests: BeckonTestCase {
    func testIdentifySetsTheUserIdAndResetStartsAFreshAnonymousUser() throws {
        let beckon = try open(try tempDir(), serverUrl: try deadServerUrl())
        let anonymous = beckon.anonymousId()
        XCTAssertFalse(anonymous.trimmingCharacters(in: .whitespaces).isEmpty)
        XCTAssertEqual(beckon.anonymousId(), anonymous, "the anonymous id is stable")
        XCTAssertNil(beckon.userId())

        try beckon.identify("user-42", traits: ["plan": "gold"])
        XCTAssertEqual(beckon.userId(), "user-42")
        XCTAssertEqual(beckon.anonymousId(), anonymous, "identify keeps the anonymous id")

        try beckon.identify(userId: "user-43", traits: [:])
        XCTAssertEqual(beckon.userId(), "user-43")

        try beckon.reset()
        XCTAssertNil(beckon.userId())
        let fresh = beckon.anonymousId()
        XCTAssertNotEqual(fresh, anonymous, "reset must make a new anonymous id")
        try beckon.reset()
        XCTAssertNotEqual(beckon.anonymousId(), fresh)
    }

    func testEventsCarryTheIdentityTheyWereTrackedUnder() throws {
        let server = try startServer()
        let beckon = try openSynced(try tempDir(), server: server)
        let first = beckon.anonymousId()
        try beckon.track(.custom(name: "Before Login"))
        // Traits made of Swift literals, nested ones included, arrive as JSON.
        try beckon.identify("user-42", traits: [
            "email_opt_in": true, "orders": 3, "score": 4.5, "tags": ["gold", "eu"], "address": ["city": "Porto"],
            "note": .null,
        ])
        try beckon.track(.custom(name: "While Logged In"))
        try beckon.reset()
        let second = beckon.anonymousId()
        try beckon.track(.custom(name: "After Logout"))

        _ = try beckon.segments()
        XCTAssertEqual(try beckon.flush(timeoutMs: Self.flushTimeoutMs).outcome, .delivered)
        XCTAssertEqual(try server.membershipReports().count, 0, "custom events change no built-in segment")
        let exported = try server.appEvents()
        XCTAssertEqual(exported.map(\.label), ["Before Login", "identify", "While Logged In", "After Logout"])
        let byLabel = Dictionary(uniqueKeysWithValues: exported.map { ($0.label, $0) })
        XCTAssertEqual(byLabel["Before Login"]?.anonymousId, first)
        XCTAssertNil(byLabel["Before Login"]?.userId)
        XCTAssertEqual(byLabel["identify"]?.userId, "user-42")
        XCTAssertEqual(byLabel["identify"]?.traits, [
            "email_opt_in": true, "orders": 3, "score": 4.5, "tags": ["gold", "eu"], "address": ["city": "Porto"],
            "note": .null,
        ])
        XCTAssertEqual(byLabel["While Logged In"]?.anonymousId, first)
        XCTAssertEqual(byLabel["While Logged In"]?.userId, "user-42")
        XCTAssertEqual(byLabel["After Logout"]?.anonymousId, second)
        XCTAssertNil(byLabel["After Logout"]?.userId)
    }

    func testJsonValueLiteralsMakeTheCasesTheySpell() {
        let value: JsonValue = ["s": "text", "i": 42, "d": 2.5, "b": false, "a": [1, "two"], "o": ["k": .null]]
        XCTAssertEqual(value, .object(fields: [
            "s": .text(value: "text"),
            "i": .integer(value: 42),
            "d": .number(value: 2.5),
            "b": .bool(value: false),
            "a": .array(values: [.integer(value: 1), .text(value: "two")]),
            "o": .object(fields: ["k": .null]),
        ]))
        let name = "Ana"
        let interpolated: JsonValue = "Hi \(name)"
        XCTAssertEqual(interpolated, .text(value: "Hi Ana"))
    }
}
