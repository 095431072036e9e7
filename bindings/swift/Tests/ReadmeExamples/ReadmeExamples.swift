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

        // The only call that waits for the network. From async code it runs on a worker
        // thread; the blocking `try beckon.flush(timeout: 10)` must stay off the main thread.
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

    /// What the snippets hand to the app's own code, for the test to look at.
    nonisolated(unsafe) public static var banners: [(title: String, body: String, buttons: [InAppButton])] = []
    nonisolated(unsafe) public static var segments: [String] = []
}

/// The app's banner view in the README snippet.
public func showBanner(_ title: String, _ body: String, _ buttons: [InAppButton]) {
    ReadmeExamples.banners.append((title, body, buttons))
}
