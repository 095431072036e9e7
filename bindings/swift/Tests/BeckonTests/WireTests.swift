// The bytes a `JsonValue` crosses to Rust as, written by the hand-written iterative writer
// the generated `FfiConverterTypeJsonValue.write` calls (JsonValue+Wire.swift): uniffi's
// encoding exactly, up to the depth and size where it keeps what crosses safe to read. And
// the strings Foundation makes from invalid UTF-8 or UTF-16, which Swift repairs.
@testable import Beckon
import Foundation
import XCTest

final class WireTests: BeckonTestCase {
    func testTheWriterProducesUniffisBytes() {
        let value: JsonValue = .object(fields: [
            "a": .array(values: [.null, .bool(value: true), .bool(value: false), .integer(value: -2),
                                 .number(value: 1.5), .text(value: "é")]),
        ])
        let expected: [UInt8] = [
            0, 0, 0, 7, 0, 0, 0, 1, // object, 1 field
            0, 0, 0, 1, 0x61, // "a"
            0, 0, 0, 6, 0, 0, 0, 6, // array, 6 items
            0, 0, 0, 1, // null
            0, 0, 0, 2, 1, // true
            0, 0, 0, 2, 0, // false
            0, 0, 0, 3, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE, // -2
            0, 0, 0, 4, 0x3F, 0xF8, 0, 0, 0, 0, 0, 0, // 1.5
            0, 0, 0, 5, 0, 0, 0, 2, 0xC3, 0xA9, // "é"
        ]
        XCTAssertEqual(Self.written(value), expected)
        var nan: [UInt8] = []
        FfiConverterTypeJsonValue.write(.number(value: .nan), into: &nan)
        XCTAssertEqual(nan, [0, 0, 0, 4] + Self.bigEndian(Double.nan.bitPattern), "NaN crosses as it is, for the core to refuse")
    }

    /// Random values up to 64 levels and 1 MiB: the same bytes as uniffi's recursive
    /// writer (kept below as the reference), and read back equal by the generated reader.
    /// Bigger ones (a huge string now and then) are cut, within the bound.
    func testRandomValuesAreWrittenAsUniffiWritesThem() throws {
        var random = Random(seed: Random.seedFromEnvironment())
        print("WireTests: seed \(random.seed) (BECKON_PROPERTY_SEED=\(random.seed) SWIFT_DETERMINISTIC_HASHING=1 repeat it)")
        var compared = 0
        for round in 0..<400 {
            let value = random.jsonValue(maxDepth: round % 10 == 0 ? JsonValueWire.maxDepth : 6, finite: true)
            let bytes = Self.written(value)
            var reference: [UInt8] = []
            Self.referenceWrite(value, into: &reference)
            guard reference.count <= JsonValueWire.maxBytes else {
                XCTAssertLessThan(bytes.count, reference.count, "round \(round), seed \(random.seed): not cut")
                XCTAssertLessThanOrEqual(bytes.count, JsonValueWire.maxBytes + 4_096, "round \(round), seed \(random.seed)")
                continue
            }
            compared += 1
            XCTAssertTrue(bytes == reference, "round \(round), seed \(random.seed): other bytes than uniffi's")
            var reader = (data: Data(bytes), offset: 0)
            let read = try FfiConverterTypeJsonValue.read(from: &reader)
            XCTAssertEqual(reader.offset, bytes.count)
            XCTAssertTrue(read == value, "round \(round), seed \(random.seed): read back differently")
        }
        XCTAssertGreaterThan(compared, 350)
    }

    func testNothingDeeperThan64LevelsCrossesAndThePathToItIsKept() throws {
        XCTAssertEqual(JsonValueWire.maxDepth, 64)
        for (name, deep) in [("objects", Deep.objects(100)), ("mixed", Deep.mixed(100)), ("20,000 objects", Deep.objects20000)] {
            var reader = (data: Data(Self.written(deep)), offset: 0)
            var value = try FfiConverterTypeJsonValue.read(from: &reader)
            var level = 1
            var original = deep
            // Walk down the nested branch of both values, level by level.
            while true {
                if case .null = value {
                    XCTAssertEqual(level, JsonValueWire.maxDepth, "\(name): cut at the wrong level")
                    XCTAssertNotEqual(original, .null, "\(name): the original holds more there")
                    break
                }
                guard level < JsonValueWire.maxDepth else {
                    XCTFail("\(name): deeper than \(JsonValueWire.maxDepth) levels crossed")
                    break
                }
                switch (value, original) {
                case let (.object(fields), .object(originalFields)):
                    XCTAssertEqual(Set(fields.keys), Set(originalFields.keys), "\(name) at level \(level)")
                    value = fields["k"]!
                    original = originalFields["k"]!
                case let (.array(values), .array(originalValues)):
                    XCTAssertEqual(values.count, originalValues.count, "\(name) at level \(level)")
                    value = values[1]
                    original = originalValues[1]
                default:
                    XCTFail("\(name) at level \(level): not the same kind of container as the original")
                    value = .null
                    original = .null
                }
                level += 1
            }
        }
        // 64 levels cross whole: a scalar at level 64 is kept.
        let limit = Deep.objects(JsonValueWire.maxDepth - 1)
        var reader = (data: Data(Self.written(limit)), offset: 0)
        XCTAssertTrue(try FfiConverterTypeJsonValue.read(from: &reader) == limit)
    }

    /// A value repeating one big string or array many times would make a buffer of
    /// gigabytes (over uniffi's 2 GiB limit, a trap): past 1 MiB strings are cut at a
    /// character boundary (to 256 bytes) and containers written as null, and the core refuses the event
    /// as too large.
    func testAValueRepeatingBigPartsStaysUnder1MiBAndIsRefusedAsTooLarge() throws {
        XCTAssertEqual(JsonValueWire.maxBytes, 1 << 20)
        let big = String(repeating: "é", count: 32 * 1024 + 1) // 64 KiB + 2 bytes
        let shared: JsonValue = .array(values: Array(repeating: .text(value: big), count: 100))
        let value: JsonValue = .array(values: [shared, shared, ["k": 1], .text(value: big)])
        let bytes = Self.written(value)
        XCTAssertLessThanOrEqual(bytes.count, JsonValueWire.maxBytes + 100 * (8 + WireText.keptBytes) + 2_000, "the buffer is bounded")
        var reader = (data: Data(bytes), offset: 0)
        guard case let .array(items) = try FfiConverterTypeJsonValue.read(from: &reader), items.count == 4,
              case let .array(first) = items[0], first.count == 100 else {
            return XCTFail("the outer structure is kept")
        }
        let texts = first.compactMap { item -> String? in if case let .text(text) = item { return text } else { return nil } }
        XCTAssertEqual(texts.count, 100)
        let whole = texts.prefix { $0 == big }.count
        // Two array headers (8 bytes each), then per string its tag and length (8) and text.
        XCTAssertEqual(whole, (JsonValueWire.maxBytes - 16) / (8 + big.utf8.count), "whole strings until 1 MiB")
        let cut = texts[whole]
        XCTAssertTrue(big.hasPrefix(cut) && cut.count < big.count, "then one cut string")
        XCTAssertEqual(cut.utf8.count % 2, 0, "cut between characters, not inside one")
        let kept = String(big.prefix(WireText.keptBytes / 2))
        XCTAssertTrue(texts.dropFirst(whole + 1).allSatisfy { $0 == kept }, "then their first 256 bytes")
        XCTAssertEqual(items[1], .null, "an array past the limit crosses as null")
        XCTAssertEqual(items[2], .null)
        XCTAssertEqual(items[3], .text(value: kept))

        let beckon = try open(try tempDir(), serverUrl: try deadServerUrl())
        let refusal = DeepValueTests.refusal { try beckon.track(.custom(name: "Big", properties: ["v": value])) }
        XCTAssertTrue(refusal.hasPrefix("InvalidEvent: "), refusal)
        XCTAssertTrue(refusal.contains("over the 32768-byte limit"), refusal)
        XCTAssertEqual(try beckon.stats().queuedEvents, 0)
    }

    /// The most bytes per byte of JSON this encoding takes is for small integers (12 bytes
    /// for `0,`): an event just under the core's 32 KB limit made of them is well under the
    /// writer's 1 MiB, so it crosses whole and is stored.
    func testTheLargestEventTheCoreAcceptsCrossesWhole() throws {
        let zeros: JsonValue = .array(values: Array(repeating: .integer(value: 0), count: 16_000))
        XCTAssertLessThan(Self.written(zeros).count, JsonValueWire.maxBytes / 4)
        let beckon = try open(try tempDir(), serverUrl: try deadServerUrl())
        try beckon.track(.custom(name: "Zeros", properties: ["z": zeros]))
        let tooMany: JsonValue = .array(values: Array(repeating: .integer(value: 0), count: 16_500))
        let refusal = DeepValueTests.refusal { try beckon.track(.custom(name: "Zeros", properties: ["z": tooMany])) }
        XCTAssertTrue(refusal.contains("over the 32768-byte limit"), refusal)
        XCTAssertEqual(try beckon.stats().queuedEvents, 1)
    }

    /// Swift strings are always valid Unicode: text Foundation decodes from invalid UTF-8
    /// or UTF-16 (a lone surrogate from NSString, bytes cut inside a character) holds
    /// U+FFFD instead, and reaches the server that way.
    func testStringsFromInvalidUtf8OrUtf16ArriveWithReplacementCharacters() throws {
        let loneSurrogates = NSString(characters: [0x61, 0xD800, 0x62, 0xDC00], length: 4) as String
        let decodedUtf16 = String(decoding: [0x63, 0xDFFF] as [UInt16], as: UTF16.self)
        let decodedUtf8 = String(decoding: Data([0x64, 0xE2, 0x82]), as: UTF8.self)
        XCTAssertEqual(Array(loneSurrogates.utf8), Array("a\u{FFFD}b\u{FFFD}".utf8))
        XCTAssertEqual(decodedUtf16, "c\u{FFFD}")
        XCTAssertEqual(decodedUtf8, "d\u{FFFD}")
        XCTAssertNil(String(data: Data([0x64, 0xE2, 0x82]), encoding: .utf8), "the failable initializer refuses instead")
        let bridgedKey = NSString(characters: [0x6B, 0xDBFF], length: 2) as String

        let server = try startServer()
        let beckon = try open(try tempDir(), serverUrl: server.url)
        try beckon.identify(loneSurrogates, traits: [bridgedKey: .text(value: decodedUtf16)])
        try beckon.track(.custom(name: decodedUtf8, properties: [
            "s": .text(value: loneSurrogates), bridgedKey: [.text(value: decodedUtf16)],
        ]))
        try beckon.screen(decodedUtf16, properties: ["s": .text(value: decodedUtf8)])
        XCTAssertEqual(try beckon.flushBlocking(timeout: 20).outcome, .delivered)
        let exported = try server.appEvents()
        XCTAssertEqual(exported.map(\.label), ["identify", "d\u{FFFD}", "c\u{FFFD}"])
        XCTAssertEqual(exported[0].userId, "a\u{FFFD}b\u{FFFD}")
        XCTAssertEqual(exported[0].traits["k\u{FFFD}"], "c\u{FFFD}")
        XCTAssertEqual(exported[1].properties["s"], "a\u{FFFD}b\u{FFFD}")
        XCTAssertEqual(exported[1].properties["k\u{FFFD}"], ["c\u{FFFD}"])
        XCTAssertEqual(exported[2].properties["s"], "d\u{FFFD}")
    }

    /// A push's `userInfo` is written as JSON text without recursion, as JSONSerialization
    /// writes it with unescaped slashes: the same JSON, the same length (the core's
    /// 4096-byte limit counts it), and the same refusals of what is not JSON.
    func testUserInfoIsWrittenAsJSONSerializationWritesIt() throws {
        var random = Random(seed: Random.seedFromEnvironment())
        print("WireTests: seed \(random.seed) (BECKON_PROPERTY_SEED=\(random.seed) SWIFT_DETERMINISTIC_HASHING=1 repeat it)")
        var compared = 0
        for round in 0..<200 {
            var userInfo = random.userInfo()
            userInfo["deep"] = nil // JSONSerialization, the reference, recurses
            let keysAreStrings = userInfo.keys.allSatisfy { $0.base is String }
            var plain: [String: Any] = [:]
            for (key, value) in userInfo { plain["\(key)"] = value }
            let ours = Result { try Beckon.json(userInfo) }
            guard keysAreStrings, JSONSerialization.isValidJSONObject(plain) else {
                if case let .success(text) = ours, text.utf8.count > UserInfoJSON.maxBytes {
                    continue // left unfinished at 1 MiB, before what is not JSON: refused as too large
                }
                guard case let .failure(error) = ours, case let BeckonError.InvalidPush(message) = error else {
                    return XCTFail("round \(round), seed \(random.seed): a userInfo that is not JSON was written")
                }
                XCTAssertTrue(message.hasPrefix("push not handled: userInfo"), message)
                continue
            }
            let text = try ours.get()
            let reference = try JSONSerialization.data(withJSONObject: plain, options: [.withoutEscapingSlashes])
            guard reference.count <= UserInfoJSON.maxBytes else {
                // Left unfinished past 1 MiB: the core refuses it as over 4096 bytes anyway.
                XCTAssertLessThan(text.utf8.count, reference.count, "round \(round), seed \(random.seed)")
                XCTAssertGreaterThan(text.utf8.count, UserInfoJSON.maxBytes, "round \(round), seed \(random.seed)")
                continue
            }
            XCTAssertEqual(text.utf8.count, reference.count, "round \(round), seed \(random.seed)")
            let parsed = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? NSDictionary
            let expected = try JSONSerialization.jsonObject(with: reference) as? NSDictionary
            XCTAssertNotNil(parsed)
            XCTAssertEqual(parsed, expected, "round \(round), seed \(random.seed)")
            compared += 1
        }
        XCTAssertGreaterThan(compared, 50)
    }

    static func written(_ value: JsonValue) -> [UInt8] {
        var bytes: [UInt8] = []
        FfiConverterTypeJsonValue.write(value, into: &bytes)
        return bytes
    }

    static func bigEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }

    /// uniffi 0.32's generated writer (recursive), as it was before Beckon replaced it,
    /// written out with the converters it called.
    static func referenceWrite(_ value: JsonValue, into buf: inout [UInt8]) {
        func string(_ text: String) {
            buf += bigEndian(Int32(text.utf8.count))
            buf += Array(text.utf8)
        }
        switch value {
        case .null:
            buf += bigEndian(Int32(1))
        case let .bool(value):
            buf += bigEndian(Int32(2)) + bigEndian(Int8(value ? 1 : 0))
        case let .integer(value):
            buf += bigEndian(Int32(3)) + bigEndian(value)
        case let .number(value):
            buf += bigEndian(Int32(4)) + bigEndian(value.bitPattern)
        case let .text(value):
            buf += bigEndian(Int32(5))
            string(value)
        case let .array(values):
            buf += bigEndian(Int32(6)) + bigEndian(Int32(values.count))
            for item in values { referenceWrite(item, into: &buf) }
        case let .object(fields):
            buf += bigEndian(Int32(7)) + bigEndian(Int32(fields.count))
            for (key, item) in fields {
                string(key)
                referenceWrite(item, into: &buf)
            }
        }
    }
}
