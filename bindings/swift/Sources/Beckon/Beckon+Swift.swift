// Hand-written additions to the generated Beckon.swift: names and types that read well in
// Swift. Each one is a thin layer over a generated call: it converts arguments and passes
// every error through unchanged (typed `BeckonError`s, and uniffi's own error for a Rust
// panic), so nothing is swallowed or turned into a silent no-op.
//
// Threads: every method may be called from any thread. `flush` and `sync` are the only
// calls that wait on the network. `flush(timeout:)` and `sync(timeout:)` are async and
// wait on a Dispatch worker, so an async caller's thread (the main actor included) is
// never blocked; the blocking variants have names of their own (`flushBlocking(timeout:)`,
// `syncBlocking(timeout:)`) and, like the generated `flush(timeoutMs:)` and
// `sync(timeoutMs:)`, are unavailable from async code (`@available(*, noasync)`), so an
// `await` can never pick one of them and async code cannot block by mistake.
// Listeners are called on Beckon's own threads, never on the main thread: the segment
// and in-app listeners on "beckon-engagement" (see `setSegmentListener(_:)` and
// `setInAppListener(_:)`), the identity token listener on "beckon-upload"
// (`setIdentityTokenListener(_:)`).
import Dispatch
import Foundation

extension Beckon {
    /// Records an event. Returns once it is stored durably on the device; an invalid event
    /// throws `BeckonError.InvalidEvent` (naming the field at fault) and stores nothing.
    ///
    /// The same call as the generated `track(event:)`.
    public func track(_ event: Event) throws {
        try track(event: event)
    }

    /// Attaches `userId` (and merges `traits`) to this and every later event, with the
    /// `identityToken` the app's backend signed for the user when the server verifies
    /// identities. Throws `BeckonError.InvalidArgument` for a blank user id or a token
    /// that is empty, too long or not printable ASCII.
    ///
    /// ```swift
    /// try beckon.identify("user-42", traits: ["plan": "gold", "orders": 3])
    /// ```
    public func identify(
        _ userId: String, traits: [String: JsonValue] = [:], identityToken: String? = nil
    ) throws {
        try identify(userId: userId, traits: traits, identityToken: identityToken)
    }

    /// Hands over a new identity token for `userId` (after the identity token listener
    /// asked for one, or on the app's own refresh); events waiting for it are retried at
    /// once.
    public func setIdentityToken(_ token: String, forUser userId: String) throws {
        try setIdentityToken(userId: userId, token: token)
    }

    /// Records a screen view.
    public func screen(_ name: String, properties: [String: JsonValue] = [:]) throws {
        try screen(name: name, properties: properties)
    }

    /// Uploads everything queued and waits up to `timeout` seconds for the outcome.
    ///
    /// The wait happens on a Dispatch worker thread, never on the caller's thread or
    /// actor (the main actor included). Upload failures do not throw: they are in the
    /// report (`.willRetry` with `error`).
    ///
    /// ```swift
    /// let report = try await beckon.flush(timeout: 10)   // report.outcome == .delivered
    /// ```
    ///
    /// There is no synchronous `flush(timeout:)`, so `try await beckon.flush(timeout:)`
    /// always means this one (in the top-level code of a `main.swift` too). Synchronous
    /// code on a thread of the app's own may block instead with `flushBlocking(timeout:)`.
    @available(iOS 13.0, macOS 10.15, tvOS 13.0, watchOS 6.0, *)
    public func flush(timeout: TimeInterval) async throws -> FlushReport {
        let timeoutMs = try Self.milliseconds(timeout)
        return try await Self.offCallerThread { try self.flush(timeoutMs: timeoutMs) }
    }

    /// Downloads new segment definitions and campaigns if the server has them, waiting up
    /// to `timeout` seconds on a Dispatch worker thread, like `flush(timeout:)`. The SDK
    /// also syncs on its own (at start, on foreground, on a timer).
    @available(iOS 13.0, macOS 10.15, tvOS 13.0, watchOS 6.0, *)
    public func sync(timeout: TimeInterval) async throws -> SyncReport {
        let timeoutMs = try Self.milliseconds(timeout)
        return try await Self.offCallerThread { try self.sync(timeoutMs: timeoutMs) }
    }

    /// `flush(timeout:)` that blocks the calling thread on the network until the outcome
    /// or the timeout, for synchronous code on a thread of the app's own (never the main
    /// thread). Unavailable from async code, which uses `try await flush(timeout:)`.
    @available(*, noasync, message: "blocks the calling thread on the network; from async code use `try await flush(timeout:)`")
    public func flushBlocking(timeout: TimeInterval) throws -> FlushReport {
        try flush(timeoutMs: Self.milliseconds(timeout))
    }

    /// `sync(timeout:)` that blocks the calling thread on the network, like
    /// `flushBlocking(timeout:)`. Unavailable from async code, which uses
    /// `try await sync(timeout:)`.
    @available(*, noasync, message: "blocks the calling thread on the network; from async code use `try await sync(timeout:)`")
    public func syncBlocking(timeout: TimeInterval) throws -> SyncReport {
        try sync(timeoutMs: Self.milliseconds(timeout))
    }

    /// Calls `onChange` whenever the user enters or leaves segments, with the changes in
    /// evaluation order. Replaces any listener set before.
    ///
    /// **Thread:** `onChange` runs on Beckon's engagement thread (named
    /// "beckon-engagement"), never on the main thread, one call at a time. Hop to the main
    /// queue (or `@MainActor`) before touching UI, and return quickly: later segment and
    /// in-app work waits for it.
    public func setSegmentListener(_ onChange: @escaping @Sendable ([SegmentChange]) -> Void) throws {
        try setSegmentListener(listener: SegmentListenerClosure(onChange))
    }

    /// Stops calling the segment listener.
    public func removeSegmentListener() throws {
        try setSegmentListener(listener: nil)
    }

    /// Hands in-app messages to `onMessage` as their triggers fire. Return `true` if the
    /// message is put on screen: only then does it count as shown (toward caps and the
    /// minimum gap, and as an `In-App Message Shown` event). Return `false` to let it go;
    /// it is not offered again. Replaces any listener set before.
    ///
    /// **Thread:** `onMessage` runs on Beckon's engagement thread (named
    /// "beckon-engagement"), never on the main thread. Present the message with
    /// `DispatchQueue.main.async { … }` (or a `@MainActor` task) and return; do not wait
    /// for the main thread from here (`DispatchQueue.main.sync`), since the main thread
    /// may itself be waiting for Beckon.
    public func setInAppListener(_ onMessage: @escaping @Sendable (InAppMessage) -> Bool) throws {
        try setInAppListener(listener: InAppMessageListenerClosure(onMessage))
    }

    /// Stops calling the in-app listener: the latest message that fires is kept for
    /// `takeInAppMessage()` instead.
    public func removeInAppListener() throws {
        try setInAppListener(listener: nil)
    }

    /// Calls `onNeeded` when the server refuses a user's identity token (or got none),
    /// once per user and refused token; the user's events stay queued until a new token
    /// arrives through `setIdentityToken(_:forUser:)`. Replaces any listener set before.
    ///
    /// **Thread:** `onNeeded` runs on Beckon's upload thread (named "beckon-upload"), one
    /// call at a time. Fetch the token from the app's backend in a task of the app's own
    /// and hand it over from there; `setIdentityToken` may also be called from inside the
    /// closure. Never call `flush` or `sync` from it: they wait for the thread it runs on.
    public func setIdentityTokenListener(
        _ onNeeded: @escaping @Sendable (_ userId: String, _ problem: IdentityProblem) -> Void
    ) throws {
        try setIdentityTokenListener(listener: IdentityTokenListenerClosure(onNeeded))
    }

    /// Stops calling the identity token listener.
    public func removeIdentityTokenListener() throws {
        try setIdentityTokenListener(listener: nil)
    }

    /// Seconds to the whole milliseconds the core takes, rounded up so a short positive
    /// timeout never becomes 0. Negative means 0 (as in the core); NaN is refused.
    static func milliseconds(_ seconds: TimeInterval) throws -> Int64 {
        guard !seconds.isNaN else {
            throw BeckonError.InvalidArgument(message: "timeout: must be a number of seconds, not NaN")
        }
        let ms = (seconds * 1000).rounded(.up)
        if ms <= 0 { return 0 }
        if ms >= Double(Int64.max) { return Int64.max }
        return Int64(ms)
    }

    @available(iOS 13.0, macOS 10.15, tvOS 13.0, watchOS 6.0, *)
    private static func offCallerThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global(qos: .utility).async {
                continuation.resume(with: Result { try work() })
            }
        }
    }
}

/// A `SegmentListener` made from a closure (`Beckon.setSegmentListener(_:)`).
final class SegmentListenerClosure: SegmentListener {
    private let onChange: @Sendable ([SegmentChange]) -> Void

    init(_ onChange: @escaping @Sendable ([SegmentChange]) -> Void) {
        self.onChange = onChange
    }

    func onSegmentsChanged(changes: [SegmentChange]) {
        onChange(changes)
    }
}

/// An `InAppMessageListener` made from a closure (`Beckon.setInAppListener(_:)`).
final class InAppMessageListenerClosure: InAppMessageListener {
    private let onMessageClosure: @Sendable (InAppMessage) -> Bool

    init(_ onMessage: @escaping @Sendable (InAppMessage) -> Bool) {
        self.onMessageClosure = onMessage
    }

    func onMessage(message: InAppMessage) -> Bool {
        onMessageClosure(message)
    }
}

/// An `IdentityTokenListener` made from a closure (`Beckon.setIdentityTokenListener(_:)`).
final class IdentityTokenListenerClosure: IdentityTokenListener {
    private let onNeeded: @Sendable (String, IdentityProblem) -> Void

    init(_ onNeeded: @escaping @Sendable (String, IdentityProblem) -> Void) {
        self.onNeeded = onNeeded
    }

    func identityTokenNeeded(userId: String, problem: IdentityProblem) {
        onNeeded(userId, problem)
    }
}
