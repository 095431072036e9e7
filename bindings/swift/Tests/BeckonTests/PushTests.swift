// Opened pushes through the Swift binding against a live server: each shape the app may
// hand over (an APNs userInfo, an FCM data map, JSON) activates the push's promo, which
// applies within its conditions and limits, and the open reaches the server with its
// attribution. As the Kotlin PushTest.
import Beckon
import Foundation
import XCTest

final class PushTests: BeckonTestCase {
    func testAnApnsPushActivatesItsPromoWhichAppliesOnceAndTheOpenReachesTheServer() throws {
        let server = try startServer()
        let beckon = try open(try tempDir(), serverUrl: server.url)
        try beckon.setDeepLinkRoutes(routes: Pushes.routes, allowedHosts: Pushes.hosts)
        XCTAssertNil(try beckon.deepLinkRouterReady(), "nothing pending")
        let expiresAt = Pushes.inDays(2)
        let link = "shop://product/42?color=dark%20blue&utm_source=push&utm_campaign=bf"
        let before = Date()

        let action = try beckon.handlePush(Pushes.userInfo(Pushes.payload(
            "m-1", deepLink: link,
            promo: Pushes.promo("BF10", ["kind": "percent", "value": 10], expiresAt: expiresAt, maxUses: 1))))

        XCTAssertEqual([action.messageId, action.campaignId, action.sendId], ["m-1", "black-friday", "send-1"])
        guard case let .open(opened) = action.link else {
            return XCTFail("the router is ready: the link comes back at once, got \(action.link)")
        }
        XCTAssertEqual(opened.route, "product")
        XCTAssertEqual(opened.url, link)
        XCTAssertEqual(opened.params, ["id": "42", "color": "dark blue"], "decoded, UTM fields taken out")
        XCTAssertEqual([opened.utmSource, opened.utmMedium, opened.utmCampaign, opened.utmTerm, opened.utmContent],
                       ["push", nil, "bf", nil, nil])
        guard let promo = action.promo else { return XCTFail("the push's promo") }
        XCTAssertTrue(action.promoActive)
        XCTAssertEqual(promo.code, "BF10")
        XCTAssertEqual(promo.kind, .percent)
        XCTAssertEqual(promo.value, 10)
        XCTAssertEqual(promo.currency, "EUR")
        XCTAssertEqual(promo.expiresAt, Pushes.date(expiresAt))
        XCTAssertEqual([promo.maxUses, promo.uses], [1, 0])
        XCTAssertEqual([promo.messageId, promo.campaignId], ["m-1", "black-friday"])
        XCTAssertGreaterThanOrEqual(promo.receivedAt.timeIntervalSince1970, before.timeIntervalSince1970.rounded(.down))

        XCTAssertEqual(try beckon.activePromos(), [promo])
        let best = try XCTUnwrap(try beckon.bestPromo(for: Pushes.cart(80)))
        XCTAssertEqual(best.code, "BF10")
        XCTAssertEqual(best.discount, 8)
        XCTAssertEqual(best.totalAfterDiscount, 72)
        XCTAssertEqual(best.currency, "EUR")
        XCTAssertEqual(best.expiresAt, Pushes.date(expiresAt))

        let applied = try beckon.applyPromo("bf10", to: Pushes.cart(80), shipping: 4.95)
        XCTAssertEqual(applied.code, "BF10", "codes match whatever their case")
        XCTAssertEqual(applied.discount, 8)
        XCTAssertEqual(applied.totalAfterDiscount, 76.95)
        XCTAssertThrowsError(try beckon.applyPromo("BF10", to: Pushes.cart(80))) { error in
            guard case BeckonError.PromoUsedUp = error else { return XCTFail("got \(error)") }
            XCTAssertEqual("\(error)", "promo code BF10 has been used its 1 time(s) already")
        }
        XCTAssertEqual(try beckon.activePromos(), [], "used up")
        XCTAssertNil(try beckon.bestPromo(for: Pushes.cart(80)))

        try flushAll(beckon)
        let exported = try server.events()
        let opens = exported.named("Push Opened")
        XCTAssertEqual(opens.count, 1)
        XCTAssertEqual(opens.first?.properties, [
            "message_id": "m-1", "campaign_id": "black-friday", "send_id": "send-1", "deep_link": .string(link),
            "promo_code": "BF10",
        ])
        XCTAssertEqual(opens.first?.anonymousId, beckon.anonymousId())
        let linkOpened = exported.named("Deep Link Opened").first?.properties ?? [:]
        XCTAssertEqual([linkOpened["route"], linkOpened["message_id"], linkOpened["utm_campaign"]], ["product", "m-1", "bf"])
        let coupons = exported.named("Coupon Applied")
        XCTAssertEqual(coupons.count, 1)
        XCTAssertEqual(["coupon_id", "currency", "cart_id", "message_id", "campaign_id"].map { coupons.first?.properties[$0] },
                       ["BF10", "EUR", "cart-1", "m-1", "black-friday"])
        XCTAssertEqual(coupons.first?.number("discount"), 8)
        XCTAssertEqual(exported.named("Coupon Denied").map { $0.properties["reason"] }, ["used_up"])
    }

    func testTheFcmDataMapAndJsonFormsActivateTheirPromosAndTheBestOneDependsOnTheCart() throws {
        let server = try startServer()
        let beckon = try open(try tempDir(), serverUrl: server.url)

        let ten = try beckon.handlePushData(data: try Pushes.fcmData(Pushes.payload(
            "m-10", promo: Pushes.promo("TEN", ["kind": "percent", "value": 10]))))
        let five = try beckon.handlePush(payload: try Pushes.text(Pushes.userInfo(Pushes.payload(
            "m-5", campaignId: "spring", sendId: nil,
            promo: Pushes.promo("FIVE", ["kind": "fixed", "value": 5], minBasket: 30, maxUses: 2)))))
        let ship = try beckon.handlePush(payload: try Pushes.text(["data": try Pushes.fcmData(Pushes.payload(
            "m-ship", campaignId: nil,
            promo: Pushes.promo("SHIP", ["kind": "free_shipping"], currency: nil, expiresAt: Pushes.inDays(1))))]))
        for action in [ten, five, ship] {
            XCTAssertEqual(action.link, PushLink.none, "no deep link: the app opens where it is")
            XCTAssertTrue(action.promoActive, "\(action)")
        }
        XCTAssertEqual([five.messageId, five.campaignId, five.sendId], ["m-5", "spring", nil])
        XCTAssertEqual(five.promo?.kind, .fixed)
        XCTAssertEqual(five.promo?.value, 5)
        XCTAssertEqual(ship.promo?.kind, .freeShipping)
        XCTAssertNil(ship.promo?.value)
        XCTAssertEqual(try beckon.activePromos().map(\.code).sorted(), ["FIVE", "SHIP", "TEN"])
        XCTAssertEqual(try beckon.activePromos().first?.code, "SHIP", "soonest to expire first")

        XCTAssertEqual(try beckon.bestPromo(for: Pushes.cart(100))?.code, "TEN", "10 % of 100 beats 5 EUR")
        XCTAssertEqual(try beckon.bestPromo(for: Pushes.cart(40))?.code, "FIVE", "5 EUR beats 10 % of 40")
        XCTAssertEqual(try beckon.bestPromo(for: Pushes.cart(20))?.code, "TEN", "under FIVE's 30 EUR minimum")
        let shipping = try XCTUnwrap(try beckon.bestPromo(for: Pushes.cart(20), shipping: 6.9))
        XCTAssertEqual(shipping.code, "SHIP")
        XCTAssertEqual(shipping.discount, 6.9, "free shipping, priced")
        XCTAssertEqual(shipping.totalAfterDiscount, 20)

        XCTAssertThrowsError(try beckon.applyPromo("FIVE", to: Pushes.cart(20))) { error in
            guard case let BeckonError.PromoNotEligible(message) = error else { return XCTFail("got \(error)") }
            XCTAssertTrue(message.contains("FIVE"), message)
        }
        XCTAssertThrowsError(try beckon.applyPromo("NOPE", to: Pushes.cart(20))) { error in
            guard case BeckonError.PromoUnknown = error else { return XCTFail("got \(error)") }
            XCTAssertEqual((error as? BeckonError)?.message, "promo code NOPE is not one this device holds")
        }
        XCTAssertThrowsError(try beckon.applyPromo("NO PE", to: Pushes.cart(20))) { error in
            guard case BeckonError.InvalidArgument = error else { return XCTFail("got \(error)") }
        }
        for _ in 0..<2 {
            XCTAssertEqual(try beckon.applyPromo("FIVE", to: Pushes.cart(40)).discount, 5)
        }
        XCTAssertThrowsError(try beckon.applyPromo("FIVE", to: Pushes.cart(40))) { error in
            guard case BeckonError.PromoUsedUp = error else { return XCTFail("got \(error)") }
        }

        try flushAll(beckon)
        let exported = try server.events()
        XCTAssertEqual(exported.named("Push Opened").map { $0.properties["message_id"] }, ["m-10", "m-5", "m-ship"])
        XCTAssertEqual(exported.named("Push Opened").map { $0.properties["campaign_id"] ?? .null },
                       ["black-friday", "spring", .null])
        XCTAssertEqual(exported.named("Coupon Applied").map { $0.properties["coupon_id"] }, ["FIVE", "FIVE"])
        XCTAssertEqual(exported.named("Coupon Denied").map { $0.properties["reason"] }, ["not_eligible", "used_up"])
    }

    func testAUserInfoJustUnderTheSizeLimitFitsSinceItsSlashesAreNotEscaped() throws {
        let beckon = try open(try tempDir(), serverUrl: try deadServerUrl())
        let userInfo = Pushes.userInfo(Pushes.payload("m-1"))
        let base = try Pushes.text(userInfo).utf8.count
        XCTAssertFalse(try Pushes.text(userInfo).contains("/"))
        // `,"padding":"…"` adds 13 bytes and the slashes; escaped, they would double.
        var nearLimit = userInfo
        let slashes = 4096 - base - 13 - 8
        nearLimit["padding"] = String(repeating: "/", count: slashes)
        XCTAssertEqual(try beckon.handlePush(nearLimit).messageId, "m-1")
        nearLimit["padding"] = String(repeating: "/", count: slashes + 9)
        XCTAssertThrowsError(try beckon.handlePush(nearLimit), "one byte over") { error in
            guard case let BeckonError.InvalidPush(message) = error else { return XCTFail("got \(error)") }
            XCTAssertTrue(message.contains("4097 bytes"), message)
        }
    }

    func testAUserInfoThatIsNotJsonOrNotBeckonsIsRefusedAndChangesNothing() throws {
        let beckon = try open(try tempDir(), serverUrl: try deadServerUrl())
        try beckon.setDeepLinkRoutes(routes: Pushes.routes, allowedHosts: Pushes.hosts)
        let good = Pushes.payload("m-1", deepLink: "shop://cart", promo: Pushes.promo("TEN", ["kind": "percent", "value": 10]))

        var withDate = good
        withDate["sent"] = Date()
        XCTAssertThrowsError(try beckon.handlePush(Pushes.userInfo(withDate))) { error in
            guard case let BeckonError.InvalidPush(message) = error else { return XCTFail("got \(error)") }
            XCTAssertTrue(message.contains("userInfo.beckon.sent"), message)
        }
        var numberKey = Pushes.userInfo(good)
        numberKey[7] = "seven"
        XCTAssertThrowsError(try beckon.handlePush(numberKey)) { error in
            guard case let BeckonError.InvalidPush(message) = error else { return XCTFail("got \(error)") }
            XCTAssertTrue(message.contains("the key 7 is not a string"), message)
        }
        XCTAssertThrowsError(try beckon.handlePush(["aps": ["alert": "hi"]])) { error in
            guard case BeckonError.NotBeckonPush = error else { return XCTFail("got \(error)") }
        }
        var negative = good
        negative["promo"] = Pushes.promo("TEN", ["kind": "percent", "value": -10])
        XCTAssertThrowsError(try beckon.handlePush(Pushes.userInfo(negative))) { error in
            guard case let BeckonError.InvalidPush(message) = error else { return XCTFail("got \(error)") }
            XCTAssertTrue(message.contains("beckon.promo.discount.value"), message)
        }
        var oversized = Pushes.userInfo(good)
        oversized["padding"] = String(repeating: "x", count: 4096)
        XCTAssertThrowsError(try beckon.handlePush(oversized)) { error in
            guard case let BeckonError.InvalidPush(message) = error else { return XCTFail("got \(error)") }
            XCTAssertTrue(message.contains("4096-byte limit"), message)
        }

        XCTAssertEqual(try beckon.stats().queuedEvents, 0, "no event")
        XCTAssertEqual(try beckon.activePromos(), [], "no promo")
        XCTAssertNil(try beckon.deepLinkRouterReady(), "no pending link")
    }
}
