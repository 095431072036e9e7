// What the push, deep-link and permission tests share: pushes as the platforms hand them
// over (src/push/README.md, "Payload format, version 1"), the app's deep-link routes and
// carts.
import Beckon
import Foundation
import XCTest

enum Pushes {
    /// The routes a shop app registers, as in src/push/README.md.
    static let routes = [
        DeepLinkRoute(name: "product", pattern: "shop://product/{id}"),
        DeepLinkRoute(name: "cart", pattern: "shop://cart"),
        DeepLinkRoute(name: "web_product", pattern: "https://shop.example/p/{id}"),
    ]
    static let hosts = ["shop.example"]

    /// An RFC 3339 instant `days` from now, to the second.
    static func inDays(_ days: Int) -> String {
        ISO8601DateFormatter().string(from: Date().addingTimeInterval(Double(days) * 86_400))
    }

    static func date(_ rfc3339: String) -> Date? {
        ISO8601DateFormatter().date(from: rfc3339)
    }

    /// A promo object of a Beckon payload.
    static func promo(
        _ code: String, _ discount: [String: Any], currency: String? = "EUR", expiresAt: String = inDays(2),
        minBasket: Double? = nil, maxUses: Int? = nil
    ) -> [String: Any] {
        var promo: [String: Any] = ["code": code, "discount": discount, "expires_at": expiresAt]
        promo["currency"] = currency
        promo["min_basket"] = minBasket
        promo["max_uses"] = maxUses
        return promo
    }

    /// Beckon's part of a push (version 1).
    static func payload(
        _ messageId: String, campaignId: String? = "black-friday", sendId: String? = "send-1",
        deepLink: String? = nil, promo: [String: Any]? = nil
    ) -> [String: Any] {
        var payload: [String: Any] = ["v": 1, "message_id": messageId]
        payload["campaign_id"] = campaignId
        payload["send_id"] = sendId
        payload["deep_link"] = deepLink
        payload["promo"] = promo
        return payload
    }

    /// An APNs `userInfo` as iOS hands it over: the payload is a dictionary next to `aps`.
    static func userInfo(_ payload: [String: Any]) -> [AnyHashable: Any] {
        ["aps": ["alert": ["title": "Black Friday", "body": "10 % off"], "sound": "default"], "beckon": payload]
    }

    /// An FCM data map: the payload is a string of JSON under `beckon`, beside other keys.
    static func fcmData(_ payload: [String: Any]) throws -> [String: String] {
        ["beckon": try text(payload), "google.message_id": "0:1700000000000000%abc"]
    }

    /// `object` as JSON text.
    static func text(_ object: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }

    /// A cart of one product at `price` euros.
    static func cart(_ price: Double) -> Cart {
        Cart(cartId: "cart-1", products: [Product(productId: "coat", price: price, currency: "EUR", quantity: 1)],
             currency: "EUR")
    }
}

extension Array where Element == ExportedEvent {
    func named(_ name: String) -> [ExportedEvent] { filter { $0.name == name } }
}

extension ExportedEvent {
    /// A number the server exported, whether written as `8` or `8.0`.
    func number(_ key: String) -> Double? {
        if case let .number(value)? = properties[key] { return value }
        return nil
    }
}

extension BeckonTestCase {
    /// Uploads everything queued; fails the test unless it is delivered.
    func flushAll(_ beckon: Beckon, file: StaticString = #filePath, line: UInt = #line) throws {
        let report = try beckon.flush(timeoutMs: Self.flushTimeoutMs)
        XCTAssertEqual(report.outcome, .delivered, "\(report)", file: file, line: line)
    }
}
