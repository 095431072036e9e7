// A seeded generator of values of the public types, for the property-based tests: random
// Unicode strings (huge ones included), JsonValue trees of random depth and size, events
// of every kind, push userInfo dictionaries, URLs, carts and configurations.
import Beckon
import Foundation

/// SplitMix64: small, fast, and the same sequence for the same seed on every platform.
struct Random: RandomNumberGenerator {
    let seed: UInt64
    private var state: UInt64

    init(seed: UInt64) {
        self.seed = seed
        state = seed
    }

    /// `BECKON_PROPERTY_SEED` (decimal or 0x-hex) when set, else a fresh seed.
    static func seedFromEnvironment() -> UInt64 {
        if let text = ProcessInfo.processInfo.environment["BECKON_PROPERTY_SEED"] {
            let parsed = text.hasPrefix("0x") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text)
            if let seed = parsed { return seed }
        }
        return UInt64.random(in: 0...UInt64.max)
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }
    mutating func chance(_ probability: Double) -> Bool { Double.random(in: 0..<1, using: &self) < probability }
    mutating func pick<T>(_ items: [T]) -> T { items[int(0...items.count - 1)] }
    mutating func maybe<T>(_ make: (inout Random) -> T) -> T? { chance(0.5) ? make(&self) : nil }

    // MARK: Strings

    /// Unicode scalars from every plane and kind: ASCII (controls and NUL included),
    /// Latin, CJK, combining marks, right-to-left text, emoji and their joiners, private use,
    /// noncharacters, and the last scalars of the range.
    mutating func scalar() -> Unicode.Scalar {
        let ranges: [ClosedRange<UInt32>] = [
            0x20...0x7E, 0x20...0x7E, 0x00...0x1F, 0x7F...0xFF, 0x300...0x36F, 0x590...0x6FF,
            0x4E00...0x9FFF, 0x200B...0x200F, 0x2028...0x2029, 0xE000...0xF8FF, 0xFDD0...0xFDEF,
            0xFFF0...0xFFFF, 0x1F300...0x1FAFF, 0x10000...0x10FFFF, 0xFE00...0xFE0F,
        ]
        let range = pick(ranges)
        let value = UInt32.random(in: range, using: &self)
        return Unicode.Scalar(value) ?? "\u{FFFD}"
    }

    /// A random string: usually short, sometimes long, now and then huge (up to 2 MiB), now
    /// and then one bridged from NSString holding lone surrogates (Swift reads U+FFFD).
    mutating func string() -> String {
        switch int(0...999) {
        case 0..<100: return ""
        case 100..<140: return bridgedWithLoneSurrogates()
        case 140..<180: return pick(["product_id", "name", "properties", "beckon", "v", "é", "👩‍👩‍👧", "\u{0}", " ", "."])
        case 180..<183: return huge()
        case 183..<250: return shortString(length: int(100...2_000))
        default: return shortString(length: int(1...24))
        }
    }

    mutating func shortString(length: Int) -> String {
        var text = String.UnicodeScalarView()
        for _ in 0..<length { text.append(scalar()) }
        return String(text)
    }

    /// A string of 64 KiB to 2 MiB, made by repeating a random piece.
    mutating func huge() -> String {
        let piece = shortString(length: int(1...64))
        let count = int(64 * 1024...2 * 1024 * 1024) / max(piece.utf8.count, 1)
        return String(repeating: piece, count: max(count, 1))
    }

    mutating func bridgedWithLoneSurrogates() -> String {
        let units: [unichar] = (0..<int(1...12)).map { _ in
            chance(0.3) ? unichar(int(0xD800...0xDFFF)) : unichar(int(0x20...0x7E))
        }
        return NSString(characters: units, length: units.count) as String
    }

    /// A short identifier-like string, valid for the core more often than `string()`.
    mutating func identifier() -> String {
        chance(0.8) ? "id-\(int(0...999))" : string()
    }

    // MARK: Numbers

    mutating func double() -> Double {
        switch int(0...9) {
        case 0: return pick([.nan, .infinity, -.infinity, -0.0, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
                             .leastNonzeroMagnitude, Double(Int64.max), 1e300])
        case 1: return Double(bitPattern: next())
        default: return Double(int(-1_000...100_000)) / 100
        }
    }

    mutating func finiteDouble() -> Double {
        let value = double()
        return value.isFinite ? value : 1.5
    }

    mutating func int32() -> Int32 {
        chance(0.2) ? pick([Int32.min, -1, 0, Int32.max]) : Int32(int(-5...100))
    }

    mutating func int64() -> Int64 {
        chance(0.2) ? pick([Int64.min, -1, 0, Int64.max]) : Int64(int(-1_000...1_000_000))
    }

    // MARK: JsonValue

    /// A tree of random shape: containers up to `maxDepth` levels, a few items each.
    mutating func jsonValue(maxDepth: Int, finite: Bool = false) -> JsonValue {
        jsonValue(depth: 1, maxDepth: maxDepth, finite: finite)
    }

    private mutating func jsonValue(depth: Int, maxDepth: Int, finite: Bool) -> JsonValue {
        let container = depth < maxDepth && chance(depth == 1 ? 0.6 : 0.35)
        if container {
            // Narrow deep down, so deep trees stay small.
            let width = depth > 8 ? int(1...2) : int(0...4)
            if chance(0.5) {
                return .array(values: (0..<width).map { _ in jsonValue(depth: depth + 1, maxDepth: maxDepth, finite: finite) })
            }
            var fields: [String: JsonValue] = [:]
            for _ in 0..<width { fields[string()] = jsonValue(depth: depth + 1, maxDepth: maxDepth, finite: finite) }
            return .object(fields: fields)
        }
        switch int(0...5) {
        case 0: return .null
        case 1: return .bool(value: chance(0.5))
        case 2: return .integer(value: int64())
        case 3: return .number(value: finite ? finiteDouble() : double())
        default: return .text(value: string())
        }
    }

    /// A value for properties and traits: mostly shallow, sometimes a chain around the
    /// core's 8 levels and the writer's 64, or far deeper (to 20,000), built without recursion.
    mutating func property() -> JsonValue {
        switch int(0...19) {
        case 0:
            var value = jsonValue(maxDepth: 2)
            let keys = [identifier(), "", "é", "k"]
            for _ in 0..<pick([8, 9, 62, 63, 64, 65, 200, 3_000, 20_000]) {
                value = chance(0.5) ? .array(values: [value]) : .object(fields: [pick(keys): value])
            }
            return value
        case 1: return jsonValue(maxDepth: 80)
        default: return jsonValue(maxDepth: 5)
        }
    }

    mutating func properties() -> [String: JsonValue] {
        var properties: [String: JsonValue] = [:]
        for _ in 0..<int(0...4) { properties[string()] = property() }
        return properties
    }

    // MARK: Records and events

    mutating func product() -> Product {
        Product(productId: identifier(), sku: maybe { $0.string() }, category: maybe { $0.string() },
                name: maybe { $0.string() }, brand: maybe { $0.string() }, variant: maybe { $0.string() },
                price: maybe { $0.double() }, currency: maybe { $0.currency() }, quantity: maybe { $0.int32() },
                coupon: maybe { $0.string() }, position: maybe { $0.int32() }, url: maybe { $0.url() },
                imageUrl: maybe { $0.url() })
    }

    mutating func products() -> [Product] { (0..<int(0...3)).map { _ in product() } }

    mutating func currency() -> String { chance(0.7) ? pick(["EUR", "USD", "BRL"]) : string() }

    mutating func cart() -> Cart {
        Cart(cartId: maybe { $0.identifier() }, products: products(), currency: maybe { $0.currency() })
    }

    mutating func order() -> Order {
        Order(orderId: maybe { $0.identifier() }, checkoutId: maybe { $0.identifier() }, affiliation: maybe { $0.string() },
              subtotal: maybe { $0.double() }, total: maybe { $0.double() }, revenue: maybe { $0.double() },
              shipping: maybe { $0.double() }, tax: maybe { $0.double() }, discount: maybe { $0.double() },
              coupon: maybe { $0.string() }, currency: maybe { $0.currency() }, products: products())
    }

    mutating func step() -> CheckoutStep {
        CheckoutStep(checkoutId: maybe { $0.identifier() }, step: int32(), shippingMethod: maybe { $0.string() },
                     paymentMethod: maybe { $0.string() })
    }

    mutating func coupon() -> Coupon {
        Coupon(couponId: identifier(), couponName: maybe { $0.string() }, orderId: maybe { $0.identifier() },
               cartId: maybe { $0.identifier() }, discount: maybe { $0.double() }, reason: maybe { $0.string() })
    }

    mutating func promotion() -> Promotion {
        Promotion(promotionId: identifier(), creative: maybe { $0.string() }, name: maybe { $0.string() },
                  position: maybe { $0.string() })
    }

    mutating func share() -> Share {
        Share(shareVia: maybe { $0.string() }, shareMessage: maybe { $0.string() }, recipient: maybe { $0.string() })
    }

    /// An event of a random kind; `kind` picks one (0 to 35) instead.
    mutating func event(kind: Int? = nil) -> Event {
        let properties = properties()
        switch kind ?? int(0...35) {
        case 0: return .productsSearched(query: string(), properties: properties)
        case 1: return .productListViewed(listId: maybe { $0.identifier() }, category: maybe { $0.string() },
                                          products: products(), properties: properties)
        case 2: return .productClicked(product: product(), properties: properties)
        case 3: return .productViewed(product: product(), properties: properties)
        case 4: return .productAdded(cartId: maybe { $0.identifier() }, product: product(), properties: properties)
        case 5: return .productRemoved(cartId: maybe { $0.identifier() }, product: product(), properties: properties)
        case 6: return .cartViewed(cart: cart(), properties: properties)
        case 7: return .checkoutStarted(order: order(), properties: properties)
        case 8: return .checkoutStepViewed(step: step(), properties: properties)
        case 9: return .checkoutStepCompleted(step: step(), properties: properties)
        case 10: return .paymentInfoEntered(orderId: maybe { $0.identifier() }, step: step(), properties: properties)
        case 11: return .orderCompleted(order: order(), properties: properties)
        case 12: return .orderUpdated(order: order(), properties: properties)
        case 13: return .orderRefunded(order: order(), properties: properties)
        case 14: return .orderCancelled(order: order(), properties: properties)
        case 15: return .couponEntered(coupon: coupon(), properties: properties)
        case 16: return .couponApplied(coupon: coupon(), properties: properties)
        case 17: return .couponDenied(coupon: coupon(), properties: properties)
        case 18: return .couponRemoved(coupon: coupon(), properties: properties)
        case 19: return .promotionViewed(promotion: promotion(), properties: properties)
        case 20: return .promotionClicked(promotion: promotion(), properties: properties)
        case 21: return .productAddedToWishlist(wishlistId: maybe { $0.identifier() }, wishlistName: maybe { $0.string() },
                                                product: product(), properties: properties)
        case 22: return .productRemovedFromWishlist(wishlistId: maybe { $0.identifier() }, wishlistName: maybe { $0.string() },
                                                    product: product(), properties: properties)
        case 23: return .wishlistProductAddedToCart(wishlistId: maybe { $0.identifier() }, wishlistName: maybe { $0.string() },
                                                    cartId: maybe { $0.identifier() }, product: product(), properties: properties)
        case 24: return .productShared(product: product(), share: share(), properties: properties)
        case 25: return .cartShared(cartId: maybe { $0.identifier() }, products: products(), share: share(), properties: properties)
        case 26: return .productReviewed(productId: identifier(), reviewId: maybe { $0.identifier() },
                                         reviewBody: maybe { $0.string() }, rating: maybe { $0.double() }, properties: properties)
        case 27: return .screen(name: string(), properties: properties)
        case 28: return .applicationOpened(fromBackground: chance(0.5), url: maybe { $0.url() }, properties: properties)
        case 29: return .applicationBackgrounded(properties: properties)
        case 30: return .pushOpened(messageId: identifier(), campaignId: maybe { $0.identifier() }, properties: properties)
        case 31: return .deepLinkOpened(url: url(), messageId: maybe { $0.identifier() }, campaignId: maybe { $0.identifier() },
                                        properties: properties)
        case 32: return .inAppMessageShown(messageId: identifier(), campaignId: identifier(), properties: properties)
        case 33: return .inAppMessageClicked(messageId: identifier(), campaignId: identifier(), buttonId: maybe { $0.identifier() },
                                             properties: properties)
        case 34: return .inAppMessageDismissed(messageId: identifier(), campaignId: identifier(), properties: properties)
        default: return .custom(name: string(), properties: properties)
        }
    }

    // MARK: Links and pushes

    /// A URL-like string: the app's schemes and hosts with random paths and queries
    /// (percent escapes, broken ones included), or anything at all.
    mutating func url() -> String {
        switch int(0...9) {
        case 0, 1: return string()
        case 2: return "shop://product/" + string() + "?utm_source=" + string()
        case 3: return "https://shop.example/p/\(int(0...99))?a=%\(pick(["", "Z", "ZZ", "e9", "C3%A9", "00"]))"
        case 4: return pick(["shop://cart", "https://shop.example/p/42", "https://evil.example/p/1", "shop://", "://", "%"])
        default: return pick(["shop", "https", "http", "mailto", "javascript"]) + "://" + pick(["shop.example", "127.0.0.1", "[::1]", ""])
            + "/" + pick(["product/", "p/", "cart", ""]) + (chance(0.5) ? string() : "\(int(0...9))")
            + (chance(0.3) ? "#" + string() : "")
        }
    }

    /// A push's `userInfo`: a Beckon payload (sometimes broken), another SDK's push, or
    /// random nesting, with keys that are not strings and values that are not JSON now and then.
    mutating func userInfo() -> [AnyHashable: Any] {
        var info: [AnyHashable: Any] = ["aps": ["alert": ["title": string(), "body": string()]]]
        if chance(0.6) { info["beckon"] = beckonPayload() }
        for _ in 0..<int(0...3) { info[AnyHashable(string())] = anyValue(depth: 1) }
        if chance(0.05) { info[AnyHashable(int(0...9))] = "not a string key" }
        if chance(0.05) {
            var deep: Any = anyValue(depth: 3)
            for _ in 0..<int(100...5_000) { deep = chance(0.5) ? [deep] : ["k": deep] }
            info["deep"] = deep
        }
        return info
    }

    mutating func beckonPayload() -> Any {
        var payload: [String: Any] = ["v": chance(0.9) ? 1 : pick([2, -1, 1.5, "1"] as [Any]), "message_id": identifier()]
        if chance(0.5) { payload["campaign_id"] = identifier() }
        if chance(0.5) { payload["send_id"] = identifier() }
        if chance(0.5) { payload["deep_link"] = url() }
        if chance(0.4) {
            var promo: [String: Any] = ["code": identifier(), "expires_at": pick(["2100-01-01T00:00:00Z", "2000-01-01T00:00:00Z", string()])]
            promo["discount"] = ["kind": pick(["percent", "fixed", "free_shipping", string()]), "value": double()] as [String: Any]
            if chance(0.5) { promo["currency"] = currency() }
            if chance(0.3) { promo["min_basket"] = double() }
            if chance(0.3) { promo["max_uses"] = int(-1...5) }
            payload["promo"] = promo
        }
        if chance(0.1) { payload[string()] = anyValue(depth: 1) }
        if chance(0.2), let text = try? JSONSerialization.data(withJSONObject: payload) {
            return String(decoding: text, as: UTF8.self) // FCM-style: the payload as a string
        }
        return payload
    }

    /// What a plist-ish `userInfo` may hold: JSON values, and now and then a Date, Data
    /// or a non-finite number.
    mutating func anyValue(depth: Int) -> Any {
        switch int(0...(depth < 4 ? 11 : 8)) {
        case 0: return NSNull()
        case 1: return chance(0.5)
        case 2: return int(-1_000...1_000)
        case 3: return finiteDouble()
        case 4: return chance(0.9) ? finiteDouble() : pick([Double.nan, Double.infinity])
        case 5: return chance(0.95) ? string() : pick([Date(), Data([1, 2]), URL(string: "https://x.example")!] as [Any])
        case 6, 7, 8: return string()
        case 9: return (0..<int(0...3)).map { _ in anyValue(depth: depth + 1) }
        default:
            var dictionary: [String: Any] = [:]
            for _ in 0..<int(0...3) { dictionary[string()] = anyValue(depth: depth + 1) }
            return dictionary
        }
    }
}
