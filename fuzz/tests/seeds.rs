//! Writes the seeds made with the library itself (built-in segments, a sync document,
//! one batch holding every kind of event, payloads in every platform's shape, consent
//! reports) and the hand-written ones, into `corpus/`. Run once when the formats
//! change: `cargo test --no-default-features --test seeds -- --ignored`. The READMEs'
//! and tests' JSON is extracted by `seeds/extract.py`.

use std::path::Path;

use beckon::consent::{Channel, PermissionState};
use beckon::protocol::{
    Batch, ConsentReport, Discount, PromoOffer, PushPayload, PushProvider, SyncDocument, WireEvent,
};
use beckon::segments::templates;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

#[path = "../../tests/common/samples.rs"]
#[allow(dead_code)]
mod samples;
use samples::one_of_each;

fn write(target: &str, data: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    std::fs::create_dir_all(&dir).unwrap();
    // Named by content, as libFuzzer names what it adds.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in data {
        hash = (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
    }
    std::fs::write(dir.join(format!("seed-{hash:016x}")), data).unwrap();
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn campaign() -> Value {
    json!({
        "schema_version": 1, "id": "nudge", "name": "Free shipping nudge", "status": "active",
        "trigger": {"event": "Product Added", "where": {"category": ["Shoes", "Bags"]}},
        "audience": {"segments": ["cart_abandoner"], "exclude": ["repeat_customer"]},
        "priority": 10, "cap": {"total": 3, "window": {"max": 1, "seconds": 86400}},
        "free_shipping_threshold": {"EUR": 50, "JPY": 6000},
        "default_locale": "en",
        "variants": {
            "en": {"title": "Hi {{first_name | there}}!",
                   "body": "Add {{free_shipping_remaining}} more for free shipping.",
                   "image_url": "https://cdn.example.com/truck.png",
                   "buttons": [{"id": "view_cart", "label": "View cart ({{cart_item_count}})",
                                "url": "myshop://cart"}]},
            "pt-BR": {"title": "Olá, {{first_name | tudo bem}}!",
                      "body": "Faltam {{free_shipping_remaining}} para o frete grátis."}
        }
    })
}

fn payload() -> PushPayload {
    PushPayload {
        campaign_id: Some("bf".into()),
        send_id: Some("0190b7e4-5c2a-7000-8000-000000000001".into()),
        deep_link: Some("https://shop.example/p/42?utm_source=push&color=blue".into()),
        promo: Some(PromoOffer {
            code: "BF-10".into(),
            discount: Discount::Fixed { value: 10.0 },
            currency: Some("EUR".into()),
            expires_at: at("2026-12-01T00:00:00Z"),
            min_basket: Some(30.0),
            max_uses: 2,
        }),
        ..PushPayload::new("m-1")
    }
}

fn wire_events() -> Vec<WireEvent> {
    one_of_each()
        .iter()
        .enumerate()
        .map(|(i, event)| {
            let encoded = event.encode().expect("a valid sample");
            WireEvent {
                id: format!("6f1c1a2e-8d47-4a53-9a51-{i:012}"),
                kind: encoded.kind,
                name: Some(encoded.name),
                properties: encoded.properties,
                traits: Default::default(),
                anonymous_id: "5d3b2c1a-0000-4000-8000-000000000001".into(),
                user_id: (i % 2 == 0).then(|| "user-42".to_owned()),
                timestamp: at("2026-11-20T09:59:00Z"),
                context: serde_json::from_value(
                    json!({"timezone": "Europe/Lisbon", "locale": "pt-BR"}),
                )
                .unwrap(),
            }
        })
        .collect()
}

#[test]
#[ignore = "writes the generated seeds into corpus/"]
fn write_seeds() {
    // Segments: the built-ins, alone and together in a sync document with a campaign.
    let builtins = templates::builtin();
    for definition in &builtins {
        write("segment", definition.to_json().as_bytes());
        let mut admin = vec![0u8];
        admin.extend(definition.to_json().as_bytes());
        write("server_admin", &admin);
    }
    let document = SyncDocument {
        segments: builtins.iter().map(|d| d.to_value()).collect(),
        campaigns: vec![campaign()],
        ..SyncDocument::empty()
    };
    write("sync_document", &serde_json::to_vec(&document).unwrap());
    write(
        "sync_document",
        br#"{"schema":1,"settings":{"in_app_min_gap_seconds":0}}"#,
    );
    write("campaign", campaign().to_string().as_bytes());
    // Create a campaign, update it, archive the segment it uses (refused), archive it.
    let mut admin = vec![1u8];
    admin.extend(campaign().to_string().as_bytes());
    admin.extend(b"\x00\x03");
    let mut paused = campaign();
    paused["status"] = "paused".into();
    admin.extend(paused.to_string().as_bytes());
    admin.extend(b"\x00\x04cart_abandoner\x00\x05nudge");
    write("server_admin", &admin);

    // Pushes in every shape, and the payload alone for the cross-platform check.
    let p = payload();
    let fcm = p.to_fcm_data().unwrap();
    let mut apns = p.to_apns_custom().unwrap();
    apns.insert(
        "aps".into(),
        json!({"alert": {"title": "Hi", "body": "b"}, "sound": "default"}),
    );
    let shapes = [
        json!({"beckon": fcm["beckon"], "other_sdk": "x"}),
        json!({"notification": {"title": "Hi"}, "data": fcm}),
        json!({"message": {"token": "t", "data": fcm}}),
        Value::Object(apns),
    ];
    for shape in shapes {
        let mut input = vec![0u8];
        input.extend(shape.to_string().as_bytes());
        write("push_payload", &input);
    }
    let mut input = b"\x01beckon\x00".to_vec();
    input.extend(fcm["beckon"].as_bytes());
    input.extend(b"\x00google.message_id\x000:1\x00collapse_key\x00shop");
    write("push_payload", &input);
    let mut input = vec![2u8];
    input.extend(fcm["beckon"].as_bytes());
    write("push_payload", &input);

    // One batch with every kind of event, and consent reports.
    let mut events = wire_events();
    let reports = [
        ConsentReport::PermissionChanged {
            channel: Channel::Sms,
            state: PermissionState::OptedIn,
            source: "checkout".into(),
        },
        ConsentReport::PushPermissionChanged { granted: true },
        ConsentReport::PushTokenRegistered {
            provider: PushProvider::Apns,
            token: "ab".repeat(32),
        },
        ConsentReport::PushTokenRemoved {
            provider: PushProvider::Fcm,
            token: "fcm-token:APA91b".into(),
        },
    ];
    for (i, report) in reports.iter().enumerate() {
        let mut event = events[0].clone();
        event.id = format!("6f1c1a2e-8d47-4a53-9a51-1{i:011}");
        event.name = Some(report.event_name().into());
        event.properties = report.properties();
        events.push(event);
        let mut input = vec![i as u8];
        input.extend(serde_json::to_vec(&report.properties()).unwrap());
        write("consent", &input);
    }
    let batch = Batch {
        sent_at: at("2026-11-20T10:00:00Z"),
        identity_tokens: [(
            "user-42".to_owned(),
            "eyJhbGciOiJFUzI1NiJ9.e30.sig".to_owned(),
        )]
        .into(),
        batch: events,
    };
    write("server_batch", &serde_json::to_vec(&batch).unwrap());
    write(
        "server_batch",
        br#"{"sent_at":"2026-11-20T10:00:00Z","batch":[{"id":"abc","type":"nope"},{"id":7},[1,2],{"id":"6F1C1A2E-8D47-4A53-9A51-2B1F0B7C7F10","type":"track","name":"Cart Viewed","anonymous_id":"a","timestamp":"9000-01-01T00:00:00Z"}]}"#,
    );
    let mut permissions = vec![5u8];
    permissions.extend(
        br#"{"user_key":"user-42","permissions":[{"channel":"sms","state":"opted_in","source":"app","updated_at":"2026-11-20T10:00:00Z"},{"channel":"sms","state":"unsubscribed","source":"server","updated_at":"2026-11-20T10:00:00Z"},{"channel":"push","state":"subscribed","source":"unsubscribe_link","updated_at":"2026-01-01T00:00:00Z"}]}"#,
    );
    write("consent", &permissions);
    for text in [
        "Europe/Lisbon",
        "america/sao_paulo",
        "UTC",
        "pt",
        "BR",
        "settings_screen",
        &"AB".repeat(32),
        "fcm-token:APA91b",
    ] {
        let mut input = vec![6u8];
        input.extend(text.as_bytes());
        write("consent", &input);
    }

    // Deep links: routes, hosts and links, one entry a line.
    write(
        "deep_link",
        b"@shop.example\n@*.shop.example\n>new_arrivals shop://product/new\n>product shop://product/{id}\n>cart shop://cart\n>web_product https://shop.example/p/{id}\n>help https://help.shop.example/{*page}\nshop://product/42?color=blue&utm_source=push&utm_campaign=bf%2026&id=x\nhttps://Shop.Example/p/sku%2F7?utm_medium=email&utm_medium=sms\nshop://cart\nhttps://help.shop.example/returns/eu\nhttps://evil.example/p/1\njavascript:alert(1)\nhttps://shop.example@evil.example/\nshop://product/%zz\nother://x",
    );
    write(
        "deep_link",
        b"@Shop.Example.\n>a shop://{id}\n>b https://shop.example:8443/{*rest}\n>c shop://x/%7Bid%7D/{y}\n=s\xc3\xa3o paulo/&?#\nshop:///\nhttps://shop.example:8443/\nshop://x/%7Bid%7D/1",
    );
    write("deep_link", b">product shop://product/{id}\n>product shop://p/{id}\n>dup shop://product/{other}\n@-bad-.example\n>q shop://x?y=1");

    // Templates, then the bytes of their render context.
    for text in [
        "Hi {{first_name | there}}, add {{free_shipping_remaining}} more for free shipping",
        "{{last_viewed_product_url | https://shop.example/}}?utm_source=push&c={{trait.city}}",
        "{{{{literal}}}} {{ cart_items | \"\" }} {{cart_item_count}} {{cart_total}} {{promo_code}}",
        "Line one\nline {{trait.plan.tier | \"a  b\"}}\t{{favourite_category}} {{last_viewed_product_image_url}}",
        "{{frist_name}}",
        "{{ }} {{trait.}} {{{first_name}}} }} {{first_name",
    ] {
        let mut input = text.as_bytes().to_vec();
        input.extend(b"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f");
        write("template", &input);
    }
}

/// What a target reads as HTTP: the status line, the headers, an empty line, the body.
fn http_answer(status: u16, headers: &[(String, Vec<u8>)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{status}\n").into_bytes();
    for (name, value) in headers {
        out.extend(name.as_bytes());
        out.extend(b": ");
        out.extend(value);
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend(body);
    out
}

/// Tokens signed as an app's backend signs them, the server's own error answers, and
/// the cursors it writes.
#[test]
#[ignore = "writes the corpus seeds; run when the formats change"]
fn write_answer_seeds() {
    use beckon::protocol::{IdentityProblem, IdentityRefusal};
    use beckon_server::fuzzing::{error_response, write_cursor};
    use beckon_server::identity::hmac;
    use beckon_server::ApiError;
    use jsonwebtoken::{Algorithm, EncodingKey, Header};

    let tail = b"\x00\x07\x13\x21\x02\x00\x40\x05\x09\x11\x01\x03\x00\x02\x08\x10";
    let raw = |token: &str| {
        let mut input = vec![0];
        input.extend(token.as_bytes());
        input.extend(tail);
        input
    };
    write(
        "identity_token",
        &raw(&hmac::sign(b"the-apps-identity-secret", "alice")),
    );
    let now = at("2026-11-21T10:00:00Z").timestamp();
    let es256 = EncodingKey::from_ec_pem(include_bytes!(
        "../../server/tests/fixtures/identity/es256-private.pem"
    ))
    .unwrap();
    let rs256 = EncodingKey::from_rsa_pem(include_bytes!(
        "../../server/tests/fixtures/identity/rs256-private.pem"
    ))
    .unwrap();
    for (algorithm, key, claims) in [
        (
            Algorithm::ES256,
            &es256,
            json!({"sub": "alice", "exp": now + 300}),
        ),
        (
            Algorithm::RS256,
            &rs256,
            json!({"sub": "alice", "exp": now - 3600}),
        ),
        (
            Algorithm::ES256,
            &es256,
            json!({"sub": "alice", "exp": now + 300, "nbf": now - 30,
                   "iss": "https://shop.example", "aud": "beckon"}),
        ),
    ] {
        let token = jsonwebtoken::encode(&Header::new(algorithm), &claims, key).unwrap();
        write("identity_token", &raw(&token));
    }

    let refusals = vec![
        IdentityRefusal {
            user_id: "u1".into(),
            problem: IdentityProblem::Expired,
        },
        IdentityRefusal {
            user_id: "u2".into(),
            problem: IdentityProblem::Missing,
        },
    ];
    for error in [
        ApiError::identity_refused(refusals),
        ApiError::bad_request("the body is not valid JSON: expected value at line 1 column 1"),
        ApiError::payload_too_large("the body is over 512000 bytes"),
        ApiError::storage_damaged(),
    ] {
        let answer = error_response(error);
        let mut input = vec![0];
        input.extend(http_answer(answer.status, &answer.headers, &answer.body));
        write("device_answer", &input);
    }

    for position in [0, 1, 4096, i64::MAX as u64] {
        let cursor = write_cursor(position);
        write("admin_query", format!("\x00{cursor}\x00250").as_bytes());
        write(
            "admin_query",
            format!("\x01{cursor}\x00250\x00pending").as_bytes(),
        );
    }
}
