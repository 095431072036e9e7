//! One valid event of every kind, for the SDK's tests and benchmarks. Kept out of the
//! library, so apps do not ship it: the integration tests reach it through
//! `common::samples`; the library's unit tests, the benchmarks and the fuzz seeds by `#[path]`.

use beckon::events::*;

/// A product with the usual fields set.
pub fn shoe() -> Product {
    Product {
        product_id: "sku-42".into(),
        name: Some("Trail shoe".into()),
        category: Some("Shoes".into()),
        price: Some(89.9),
        currency: Some("EUR".into()),
        quantity: Some(1),
        ..Default::default()
    }
}

/// An order of one [`shoe`]; the `Order …` events need an id, a checkout may not.
pub fn order(id: Option<&str>) -> Order {
    Order {
        order_id: id.map(Into::into),
        total: Some(89.9),
        currency: Some("EUR".into()),
        products: vec![shoe()],
        ..Default::default()
    }
}

/// One event of every kind, so a new variant without a test shows up here.
pub fn one_of_each() -> Vec<Event> {
    let p = Properties::new;
    let coupon = || Coupon {
        coupon_id: "SAVE10".into(),
        ..Default::default()
    };
    let promotion = || Promotion {
        promotion_id: "summer".into(),
        ..Default::default()
    };
    let step = || CheckoutStep {
        step: 1,
        ..Default::default()
    };
    let cart = Cart {
        cart_id: Some("c1".into()),
        products: vec![shoe()],
        currency: Some("EUR".into()),
    };
    vec![
        Event::ProductsSearched {
            query: "shoes".into(),
            properties: p(),
        },
        Event::ProductListViewed {
            list_id: Some("l1".into()),
            category: None,
            products: vec![shoe()],
            properties: p(),
        },
        Event::ProductClicked {
            product: shoe(),
            properties: p(),
        },
        Event::ProductViewed {
            product: shoe(),
            properties: p(),
        },
        Event::ProductAdded {
            cart_id: Some("c1".into()),
            product: shoe(),
            properties: p(),
        },
        Event::ProductRemoved {
            cart_id: None,
            product: shoe(),
            properties: p(),
        },
        Event::CartViewed {
            cart,
            properties: p(),
        },
        Event::CheckoutStarted {
            order: order(None),
            properties: p(),
        },
        Event::CheckoutStepViewed {
            step: step(),
            properties: p(),
        },
        Event::CheckoutStepCompleted {
            step: step(),
            properties: p(),
        },
        Event::PaymentInfoEntered {
            order_id: None,
            step: step(),
            properties: p(),
        },
        Event::OrderCompleted {
            order: order(Some("o1")),
            properties: p(),
        },
        Event::OrderUpdated {
            order: order(Some("o1")),
            properties: p(),
        },
        Event::OrderRefunded {
            order: order(Some("o1")),
            properties: p(),
        },
        Event::OrderCancelled {
            order: order(Some("o1")),
            properties: p(),
        },
        Event::CouponEntered {
            coupon: coupon(),
            properties: p(),
        },
        Event::CouponApplied {
            coupon: coupon(),
            properties: p(),
        },
        Event::CouponDenied {
            coupon: coupon(),
            properties: p(),
        },
        Event::CouponRemoved {
            coupon: coupon(),
            properties: p(),
        },
        Event::PromotionViewed {
            promotion: promotion(),
            properties: p(),
        },
        Event::PromotionClicked {
            promotion: promotion(),
            properties: p(),
        },
        Event::ProductAddedToWishlist {
            wishlist_id: None,
            wishlist_name: Some("Later".into()),
            product: shoe(),
            properties: p(),
        },
        Event::ProductRemovedFromWishlist {
            wishlist_id: None,
            wishlist_name: None,
            product: shoe(),
            properties: p(),
        },
        Event::WishlistProductAddedToCart {
            wishlist_id: None,
            wishlist_name: None,
            cart_id: None,
            product: shoe(),
            properties: p(),
        },
        Event::ProductShared {
            product: shoe(),
            share: Share {
                share_via: Some("email".into()),
                ..Default::default()
            },
            properties: p(),
        },
        Event::CartShared {
            cart_id: None,
            products: vec![shoe()],
            share: Share::default(),
            properties: p(),
        },
        Event::ProductReviewed {
            product_id: "sku-42".into(),
            review_id: None,
            review_body: Some("Great".into()),
            rating: Some(5.0),
            properties: p(),
        },
        Event::Screen {
            name: "Home".into(),
            properties: p(),
        },
        Event::ApplicationOpened {
            from_background: false,
            url: None,
            properties: p(),
        },
        Event::ApplicationBackgrounded { properties: p() },
        Event::PushOpened {
            message_id: "m1".into(),
            campaign_id: Some("cmp".into()),
            properties: p(),
        },
        Event::DeepLinkOpened {
            url: "shop://cart".into(),
            message_id: None,
            campaign_id: None,
            properties: p(),
        },
        Event::InAppMessageShown {
            message_id: "m1".into(),
            campaign_id: "cmp".into(),
            properties: p(),
        },
        Event::InAppMessageClicked {
            message_id: "m1".into(),
            campaign_id: "cmp".into(),
            button_id: Some("b1".into()),
            properties: p(),
        },
        Event::InAppMessageDismissed {
            message_id: "m1".into(),
            campaign_id: "cmp".into(),
            properties: p(),
        },
        Event::Custom {
            name: "Size Guide Opened".into(),
            properties: p(),
        },
    ]
}
