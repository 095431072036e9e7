// One event of every kind, with what the server's export must show for it.
import Beckon

/// An event and what its exported line must hold: the `type`, the `name`, and properties
/// that must be there with exactly these values.
struct Sample: Sendable {
    let event: Event
    let type: String
    let name: String
    let properties: [String: JSON]

    /// The case name of `event` (`productViewed`), read through reflection.
    var kind: String { caseName(event) }
}

func caseName(_ event: Event) -> String {
    Mirror(reflecting: event).children.first?.label ?? "\(event)"
}

enum EventCatalogue {
    static let shoe = Product(
        productId: "sku-run-42", sku: "RUN-42-BLU", category: "Shoes", name: "Trail Runner",
        brand: "Beckon Sports", variant: "blue", price: 89.9, currency: "EUR", position: 1)
    static let sock = Product(productId: "sku-sock-7", name: "Wool Socks", price: 12.5, quantity: 2)

    /// `shoe` as it appears in the export (flattened for a single product, or inside `products`).
    static let shoeJSON: [String: JSON] = [
        "product_id": "sku-run-42", "sku": "RUN-42-BLU", "category": "Shoes", "name": "Trail Runner",
        "brand": "Beckon Sports", "variant": "blue", "price": 89.9, "currency": "EUR", "position": 1,
    ]
    static let sockJSON: [String: JSON] = ["product_id": "sku-sock-7", "name": "Wool Socks", "price": 12.5, "quantity": 2]

    static let order = Order(
        orderId: "order-1001", checkoutId: "checkout-77", affiliation: "app", subtotal: 114.9, total: 109.9,
        revenue: 99.9, shipping: 4.9, tax: 17.55, discount: 10.0, coupon: "SPRING10", currency: "EUR",
        products: [shoe, sock])
    static let orderJSON: [String: JSON] = [
        "order_id": "order-1001", "checkout_id": "checkout-77", "affiliation": "app", "subtotal": 114.9,
        "total": 109.9, "revenue": 99.9, "shipping": 4.9, "tax": 17.55, "discount": 10.0, "coupon": "SPRING10",
        "currency": "EUR", "products": [.object(shoeJSON), .object(sockJSON)],
    ]
    static let coupon = Coupon(couponId: "SPRING10", couponName: "Spring sale", cartId: "cart-9", discount: 10.0)
    static let couponJSON: [String: JSON] = [
        "coupon_id": "SPRING10", "coupon_name": "Spring sale", "cart_id": "cart-9", "discount": 10.0,
    ]
    static let promotion = Promotion(promotionId: "promo-spring", creative: "hero-banner", name: "Spring", position: "home-top")
    static let promotionJSON: [String: JSON] = [
        "promotion_id": "promo-spring", "creative": "hero-banner", "name": "Spring", "position": "home-top",
    ]
    static let share = Share(shareVia: "email", shareMessage: "Look at this", recipient: "friend@example.com")
    static let shareJSON: [String: JSON] = [
        "share_via": "email", "share_message": "Look at this", "recipient": "friend@example.com",
    ]

    static func track(_ event: Event, _ name: String, _ properties: [String: JSON]) -> Sample {
        Sample(event: event, type: "track", name: name, properties: properties)
    }

    static func merged(_ parts: [String: JSON]...) -> [String: JSON] {
        parts.reduce(into: [:]) { all, part in all.merge(part) { _, new in new } }
    }

    static let samples: [Sample] = {
        var checkoutOrder = order
        checkoutOrder.orderId = nil
        var checkoutJSON = orderJSON
        checkoutJSON["order_id"] = nil
        let products: JSON = [.object(shoeJSON), .object(sockJSON)]
        return [
            track(.productsSearched(query: "trail shoes"), "Products Searched", ["query": "trail shoes"]),
            track(.productListViewed(listId: "list-shoes", category: "Shoes", products: [shoe, sock]),
                  "Product List Viewed", ["list_id": "list-shoes", "category": "Shoes", "products": products]),
            track(.productClicked(product: shoe), "Product Clicked", shoeJSON),
            track(.productViewed(product: shoe, properties: ["source": "search", "rank": 3]),
                  "Product Viewed", merged(shoeJSON, ["source": "search", "rank": 3])),
            track(.productAdded(cartId: "cart-9", product: sock), "Product Added",
                  ["cart_id": "cart-9", "product_id": "sku-sock-7", "quantity": 2, "price": 12.5]),
            track(.productRemoved(cartId: "cart-9", product: sock), "Product Removed",
                  ["cart_id": "cart-9", "product_id": "sku-sock-7"]),
            track(.cartViewed(cart: Cart(cartId: "cart-9", products: [shoe, sock], currency: "EUR")), "Cart Viewed",
                  ["cart_id": "cart-9", "currency": "EUR", "products": products]),
            track(.checkoutStarted(order: checkoutOrder), "Checkout Started", checkoutJSON),
            track(.checkoutStepViewed(step: CheckoutStep(checkoutId: "checkout-77", step: 1, shippingMethod: "express")),
                  "Checkout Step Viewed", ["checkout_id": "checkout-77", "step": 1, "shipping_method": "express"]),
            track(.checkoutStepCompleted(step: CheckoutStep(checkoutId: "checkout-77", step: 1, shippingMethod: "express")),
                  "Checkout Step Completed", ["checkout_id": "checkout-77", "step": 1]),
            track(.paymentInfoEntered(orderId: "order-1001", step: CheckoutStep(step: 2, paymentMethod: "card")),
                  "Payment Info Entered", ["order_id": "order-1001", "step": 2, "payment_method": "card"]),
            track(.orderCompleted(order: order), "Order Completed", orderJSON),
            track(.orderUpdated(order: Order(orderId: "order-1001", total: 119.9, currency: "EUR")), "Order Updated",
                  ["order_id": "order-1001", "total": 119.9, "currency": "EUR"]),
            track(.orderRefunded(order: Order(orderId: "order-1001", total: 12.5, revenue: -12.5, products: [sock])),
                  "Order Refunded", ["order_id": "order-1001", "total": 12.5, "revenue": -12.5, "products": [.object(sockJSON)]]),
            track(.orderCancelled(order: Order(orderId: "order-1002")), "Order Cancelled", ["order_id": "order-1002"]),
            track(.couponEntered(coupon: coupon), "Coupon Entered", couponJSON),
            track(.couponApplied(coupon: coupon), "Coupon Applied", couponJSON),
            track(.couponDenied(coupon: Coupon(couponId: "WINTER5", reason: "expired")), "Coupon Denied",
                  ["coupon_id": "WINTER5", "reason": "expired"]),
            track(.couponRemoved(coupon: Coupon(couponId: "SPRING10")), "Coupon Removed", ["coupon_id": "SPRING10"]),
            track(.promotionViewed(promotion: promotion), "Promotion Viewed", promotionJSON),
            track(.promotionClicked(promotion: promotion), "Promotion Clicked", promotionJSON),
            track(.productAddedToWishlist(wishlistId: "wish-1", wishlistName: "Birthday", product: shoe),
                  "Product Added to Wishlist", ["wishlist_id": "wish-1", "wishlist_name": "Birthday", "product_id": "sku-run-42"]),
            track(.productRemovedFromWishlist(wishlistId: "wish-1", product: shoe),
                  "Product Removed from Wishlist", ["wishlist_id": "wish-1", "product_id": "sku-run-42"]),
            track(.wishlistProductAddedToCart(wishlistId: "wish-1", cartId: "cart-9", product: shoe),
                  "Wishlist Product Added to Cart", ["wishlist_id": "wish-1", "cart_id": "cart-9", "product_id": "sku-run-42"]),
            track(.productShared(product: shoe, share: share), "Product Shared", merged(shoeJSON, shareJSON)),
            track(.cartShared(cartId: "cart-9", products: [sock], share: share), "Cart Shared",
                  merged(["cart_id": "cart-9", "products": [.object(sockJSON)]], shareJSON)),
            track(.productReviewed(productId: "sku-run-42", reviewId: "rev-5", reviewBody: "Light and grippy", rating: 4.5),
                  "Product Reviewed",
                  ["product_id": "sku-run-42", "review_id": "rev-5", "review_body": "Light and grippy", "rating": 4.5]),
            Sample(event: .screen(name: "Home", properties: ["tab": "featured"]), type: "screen", name: "Home",
                   properties: ["tab": "featured"]),
            track(.applicationOpened(fromBackground: true, url: "beckonshop://home"), "Application Opened",
                  ["from_background": true, "url": "beckonshop://home"]),
            track(.applicationBackgrounded(properties: ["session_seconds": 42]), "Application Backgrounded",
                  ["session_seconds": 42]),
            track(.pushOpened(messageId: "push-1", campaignId: "camp-spring"), "Push Opened",
                  ["message_id": "push-1", "campaign_id": "camp-spring"]),
            track(.deepLinkOpened(url: "beckonshop://product/sku-run-42", messageId: "push-1", campaignId: "camp-spring"),
                  "Deep Link Opened",
                  ["url": "beckonshop://product/sku-run-42", "message_id": "push-1", "campaign_id": "camp-spring"]),
            track(.inAppMessageShown(messageId: "iam-3", campaignId: "camp-cart"), "In-App Message Shown",
                  ["message_id": "iam-3", "campaign_id": "camp-cart"]),
            track(.inAppMessageClicked(messageId: "iam-3", campaignId: "camp-cart", buttonId: "checkout-now"),
                  "In-App Message Clicked", ["message_id": "iam-3", "campaign_id": "camp-cart", "button_id": "checkout-now"]),
            track(.inAppMessageDismissed(messageId: "iam-3", campaignId: "camp-cart"), "In-App Message Dismissed",
                  ["message_id": "iam-3", "campaign_id": "camp-cart"]),
            track(.custom(name: "Size Guide Opened", properties: ["product_id": "sku-run-42", "sizes": [42, 43]]),
                  "Size Guide Opened", ["product_id": "sku-run-42", "sizes": [42, 43]]),
        ]
    }()

    /// The case names of `Event` as the generated Beckon.swift declares them, read from its
    /// source so a new case without a sample fails the test that uses this.
    static func declaredKinds() throws -> Set<String> {
        let source = try String(
            contentsOf: repositoryRoot.appendingPathComponent("bindings/swift/Sources/Beckon/Beckon.swift"), encoding: .utf8)
        guard let start = source.range(of: "public enum Event:") else { throw TestError("no `public enum Event` in Beckon.swift") }
        guard let end = source.range(of: "\n}", range: start.upperBound..<source.endIndex) else {
            throw TestError("`public enum Event` does not end")
        }
        var kinds = Set<String>()
        for line in source[start.upperBound..<end.lowerBound].split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix("case ") else { continue }
            let name = trimmed.dropFirst("case ".count).prefix { $0.isLetter || $0.isNumber || $0 == "_" }
            kinds.insert(String(name))
        }
        return kinds
    }
}
