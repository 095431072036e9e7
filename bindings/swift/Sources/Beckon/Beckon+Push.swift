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
        var writer = UserInfoJSON()
        try writer.write(userInfo)
        return String(decoding: writer.bytes, as: UTF8.self)
    }
}

/// Writes a push's `userInfo` as JSON text, the way `JSONSerialization` writes it (no
/// spaces) but without escaping slashes, so deep links keep the length APNs sent them with
/// (the core checks the platforms' 4096-byte limit).
///
/// The nesting is followed with an explicit stack, not by recursion (nor by handing the
/// whole tree to `JSONSerialization`, which recurses), so a `userInfo` nested thousands of
/// levels deep cannot overflow the calling thread's stack: it is written whole and the core
/// refuses it (as over 4096 bytes, or nested deeper than its JSON reader takes). The
/// `userInfo` iOS hands over is made of NSDictionary and NSArray objects; on Apple
/// platforms each cast to a Swift dictionary or array below bridges the one level it
/// converts, so they are followed level by level too. (Linux's Foundation instead bridges
/// a nested NSDictionary whole, by recursion in its own code, as soon as one of its values
/// is read.) Only
/// scalars go through `JSONSerialization`, one at a time, so numbers and booleans are
/// written exactly as before. Past `maxBytes` (1 MiB, 256 times the core's limit) the
/// text is left unfinished: the core refuses it as too large all the same, and a
/// `userInfo` repeating one big array many times cannot make gigabytes of text.
struct UserInfoJSON {
    static let maxBytes = 1 << 20

    private(set) var bytes: [UInt8] = []

    /// A dictionary or array being written, with how it is reached from its parent
    /// (`.name`, `[3]`; `userInfo` for the whole), which error messages put together.
    private enum Frame {
        case object([AnyHashable: Any], next: Dictionary<AnyHashable, Any>.Index, step: String)
        case array([Any], next: Int, step: String)
    }

    private var stack: [Frame] = []

    mutating func write(_ userInfo: [AnyHashable: Any]) throws {
        bytes.append(UInt8(ascii: "{"))
        stack = [.object(userInfo, next: userInfo.startIndex, step: "userInfo")]
        while let frame = stack.popLast() {
            if bytes.count > Self.maxBytes { return }
            switch frame {
            case let .object(fields, next, step):
                guard next != fields.endIndex else {
                    bytes.append(UInt8(ascii: "}"))
                    continue
                }
                if next != fields.startIndex { bytes.append(UInt8(ascii: ",")) }
                stack.append(.object(fields, next: fields.index(after: next), step: step))
                let (key, value) = fields[next]
                guard let name = key.base as? String else {
                    throw Self.notJSON("\(path()): the key \(key) is not a string")
                }
                appendString(name)
                bytes.append(UInt8(ascii: ":"))
                try append(value, step: ".\(name)")
            case let .array(items, next, step):
                guard next < items.count else {
                    bytes.append(UInt8(ascii: "]"))
                    continue
                }
                if next > 0 { bytes.append(UInt8(ascii: ",")) }
                stack.append(.array(items, next: next + 1, step: step))
                try append(items[next], step: "[\(next)]")
            }
        }
    }

    /// Writes a scalar, or opens a dictionary or array for the loop to fill.
    private mutating func append(_ value: Any, step: String) throws {
        if let dictionary = value as? [AnyHashable: Any] {
            bytes.append(UInt8(ascii: "{"))
            stack.append(.object(dictionary, next: dictionary.startIndex, step: step))
        } else if let array = value as? [Any] {
            bytes.append(UInt8(ascii: "["))
            stack.append(.array(array, next: 0, step: step))
        } else if let string = value as? String {
            appendString(string)
        } else {
            // A number, a boolean or null, as JSONSerialization writes it: in an array,
            // since older systems only write arrays and dictionaries.
            guard JSONSerialization.isValidJSONObject([value]),
                  let data = try? JSONSerialization.data(withJSONObject: [value]),
                  data.count >= 2 else {
                throw Self.notJSON("\(path())\(step): \(type(of: value)) is not a JSON value")
            }
            bytes.append(contentsOf: data.dropFirst().dropLast())
        }
    }

    /// A JSON string: quotes, backslashes and control characters escaped, the rest as
    /// UTF-8 (Swift strings are valid Unicode: a lone surrogate from NSString reads as
    /// U+FFFD).
    private mutating func appendString(_ string: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                bytes.append(UInt8(ascii: "\\"))
                bytes.append(byte)
            case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x08: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                          hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default:
                bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Where the entry being written sits: `userInfo.beckon.promo`.
    private func path() -> String {
        stack.map { frame -> String in
            switch frame {
            case let .object(_, _, step), let .array(_, _, step): return step
            }
        }.joined()
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
