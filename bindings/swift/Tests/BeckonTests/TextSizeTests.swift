// Strings of any size: uniffi's lowering writes lengths as Int32 and cannot throw, so a
// string of 2 GiB or more, or an argument whose strings add up to that, trapped before
// the core could refuse it. WireText (Wire+Text.swift) cuts what crosses at 1 MiB, on a
// character boundary, and the core refuses what was cut with its own error naming the
// field (src/ffi/argument_sizes.rs checks that for every call).
@testable import Beckon
import Foundation
import XCTest

final class TextSizeTests: BeckonTestCase {
    private func refusal(_ call: () throws -> Void) -> String {
        DeepValueTests.refusal(call)
    }

    private func check(_ refusal: String, is kind: String, naming field: String,
                       file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(refusal.hasPrefix("\(kind): "), "expected BeckonError.\(kind), got \"\(refusal.prefix(300))\"", file: file, line: line)
        XCTAssertTrue(refusal.contains(field), "\"\(refusal.prefix(300))\" should name \(field)", file: file, line: line)
        XCTAssertLessThan(refusal.utf8.count, 1_000, "the message quotes at most the start of the text", file: file, line: line)
    }

    /// 2 GiB and a little more, in one string: every call given it refuses it by name.
    func testAStringOfMoreThan2GiBIsRefusedNamingTheField() throws {
        let count = (1 << 31) + 7
        // Filled in place: String(repeating:count:) takes half a minute for this in a debug build.
        let huge = String(unsafeUninitializedCapacity: count) { bytes in
            bytes.initialize(repeating: UInt8(ascii: "a"))
            return count
        }
        XCTAssertEqual(huge.utf8.count, count)
        let beckon = try open(try tempDir(), serverUrl: try deadServerUrl())
        check(refusal { try beckon.identify(userId: huge, traits: [:]) }, is: "InvalidArgument", naming: "user_id:")
        check(refusal { try beckon.screen(name: huge, properties: [:]) }, is: "InvalidEvent", naming: "name:")
        check(refusal { try beckon.track(.productViewed(product: Product(productId: "p", name: huge))) },
              is: "InvalidEvent", naming: "the largest is properties.name")
        check(refusal { try beckon.track(.custom(name: "Big", properties: ["v": .text(value: huge)])) },
              is: "InvalidEvent", naming: "over the 32768-byte limit")
        check(refusal { _ = try beckon.handlePush(payload: huge) }, is: "InvalidPush", naming: "over the 4096-byte limit")
        check(refusal { try beckon.setDeviceProfile(timeZone: "Europe/Berlin", country: huge) },
              is: "InvalidArgument", naming: "country:")
        XCTAssertEqual(try beckon.stats().queuedEvents, 0, "nothing was stored")
        XCTAssertNil(beckon.userId())
    }

    /// 3,000 products sharing one 1 MB name: 3 GB written out, 2 MB once cut.
    func testAnArgumentWhoseStringsAddUpPast2GiBIsRefused() throws {
        let name = String(repeating: "é", count: 500_000)
        let products = Array(repeating: Product(productId: "p", name: name, price: 1), count: 3_000)
        var buf: [UInt8] = []
        FfiConverterTypeCart.write(Cart(products: products, currency: "EUR"), into: &buf)
        XCTAssertLessThan(buf.count, WireText.maxBytes + 3_000 * (WireText.keptBytes + 64), "the buffer stays bounded")

        let beckon = try open(try tempDir(), serverUrl: try deadServerUrl())
        check(refusal { try beckon.track(.cartViewed(cart: Cart(products: products))) },
              is: "InvalidEvent", naming: "over the 32768-byte limit")
        check(refusal { _ = try beckon.bestPromoFor(cart: Cart(products: products, currency: "EUR")) },
              is: "InvalidArgument", naming: "cart: is ")
        check(refusal { try beckon.identify(userId: "u", traits: Dictionary(uniqueKeysWithValues: (0..<3_000).map { ("k\($0)", JsonValue.text(value: name)) })) },
              is: "InvalidArgument", naming: "over the 32768-byte limit of an event")
        XCTAssertEqual(try beckon.stats().queuedEvents, 0, "nothing was stored")
    }

    /// Below 1 MiB strings cross exactly; past it they are cut between characters.
    func testStringsCrossWholeUpTo1MiBAndAreCutBetweenCharacters() throws {
        XCTAssertEqual(WireText.maxBytes, 1 << 20)
        for (text, limit, kept) in [
            ("abc", 3, "abc"), ("abc", 2, "ab"), ("aé", 2, "a"), ("aé", 3, "aé"),
            ("a😀", 4, "a"), ("a😀", 5, "a😀"), ("😀", 0, ""), ("", 10, ""),
        ] {
            let crossed = WireText.withUTF8(text, atMost: limit) { String(decoding: $0, as: UTF8.self) }
            XCTAssertEqual(crossed, kept, "\(text) within \(limit) bytes")
        }
        // In an argument's buffer (here a route's name and pattern, read back by uniffi's
        // reader): whole up to 1 MiB, then cut to the room left.
        let exactly = String(repeating: "é", count: WireText.maxBytes / 2)
        var buf: [UInt8] = []
        WireText.write(exactly, into: &buf)
        WireText.write("after" + exactly, into: &buf)
        var reader = (data: Data(buf), offset: 0)
        var route = try FfiConverterTypeDeepLinkRoute.read(from: &reader)
        XCTAssertEqual(route.name, exactly, "1 MiB crosses whole")
        XCTAssertEqual(route.pattern, "after" + String(exactly.prefix(125)), "then strings keep their first 256 bytes")

        var cut: [UInt8] = [1, 2, 3]
        WireText.write(exactly, into: &cut)
        WireText.write("after", into: &cut)
        reader = (data: Data(cut), offset: 3)
        route = try FfiConverterTypeDeepLinkRoute.read(from: &reader)
        XCTAssertEqual(route.name, String(exactly.dropLast(2)), "cut to the room left, between characters")
        XCTAssertEqual(route.pattern, "after", "a short string crosses whole")
    }
}
