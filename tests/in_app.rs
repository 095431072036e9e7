//! The in-app loop on a real SDK instance against a real server: a campaign created
//! through the admin API reaches the device by sync, fires when the shopper becomes a
//! cart abandoner, is rendered for them, and its impressions and clicks reach the
//! server and count toward the cap and the gap.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use beckon::client::{Client, ClientError, InAppMessage, InAppMessageListener};
use beckon::events::{Event, JsonValue, Product, Properties};
use beckon::sync::SyncOutcome;
use beckon::upload::FlushOutcome;
use serde_json::{json, Value};

mod common;
use common::{eventually, sdk_config, TestServer};

#[derive(Default)]
struct Screen {
    shown: Mutex<Vec<InAppMessage>>,
    accept: bool,
}

impl InAppMessageListener for Screen {
    fn on_message(&self, message: InAppMessage) -> bool {
        self.shown.lock().unwrap().push(message);
        self.accept
    }
}

fn free_shipping_campaign(cap: Value) -> Value {
    json!({
        "schema_version": 1,
        "id": "free-shipping",
        "name": "Free shipping nudge",
        "status": "active",
        "priority": 5,
        "trigger": {"segment_entered": "cart_abandoner"},
        "audience": {"segments": ["cart_abandoner"]},
        "cap": cap,
        "free_shipping_threshold": {"EUR": 50},
        "default_locale": "en",
        "variants": {
            "en": {"title": "Hi {{first_name | there}}",
                   "body": "Add {{free_shipping_remaining}} more for free shipping",
                   "buttons": [{"id": "cart", "label": "View cart", "url": "shop://cart"}]},
            "pt": {"title": "Olá {{first_name | você}}",
                   "body": "Faltam {{free_shipping_remaining}} para o frete grátis"}
        }
    })
}

fn added(id: &str, price: f64) -> Event {
    Event::ProductAdded {
        product: Product {
            product_id: id.into(),
            name: Some(format!("Product {id}")),
            price: Some(price),
            currency: Some("EUR".into()),
            ..Default::default()
        },
        cart_id: None,
        properties: Properties::new(),
    }
}

fn removed(id: &str) -> Event {
    Event::ProductRemoved {
        product: Product {
            product_id: id.into(),
            ..Default::default()
        },
        cart_id: None,
        properties: Properties::new(),
    }
}

fn synced_client(server: &TestServer, dir: &std::path::Path) -> Client {
    let client = Client::new(sdk_config(dir, &server.url)).unwrap();
    let report = client.sync(Duration::from_secs(10)).unwrap();
    assert!(
        matches!(
            report.outcome,
            SyncOutcome::Updated | SyncOutcome::NotModified
        ),
        "{report:?}"
    );
    client
}

#[test]
fn a_cart_abandoner_is_nudged_once_and_the_click_reaches_the_server() {
    let server = TestServer::start();
    let (status, body) = server.admin_post(
        "/v1/admin/campaigns",
        &free_shipping_campaign(json!({"total": 1})),
    );
    assert_eq!(status, 201, "{body}");
    let dir = tempfile::tempdir().unwrap();
    let client = synced_client(&server, dir.path());
    let screen = Arc::new(Screen {
        accept: true,
        ..Default::default()
    });
    client.set_in_app_listener(Some(screen.clone())).unwrap();
    client
        .identify(
            "ana",
            &Properties::from([(
                "first_name".to_string(),
                JsonValue::Text {
                    value: "Ana <b>".into(),
                },
            )]),
            None,
        )
        .unwrap();
    client.set_locale("pt-BR".into()).unwrap();

    client.track(&added("socks", 37.5)).unwrap();
    assert!(eventually(Duration::from_secs(5), || !screen
        .shown
        .lock()
        .unwrap()
        .is_empty()));
    let message = screen.shown.lock().unwrap()[0].clone();
    assert_eq!(message.campaign_id, "free-shipping");
    assert_eq!(message.locale, "pt");
    assert_eq!(
        message.title, "Olá Ana <b>",
        "plain text: the name is not markup"
    );
    assert_eq!(message.body, "Faltam 12.50 EUR para o frete grátis");

    client
        .in_app_message_clicked(message.message_id.clone(), "cart".into())
        .unwrap();
    // Leaving and re-entering the segment fires the trigger again; the cap (1) holds.
    client.track(&removed("socks")).unwrap();
    client
        .track(&Event::OrderCompleted {
            order: beckon::events::Order {
                order_id: Some("o-1".into()),
                revenue: Some(10.0),
                currency: Some("EUR".into()),
                ..Default::default()
            },
            properties: Properties::new(),
        })
        .unwrap();
    client.track(&added("hat", 20.0)).unwrap();
    assert!(client
        .segments()
        .unwrap()
        .contains(&"cart_abandoner".to_string()));
    assert_eq!(screen.shown.lock().unwrap().len(), 1, "the total cap is 1");

    assert!(matches!(
        client.in_app_message_clicked("never-shown".into(), "cart".into()),
        Err(ClientError::InvalidArgument(_))
    ));

    assert_eq!(
        client.flush(Duration::from_secs(10)).unwrap().outcome,
        FlushOutcome::Delivered
    );
    let exported = server.export();
    let named = |name: &str| -> Vec<Value> {
        exported
            .iter()
            .filter(|e| e["name"] == name)
            .cloned()
            .collect()
    };
    let shown = named("In-App Message Shown");
    assert_eq!(shown.len(), 1);
    assert_eq!(
        shown[0]["properties"]["message_id"],
        message.message_id.as_str()
    );
    assert_eq!(shown[0]["properties"]["campaign_id"], "free-shipping");
    let clicked = named("In-App Message Clicked");
    assert_eq!(clicked.len(), 1);
    assert_eq!(clicked[0]["properties"]["button_id"], "cart");
}

#[test]
fn without_a_listener_the_message_waits_for_a_poll_and_the_gap_holds() {
    let server = TestServer::start();
    let (status, body) = server.admin_post(
        "/v1/admin/campaigns",
        &free_shipping_campaign(json!({"total": 5})),
    );
    assert_eq!(status, 201, "{body}");
    let dir = tempfile::tempdir().unwrap();
    let client = synced_client(&server, dir.path());

    assert_eq!(client.take_in_app_message().unwrap(), None);
    client.track(&added("socks", 37.5)).unwrap();
    let message = client
        .take_in_app_message()
        .unwrap()
        .expect("a pending message");
    assert_eq!(message.body, "Add 12.50 EUR more for free shipping");
    assert_eq!(
        message.title, "Hi there",
        "the fallback for a missing first name"
    );
    assert_eq!(client.take_in_app_message().unwrap(), None, "taken once");

    // Out of the segment and back in, within the 30 s gap: nothing to show.
    client.track(&removed("socks")).unwrap();
    client
        .track(&Event::OrderCompleted {
            order: beckon::events::Order {
                order_id: Some("o-2".into()),
                ..Default::default()
            },
            properties: Properties::new(),
        })
        .unwrap();
    client.track(&added("hat", 20.0)).unwrap();
    assert_eq!(
        client.take_in_app_message().unwrap(),
        None,
        "within the gap"
    );
    client.in_app_message_dismissed(message.message_id).unwrap();

    // The impression is stored: a new instance still keeps the gap and the cap.
    client.shutdown();
    let client = Client::new(sdk_config(dir.path(), &server.url)).unwrap();
    assert_eq!(client.take_in_app_message().unwrap(), None);
    assert_eq!(
        client.flush(Duration::from_secs(10)).unwrap().outcome,
        FlushOutcome::Delivered
    );
    let exported = server.export();
    let count = |name: &str| exported.iter().filter(|e| e["name"] == name).count();
    assert_eq!(count("In-App Message Shown"), 1);
    assert_eq!(count("In-App Message Dismissed"), 1);
}
