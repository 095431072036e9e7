// The README's Swift snippets, compiled as a module of their own in the Swift 6 language
// mode, as in an app. ReadmeTests (in BeckonTests) checks that each region between
// `README swift snippet N` markers is, line for line (after removing the indentation the
// functions add), the Nth ```swift block of README.md, whose `import` lines must be among
// this file's imports. Edit both together.
import Beckon
import Foundation

public enum ReadmeExamples {
    /// "Swift (iOS)": never run (it names a real data directory and server), only compiled.
    public static func swiftSection() async throws -> FlushReport {
        // README swift snippet 1 begin
        let dir = FileManager.default.urls(for: .applicationSupportDirectory, in: .userDomainMask)[0]
            .appendingPathComponent("beckon")
        let beckon = try Beckon(config: BeckonConfig(
            dataDir: dir.path, serverUrl: "https://beckon.shop.example", appKey: "YOUR_APP_KEY"))

        try beckon.identify("user-42", traits: ["plan": "gold", "email_opt_in": true])

        let shoe = Product(productId: "sku-42", name: "Trail Runner", price: 89.90, currency: "EUR")
        try beckon.track(.productViewed(product: shoe))
        try beckon.track(.orderCompleted(order: Order(
            orderId: "order-1001", total: 97.06, revenue: 92.16, currency: "EUR", products: [shoe])))

        // The only call that waits for the network. It is async and waits on a worker
        // thread, never on the caller's (the main actor's included). Synchronous code on a
        // thread of its own may block instead: `try beckon.flushBlocking(timeout: 10)`.
        let report = try await beckon.flush(timeout: 10)   // report.outcome == .delivered
        // README swift snippet 1 end
        return report
    }

    /// "Segments and in-app messages": run by ReadmeTests against a live server.
    public static func segmentsSection(beckon: Beckon, message: InAppMessage, button: InAppButton) throws {
        // README swift snippet 2 begin
        // Called on Beckon's "beckon-engagement" thread, never the main thread: hop to draw.
        try beckon.setInAppListener { message in
            DispatchQueue.main.async { showBanner(message.title, message.body, message.buttons) }
            return true   // displayed: counts toward the campaign's cap and the 30 s gap
        }
        try beckon.setSegmentListener { changes in
            for change in changes { print(change.entered ? "entered" : "left", change.segmentId) }
        }
        try beckon.setLocale(locale: Locale.current.identifier)   // pt_BR → pt → default variant

        // Later, when the shopper taps a button or closes the banner:
        try beckon.inAppMessageClicked(messageId: message.messageId, buttonId: button.id)
        try beckon.inAppMessageDismissed(messageId: message.messageId)

        let segments = try beckon.segments()   // ["cart_abandoner"]
        // README swift snippet 2 end
        ReadmeExamples.segments = segments
    }

    /// "Pushes, deep links and promo codes": run by ReadmeTests against a live server,
    /// with a push that cold-started the app (so its link waits for the router).
    public static func pushSection(
        beckon: Beckon, deviceToken: Data, userInfo: [AnyHashable: Any], cart: Cart
    ) throws {
        // README swift snippet 3 begin
        // At start: the app's routes, and the hosts its universal links may come from.
        try beckon.setDeepLinkRoutes(
            routes: [DeepLinkRoute(name: "product", pattern: "shop://product/{id}"),
                     DeepLinkRoute(name: "cart", pattern: "shop://cart")],
            allowedHosts: ["shop.example"])
        // application(_:didRegisterForRemoteNotificationsWithDeviceToken:)
        try beckon.registerPushToken(provider: .apns, token: deviceToken.map { String(format: "%02x", $0) }.joined())

        // userNotificationCenter(_:didReceive:…): userInfo is response.notification.request.content.userInfo
        let action = try beckon.handlePush(userInfo)
        if case let .open(link) = action.link { navigate(link.route, link.params) }

        // Once the navigation is set up: the link of a push that started the app, once.
        if let link = try beckon.deepLinkRouterReady() { navigate(link.route, link.params) }

        // At checkout: the best code the shopper holds for this cart, applied once.
        if let best = try beckon.bestPromo(for: cart) {
            let quote = try beckon.applyPromo(best.code, to: cart)   // counts a use
            showTotal(quote.totalAfterDiscount, quote.currency)
        }
        // README swift snippet 3 end
    }

    /// "Verified identities": run by ReadmeTests against a server that requires them.
    public static func identitySection(
        beckon: Beckon, user: SignedInUser, signIn: SignIn, backend: AppBackend
    ) throws {
        // README swift snippet 4 begin
        // At sign-in, with the identity token your backend issued for the user.
        try beckon.identify(user.id, traits: ["plan": "gold"], identityToken: signIn.beckonToken)

        // Called on Beckon's "beckon-upload" thread when the server refuses a token (.expired,
        // .invalid, .missing), once per user and refused token: fetch a new one off that thread.
        try beckon.setIdentityTokenListener { userId, problem in
            Task {
                let token = try await backend.beckonToken(for: userId)
                try beckon.setIdentityToken(token, forUser: userId)
            }
        }
        // README swift snippet 4 end
    }

    /// What the snippets hand to the app's own code, for the test to look at.
    nonisolated(unsafe) public static var banners: [(title: String, body: String, buttons: [InAppButton])] = []
    nonisolated(unsafe) public static var segments: [String] = []
    nonisolated(unsafe) public static var navigations: [(route: String, params: [String: String])] = []
    nonisolated(unsafe) public static var totals: [(amount: Double, currency: String)] = []
}

/// The app's banner view in the README snippet.
public func showBanner(_ title: String, _ body: String, _ buttons: [InAppButton]) {
    ReadmeExamples.banners.append((title, body, buttons))
}

/// The app's navigation in the README snippet.
public func navigate(_ route: String, _ params: [String: String]) {
    ReadmeExamples.navigations.append((route, params))
}

/// The app's checkout total in the README snippet.
public func showTotal(_ amount: Double, _ currency: String) {
    ReadmeExamples.totals.append((amount, currency))
}

/// The signed-in user in the README snippet.
public struct SignedInUser: Sendable {
    public let id: String
    public init(id: String) { self.id = id }
}

/// What the app's backend answered at sign-in in the README snippet: the identity token
/// it issued for the user.
public struct SignIn: Sendable {
    public let beckonToken: String
    public init(beckonToken: String) { self.beckonToken = beckonToken }
}

/// The app's backend in the README snippet: it signs user ids for Beckon.
public struct AppBackend: Sendable {
    private let sign: @Sendable (String) async throws -> String
    public init(sign: @escaping @Sendable (String) async throws -> String) { self.sign = sign }

    public func beckonToken(for userId: String) async throws -> String {
        try await sign(userId)
    }
}
