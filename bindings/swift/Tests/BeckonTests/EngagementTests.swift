// Segments and in-app messages on a real SDK instance against a real server, as in the
// Rust tests/in_app.rs: a campaign created through the admin API reaches the device by
// sync, fires when the shopper becomes a cart abandoner, is rendered for them, and its
// impressions and clicks reach the server and count toward the cap and the gap.
import Beckon
import Foundation
import XCTest

final class EngagementTests: BeckonTestCase {
    static func freeShippingCampaign(cap: String) -> String {
        """
        {"schema_version": 1, "id": "free-shipping", "name": "Free shipping nudge", "status": "active",
         "priority": 5,
         "trigger": {"segment_entered": "cart_abandoner"},
         "audience": {"segments": ["cart_abandoner"]},
         "cap": \(cap),
         "free_shipping_threshold": {"EUR": 50},
         "default_locale": "en",
         "variants": {
           "en": {"title": "Hi {{first_name | there}}",
                  "body": "Add {{free_shipping_remaining}} more for free shipping",
                  "buttons": [{"id": "cart", "label": "View cart", "url": "shop://cart"}]},
           "pt": {"title": "Olá {{first_name | você}}",
                  "body": "Faltam {{free_shipping_remaining}} para o frete grátis"}
         }}
        """
    }

    static func added(_ id: String, _ price: Double) -> Event {
        .productAdded(product: Product(productId: id, name: "Product \(id)", price: price, currency: "EUR"))
    }

    static func removed(_ id: String) -> Event {
        .productRemoved(product: Product(productId: id))
    }

    func createCampaign(_ server: TestServer, cap: String) throws {
        let created = try server.adminPost("/v1/admin/campaigns", json: Self.freeShippingCampaign(cap: cap))
        XCTAssertEqual(created.status, 201, created.text)
    }

    func testSegmentChangesReachTheListenerOnTheEngagementThread() throws {
        let beckon = try open(try tempDir(), serverUrl: try deadServerUrl())
        let calls = Inbox<(changes: [SegmentChange], thread: String, isMain: Bool)>()
        try beckon.setSegmentListener { changes in
            calls.add((changes, currentThreadName(), Thread.isMainThread))
        }
        XCTAssertEqual(try beckon.segments(), [])
        try beckon.track(Self.added("socks", 37.5))
        XCTAssertEqual(try beckon.segments(), ["cart_abandoner"])
        try beckon.track(.orderCompleted(order: Order(orderId: "o-1", revenue: 37.5, currency: "EUR")))
        XCTAssertEqual(try beckon.segments(), ["first_time_customer"])

        XCTAssertTrue(eventually { calls.all.count >= 2 }, "calls: \(calls.all.map(\.changes))")
        let received = calls.all
        XCTAssertEqual(received.map(\.changes), [
            [SegmentChange(segmentId: "cart_abandoner", entered: true)],
            [SegmentChange(segmentId: "cart_abandoner", entered: false),
             SegmentChange(segmentId: "first_time_customer", entered: true)],
        ].map { $0 }, "\(received.map(\.changes))")
        for call in received {
            XCTAssertEqual(call.thread, engagementThreadName, "listeners run on Beckon's engagement thread")
            XCTAssertFalse(call.isMain)
        }

        // Removed: no more calls.
        try beckon.removeSegmentListener()
        try beckon.track(Self.added("hat", 20))
        XCTAssertEqual(try beckon.segments().sorted(), ["cart_abandoner", "first_time_customer"])
        Thread.sleep(forTimeInterval: 0.1)
        XCTAssertEqual(calls.all.count, 2)
    }

    func testACartAbandonerIsNudgedOnceAndTheClickReachesTheServer() throws {
        let server = try startServer()
        try createCampaign(server, cap: #"{"total": 1}"#)
        let beckon = try openSynced(try tempDir(), server: server)
        let shown = Inbox<(message: InAppMessage, thread: String)>()
        try beckon.setInAppListener { message in
            shown.add((message, currentThreadName()))
            return true
        }
        try beckon.identify("ana", traits: ["first_name": "Ana <b>"])
        try beckon.setLocale(locale: "pt-BR")

        try beckon.track(Self.added("socks", 37.5))
        XCTAssertTrue(eventually { !shown.all.isEmpty }, "the campaign fired")
        let (message, thread) = shown.all[0]
        XCTAssertEqual(thread, engagementThreadName)
        XCTAssertEqual(message.campaignId, "free-shipping")
        XCTAssertEqual(message.locale, "pt")
        XCTAssertEqual(message.title, "Olá Ana <b>", "plain text: the name is not markup")
        XCTAssertEqual(message.body, "Faltam 12.50 EUR para o frete grátis")
        XCTAssertFalse(message.messageId.isEmpty)

        try beckon.inAppMessageClicked(messageId: message.messageId, buttonId: "cart")
        // Leaving and re-entering the segment fires the trigger again; the cap (1) holds.
        try beckon.track(Self.removed("socks"))
        try beckon.track(.orderCompleted(order: Order(orderId: "o-1", revenue: 10, currency: "EUR")))
        try beckon.track(Self.added("hat", 20))
        XCTAssertTrue(try beckon.segments().contains("cart_abandoner"))
        XCTAssertEqual(shown.all.count, 1, "the total cap is 1")

        XCTAssertThrowsError(try beckon.inAppMessageClicked(messageId: "never-shown", buttonId: "cart")) { error in
            guard case BeckonError.InvalidArgument = error else { return XCTFail("got \(error)") }
        }

        XCTAssertEqual(try beckon.flush(timeoutMs: Self.flushTimeoutMs).outcome, .delivered)
        let exported = try server.events()
        let shownEvents = exported.filter { $0.name == "In-App Message Shown" }
        XCTAssertEqual(shownEvents.count, 1)
        XCTAssertEqual(shownEvents.first?.properties["message_id"], .string(message.messageId))
        XCTAssertEqual(shownEvents.first?.properties["campaign_id"], "free-shipping")
        let clicked = exported.filter { $0.name == "In-App Message Clicked" }
        XCTAssertEqual(clicked.count, 1)
        XCTAssertEqual(clicked.first?.properties["button_id"], "cart")
        XCTAssertEqual(clicked.first?.properties["message_id"], .string(message.messageId))
        // The membership reports tell the server the same story the device saw.
        XCTAssertEqual(
            exported.filter(\.isMembershipReport).map { "\($0.label) \($0.properties["segment_id"]?.string ?? "?")" },
            ["Segment Entered cart_abandoner", "Segment Exited cart_abandoner",
             "Segment Entered first_time_customer", "Segment Entered cart_abandoner"])
    }

    func testAMessageTheListenerDeclinesIsNotShownAndNotOfferedAgain() throws {
        let server = try startServer()
        try createCampaign(server, cap: #"{"total": 5}"#)
        let beckon = try openSynced(try tempDir(), server: server)
        let offered = Inbox<InAppMessage>()
        try beckon.setInAppListener { message in
            offered.add(message)
            return false // the app is on its checkout screen, say
        }
        try beckon.track(Self.added("socks", 37.5))
        XCTAssertTrue(eventually { !offered.all.isEmpty })
        try beckon.removeInAppListener()
        XCTAssertNil(try beckon.takeInAppMessage(), "a declined message is not kept")

        // Declined means not shown: no gap starts, so re-entering the segment offers it again.
        try beckon.track(Self.removed("socks"))
        try beckon.track(.orderCompleted(order: Order(orderId: "o-3")))
        try beckon.track(Self.added("hat", 20))
        let again = try beckon.takeInAppMessage()
        XCTAssertNotNil(again, "a declined message does not count toward the gap")
        XCTAssertEqual(again?.campaignId, "free-shipping")
        XCTAssertEqual(offered.all.count, 1)

        XCTAssertEqual(try beckon.flush(timeoutMs: Self.flushTimeoutMs).outcome, .delivered)
        let shownEvents = try server.events().filter { $0.name == "In-App Message Shown" }
        XCTAssertEqual(shownEvents.map { $0.properties["message_id"] }, [.string(again?.messageId ?? "?")],
                       "only the taken message counts as shown")
    }

    func testWithoutAListenerTheMessageWaitsForAPollAndTheGapHolds() throws {
        let server = try startServer()
        try createCampaign(server, cap: #"{"total": 5}"#)
        let dir = try tempDir()
        let beckon = try openSynced(dir, server: server)

        XCTAssertNil(try beckon.takeInAppMessage())
        try beckon.track(Self.added("socks", 37.5))
        guard let message = try beckon.takeInAppMessage() else { return XCTFail("a pending message") }
        XCTAssertEqual(message.body, "Add 12.50 EUR more for free shipping")
        XCTAssertEqual(message.title, "Hi there", "the fallback for a missing first name")
        XCTAssertEqual(message.locale, "en")
        XCTAssertEqual(message.buttons, [InAppButton(id: "cart", label: "View cart", url: "shop://cart")])
        XCTAssertNil(try beckon.takeInAppMessage(), "taken once")

        // Out of the segment and back in, within the 30 s gap: nothing to show.
        try beckon.track(Self.removed("socks"))
        try beckon.track(.orderCompleted(order: Order(orderId: "o-2")))
        try beckon.track(Self.added("hat", 20))
        XCTAssertNil(try beckon.takeInAppMessage(), "within the gap")
        try beckon.inAppMessageDismissed(messageId: message.messageId)

        // The impression is stored: a new instance still keeps the gap and the cap.
        beckon.shutdown()
        let reopened = try open(dir, serverUrl: server.url)
        XCTAssertNil(try reopened.takeInAppMessage())
        XCTAssertEqual(try reopened.flush(timeoutMs: Self.flushTimeoutMs).outcome, .delivered)
        let exported = try server.events()
        XCTAssertEqual(exported.filter { $0.name == "In-App Message Shown" }.count, 1)
        let dismissed = exported.filter { $0.name == "In-App Message Dismissed" }
        XCTAssertEqual(dismissed.count, 1)
        XCTAssertEqual(dismissed.first?.properties["message_id"], .string(message.messageId))
    }
}
