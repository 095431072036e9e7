//! What the Swift binding's cut relies on. Swift cannot throw while it lowers an
//! argument, and uniffi's Int32 lengths trap past 2 GiB, so its writers cut what they
//! write at `CROSSING_LIMIT`: a string longer than that is cut to it, and once an
//! argument's buffer holds that much, the strings after it are cut short
//! (bindings/swift/Sources/Beckon/Wire+Text.swift). The core must therefore refuse every
//! argument that big, whatever the cut left in it, and say which field: the tests below
//! hand every public call an argument of that size, as one string or as many entries.

use std::collections::HashMap;
use std::sync::Arc;

use super::push::DeepLinkRoute;
use super::{Beckon, BeckonError};
use crate::client::BeckonConfig;
use crate::consent::{Channel, PermissionState};
use crate::events::{Cart, Event, JsonValue, Product};
use crate::protocol::PushProvider;

/// The Swift writers' `WireText.maxBytes`.
const CROSSING_LIMIT: usize = 1 << 20;

/// A string of exactly `CROSSING_LIMIT` bytes, as a cut leaves it.
fn cut() -> String {
    "é".repeat(CROSSING_LIMIT / 2)
}

fn open(dir: &tempfile::TempDir) -> Arc<Beckon> {
    Beckon::new(
        config(
            dir.path().to_str().unwrap(),
            "http://127.0.0.1:1",
            "app-key",
        ),
        None,
    )
    .unwrap()
}

fn config(data_dir: &str, server_url: &str, app_key: &str) -> BeckonConfig {
    BeckonConfig::new(data_dir, server_url, app_key)
}

fn product(id: impl Into<String>) -> Product {
    Product {
        product_id: id.into(),
        price: Some(1.0),
        ..Default::default()
    }
}

fn cart(products: Vec<Product>) -> Cart {
    Cart {
        cart_id: None,
        products,
        currency: Some("EUR".into()),
    }
}

/// More entries than fit in `CROSSING_LIMIT` bytes, each valid on its own.
fn many_products() -> Cart {
    cart(
        (0..CROSSING_LIMIT / 16)
            .map(|i| product(format!("p{i}")))
            .collect(),
    )
}

fn routes(count: usize) -> Vec<DeepLinkRoute> {
    (0..count)
        .map(|i| DeepLinkRoute {
            name: format!("r{i}"),
            pattern: format!("shop://r{i}/{{id}}"),
        })
        .collect()
}

type Call<'a> = Box<dyn Fn() -> Result<(), BeckonError> + 'a>;

#[test]
fn every_call_refuses_an_argument_as_big_as_the_swift_cut_leaves_it() {
    let dir = tempfile::tempdir().unwrap();
    let b = open(&dir);
    let fresh = || tempfile::tempdir().unwrap();
    let no_props = HashMap::new;
    let cases: Vec<(&str, Call)> = vec![
        (
            "data_dir:",
            Box::new(|| Beckon::new(config(&cut(), "http://127.0.0.1:1", "k"), None).map(drop)),
        ),
        (
            "server URL ",
            Box::new(|| {
                let dir = fresh();
                Beckon::new(config(dir.path().to_str().unwrap(), &cut(), "k"), None).map(drop)
            }),
        ),
        (
            "app_key:",
            Box::new(|| {
                let dir = fresh();
                Beckon::new(
                    config(dir.path().to_str().unwrap(), "http://127.0.0.1:1", &cut()),
                    None,
                )
                .map(drop)
            }),
        ),
        (
            "name:",
            Box::new(|| {
                b.track(Event::Custom {
                    name: cut(),
                    properties: no_props(),
                })
            }),
        ),
        (
            "product.product_id:",
            Box::new(|| {
                b.track(Event::ProductViewed {
                    product: product(cut()),
                    properties: no_props(),
                })
            }),
        ),
        (
            "event:",
            Box::new(|| {
                b.track(Event::CartViewed {
                    cart: many_products(),
                    properties: no_props(),
                })
            }),
        ),
        ("name:", Box::new(|| b.screen(cut(), no_props()))),
        ("user_id:", Box::new(|| b.identify(cut(), no_props(), None))),
        (
            "traits.",
            Box::new(|| b.identify("u".into(), HashMap::from([(cut(), JsonValue::Null)]), None)),
        ),
        (
            "traits.k:",
            Box::new(|| {
                let value = JsonValue::Text { value: cut() };
                b.identify("u".into(), HashMap::from([("k".into(), value)]), None)
            }),
        ),
        (
            "identity_token:",
            Box::new(|| b.identify("u".into(), no_props(), Some(cut()))),
        ),
        (
            "user_id:",
            Box::new(|| b.set_identity_token(cut(), "t".into())),
        ),
        (
            "identity_token:",
            Box::new(|| b.set_identity_token("u".into(), cut())),
        ),
        (
            "source:",
            Box::new(|| b.set_permission(Channel::Email, PermissionState::OptedIn, cut())),
        ),
        (
            "token:",
            Box::new(|| b.register_push_token(PushProvider::Fcm, cut())),
        ),
        (
            "time_zone:",
            Box::new(|| b.set_device_profile(cut(), "DE".into())),
        ),
        (
            "country:",
            Box::new(|| b.set_device_profile("Europe/Berlin".into(), cut())),
        ),
        (
            "message_id:",
            Box::new(|| b.in_app_message_clicked(cut(), "b".into())),
        ),
        (
            "button_id:",
            Box::new(|| b.in_app_message_clicked("m".into(), cut())),
        ),
        (
            "message_id:",
            Box::new(|| b.in_app_message_dismissed(cut())),
        ),
        ("locale:", Box::new(|| b.set_locale(cut()))),
        (
            "routes[0].name:",
            Box::new(|| {
                let route = DeepLinkRoute {
                    name: cut(),
                    pattern: "shop://p/{id}".into(),
                };
                b.set_deep_link_routes(vec![route], vec![])
            }),
        ),
        (
            "routes[0].pattern:",
            Box::new(|| {
                let route = DeepLinkRoute {
                    name: "p".into(),
                    pattern: format!("shop://p/{}", cut()),
                };
                b.set_deep_link_routes(vec![route], vec![])
            }),
        ),
        (
            "routes:",
            Box::new(|| b.set_deep_link_routes(routes(CROSSING_LIMIT / 24), vec![])),
        ),
        (
            "allowed_hosts[0]:",
            Box::new(|| b.set_deep_link_routes(vec![], vec![cut()])),
        ),
        (
            "allowed_hosts:",
            Box::new(|| {
                let hosts = (0..CROSSING_LIMIT / 16).map(|i| format!("h{i}.shop.example"));
                b.set_deep_link_routes(vec![], hosts.collect())
            }),
        ),
        ("the push is ", Box::new(|| b.handle_push(cut()).map(drop))),
        (
            "the push is ",
            Box::new(|| {
                b.handle_push_data(HashMap::from([("beckon".into(), cut())]))
                    .map(drop)
            }),
        ),
        (
            "the push is ",
            Box::new(|| {
                let entries = (0..CROSSING_LIMIT / 8).map(|i| (format!("k{i}"), "v".to_owned()));
                b.handle_push_data(entries.collect()).map(drop)
            }),
        ),
        ("deep link ", Box::new(|| b.open_deep_link(cut()).map(drop))),
        (
            "cart.products[0].product_id:",
            Box::new(|| b.best_promo_for(cart(vec![product(cut())]), None).map(drop)),
        ),
        (
            "cart:",
            Box::new(|| b.best_promo_for(many_products(), None).map(drop)),
        ),
        (
            "code:",
            Box::new(|| {
                b.apply_promo(cut(), cart(vec![product("p")]), None)
                    .map(drop)
            }),
        ),
        (
            "cart:",
            Box::new(|| b.apply_promo("X".into(), many_products(), None).map(drop)),
        ),
    ];
    b.set_deep_link_routes(routes(1), vec![]).unwrap();
    for (field, call) in cases {
        let error = call().expect_err(field).to_string();
        assert!(
            error.contains(field),
            "{field}: {}",
            error.chars().take(200).collect::<String>()
        );
        assert!(
            error.len() < 1_000,
            "{field}: the error is {} bytes",
            error.len()
        );
    }
}
