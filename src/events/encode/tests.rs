use std::collections::HashMap;

use serde_json::json;

use super::*;
use crate::events::{Cart, CheckoutStep, Coupon, JsonValue, Order, Promotion, Share};

fn shoe() -> Product {
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

fn props(pairs: &[(&str, JsonValue)]) -> Properties {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn order(id: Option<&str>) -> Order {
    Order {
        order_id: id.map(Into::into),
        total: Some(89.9),
        currency: Some("EUR".into()),
        products: vec![shoe()],
        ..Default::default()
    }
}

fn error_of(event: Event) -> FieldError {
    event.encode().expect_err("event should be rejected")
}

/// One event of every kind, so a new variant without a test shows up here.
pub(crate) fn one_of_each() -> Vec<Event> {
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

#[test]
fn every_kind_encodes_under_its_spec_name() {
    let events = one_of_each();
    let names: Vec<String> = events.iter().map(|e| e.encode().unwrap().name).collect();
    for typed in TYPED_EVENT_NAMES {
        assert!(
            names.iter().any(|n| n == typed),
            "no test event for {typed}"
        );
    }
    assert_eq!(
        names.len(),
        TYPED_EVENT_NAMES.len() + 2,
        "plus Screen and Custom"
    );
}

#[test]
fn a_single_product_is_flattened_into_the_properties() {
    let encoded = Event::ProductViewed {
        product: shoe(),
        properties: props(&[(
            "source",
            JsonValue::Text {
                value: "search".into(),
            },
        )]),
    }
    .encode()
    .unwrap();
    assert_eq!(encoded.kind, WireKind::Track);
    assert_eq!(
        Value::Object(encoded.properties),
        json!({"product_id": "sku-42", "name": "Trail shoe", "category": "Shoes", "price": 89.9,
               "currency": "EUR", "quantity": 1, "source": "search"})
    );
}

#[test]
fn orders_carry_their_products_as_an_array() {
    let encoded = Event::OrderCompleted {
        order: order(Some("o-1")),
        properties: Properties::new(),
    }
    .encode()
    .unwrap();
    assert_eq!(encoded.properties["order_id"], json!("o-1"));
    assert_eq!(
        encoded.properties["products"][0]["product_id"],
        json!("sku-42")
    );
}

#[test]
fn screens_are_screen_calls() {
    let encoded = Event::Screen {
        name: "Cart".into(),
        properties: Properties::new(),
    }
    .encode()
    .unwrap();
    assert_eq!(
        (encoded.kind, encoded.name.as_str()),
        (WireKind::Screen, "Cart")
    );
}

#[test]
fn bad_fields_are_named_in_the_error() {
    let cases = [
        (
            Event::ProductViewed {
                product: Product {
                    product_id: " ".into(),
                    ..shoe()
                },
                properties: Properties::new(),
            },
            "product.product_id",
            "must not be empty",
        ),
        (
            Event::ProductViewed {
                product: Product {
                    price: Some(-1.0),
                    ..shoe()
                },
                properties: Properties::new(),
            },
            "product.price",
            "must not be negative",
        ),
        (
            Event::ProductViewed {
                product: Product {
                    price: Some(f64::NAN),
                    ..shoe()
                },
                properties: Properties::new(),
            },
            "product.price",
            "finite",
        ),
        (
            Event::ProductAdded {
                cart_id: None,
                product: Product {
                    quantity: Some(0),
                    ..shoe()
                },
                properties: Properties::new(),
            },
            "product.quantity",
            "at least 1",
        ),
        (
            Event::ProductViewed {
                product: Product {
                    currency: Some("euro".into()),
                    ..shoe()
                },
                properties: Properties::new(),
            },
            "product.currency",
            "ISO 4217",
        ),
        (
            Event::OrderCompleted {
                order: order(None),
                properties: Properties::new(),
            },
            "order.order_id",
            "required",
        ),
        (
            Event::CheckoutStarted {
                order: Order {
                    products: vec![
                        shoe(),
                        Product {
                            price: Some(f64::INFINITY),
                            ..shoe()
                        },
                    ],
                    ..order(None)
                },
                properties: Properties::new(),
            },
            "order.products[1].price",
            "finite",
        ),
        (
            Event::CheckoutStepViewed {
                step: CheckoutStep {
                    step: 0,
                    ..Default::default()
                },
                properties: Properties::new(),
            },
            "step.step",
            "at least 1",
        ),
        (
            Event::ProductsSearched {
                query: "".into(),
                properties: Properties::new(),
            },
            "query",
            "must not be empty",
        ),
        (
            Event::Custom {
                name: "product viewed".into(),
                properties: Properties::new(),
            },
            "name",
            "use Event.ProductViewed",
        ),
        (
            Event::Custom {
                name: "x".repeat(200),
                properties: Properties::new(),
            },
            "name",
            "128-byte limit",
        ),
        (
            Event::Screen {
                name: "".into(),
                properties: Properties::new(),
            },
            "name",
            "must not be empty",
        ),
        (
            Event::ProductViewed {
                product: shoe(),
                properties: props(&[("price", JsonValue::Integer { value: 1 })]),
            },
            "properties.price",
            "repeats a typed field",
        ),
        (
            Event::Custom {
                name: "X".into(),
                properties: props(&[(
                    "score",
                    JsonValue::Number {
                        value: f64::NEG_INFINITY,
                    },
                )]),
            },
            "properties.score",
            "finite",
        ),
    ];
    for (event, field, problem) in cases {
        let err = error_of(event);
        assert_eq!(err.field, field, "{err}");
        assert!(err.problem.contains(problem), "{err} should say {problem}");
    }
}

#[test]
fn free_form_keys_may_use_names_the_event_left_unset() {
    let product = Product {
        price: None,
        ..shoe()
    };
    let encoded = Event::ProductViewed {
        product,
        properties: HashMap::from([(
            "price".to_string(),
            JsonValue::Text {
                value: "on request".into(),
            },
        )]),
    }
    .encode()
    .unwrap();
    assert_eq!(encoded.properties["price"], json!("on request"));
}
