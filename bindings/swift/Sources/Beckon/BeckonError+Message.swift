// Hand-written: makes the generated `BeckonError` show its readable message.
//
// The generated `errorDescription` is `String(reflecting: self)`, which for a plain enum
// prints a dump such as `Beckon.BeckonError.InvalidEvent(message: "…")`. With
// `CustomStringConvertible` it prints `description`, so `error.localizedDescription`,
// `"\(error)"` and `print(error)` all give the core's message, which names the field at
// fault ("invalid event: product.price: must be a finite number").

extension BeckonError: CustomStringConvertible {
    /// The core's readable message, whatever the case.
    public var message: String {
        switch self {
        case let .InvalidEvent(message),
             let .InvalidArgument(message),
             let .InvalidConfig(message),
             let .Storage(message),
             let .AlreadyOpen(message),
             let .ShutDown(message),
             let .Busy(message),
             let .NotBeckonPush(message),
             let .InvalidPush(message),
             let .DeepLink(message),
             let .PromoUnknown(message),
             let .PromoExpired(message),
             let .PromoUsedUp(message),
             let .PromoNotEligible(message),
             let .Internal(message):
            return message
        }
    }

    public var description: String { message }
}
