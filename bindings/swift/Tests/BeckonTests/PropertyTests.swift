// Every public call of `Beckon`, made with random values of the public types (Generators.swift)
// on the main thread and on a 256 KB thread: whatever the values, a call returns or throws a
// `BeckonError`, never anything else, and the process stays up. The seed is printed; set
// BECKON_PROPERTY_SEED to it (and SWIFT_DETERMINISTIC_HASHING=1, for the same dictionary
// order) to repeat a run.
import Beckon
import Foundation
import XCTest

final class PropertyTests: BeckonTestCase {
    /// Each call is made this many times, half on the main thread, half on a 256 KB thread.
    static let roundsPerCall = 8

    func testEveryPublicCallWithRandomValuesOnlyEverThrowsBeckonError() throws {
        let seed = Random.seedFromEnvironment()
        print("PropertyTests: seed \(seed) (BECKON_PROPERTY_SEED=\(seed) SWIFT_DETERMINISTIC_HASHING=1 repeat this run)")
        var random = Random(seed: seed)
        let context = Context(root: try tempDir(), serverUrl: try deadServerUrl())
        try context.reopen()
        addCleanup { context.current.shutdown() }
        let calls = Self.calls
        let started = Date()
        for round in 0..<Self.roundsPerCall {
            var order = Array(calls.indices)
            order.shuffle(using: &random)
            for (index, callIndex) in order.enumerated() {
                let (name, prepare) = calls[callIndex]
                let place: Place = (round + index) % 2 == 0 ? .mainThread : .thread(stackSize: 256 * 1024)
                // Arguments are made (and later freed) here on the main thread: the call may
                // run on a small stack, where Swift's own freeing of a deep value would not fit.
                let call = prepare(&random, context)
                let problem = try withExtendedLifetime(call) {
                    try place.run { () -> String? in
                        do {
                            try call()
                            return nil
                        } catch is BeckonError {
                            return nil
                        } catch {
                            return "\(type(of: error)): \(error)"
                        }
                    }
                }
                if let problem {
                    context.failures.add("\(name) on \(place) (round \(round)): \(problem)")
                }
                if context.current.isShutDownForTest {
                    try context.reopen()
                }
            }
        }
        let elapsed = Date().timeIntervalSince(started)
        print(String(format: "PropertyTests: %d calls in %.1f s", calls.count * Self.roundsPerCall, elapsed))
        XCTAssertEqual(context.failures.all, [], "seed \(seed): only BeckonError may be thrown")
        // Still working: a valid event is stored.
        let beckon: Beckon = context.current
        try beckon.optIn()
        let queued = try beckon.stats().queuedEvents
        try beckon.track(.custom(name: "After Random Calls"))
        XCTAssertEqual(try beckon.stats().queuedEvents, queued + 1, "seed \(seed)")
    }

    /// The instance the calls use, replaced after a call shuts it down, and what the
    /// listeners (called on Beckon's threads) report.
    final class Context: @unchecked Sendable {
        let root: URL
        let serverUrl: String
        private(set) var current: Beckon!
        let failures = Inbox<String>()
        private var opened = 0

        init(root: URL, serverUrl: String) {
            self.root = root
            self.serverUrl = serverUrl
        }

        func reopen() throws {
            opened += 1
            current = try Beckon(config: BeckonConfig(
                dataDir: root.appendingPathComponent("instance-\(opened)").path, serverUrl: serverUrl,
                appKey: "property-key", flushPolicy: BeckonTestCase.quiet))
        }

        /// Reports an error a listener's own call threw that is not a `BeckonError`.
        func check(_ what: String, _ call: () throws -> Void) {
            do {
                try call()
            } catch is BeckonError {
            } catch {
                failures.add("\(what), called from a listener: \(type(of: error)): \(error)")
            }
        }
    }

    typealias Prepare = (inout Random, Context) -> () throws -> Void

    /// Every public method of `Beckon` (generated and hand-written), each making its random
    /// arguments when prepared and the call when run.
    static var calls: [(String, Prepare)] {
        [
            ("track(_:)", { r, c in let event = r.event(); let b = c.current!; return { try b.track(event) } }),
            ("track(event:)", { r, c in let event = r.event(); let b = c.current!; return { try b.track(event: event) } }),
            ("screen(_:properties:)", { r, c in
                let (name, properties) = (r.string(), r.properties()); let b = c.current!
                return { try b.screen(name, properties: properties) }
            }),
            ("screen(name:properties:)", { r, c in
                let (name, properties) = (r.string(), r.properties()); let b = c.current!
                return { try b.screen(name: name, properties: properties) }
            }),
            ("identify(_:traits:identityToken:)", { r, c in
                let (user, traits, token) = (r.identifier(), r.properties(), r.maybe { $0.token() }); let b = c.current!
                return { try b.identify(user, traits: traits, identityToken: token) }
            }),
            ("identify(userId:traits:identityToken:)", { r, c in
                let (user, traits, token) = (r.identifier(), r.properties(), r.maybe { $0.token() }); let b = c.current!
                return { try b.identify(userId: user, traits: traits, identityToken: token) }
            }),
            ("setIdentityToken(_:forUser:)", { r, c in
                let (token, user) = (r.token(), r.identifier()); let b = c.current!
                return { try b.setIdentityToken(token, forUser: user) }
            }),
            ("setIdentityToken(userId:token:)", { r, c in
                let (user, token) = (r.identifier(), r.token()); let b = c.current!
                return { try b.setIdentityToken(userId: user, token: token) }
            }),
            ("setIdentityTokenListener(_:)", { r, c in
                let token = r.token(); let b = c.current!
                return {
                    try b.setIdentityTokenListener { userId, _ in
                        c.check("setIdentityToken") { try b.setIdentityToken(token, forUser: userId) }
                    }
                }
            }),
            ("setIdentityTokenListener(listener:)", { r, c in
                let listener: IdentityTokenListener? = r.chance(0.5) ? TokenListener() : nil; let b = c.current!
                return { try b.setIdentityTokenListener(listener: listener) }
            }),
            ("removeIdentityTokenListener()", { _, c in let b = c.current!; return { try b.removeIdentityTokenListener() } }),
            ("reset()", { _, c in let b = c.current!; return { try b.reset() } }),
            ("anonymousId()", { _, c in let b = c.current!; return { _ = b.anonymousId() } }),
            ("userId()", { _, c in let b = c.current!; return { _ = b.userId() } }),
            ("instanceId()", { _, c in let b = c.current!; return { _ = b.instanceId() } }),
            ("flush(timeout:) async", { r, c in
                let timeout = r.timeout(); let b = c.current!
                return { try waitFor { _ = try await b.flush(timeout: timeout) } }
            }),
            ("sync(timeout:) async", { r, c in
                let timeout = r.timeout(); let b = c.current!
                return { try waitFor { _ = try await b.sync(timeout: timeout) } }
            }),
            ("flushBlocking(timeout:)", { r, c in
                let timeout = r.timeout(); let b = c.current!
                return { _ = try b.flushBlocking(timeout: timeout) }
            }),
            ("syncBlocking(timeout:)", { r, c in
                let timeout = r.timeout(); let b = c.current!
                return { _ = try b.syncBlocking(timeout: timeout) }
            }),
            ("flush(timeoutMs:)", { r, c in
                let timeout = r.timeoutMs(); let b = c.current!
                return { _ = try b.flush(timeoutMs: timeout) }
            }),
            ("sync(timeoutMs:)", { r, c in
                let timeout = r.timeoutMs(); let b = c.current!
                return { _ = try b.sync(timeoutMs: timeout) }
            }),
            ("stats()", { _, c in let b = c.current!; return { _ = try b.stats() } }),
            ("onForeground()", { _, c in let b = c.current!; return { try b.onForeground() } }),
            ("onBackground()", { _, c in let b = c.current!; return { try b.onBackground() } }),
            ("deleteLocalData()", { _, c in let b = c.current!; return { try b.deleteLocalData() } }),
            ("isOptedOut()", { _, c in let b = c.current!; return { _ = b.isOptedOut() } }),
            ("optIn()", { _, c in let b = c.current!; return { try b.optIn() } }),
            ("optOut()", { _, c in let b = c.current!; return { try b.optOut() } }),
            ("permissions()", { _, c in
                let b = c.current!
                return { _ = try b.permissions().map(\.updatedAt) }
            }),
            ("permissionHistory()", { _, c in
                let b = c.current!
                return { _ = try b.permissionHistory().map(\.updatedAt) }
            }),
            ("permission(for:)", { r, c in
                let channel = r.channel(); let b = c.current!
                return { _ = try b.permission(for: channel).updatedAt }
            }),
            ("setPermission(channel:state:source:)", { r, c in
                let (channel, state, source) = (r.channel(), r.pick([PermissionState.subscribed, .optedIn, .unsubscribed]), r.string())
                let b = c.current!
                return { try b.setPermission(channel: channel, state: state, source: source) }
            }),
            ("setPushPermission(granted:)", { r, c in
                let granted = r.chance(0.5); let b = c.current!
                return { try b.setPushPermission(granted: granted) }
            }),
            ("pushPermission()", { _, c in let b = c.current!; return { _ = try b.pushPermission() } }),
            ("registerPushToken(provider:token:)", { r, c in
                let (provider, token) = (r.pick([PushProvider.fcm, .apns]), r.chance(0.5) ? r.token() : r.string())
                let b = c.current!
                return { try b.registerPushToken(provider: provider, token: token) }
            }),
            ("pushToken()", { _, c in let b = c.current!; return { _ = try b.pushToken() } }),
            ("removePushToken()", { _, c in let b = c.current!; return { try b.removePushToken() } }),
            ("setDeviceProfile(timeZone:country:)", { r, c in
                let timeZone = r.chance(0.5) ? r.pick(["Europe/Paris", "America/Sao_Paulo", "UTC"]) : r.string()
                let country = r.chance(0.5) ? r.pick(["FR", "BR", "us"]) : r.string()
                let b = c.current!
                return { try b.setDeviceProfile(timeZone: timeZone, country: country) }
            }),
            ("setLocale(locale:)", { r, c in
                let locale = r.chance(0.5) ? r.pick(["pt-BR", "pt_BR", "en", ""]) : r.string(); let b = c.current!
                return { try b.setLocale(locale: locale) }
            }),
            ("segments()", { _, c in let b = c.current!; return { _ = try b.segments() } }),
            ("refreshSegments()", { _, c in let b = c.current!; return { try b.refreshSegments() } }),
            ("setSegmentListener(_:)", { _, c in
                let b = c.current!
                return { try b.setSegmentListener { changes in _ = changes.map(\.segmentId) } }
            }),
            ("setSegmentListener(listener:)", { r, c in
                let listener: SegmentListener? = r.chance(0.5) ? SegmentsListener() : nil; let b = c.current!
                return { try b.setSegmentListener(listener: listener) }
            }),
            ("removeSegmentListener()", { _, c in let b = c.current!; return { try b.removeSegmentListener() } }),
            ("setInAppListener(_:)", { r, c in
                let shown = r.chance(0.5); let b = c.current!
                return {
                    try b.setInAppListener { message in
                        c.check("inAppMessageDismissed") { try b.inAppMessageDismissed(messageId: message.messageId) }
                        return shown
                    }
                }
            }),
            ("setInAppListener(listener:)", { r, c in
                let listener: InAppMessageListener? = r.chance(0.5) ? MessagesListener() : nil; let b = c.current!
                return { try b.setInAppListener(listener: listener) }
            }),
            ("removeInAppListener()", { _, c in let b = c.current!; return { try b.removeInAppListener() } }),
            ("takeInAppMessage()", { _, c in let b = c.current!; return { _ = try b.takeInAppMessage() } }),
            ("inAppMessageClicked(messageId:buttonId:)", { r, c in
                let (message, button) = (r.identifier(), r.identifier()); let b = c.current!
                return { try b.inAppMessageClicked(messageId: message, buttonId: button) }
            }),
            ("inAppMessageDismissed(messageId:)", { r, c in
                let message = r.identifier(); let b = c.current!
                return { try b.inAppMessageDismissed(messageId: message) }
            }),
            ("setDeepLinkRoutes(routes:allowedHosts:)", { r, c in
                let routes = (0..<r.int(0...3)).map { _ in
                    DeepLinkRoute(name: r.identifier(), pattern: r.chance(0.5) ? r.pick(Pushes.routes).pattern : r.url())
                }
                let hosts = (0..<r.int(0...2)).map { _ in r.chance(0.5) ? r.pick(["shop.example", "*.shop.example"]) : r.string() }
                let b = c.current!
                return { try b.setDeepLinkRoutes(routes: routes, allowedHosts: hosts) }
            }),
            ("openDeepLink(url:)", { r, c in let url = r.url(); let b = c.current!; return { _ = try b.openDeepLink(url: url) } }),
            ("deepLinkRouterReady()", { _, c in let b = c.current!; return { _ = try b.deepLinkRouterReady() } }),
            ("handlePush(_:)", { r, c in
                let userInfo = r.userInfo(); let b = c.current!
                return { _ = try b.handlePush(userInfo) }
            }),
            ("handlePush(payload:)", { r, c in
                let payload: String
                if r.chance(0.3) {
                    payload = r.string()
                } else {
                    var info = r.userInfo()
                    info["deep"] = nil // JSONSerialization, used here to make the text, recurses
                    let valid = JSONSerialization.isValidJSONObject(info.mapKeys())
                    payload = valid ? (try? Pushes.text(info.mapKeys())) ?? "{}" : "{\"beckon\": 1}"
                }
                let b = c.current!
                return { _ = try b.handlePush(payload: payload) }
            }),
            ("handlePushData(data:)", { r, c in
                var data: [String: String] = [:]
                if r.chance(0.6), let text = try? Pushes.text(["v": 1, "message_id": r.identifier(), "deep_link": r.url()]) {
                    data["beckon"] = r.chance(0.8) ? text : r.string()
                }
                for _ in 0..<r.int(0...3) { data[r.string()] = r.string() }
                let b = c.current!
                return { _ = try b.handlePushData(data: data) }
            }),
            ("activePromos()", { _, c in
                let b = c.current!
                return { _ = try b.activePromos().map { ($0.expiresAt, $0.receivedAt) } }
            }),
            ("bestPromo(for:shipping:)", { r, c in
                let (cart, shipping) = (r.cart(), r.maybe { $0.double() }); let b = c.current!
                return { _ = try b.bestPromo(for: cart, shipping: shipping)?.expiresAt }
            }),
            ("bestPromoFor(cart:shipping:)", { r, c in
                let (cart, shipping) = (r.cart(), r.maybe { $0.double() }); let b = c.current!
                return { _ = try b.bestPromoFor(cart: cart, shipping: shipping) }
            }),
            ("applyPromo(_:to:shipping:)", { r, c in
                let (code, cart, shipping) = (r.identifier(), r.cart(), r.maybe { $0.double() }); let b = c.current!
                return { _ = try b.applyPromo(code, to: cart, shipping: shipping).expiresAt }
            }),
            ("applyPromo(code:cart:shipping:)", { r, c in
                let (code, cart, shipping) = (r.identifier(), r.cart(), r.maybe { $0.double() }); let b = c.current!
                return { _ = try b.applyPromo(code: code, cart: cart, shipping: shipping) }
            }),
            ("Beckon(config:)", { r, c in
                let config = r.config(root: c.root, serverUrl: c.serverUrl)
                return { try Beckon(config: config).shutdown() }
            }),
            ("shutdown()", { r, c in
                let b = c.current!
                let after = r.event()
                return {
                    b.shutdown()
                    b.isShutDownForTest = true
                    try b.track(after) // throws ShutDown
                }
            }),
        ]
    }
}

/// Runs async `work` to its end from synchronous code, on the concurrency pool.
private func waitFor(_ work: @escaping @Sendable () async throws -> Void) throws {
    let outcome = Inbox<Result<Void, Error>>()
    let done = DispatchSemaphore(value: 0)
    Task {
        do {
            try await work()
            outcome.add(.success(()))
        } catch {
            outcome.add(.failure(error))
        }
        done.signal()
    }
    done.wait()
    try outcome.all[0].get()
}

private final class TokenListener: IdentityTokenListener {
    func identityTokenNeeded(userId: String, problem: IdentityProblem) {}
}

private final class SegmentsListener: SegmentListener {
    func onSegmentsChanged(changes: [SegmentChange]) {}
}

private final class MessagesListener: InAppMessageListener {
    func onMessage(message: InAppMessage) -> Bool { message.buttons.isEmpty }
}

/// Marks an instance the test shut down, so the next call gets a fresh one.
private var shutDownInstances = Set<ObjectIdentifier>()
private let shutDownLock = NSLock()

private extension Beckon {
    var isShutDownForTest: Bool {
        get {
            shutDownLock.lock()
            defer { shutDownLock.unlock() }
            return shutDownInstances.contains(ObjectIdentifier(self))
        }
        set {
            shutDownLock.lock()
            defer { shutDownLock.unlock() }
            if newValue { shutDownInstances.insert(ObjectIdentifier(self)) }
        }
    }
}

private extension Dictionary where Key == AnyHashable {
    /// String keys only, as JSONSerialization takes them.
    func mapKeys() -> [String: Any] {
        var out: [String: Any] = [:]
        for (key, value) in self { out["\(key)"] = value }
        return out
    }
}

extension Random {
    /// Timeouts in seconds, NaN and infinities included; none that would wait long on the
    /// dead server the test uses (which refuses connections at once).
    mutating func timeout() -> TimeInterval {
        pick([.nan, -.infinity, -1, -0.0, 0, 1e-300, 0.001, 0.02, .infinity, 1e300, .greatestFiniteMagnitude])
    }

    mutating func timeoutMs() -> Int64 {
        pick([Int64.min, -1, 0, 1, 20, Int64.max])
    }

    /// An identity token: printable ASCII most of the time (what the core accepts), or any string.
    mutating func token() -> String {
        chance(0.7) ? String((0..<int(1...64)).map { _ in Character(Unicode.Scalar(UInt8(int(0x21...0x7E)))) }) : string()
    }

    mutating func channel() -> Channel {
        pick([.push, .inApp, .email, .sms, .whatsapp])
    }

    /// A configuration, valid or not; the data directory is always under `root`.
    mutating func config(root: URL, serverUrl: String) -> BeckonConfig {
        var name = string().replacingOccurrences(of: "/", with: "_")
        if name == "." || name == ".." { name = "_" }
        let server = pick([serverUrl, serverUrl + "/" + string(), string(), "ftp://127.0.0.1", "http://[::1]:1", ""])
        let policy = chance(0.5) ? BeckonTestCase.quiet : FlushPolicy(
            flushAt: int32(), flushIntervalMs: int64(), maxBatchEvents: int32(), maxBatchBytes: int32(),
            requestTimeoutMs: int64(), retryBaseMs: int64(), retryMaxMs: int64())
        let limits = chance(0.5) ? QueueLimits() : QueueLimits(maxEvents: int64(), maxBytes: int64(), maxAgeSeconds: int64())
        return BeckonConfig(
            dataDir: chance(0.9) ? root.appendingPathComponent("config-" + name).path : pick(["", "\u{0}", root.path + "/\u{0}x"]),
            serverUrl: server, appKey: chance(0.7) ? "key-\(int(0...9))" : string(), flushPolicy: policy,
            queueLimits: limits, syncIntervalSeconds: chance(0.5) ? 0 : int32())
    }
}
