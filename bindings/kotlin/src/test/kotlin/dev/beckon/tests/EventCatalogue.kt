package dev.beckon.tests

import dev.beckon.Cart
import dev.beckon.CheckoutStep
import dev.beckon.Coupon
import dev.beckon.Event
import dev.beckon.Order
import dev.beckon.Product
import dev.beckon.Promotion
import dev.beckon.Share
import dev.beckon.jsonOf

/**
 * One event of a kind, with what the server's export must show for it: the `type`, the
 * `name`, and properties that must be there with exactly these values (numbers as the
 * export's JSON reader gives them: `Long` for integers, `Double` otherwise).
 */
class Sample(
    val event: Event,
    val type: String,
    val name: String,
    val properties: Map<String, Any?>,
)

/** One sample of every kind of [Event]. */
object EventCatalogue {
    private val shoe = Product(
        productId = "sku-run-42",
        sku = "RUN-42-BLU",
        category = "Shoes",
        name = "Trail Runner",
        brand = "Beckon Sports",
        variant = "blue",
        price = 89.9,
        currency = "EUR",
        position = 1,
    )
    private val sock = Product(productId = "sku-sock-7", name = "Wool Socks", price = 12.5, quantity = 2)

    /** [shoe] as it appears inside a `products` array of the export. */
    private val shoeJson = mapOf(
        "product_id" to "sku-run-42",
        "sku" to "RUN-42-BLU",
        "category" to "Shoes",
        "name" to "Trail Runner",
        "brand" to "Beckon Sports",
        "variant" to "blue",
        "price" to 89.9,
        "currency" to "EUR",
        "position" to 1L,
    )
    private val sockJson = mapOf("product_id" to "sku-sock-7", "name" to "Wool Socks", "price" to 12.5, "quantity" to 2L)

    /** A single product's keys are flattened into the event's properties. */
    private val shoeFlat = shoeJson

    private val order = Order(
        orderId = "order-1001",
        checkoutId = "checkout-77",
        affiliation = "app",
        subtotal = 114.9,
        total = 109.9,
        revenue = 99.9,
        shipping = 4.9,
        tax = 17.55,
        discount = 10.0,
        coupon = "SPRING10",
        currency = "EUR",
        products = listOf(shoe, sock),
    )
    private val orderJson = mapOf(
        "order_id" to "order-1001",
        "checkout_id" to "checkout-77",
        "affiliation" to "app",
        "subtotal" to 114.9,
        "total" to 109.9,
        "revenue" to 99.9,
        "shipping" to 4.9,
        "tax" to 17.55,
        "discount" to 10.0,
        "coupon" to "SPRING10",
        "currency" to "EUR",
        "products" to listOf(shoeJson, sockJson),
    )
    private val coupon = Coupon(couponId = "SPRING10", couponName = "Spring sale", cartId = "cart-9", discount = 10.0)
    private val couponJson = mapOf(
        "coupon_id" to "SPRING10",
        "coupon_name" to "Spring sale",
        "cart_id" to "cart-9",
        "discount" to 10.0,
    )
    private val promotion = Promotion(promotionId = "promo-spring", creative = "hero-banner", name = "Spring", position = "home-top")
    private val promotionJson = mapOf(
        "promotion_id" to "promo-spring",
        "creative" to "hero-banner",
        "name" to "Spring",
        "position" to "home-top",
    )
    private val share = Share(shareVia = "email", shareMessage = "Look at this", recipient = "friend@example.com")
    private val shareJson = mapOf("share_via" to "email", "share_message" to "Look at this", "recipient" to "friend@example.com")

    private fun track(event: Event, name: String, vararg properties: Pair<String, Any?>) =
        Sample(event, "track", name, mapOf(*properties))

    val samples: List<Sample> = listOf(
        track(Event.ProductsSearched(query = "trail shoes"), "Products Searched", "query" to "trail shoes"),
        track(
            Event.ProductListViewed(listId = "list-shoes", category = "Shoes", products = listOf(shoe, sock)),
            "Product List Viewed",
            "list_id" to "list-shoes", "category" to "Shoes", "products" to listOf(shoeJson, sockJson),
        ),
        Sample(Event.ProductClicked(product = shoe), "track", "Product Clicked", shoeFlat),
        Sample(
            Event.ProductViewed(product = shoe, properties = jsonOf("source" to "search", "rank" to 3)),
            "track", "Product Viewed", shoeFlat + mapOf("source" to "search", "rank" to 3L),
        ),
        track(
            Event.ProductAdded(cartId = "cart-9", product = sock),
            "Product Added",
            "cart_id" to "cart-9", "product_id" to "sku-sock-7", "quantity" to 2L, "price" to 12.5,
        ),
        track(Event.ProductRemoved(cartId = "cart-9", product = sock), "Product Removed", "cart_id" to "cart-9", "product_id" to "sku-sock-7"),
        track(
            Event.CartViewed(cart = Cart(cartId = "cart-9", products = listOf(shoe, sock), currency = "EUR")),
            "Cart Viewed",
            "cart_id" to "cart-9", "currency" to "EUR", "products" to listOf(shoeJson, sockJson),
        ),
        Sample(Event.CheckoutStarted(order = order.copy(orderId = null)), "track", "Checkout Started", orderJson - "order_id"),
        track(
            Event.CheckoutStepViewed(step = CheckoutStep(checkoutId = "checkout-77", step = 1, shippingMethod = "express")),
            "Checkout Step Viewed",
            "checkout_id" to "checkout-77", "step" to 1L, "shipping_method" to "express",
        ),
        track(
            Event.CheckoutStepCompleted(step = CheckoutStep(checkoutId = "checkout-77", step = 1, shippingMethod = "express")),
            "Checkout Step Completed",
            "checkout_id" to "checkout-77", "step" to 1L,
        ),
        track(
            Event.PaymentInfoEntered(orderId = "order-1001", step = CheckoutStep(step = 2, paymentMethod = "card")),
            "Payment Info Entered",
            "order_id" to "order-1001", "step" to 2L, "payment_method" to "card",
        ),
        Sample(Event.OrderCompleted(order = order), "track", "Order Completed", orderJson),
        track(
            Event.OrderUpdated(order = Order(orderId = "order-1001", total = 119.9, currency = "EUR")),
            "Order Updated",
            "order_id" to "order-1001", "total" to 119.9, "currency" to "EUR",
        ),
        track(
            Event.OrderRefunded(order = Order(orderId = "order-1001", total = 12.5, revenue = -12.5, products = listOf(sock))),
            "Order Refunded",
            "order_id" to "order-1001", "total" to 12.5, "revenue" to -12.5, "products" to listOf(sockJson),
        ),
        track(Event.OrderCancelled(order = Order(orderId = "order-1002")), "Order Cancelled", "order_id" to "order-1002"),
        Sample(Event.CouponEntered(coupon = coupon), "track", "Coupon Entered", couponJson),
        Sample(Event.CouponApplied(coupon = coupon), "track", "Coupon Applied", couponJson),
        track(
            Event.CouponDenied(coupon = Coupon(couponId = "WINTER5", reason = "expired")),
            "Coupon Denied",
            "coupon_id" to "WINTER5", "reason" to "expired",
        ),
        track(Event.CouponRemoved(coupon = Coupon(couponId = "SPRING10")), "Coupon Removed", "coupon_id" to "SPRING10"),
        Sample(Event.PromotionViewed(promotion = promotion), "track", "Promotion Viewed", promotionJson),
        Sample(Event.PromotionClicked(promotion = promotion), "track", "Promotion Clicked", promotionJson),
        track(
            Event.ProductAddedToWishlist(wishlistId = "wish-1", wishlistName = "Birthday", product = shoe),
            "Product Added to Wishlist",
            "wishlist_id" to "wish-1", "wishlist_name" to "Birthday", "product_id" to "sku-run-42",
        ),
        track(
            Event.ProductRemovedFromWishlist(wishlistId = "wish-1", product = shoe),
            "Product Removed from Wishlist",
            "wishlist_id" to "wish-1", "product_id" to "sku-run-42",
        ),
        track(
            Event.WishlistProductAddedToCart(wishlistId = "wish-1", cartId = "cart-9", product = shoe),
            "Wishlist Product Added to Cart",
            "wishlist_id" to "wish-1", "cart_id" to "cart-9", "product_id" to "sku-run-42",
        ),
        Sample(Event.ProductShared(product = shoe, share = share), "track", "Product Shared", shoeFlat + shareJson),
        Sample(
            Event.CartShared(cartId = "cart-9", products = listOf(sock), share = share),
            "track", "Cart Shared",
            mapOf("cart_id" to "cart-9", "products" to listOf(sockJson)) + shareJson,
        ),
        track(
            Event.ProductReviewed(productId = "sku-run-42", reviewId = "rev-5", reviewBody = "Light and grippy", rating = 4.5),
            "Product Reviewed",
            "product_id" to "sku-run-42", "review_id" to "rev-5", "review_body" to "Light and grippy", "rating" to 4.5,
        ),
        Sample(Event.Screen(name = "Home", properties = jsonOf("tab" to "featured")), "screen", "Home", mapOf("tab" to "featured")),
        track(
            Event.ApplicationOpened(fromBackground = true, url = "beckonshop://home"),
            "Application Opened",
            "from_background" to true, "url" to "beckonshop://home",
        ),
        track(Event.ApplicationBackgrounded(properties = jsonOf("session_seconds" to 42)), "Application Backgrounded", "session_seconds" to 42L),
        track(
            Event.PushOpened(messageId = "push-1", campaignId = "camp-spring"),
            "Push Opened",
            "message_id" to "push-1", "campaign_id" to "camp-spring",
        ),
        track(
            Event.DeepLinkOpened(url = "beckonshop://product/sku-run-42", messageId = "push-1", campaignId = "camp-spring"),
            "Deep Link Opened",
            "url" to "beckonshop://product/sku-run-42", "message_id" to "push-1", "campaign_id" to "camp-spring",
        ),
        track(
            Event.InAppMessageShown(messageId = "iam-3", campaignId = "camp-cart"),
            "In-App Message Shown",
            "message_id" to "iam-3", "campaign_id" to "camp-cart",
        ),
        track(
            Event.InAppMessageClicked(messageId = "iam-3", campaignId = "camp-cart", buttonId = "checkout-now"),
            "In-App Message Clicked",
            "message_id" to "iam-3", "campaign_id" to "camp-cart", "button_id" to "checkout-now",
        ),
        track(
            Event.InAppMessageDismissed(messageId = "iam-3", campaignId = "camp-cart"),
            "In-App Message Dismissed",
            "message_id" to "iam-3", "campaign_id" to "camp-cart",
        ),
        track(
            Event.Custom(name = "Size Guide Opened", properties = jsonOf("product_id" to "sku-run-42", "sizes" to listOf(42, 43))),
            "Size Guide Opened",
            "product_id" to "sku-run-42", "sizes" to listOf(42L, 43L),
        ),
    )
}
