// Channel permissions, push tokens, opt-out and deleting local data through the Swift
// binding: a channel without permission gets nothing on the device, every change is kept
// and reaches the server, opting out stores nothing, and bad input is refused with a
// typed error that changes nothing. As the Kotlin PermissionsTest.
import Beckon
import Foundation
import XCTest

final class PermissionsTests: BeckonTestCase {
    static let apnsToken = "9f2c4a1b7e3d5c6a8b0f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6e5f4a3"
    static let fcmToken = "dQw4w9WgXcQ:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx_eW7fE1cR-0tR9n2"

    /// An order ends the cart abandonment; a new product in the cart starts another.
    func leaveAndReenterCartAbandoners(_ beckon: Beckon, _ orderId: String) throws {
        try beckon.track(.orderCompleted(order: Order(orderId: orderId, revenue: 10, currency: "EUR")))
        XCTAssertFalse(try beckon.segments().contains("cart_abandoner"))
        try beckon.track(EngagementTests.added("hat-\(orderId)", 20))
        XCTAssertTrue(try beckon.segments().contains("cart_abandoner"))
    }

    func testNoInAppMessageIsShownWhileInAppIsUnsubscribedAndTheNextTriggerShowsItOnceAllowed() throws {
        let server = try startServer()
        let created = try server.adminPost("/v1/admin/campaigns", json: EngagementTests.freeShippingCampaign(cap: #"{"total": 5}"#))
        XCTAssertEqual(created.status, 201, created.text)
        let beckon = try openSynced(try tempDir(), server: server)

        try beckon.setPermission(channel: .inApp, state: .unsubscribed, source: "settings_screen")
        XCTAssertEqual(try beckon.permission(for: .inApp).state, .unsubscribed)
        // Polling: the trigger fires, but nothing is kept for a poll.
        try beckon.track(EngagementTests.added("socks", 37.5))
        XCTAssertEqual(try beckon.segments(), ["cart_abandoner"])
        XCTAssertNil(try beckon.takeInAppMessage(), "in-app is unsubscribed")
        // A listener: not called.
        let offered = Inbox<(message: InAppMessage, thread: String)>()
        try beckon.setInAppListener { message in
            offered.add((message, currentThreadName()))
            return true
        }
        try leaveAndReenterCartAbandoners(beckon, "order-1")
        XCTAssertTrue(offered.all.isEmpty, "in-app is unsubscribed")

        try beckon.setPermission(channel: .inApp, state: .optedIn, source: "settings_screen")
        try leaveAndReenterCartAbandoners(beckon, "order-2")
        XCTAssertTrue(eventually { offered.all.count == 1 }, "the next trigger shows it")
        XCTAssertEqual(offered.all.map(\.message.campaignId), ["free-shipping"])
        XCTAssertEqual(offered.all.map(\.thread), [engagementThreadName])
        XCTAssertEqual(try beckon.permissionHistory().map(\.state), [.unsubscribed, .optedIn])

        try flushAll(beckon)
        let exported = try server.events()
        XCTAssertEqual(exported.named("In-App Message Shown").map { $0.properties["message_id"] },
                       offered.all.map { .string($0.message.messageId) })
        XCTAssertEqual(exported.named("Channel Permission Changed").map(\.properties), [
            ["channel": "in_app", "state": "unsubscribed", "source": "settings_screen"],
            ["channel": "in_app", "state": "opted_in", "source": "settings_screen"],
        ])
    }

    func testPermissionsPushTokensAndTheOsPermissionAreKeptAndReachTheServer() throws {
        let server = try startServer()
        let beckon = try open(try tempDir(), serverUrl: server.url)
        let defaults = try beckon.permissions()
        XCTAssertEqual(Set(defaults.map(\.channel)), [.push, .inApp, .email, .sms, .whatsapp])
        for permission in defaults {
            XCTAssertEqual(permission.state, .subscribed)
            XCTAssertEqual(permission.source, "default")
            XCTAssertNil(permission.updatedAt)
        }
        XCTAssertNil(try beckon.pushPermission(), "never reported")

        try beckon.setPermission(channel: .sms, state: .optedIn, source: "checkout")
        try beckon.setPermission(channel: .email, state: .unsubscribed, source: "settings_screen")
        try beckon.setPushPermission(granted: true)
        try beckon.setPushPermission(granted: true)
        try beckon.registerPushToken(provider: .fcm, token: Self.fcmToken)
        try beckon.registerPushToken(provider: .apns, token: Self.apnsToken.uppercased())
        XCTAssertEqual(try beckon.pushToken(), PushToken(provider: .apns, token: Self.apnsToken), "lower-cased")
        try beckon.removePushToken()
        XCTAssertNil(try beckon.pushToken())

        XCTAssertEqual(try beckon.permission(for: .sms).state, .optedIn)
        let email = try beckon.permission(for: .email)
        XCTAssertEqual(email.state, .unsubscribed)
        XCTAssertEqual(email.source, "settings_screen")
        XCTAssertNotNil(email.updatedAt)
        XCTAssertEqual(try beckon.permissionHistory().map(\.channel), [.sms, .email])
        XCTAssertEqual(try beckon.pushPermission(), true)

        try flushAll(beckon)
        let exported = try server.events()
        XCTAssertEqual(exported.named("Channel Permission Changed").map(\.properties), [
            ["channel": "sms", "state": "opted_in", "source": "checkout"],
            ["channel": "email", "state": "unsubscribed", "source": "settings_screen"],
        ])
        XCTAssertEqual(exported.named("Push Permission Changed").map(\.properties), [["granted": true]])
        let fcm: [String: JSON] = ["provider": "fcm", "token": .string(Self.fcmToken)]
        let apns: [String: JSON] = ["provider": "apns", "token": .string(Self.apnsToken)]
        XCTAssertEqual(exported.named("Push Token Registered").map(\.properties), [fcm, apns])
        XCTAssertEqual(exported.named("Push Token Removed").map(\.properties), [fcm, apns])
    }

    func testOptingOutStoresAndUploadsNothingUntilTheUserOptsBackIn() throws {
        let server = try startServer()
        let dir = try tempDir()
        let beckon = try open(dir, serverUrl: server.url)
        try beckon.track(.productViewed(product: Product(productId: "a")))
        try beckon.track(.productViewed(product: Product(productId: "b")))
        let queued = try beckon.stats().queuedEvents
        XCTAssertGreaterThanOrEqual(queued, 2)

        try beckon.optOut()
        XCTAssertTrue(beckon.isOptedOut())
        XCTAssertEqual(try beckon.stats().queuedEvents, 0, "the queue is discarded")
        XCTAssertEqual(try beckon.stats().dropped.optedOut, queued)
        try beckon.track(.productViewed(product: Product(productId: "c")))
        try beckon.screen("Cart")
        let stats = try beckon.stats()
        XCTAssertEqual(stats.queuedEvents, 0, "nothing stored: \(stats)")
        XCTAssertEqual(stats.dropped.optedOut, queued + 2, "each counted: \(stats)")
        try flushAll(beckon)
        beckon.shutdown()

        let again = try open(dir, serverUrl: server.url)
        XCTAssertTrue(again.isOptedOut(), "kept across restarts")
        try again.track(.productViewed(product: Product(productId: "d")))
        try flushAll(again)
        XCTAssertEqual(try server.events().count, 0, "nothing uploaded")

        try again.optIn()
        XCTAssertFalse(again.isOptedOut())
        try again.track(.productViewed(product: Product(productId: "e")))
        try flushAll(again)
        let uploaded = try server.appEvents()
        XCTAssertEqual(uploaded.map(\.label), ["Product Viewed"], "nothing from the opted-out time")
        XCTAssertEqual(uploaded.first?.properties["product_id"], "e")
    }

    func testDeletingLocalDataLeavesAFreshAnonymousUserWithNothingOfTheOldOne() throws {
        let dir = try tempDir()
        let beckon = try open(dir, serverUrl: try deadServerUrl())
        try beckon.identify("ana")
        let oldAnonymousId = beckon.anonymousId()
        try beckon.setPermission(channel: .sms, state: .optedIn, source: "checkout")
        try beckon.registerPushToken(provider: .apns, token: Self.apnsToken)
        try beckon.setPushPermission(granted: true)
        _ = try beckon.handlePush(Pushes.userInfo(Pushes.payload(
            "m-1", promo: Pushes.promo("TEN", ["kind": "percent", "value": 10]))))
        try beckon.track(EngagementTests.added("socks", 37.5))
        XCTAssertEqual(try beckon.segments(), ["cart_abandoner"])

        try beckon.deleteLocalData()

        let fresh = beckon.anonymousId()
        XCTAssertNotEqual(fresh, oldAnonymousId)
        XCTAssertNil(beckon.userId())
        XCTAssertEqual(try beckon.stats().queuedEvents, 0)
        XCTAssertEqual(try beckon.segments(), [])
        XCTAssertEqual(try beckon.permissionHistory(), [])
        XCTAssertEqual(try beckon.permission(for: .sms).state, .subscribed)
        XCTAssertNil(try beckon.pushToken())
        XCTAssertNil(try beckon.pushPermission())
        XCTAssertEqual(try beckon.activePromos(), [])

        beckon.shutdown()
        let again = try open(dir, serverUrl: try deadServerUrl())
        XCTAssertEqual(again.anonymousId(), fresh, "the fresh id is the one kept")
        XCTAssertNil(again.userId())
    }

    func testBadInputsThrowTypedErrorsAndChangeNothing() throws {
        let beckon = try open(try tempDir(), serverUrl: try deadServerUrl())
        try beckon.registerPushToken(provider: .fcm, token: Self.fcmToken)
        try beckon.setPermission(channel: .sms, state: .optedIn, source: "app")
        _ = try beckon.handlePush(Pushes.userInfo(Pushes.payload(
            "m-good", promo: Pushes.promo("TEN", ["kind": "percent", "value": 10]))))
        let queued = try beckon.stats().queuedEvents
        let before = (try beckon.permissionHistory(), try beckon.pushToken(), try beckon.activePromos())

        for source in ["", "by hand", String(repeating: "x", count: 65)] {
            XCTAssertThrowsError(try beckon.setPermission(channel: .sms, state: .unsubscribed, source: source)) { error in
                guard case let BeckonError.InvalidArgument(message) = error else { return XCTFail("got \(error)") }
                XCTAssertTrue(message.hasPrefix("invalid argument: source: "), message)
            }
        }
        XCTAssertThrowsError(try beckon.registerPushToken(provider: .apns, token: String(Self.apnsToken.prefix(40)))) { error in
            guard case BeckonError.InvalidArgument = error else { return XCTFail("got \(error)") }
            XCTAssertEqual("\(error)",
                           "invalid argument: token: an APNs token is an even number of hex digits, at least 64; found 40")
        }
        XCTAssertThrowsError(try beckon.registerPushToken(provider: .apns, token: Self.fcmToken)) { error in
            guard case let BeckonError.InvalidArgument(message) = error else { return XCTFail("got \(error)") }
            XCTAssertTrue(message.contains("an APNs token is hexadecimal"), message)
        }
        XCTAssertThrowsError(try beckon.setDeviceProfile(timeZone: "Europe/Atlantis", country: "PT")) { error in
            guard case let BeckonError.InvalidArgument(message) = error else { return XCTFail("got \(error)") }
            XCTAssertTrue(message.contains("time_zone"), message)
        }
        XCTAssertThrowsError(try beckon.handlePush(payload: "{not json")) { error in
            guard case BeckonError.InvalidPush = error else { return XCTFail("got \(error)") }
        }

        XCTAssertEqual(try beckon.stats().queuedEvents, queued)
        XCTAssertEqual(try beckon.permissionHistory(), before.0)
        XCTAssertEqual(try beckon.pushToken(), before.1)
        XCTAssertEqual(try beckon.activePromos(), before.2)
    }
}
