// Hand-written additions for pushes, promo codes and channel permissions: Swift names
// and Foundation types over the generated calls. Each one converts its arguments and
// passes every error through unchanged (see Beckon+Swift.swift).
//
// Threads: none of these takes a callback. Each returns on the calling thread, which may
// be any thread (the main thread included: none of them waits on the network).
import Foundation

extension Beckon {
    /// An opened push as iOS hands it over: the notification's `userInfo`
    /// (`response.notification.request.content.userInfo`). Records `Push Opened`, keeps
    /// the push's promo and routes its deep link (or keeps it until
    /// `deepLinkRouterReady()`).
    ///
    /// Throws `BeckonError.NotBeckonPush` for a push Beckon did not send (hand it on to
    /// whatever else handles pushes), and `BeckonError.InvalidPush` for a malformed or
    /// oversized one, or a `userInfo` that is not JSON (such as a local notification's
    /// with a `Date` in it); neither records anything.
    public func handlePush(_ userInfo: [AnyHashable: Any]) throws -> PushAction {
        try handlePush(payload: Self.json(userInfo))
    }

    /// The active promo taking the most off `cart`; `shipping`, when known, prices
    /// free-shipping promos. The same call as `bestPromoFor(cart:shipping:)`.
    public func bestPromo(for cart: Cart, shipping: Double? = nil) throws -> PromoQuote? {
        try bestPromoFor(cart: cart, shipping: shipping)
    }

    /// Applies promo `code` to `cart` at checkout, counting a use. Throws
    /// `BeckonError.PromoExpired`, `.PromoUsedUp`, `.PromoNotEligible` or `.PromoUnknown`,
    /// saying why. The same call as `applyPromo(code:cart:shipping:)`.
    public func applyPromo(_ code: String, to cart: Cart, shipping: Double? = nil) throws -> PromoQuote {
        try applyPromo(code: code, cart: cart, shipping: shipping)
    }

    /// The permission of `channel`: one entry of `permissions()`, which lists every channel.
    public func permission(for channel: Channel) throws -> ChannelPermission {
        guard let permission = try permissions().first(where: { $0.channel == channel }) else {
            throw BeckonError.Storage(message: "the local store returned no permission for \(channel)")
        }
        return permission
    }

    /// `userInfo` as the JSON text the core reads. Keys must be strings and values JSON
    /// (what APNs delivers always is); anything else is refused, naming the entry.
    static func json(_ userInfo: [AnyHashable: Any]) throws -> String {
        let object = try plainJSON(userInfo, at: "userInfo")
        // Unescaped slashes keep deep links as long as APNs sent them: the core checks
        // the size against the platforms' 4096-byte limit.
        var options: JSONSerialization.WritingOptions = []
        if #available(iOS 13.0, macOS 10.15, tvOS 13.0, watchOS 6.0, *) {
            options.insert(.withoutEscapingSlashes)
        }
        let data = try JSONSerialization.data(withJSONObject: object, options: options)
        return String(decoding: data, as: UTF8.self)
    }

    /// `value` with every dictionary keyed by `String`, as `JSONSerialization` writes it
    /// on every platform (Foundation on Linux takes no `AnyHashable` keys).
    private static func plainJSON(_ value: Any, at path: String) throws -> Any {
        if let dictionary = value as? [AnyHashable: Any] {
            var object: [String: Any] = [:]
            for (key, item) in dictionary {
                guard let name = key.base as? String else {
                    throw notJSON("\(path): the key \(key) is not a string")
                }
                object[name] = try plainJSON(item, at: "\(path).\(name)")
            }
            return object
        }
        if let array = value as? [Any] {
            return try array.enumerated().map { index, item in try plainJSON(item, at: "\(path)[\(index)]") }
        }
        guard JSONSerialization.isValidJSONObject([value]) else {
            throw notJSON("\(path): \(type(of: value)) is not a JSON value")
        }
        return value
    }

    private static func notJSON(_ problem: String) -> BeckonError {
        BeckonError.InvalidPush(message: "push not handled: \(problem)")
    }
}

extension Promo {
    /// When the promo stops being usable, judged on the server's clock.
    public var expiresAt: Date { Date(timeIntervalSince1970: Double(expiresAtMs) / 1000) }

    /// When the push that brought the promo was handled.
    public var receivedAt: Date { Date(timeIntervalSince1970: Double(receivedAtMs) / 1000) }
}

extension PromoQuote {
    /// When the quoted promo stops being usable.
    public var expiresAt: Date { Date(timeIntervalSince1970: Double(expiresAtMs) / 1000) }
}

extension ChannelPermission {
    /// When the permission was last changed; `nil` for a channel never set (its state is
    /// then the default, `.subscribed`).
    public var updatedAt: Date? {
        updatedAtMs == 0 ? nil : Date(timeIntervalSince1970: Double(updatedAtMs) / 1000)
    }
}
