use std::collections::HashMap;

use serde_json::json;

use super::*;
use crate::events::samples::{order, shoe};
use crate::events::{CheckoutStep, JsonValue, Order};

fn props(pairs: &[(&str, JsonValue)]) -> Properties {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn error_of(event: Event) -> FieldError {
    event.encode().expect_err("event should be rejected")
}

#[test]
fn every_kind_encodes_under_its_spec_name() {
    let events = crate::events::samples::one_of_each();
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
                name: "segment entered".into(),
                properties: Properties::new(),
            },
            "name",
            "recorded by Beckon itself",
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
