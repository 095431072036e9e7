// Deep links through the Swift binding: a push that cold-starts the app keeps its link on
// disk until the app's router is ready, and it is delivered once, even across a restart;
// links from hosts the app does not allow are refused. As the Kotlin DeepLinkTest.
import Beckon
import Foundation
import XCTest

final class DeepLinkTests: BeckonTestCase {
    func testALinkThatColdStartsTheAppWaitsForTheRouterInTheStoreAndIsDeliveredOnce() throws {
        let server = try startServer()
        let dir = try tempDir()
        let link = "shop://product/42?size=M&q=red+shoes&utm_source=push&utm_medium=notification"
            + "&utm_campaign=bf&utm_term=shoes&utm_content=banner-1"

        let first = try open(dir, serverUrl: server.url)
        try first.setDeepLinkRoutes(routes: Pushes.routes, allowedHosts: Pushes.hosts)
        let action = try first.handlePush(Pushes.userInfo(Pushes.payload("m-cold", deepLink: link)))
        XCTAssertEqual(action.link, .pending(url: link), "the router is not ready yet")
        // The app goes away before its router comes up.
        first.shutdown()

        let beckon = try open(dir, serverUrl: server.url)
        XCTAssertThrowsError(try beckon.deepLinkRouterReady(), "the link cannot be routed yet") { error in
            guard case let BeckonError.DeepLink(message) = error else { return XCTFail("got \(error)") }
            XCTAssertTrue(message.contains("routes"), message)
        }
        try beckon.setDeepLinkRoutes(routes: Pushes.routes, allowedHosts: Pushes.hosts)
        let delivered = try XCTUnwrap(try beckon.deepLinkRouterReady(), "kept across the restart")
        XCTAssertEqual(delivered.route, "product")
        XCTAssertEqual(delivered.url, link)
        XCTAssertEqual(delivered.params, ["id": "42", "size": "M", "q": "red shoes"])
        XCTAssertEqual(
            [delivered.utmSource, delivered.utmMedium, delivered.utmCampaign, delivered.utmTerm, delivered.utmContent],
            ["push", "notification", "bf", "shoes", "banner-1"])
        XCTAssertNil(try beckon.deepLinkRouterReady(), "delivered once")

        // Ready now: the next push's link comes back at once.
        let warm = try beckon.handlePushData(data: try Pushes.fcmData(Pushes.payload("m-warm", deepLink: "shop://cart")))
        guard case let .open(cart) = warm.link else { return XCTFail("got \(warm.link)") }
        XCTAssertEqual(cart.route, "cart")

        beckon.shutdown()
        let again = try open(dir, serverUrl: server.url)
        try again.setDeepLinkRoutes(routes: Pushes.routes, allowedHosts: Pushes.hosts)
        XCTAssertNil(try again.deepLinkRouterReady(), "never again")

        try flushAll(again)
        let exported = try server.events()
        XCTAssertEqual(exported.named("Push Opened").map { $0.properties["message_id"] }, ["m-cold", "m-warm"])
        let opened = exported.named("Deep Link Opened").map(\.properties)
        XCTAssertEqual(opened.map { $0["message_id"] }, ["m-cold", "m-warm"])
        XCTAssertEqual(opened.map { $0["route"] }, ["product", "cart"])
        XCTAssertEqual(opened.first?["url"], .string(link))
        XCTAssertEqual(
            ["campaign_id", "send_id", "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"]
                .map { opened.first?[$0] },
            ["black-friday", "send-1", "push", "notification", "bf", "shoes", "banner-1"])
    }

    func testLinksFromHostsNotAllowedAreRefusedAndNotKept() throws {
        let server = try startServer()
        let beckon = try open(try tempDir(), serverUrl: server.url)
        try beckon.setDeepLinkRoutes(routes: Pushes.routes, allowedHosts: Pushes.hosts)

        // Before the router is ready, a link that can never be routed is refused, not kept.
        let evil = try beckon.handlePush(Pushes.userInfo(Pushes.payload("m-evil", deepLink: "https://evil.example/p/1")))
        guard case let .refused(url, reason) = evil.link else { return XCTFail("got \(evil.link)") }
        XCTAssertEqual(url, "https://evil.example/p/1")
        XCTAssertTrue(reason.contains("evil.example") && reason.contains("allowed"), reason)
        XCTAssertNil(try beckon.deepLinkRouterReady(), "a refused link is not kept")

        for url in ["https://evil.example/p/7", "https://shop.example@evil.example/p/7",
                    "https://shop.example.evil.example/p/7", "shop://wishlist"] {
            XCTAssertThrowsError(try beckon.openDeepLink(url: url), url) { error in
                guard case BeckonError.DeepLink = error else { return XCTFail("\(url): got \(error)") }
            }
        }
        let web = try beckon.openDeepLink(url: "https://SHOP.example/p/7?utm_source=newsletter&utm_medium=email")
        XCTAssertEqual(web.route, "web_product")
        XCTAssertEqual(web.params, ["id": "7"])
        XCTAssertEqual(web.utmSource, "newsletter")

        // Bad routes are refused, naming the entry; the earlier routes stay.
        XCTAssertThrowsError(try beckon.setDeepLinkRoutes(
            routes: [DeepLinkRoute(name: "product", pattern: "shop://product/{id}"),
                     DeepLinkRoute(name: "evil", pattern: "https://evil.example/{id}")],
            allowedHosts: Pushes.hosts)
        ) { error in
            guard case let BeckonError.InvalidArgument(message) = error else { return XCTFail("got \(error)") }
            XCTAssertTrue(message.contains("routes[1].pattern"), message)
        }
        XCTAssertEqual(try beckon.openDeepLink(url: "https://shop.example/p/8").route, "web_product")

        try flushAll(beckon)
        let exported = try server.events()
        XCTAssertEqual(exported.named("Push Opened").map { $0.properties["message_id"] }, ["m-evil"], "the open is recorded")
        XCTAssertEqual(exported.named("Deep Link Opened").map { $0.properties["route"] }, ["web_product", "web_product"],
                       "refused links are not")
    }
}
