import Beckon
import Foundation
import XCTest

final class ValidationTests: BeckonTestCase {
    private static let shoe = Product(productId: "sku-run-42", price: 89.9)

    private static func with(_ product: Product, _ change: (inout Product) -> Void) -> Product {
        var copy = product
        change(&copy)
        return copy
    }

    /// Invalid events and the field path their error message must name.
    private static let invalid: [(Event, String)] = [
        (.productViewed(product: Product(productId: "")), "product.product_id"),
        (.productViewed(product: with(shoe) { $0.price = .nan }), "product.price"),
        (.productAdded(product: with(shoe) { $0.price = -1 }), "product.price"),
        (.productAdded(product: with(shoe) { $0.quantity = 0 }), "product.quantity"),
        (.cartViewed(cart: Cart(products: [shoe], currency: "euro")), "cart.currency"),
        (.cartViewed(cart: Cart(products: [shoe, Product(productId: " ")])), "cart.products[1].product_id"),
        (.orderCompleted(order: Order(total: 10)), "order.order_id"),
        (.custom(name: "Order Completed"), "Order Completed"),
        (.custom(name: ""), "name"),
        (.productViewed(product: shoe, properties: ["product_id": "other"]), "properties.product_id"),
        (.custom(name: "Scored", properties: ["score": .number(value: .infinity)]), "properties.score"),
    ]

    func testAnInvalidEventThrowsInvalidEventWithAReadableMessageAndStoresNothing() throws {
        let beckon = try open(try tempDir(), serverUrl: try deadServerUrl())
        try beckon.track(.custom(name: "Valid Before"))
        var rejected = try beckon.stats().rejectedAtTrack
        for (event, field) in Self.invalid {
            let before = try beckon.stats()
            do {
                try beckon.track(event)
                XCTFail("\(event) should be refused")
            } catch BeckonError.InvalidEvent(let message) {
                XCTAssertTrue(message.contains(field), "\"\(message)\" should name \(field)")
            } catch {
                XCTFail("expected BeckonError.InvalidEvent for \(event), got \(error)")
            }
            let after = try beckon.stats()
            XCTAssertEqual(after.queuedEvents, before.queuedEvents, "\(event) was enqueued")
            XCTAssertEqual(after.queuedBytes, before.queuedBytes)
            XCTAssertEqual(after.rejectedAtTrack, rejected + 1, "rejectedAtTrack after \(event)")
            rejected = after.rejectedAtTrack
        }
        XCTAssertEqual(try beckon.stats().queuedEvents, 1)
    }

    func testTheErrorShowsItsMessageEverywhereSwiftPrintsErrors() throws {
        let beckon = try open(try tempDir(), serverUrl: try deadServerUrl())
        do {
            try beckon.track(.productViewed(product: Self.with(Self.shoe) { $0.price = .nan }))
            XCTFail("a NaN price should be refused")
        } catch let error as BeckonError {
            let message = error.message
            XCTAssertTrue(message.hasPrefix("invalid event: "), message)
            XCTAssertTrue(message.contains("product.price"), message)
            XCTAssertEqual(error.description, message)
            XCTAssertEqual("\(error)", message)
            XCTAssertEqual(error.localizedDescription, message, "LocalizedError gives the message, not a dump")
            XCTAssertEqual((error as Error).localizedDescription, message)
            XCTAssertFalse(error.localizedDescription.contains("BeckonError"), error.localizedDescription)
            XCTAssertEqual(error, .InvalidEvent(message: message))
        }
    }

    func testTheGeneratedAndTheSwiftNamedTrackAreTheSameCall() throws {
        let beckon = try open(try tempDir(), serverUrl: try deadServerUrl())
        for (event, _) in Self.invalid {
            var messages: [String] = []
            for track in [{ try beckon.track(event) }, { try beckon.track(event: event) }] {
                XCTAssertThrowsError(try track()) { error in
                    messages.append((error as? BeckonError)?.message ?? "not a BeckonError: \(error)")
                }
            }
            XCTAssertEqual(messages.count, 2)
            XCTAssertEqual(messages.first, messages.last)
        }
        try beckon.track(.custom(name: "Valid"))
        try beckon.track(event: .custom(name: "Valid"))
        let stats = try beckon.stats()
        XCTAssertEqual(stats.queuedEvents, 2)
        XCTAssertEqual(stats.rejectedAtTrack, UInt64(2 * Self.invalid.count))
    }

    func testARejectedEventNeverReachesTheServerAndDoesNotBlockLaterOnes() throws {
        let server = try startServer()
        let beckon = try openSynced(try tempDir(), server: server)
        try beckon.track(.productViewed(product: Self.shoe))
        for (event, _) in Self.invalid {
            XCTAssertThrowsError(try beckon.track(event))
        }
        try beckon.track(.custom(name: "After Rejections"))
        _ = try beckon.segments()
        let report = try beckon.flush(timeoutMs: Self.flushTimeoutMs)
        XCTAssertEqual(report.outcome, .delivered, "\(report)")
        XCTAssertEqual(report.rejected, 0)
        XCTAssertEqual(try server.appEvents().map(\.label), ["Product Viewed", "After Rejections"])
        XCTAssertEqual(try server.membershipReports().count, 0, "neither event changes a built-in segment")
        XCTAssertEqual(report.uploaded, 2)
    }

    func testABlankUserIdThrowsInvalidArgumentNamingIt() throws {
        let beckon = try open(try tempDir(), serverUrl: try deadServerUrl())
        XCTAssertThrowsError(try beckon.identify(" ")) { error in
            guard case let BeckonError.InvalidArgument(message) = error else {
                return XCTFail("expected BeckonError.InvalidArgument, got \(error)")
            }
            XCTAssertTrue(message.contains("user_id"), message)
        }
        XCTAssertNil(beckon.userId())
        XCTAssertEqual(try beckon.stats().queuedEvents, 0, "a refused identify stores nothing")
    }

    func testANaNTimeoutIsRefusedNotIgnored() async throws {
        let beckon = try open(try tempDir(), serverUrl: try deadServerUrl())
        func refusal(_ call: () throws -> Void) -> String {
            do {
                try call()
                return "returned"
            } catch let BeckonError.InvalidArgument(message) {
                return message
            } catch {
                return "\(error)"
            }
        }
        // The blocking variants, from synchronous code.
        func blocking() -> [String] {
            [refusal { _ = try beckon.flushBlocking(timeout: .nan) }, refusal { _ = try beckon.syncBlocking(timeout: .nan) }]
        }
        var refusals = blocking()
        for call in [{ _ = try await beckon.flush(timeout: .nan) }, { _ = try await beckon.sync(timeout: .nan) }] {
            do {
                try await call()
                refusals.append("returned")
            } catch let BeckonError.InvalidArgument(message) {
                refusals.append(message)
            }
        }
        XCTAssertEqual(refusals.count, 4)
        for message in refusals {
            XCTAssertTrue(message.contains("timeout"), message)
        }
    }
}
