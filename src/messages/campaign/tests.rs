use chrono::{TimeZone, Utc};
use serde_json::{json, Value};

use super::*;

/// A campaign using every feature.
fn full() -> Value {
    json!({
        "schema_version": 1,
        "id": "cart-nudge_2025",
        "name": "Free shipping nudge",
        "status": "active",
        "trigger": {"event": "Product Added", "where": {"category": ["Shoes", "Bags"], "price": 20}},
        "audience": {"segments": ["cart_abandoner", "rfm:loyal"], "exclude": ["vip"]},
        "priority": 10,
        "starts_at": "2025-01-01T00:00:00Z",
        "ends_at": "2025-02-01T00:00:00+01:00",
        "cap": {"total": 3, "window": {"max": 1, "seconds": 86400}},
        "free_shipping_threshold": {"EUR": 50, "USD": 59.99, "JPY": 5000},
        "default_locale": "en",
        "variants": {
            "en": {
                "title": "Hi {{first_name | there}}",
                "body": "Add {{free_shipping_remaining}} more for free shipping",
                "image_url": "https://cdn.example/truck.png",
                "buttons": [
                    {"id": "cart", "label": "Go to cart", "url": "myshop://cart"},
                    {"id": "shop", "label": "Keep shopping", "url": "https://shop.example/"}
                ]
            },
            "pt-BR": {
                "title": "Olá {{first_name | você}}",
                "body": "Faltam {{free_shipping_remaining}} para o frete grátis"
            }
        }
    })
}

/// The smallest valid campaign.
fn minimal() -> Value {
    json!({
        "schema_version": 1,
        "id": "hello",
        "name": "Hello",
        "status": "paused",
        "trigger": {"screen": "Cart"},
        "default_locale": "en",
        "variants": {"en": {"title": "Hello", "body": "Welcome back"}}
    })
}

fn parse(value: &Value) -> Result<Campaign, CampaignError> {
    Campaign::parse(&value.to_string())
}

/// The errors, as `path: problem` lines, after `change` is applied to [`full`].
fn errors_after(change: impl FnOnce(&mut Value)) -> Vec<String> {
    let mut value = full();
    change(&mut value);
    match parse(&value) {
        Ok(_) => panic!("expected errors for {value}"),
        Err(e) => e.errors().iter().map(ToString::to_string).collect(),
    }
}

fn error_after(change: impl FnOnce(&mut Value)) -> String {
    let errors = errors_after(change);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    errors.into_iter().next().unwrap()
}

/// An edit to a campaign document, for tables of bad cases.
type Change = Box<dyn FnOnce(&mut Value)>;

fn remove(value: &mut Value, key: &str) {
    value.as_object_mut().unwrap().remove(key);
}

#[test]
fn parses_every_field() {
    let c = parse(&full()).unwrap();
    assert_eq!(c.schema_version(), 1);
    assert_eq!(c.id(), "cart-nudge_2025");
    assert_eq!(c.name(), "Free shipping nudge");
    assert_eq!(c.status(), CampaignStatus::Active);
    assert_eq!(
        c.trigger(),
        &Trigger::Event {
            name: "Product Added".into(),
            filter: serde_json::from_value(json!({"category": ["Shoes", "Bags"], "price": 20}))
                .unwrap()
        }
    );
    assert_eq!(c.audience().segments, vec!["cart_abandoner", "rfm:loyal"]);
    assert_eq!(c.audience().exclude, vec!["vip"]);
    assert_eq!(c.priority(), 10);
    assert_eq!(
        c.starts_at(),
        Some(Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap())
    );
    assert_eq!(
        c.ends_at(),
        Some(Utc.with_ymd_and_hms(2025, 1, 31, 23, 0, 0).unwrap())
    );
    assert_eq!(
        c.cap(),
        &ImpressionCap {
            total: Some(3),
            window: Some(CapWindow {
                max: 1,
                seconds: 86400
            })
        }
    );
    let thresholds: Vec<String> = c
        .free_shipping_threshold()
        .values()
        .map(ToString::to_string)
        .collect();
    assert_eq!(thresholds, vec!["50.00 EUR", "5000 JPY", "59.99 USD"]);
    assert_eq!(c.default_locale(), "en");
    let en = &c.variants()["en"];
    assert_eq!(en.title.source(), "Hi {{first_name | there}}");
    assert_eq!(
        en.image_url.as_deref(),
        Some("https://cdn.example/truck.png")
    );
    assert_eq!(en.buttons[1].id, "shop");
    assert_eq!(en.buttons[1].label.source(), "Keep shopping");
    assert_eq!(en.buttons[1].url, "https://shop.example/");
    assert_eq!(c.variants().len(), 2);
}

#[test]
fn optional_fields_have_defaults() {
    let c = parse(&minimal()).unwrap();
    assert_eq!(c.priority(), 0);
    assert!(c.audience().is_everyone());
    assert!(c.cap().is_unlimited());
    assert_eq!(c.starts_at(), None);
    assert_eq!(c.ends_at(), None);
    assert!(c.free_shipping_threshold().is_empty());
    assert_eq!(c.variants()["en"].buttons, vec![]);
    let mut nulls = minimal();
    nulls["priority"] = Value::Null;
    nulls["starts_at"] = Value::Null;
    nulls["cap"] = Value::Null;
    assert_eq!(parse(&nulls).unwrap(), c);
}

#[test]
fn round_trips_through_json() {
    for value in [full(), minimal()] {
        let c = parse(&value).unwrap();
        let again = Campaign::parse(&c.to_json()).unwrap();
        assert_eq!(again, c);
        let via_serde: Campaign = serde_json::from_str(&c.to_json()).unwrap();
        assert_eq!(via_serde, c);
    }
    let written: Value = serde_json::from_str(&parse(&minimal()).unwrap().to_json()).unwrap();
    let mut expected = minimal();
    expected["priority"] = json!(0);
    assert_eq!(
        written, expected,
        "empty optional parts are left out; the priority is always written"
    );
}

#[test]
fn deserializing_validates_too() {
    let mut value = minimal();
    value["id"] = json!("bad id");
    let e = serde_json::from_value::<Campaign>(value)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("id: \"bad id\" is not a valid id"), "{e}");
    let list: Result<Vec<Campaign>, _> = serde_json::from_value(json!([minimal(), full()]));
    assert_eq!(list.unwrap().len(), 2);
}

#[test]
fn with_status_changes_only_the_status() {
    let c = parse(&full()).unwrap();
    let paused = c.clone().with_status(CampaignStatus::Paused);
    assert_eq!(paused.status(), CampaignStatus::Paused);
    assert_eq!(paused.with_status(CampaignStatus::Active), c);
    assert_eq!(CampaignStatus::Archived.to_string(), "archived");
}

#[test]
fn variant_for_follows_the_locale_rule() {
    let c = parse(&full()).unwrap();
    assert_eq!(c.variant_for("pt-br").0, "pt-BR");
    assert_eq!(c.variant_for("pt").0, "pt-BR");
    assert_eq!(c.variant_for("fr-FR").0, "en");
    let mut odd_default = minimal();
    odd_default["default_locale"] = json!("EN");
    assert_eq!(parse(&odd_default).unwrap().variant_for("de").0, "en");
}

#[test]
fn rejects_what_is_not_json() {
    let e = Campaign::parse("{\"id\": ").unwrap_err();
    assert!(matches!(e, CampaignError::Syntax { line: 1, .. }), "{e:?}");
    assert!(e.to_string().starts_with("campaign is not valid JSON: "));
    assert_eq!(e.errors(), &[]);
    let e = Campaign::parse("[1]").unwrap_err();
    assert_eq!(e.to_string(), "campaign: must be an object, not a list");
}

#[test]
fn rejects_oversized_documents() {
    let mut value = minimal();
    value["name"] = json!("x".repeat(MAX_CAMPAIGN_BYTES));
    let e = parse(&value).unwrap_err();
    assert!(e.to_string().starts_with("campaign: is "), "{e}");
    assert!(e.to_string().ends_with("over the 65536-byte limit"), "{e}");
}

#[test]
fn the_schema_version_is_checked_first() {
    let mut v2 = full();
    v2["schema_version"] = json!(2);
    v2["new_v2_field"] = json!(true);
    assert_eq!(
        parse(&v2).unwrap_err().to_string(),
        "schema_version: version 2 is not supported; this build reads version 1"
    );
    assert_eq!(
        error_after(|v| remove(v, "schema_version")),
        "schema_version: is required; this build reads version 1"
    );
    assert_eq!(
        error_after(|v| v["schema_version"] = json!("1")),
        "schema_version: must be a whole number, not a string"
    );
}

#[test]
fn reports_every_problem_at_once_with_paths() {
    let errors = errors_after(|v| {
        v["id"] = json!("");
        v["priority"] = json!(5000);
        v["variants"]["pt-BR"]["body"] = json!("{{frist_name}}");
        v["variants"]["en"]["buttons"][0]["url"] = json!("/cart");
    });
    assert_eq!(
        errors,
        vec![
            "id: must not be empty; use letters, digits, _ and -, starting with a letter or digit",
            "priority: 5000 is outside -1000..=1000",
            "variants.en.buttons[0].url: \"/cart\" is not absolute; start it with a scheme such as https:// or yourapp://",
            "variants.pt-BR.body: \"{{frist_name}}\" at column 1 is not a known field; did you mean first_name?",
        ]
    );
    let e = parse(&{
        let mut v = full();
        v["priority"] = json!(5000);
        v["name"] = json!("");
        v
    })
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "name: must not be empty; priority: 5000 is outside -1000..=1000"
    );
}

#[test]
fn template_errors_carry_the_variant_path_and_position() {
    assert_eq!(
        error_after(|v| v["variants"]["pt-BR"]["body"] = json!("Olá {{frist_name}}")),
        "variants.pt-BR.body: \"{{frist_name}}\" at column 5 is not a known field; did you mean first_name?"
    );
    assert_eq!(
        error_after(|v| v["variants"]["en"]["title"] = json!("Hi {{first_name")),
        "variants.en.title: \"{{\" at column 4 is not closed with \"}}\" before the end of the text"
    );
    assert_eq!(
        error_after(|v| v["variants"]["en"]["buttons"][1]["label"] = json!("{{ }}")),
        "variants.en.buttons[1].label: \"{{ }}\" at column 1 has no field name"
    );
}

#[test]
fn top_level_field_errors() {
    let cases: Vec<(Change, &str)> = vec![
        (Box::new(|v| v["priorty"] = json!(1)), "priorty: is not a known field; did you mean priority?"),
        (Box::new(|v| v["colour"] = json!(1)), "colour: is not a known field; known fields are schema_version, id, name, status, trigger, audience, priority, starts_at, ends_at, cap, free_shipping_threshold, default_locale, variants"),
        (Box::new(|v| remove(v, "id")), "id: is required"),
        (Box::new(|v| v["id"] = json!(7)), "id: must be a string, not a number"),
        (Box::new(|v| v["id"] = json!("a/b")), "id: \"a/b\" is not a valid id; use letters, digits, _ and -, starting with a letter or digit"),
        (Box::new(|v| v["name"] = json!("a\u{7}b")), "name: must not contain control characters"),
        (Box::new(|v| remove(v, "status")), "status: is required"),
        (Box::new(|v| v["status"] = json!("live")), "status: \"live\" is not one of active, paused, archived"),
        (Box::new(|v| v["priority"] = json!(-1001)), "priority: -1001 is outside -1000..=1000"),
        (Box::new(|v| v["priority"] = json!(1.5)), "priority: must be a whole number, not 1.5"),
        (Box::new(|v| v["starts_at"] = json!("tomorrow")), "starts_at: \"tomorrow\" is not an RFC 3339 timestamp such as 2025-01-31T09:00:00Z"),
        (Box::new(|v| v["ends_at"] = json!("2025-01-01T00:00:00Z")), "ends_at: must be after starts_at (2025-01-01T00:00:00+00:00 is not after 2025-01-01T00:00:00+00:00)"),
        (Box::new(|v| v["ends_at"] = json!("2024-12-31T00:00:00Z")), "ends_at: must be after starts_at (2024-12-31T00:00:00+00:00 is not after 2025-01-01T00:00:00+00:00)"),
        (Box::new(|v| remove(v, "default_locale")), "default_locale: is required"),
        (Box::new(|v| v["default_locale"] = json!("fr")), "default_locale: \"fr\" has no variant; the variants are en, pt-BR"),
        (Box::new(|v| remove(v, "variants")), "variants: is required"),
    ];
    for (change, expected) in cases {
        assert_eq!(error_after(change), expected);
    }
}

#[test]
fn trigger_errors() {
    let cases: Vec<(Value, &str)> = vec![
        (json!("Product Added"), "trigger: must be an object, not a string"),
        (json!({}), "trigger: needs one of event, screen or segment_entered"),
        (json!({"event": "Product Added", "screen": "Cart"}), "trigger: has event and screen; a campaign has exactly one trigger"),
        (json!({"event": ""}), "trigger.event: must not be empty"),
        (json!({"event": "x".repeat(129)}), "trigger.event: is 129 bytes, over the 128-byte limit"),
        (json!({"event": "product added"}), "trigger.event: \"product added\" would never match; event names are case-sensitive: did you mean \"Product Added\"?"),
        (json!({"screen": 3}), "trigger.screen: must be a string, not a number"),
        (json!({"segment_entered": "bad id"}), "trigger.segment_entered: \"bad id\" is not a valid id; use letters, digits, _, -, . and :, starting with a letter or digit"),
        (json!({"segment_entered": "vip", "where": {"a": 1}}), "trigger.where: only applies to event and screen triggers"),
        (json!({"event": "X", "wher": {}}), "trigger.wher: is not a known field; did you mean where?"),
        (json!({"event": "X", "where": []}), "trigger.where: must be an object, not a list"),
        (json!({"event": "X", "where": {"a": null}}), "trigger.where.a: must be a string, number or boolean, or a non-empty list of them"),
        (json!({"event": "X", "where": {"a": {"b": 1}}}), "trigger.where.a: must be a string, number or boolean, or a non-empty list of them"),
        (json!({"event": "X", "where": {"a": []}}), "trigger.where.a: must be a string, number or boolean, or a non-empty list of them"),
        (json!({"event": "X", "where": {"a": [1, [2]]}}), "trigger.where.a: must be a string, number or boolean, or a non-empty list of them"),
        (json!({"event": "X", "where": {"": 1}}), "trigger.where: keys must not be empty"),
    ];
    for (trigger, expected) in cases {
        assert_eq!(
            error_after(|v| v["trigger"] = trigger.clone()),
            expected,
            "{trigger}"
        );
    }
    let many: serde_json::Map<String, Value> = (0..=MAX_FILTER_KEYS)
        .map(|i| (format!("k{i}"), json!(1)))
        .collect();
    assert_eq!(
        error_after(|v| v["trigger"] = json!({"event": "X", "where": many})),
        "trigger.where: has 21 keys, over the limit of 20"
    );
    let custom = {
        let mut v = minimal();
        v["trigger"] = json!({"event": "Wishlist Shared", "where": {"public": true}});
        parse(&v).unwrap()
    };
    assert!(matches!(custom.trigger(), Trigger::Event { name, .. } if name == "Wishlist Shared"));
    let segment = {
        let mut v = minimal();
        v["trigger"] = json!({"segment_entered": "cart_abandoner"});
        parse(&v).unwrap()
    };
    assert_eq!(
        segment.trigger(),
        &Trigger::SegmentEntered {
            segment_id: "cart_abandoner".into()
        }
    );
}

#[test]
fn audience_errors() {
    let cases: Vec<(Value, &str)> = vec![
        (json!(["vip"]), "audience: must be an object, not a list"),
        (json!({"segment": []}), "audience.segment: is not a known field; did you mean segments?"),
        (json!({"segments": "vip"}), "audience.segments: must be a list, not a string"),
        (json!({"segments": ["ok", 3]}), "audience.segments[1]: must be a string, not a number"),
        (json!({"segments": ["ok", "not ok"]}), "audience.segments[1]: \"not ok\" is not a valid id; use letters, digits, _, -, . and :, starting with a letter or digit"),
        (json!({"segments": ["a", "a"]}), "audience.segments[1]: \"a\" is listed twice"),
        (json!({"segments": ["a"], "exclude": ["a"]}), "audience.exclude: \"a\" is both included and excluded, so its members never qualify"),
    ];
    for (audience, expected) in cases {
        assert_eq!(
            error_after(|v| v["audience"] = audience.clone()),
            expected,
            "{audience}"
        );
    }
    let too_many: Vec<String> = (0..=MAX_AUDIENCE_SEGMENTS)
        .map(|i| format!("s{i}"))
        .collect();
    assert_eq!(
        error_after(|v| v["audience"] = json!({"exclude": too_many})),
        "audience.exclude: has 51 segments, over the limit of 50"
    );
    let empty = {
        let mut v = minimal();
        v["audience"] = json!({"segments": [], "exclude": []});
        parse(&v).unwrap()
    };
    assert!(empty.audience().is_everyone());
}

#[test]
fn cap_errors() {
    let cases: Vec<(Value, &str)> = vec![
        (json!(3), "cap: must be an object, not a number"),
        (
            json!({}),
            "cap: needs total, window or both; leave cap out for no cap",
        ),
        (json!({"total": 0}), "cap.total: 0 is outside 1..=1000"),
        (
            json!({"total": 1001}),
            "cap.total: 1001 is outside 1..=1000",
        ),
        (json!({"total": -1}), "cap.total: -1 is outside 1..=1000"),
        (
            json!({"total": "3"}),
            "cap.total: must be a whole number, not a string",
        ),
        (
            json!({"window": {"max": 1}}),
            "cap.window.seconds: is required",
        ),
        (
            json!({"window": {"seconds": 3600}}),
            "cap.window.max: is required",
        ),
        (
            json!({"window": {"max": 0, "seconds": 3600}}),
            "cap.window.max: 0 is outside 1..=1000",
        ),
        (
            json!({"window": {"max": 1, "seconds": 59}}),
            "cap.window.seconds: 59 is outside 60..=31622400 (one minute to 366 days)",
        ),
        (
            json!({"window": {"max": 1, "seconds": 31622401}}),
            "cap.window.seconds: 31622401 is outside 60..=31622400 (one minute to 366 days)",
        ),
    ];
    for (cap, expected) in cases {
        assert_eq!(error_after(|v| v["cap"] = cap.clone()), expected, "{cap}");
    }
    assert_eq!(
        errors_after(|v| v["cap"] = json!({"per_day": 1})),
        vec![
            "cap.per_day: is not a known field; known fields are total, window",
            "cap: needs total, window or both; leave cap out for no cap",
        ]
    );
    let window_only = {
        let mut v = minimal();
        v["cap"] = json!({"window": {"max": 2, "seconds": 60}});
        parse(&v).unwrap()
    };
    assert_eq!(window_only.cap().total, None);
}

#[test]
fn threshold_errors() {
    let cases: Vec<(Value, &str)> = vec![
        (json!(50), "free_shipping_threshold: must be an object, not a number"),
        (json!({"eur": 50}), "free_shipping_threshold.eur: \"eur\" is not a three-letter ISO 4217 code such as EUR"),
        (json!({"EURO": 50}), "free_shipping_threshold.EURO: \"EURO\" is not a three-letter ISO 4217 code such as EUR"),
        (json!({"EUR": 0}), "free_shipping_threshold.EUR: must be a positive amount with at most 2 decimals, not 0"),
        (json!({"EUR": -5}), "free_shipping_threshold.EUR: must be a positive amount with at most 2 decimals, not -5"),
        (json!({"EUR": "50"}), "free_shipping_threshold.EUR: must be a positive amount with at most 2 decimals, not \"50\""),
        (json!({"EUR": 49.999}), "free_shipping_threshold.EUR: must be a positive amount with at most 2 decimals, not 49.999"),
        (json!({"JPY": 10.5}), "free_shipping_threshold.JPY: must be a positive amount with at most 0 decimals, not 10.5"),
    ];
    for (thresholds, expected) in cases {
        assert_eq!(
            error_after(|v| v["free_shipping_threshold"] = thresholds.clone()),
            expected,
            "{thresholds}"
        );
    }
}

#[test]
fn variant_errors() {
    let cases: Vec<(Change, &str)> = vec![
        (Box::new(|v| v["variants"] = json!({})), "variants: needs at least one locale variant"),
        (Box::new(|v| v["variants"] = json!([])), "variants: must be an object, not a list"),
        (Box::new(|v| v["variants"]["english"] = v["variants"]["en"].clone()), "variants.english: \"english\" is not a language tag such as en, pt or pt-BR"),
        (Box::new(|v| v["variants"]["pt_br"] = v["variants"]["en"].clone()), "variants.pt_br: is the same locale as \"pt-BR\""),
        (Box::new(|v| v["variants"]["en"] = json!("Hello")), "variants.en: must be an object, not a string"),
        (Box::new(|v| v["variants"]["en"]["titel"] = json!("x")), "variants.en.titel: is not a known field; did you mean title?"),
        (Box::new(|v| remove(&mut v["variants"]["en"], "title")), "variants.en.title: is required"),
        (Box::new(|v| v["variants"]["en"]["body"] = json!("  ")), "variants.en.body: must not be empty"),
        (Box::new(|v| v["variants"]["en"]["body"] = json!(["a"])), "variants.en.body: must be a string, not a list"),
        (Box::new(|v| v["variants"]["en"]["title"] = json!("t".repeat(201))), "variants.en.title: is 201 characters, over the 200-character limit"),
        (Box::new(|v| v["variants"]["en"]["body"] = json!("b".repeat(2001))), "variants.en.body: is 2001 characters, over the 2000-character limit"),
        (Box::new(|v| v["variants"]["en"]["image_url"] = json!("truck.png")), "variants.en.image_url: \"truck.png\" is not absolute; start it with a scheme such as https:// or yourapp://"),
        (Box::new(|v| v["variants"]["en"]["image_url"] = json!("myshop://truck.png")), "variants.en.image_url: must be an http or https URL"),
        (Box::new(|v| v["variants"]["en"]["image_url"] = json!("data:image/png;base64,AAAA")), "variants.en.image_url: the data: scheme is not allowed"),
    ];
    for (change, expected) in cases {
        assert_eq!(error_after(change), expected);
    }
}

#[test]
fn button_errors() {
    let button = |id: &str, label: &str, url: &str| json!({"id": id, "label": label, "url": url});
    let cases: Vec<(Value, &str)> = vec![
        (json!({"id": "a"}), "variants.en.buttons: must be a list, not an object"),
        (json!([button("a", "A", "myshop://a"), button("b", "B", "myshop://b"), button("c", "C", "myshop://c"), button("d", "D", "myshop://d")]), "variants.en.buttons: has 4 buttons, over the limit of 3"),
        (json!([button("a", "A", "myshop://a"), button("a", "B", "myshop://b")]), "variants.en.buttons[1].id: \"a\" is used by another button"),
        (json!([button("a b", "A", "myshop://a")]), "variants.en.buttons[0].id: \"a b\" is not a valid id; use letters, digits, _ and -, starting with a letter or digit"),
        (json!([button("a", "", "myshop://a")]), "variants.en.buttons[0].label: must not be empty"),
        (json!([button("a", &"l".repeat(101), "myshop://a")]), "variants.en.buttons[0].label: is 101 characters, over the 100-character limit"),
        (json!([button("a", "A", "javascript:alert(1)")]), "variants.en.buttons[0].url: the javascript: scheme is not allowed"),
        (json!([button("a", "A", "https://")]), "variants.en.buttons[0].url: \"https://\" has nothing after the scheme"),
        (json!([button("a", "A", "cart")]), "variants.en.buttons[0].url: \"cart\" is not absolute; start it with a scheme such as https:// or yourapp://"),
        (json!([{"id": "a", "label": "A"}]), "variants.en.buttons[0].url: is required"),
        (json!([{"id": "a", "label": "A", "url": "myshop://a", "style": "primary"}]), "variants.en.buttons[0].style: is not a known field; known fields are id, label, url"),
        (json!(["Go"]), "variants.en.buttons[0]: must be an object, not a string"),
    ];
    for (buttons, expected) in cases {
        assert_eq!(
            error_after(|v| v["variants"]["en"]["buttons"] = buttons.clone()),
            expected,
            "{buttons}"
        );
    }
}

#[test]
fn errors_show_only_the_start_of_long_input() {
    let long = "x".repeat(10_000);
    let errors = errors_after(|v| {
        v["variants"][&long] = json!({"title": "a", "body": "b"});
        v["status"] = json!(long);
        // Within the id's byte limit, so the id itself is shown, cut.
        v["audience"]["exclude"] = json!([format!("{}!", "z".repeat(120))]);
        v["variants"]["en"]["buttons"][0]["url"] = json!(format!("/{}", "y".repeat(1_500)));
        v["starts_at"] = json!(long);
    });
    assert_eq!(errors.len(), 5, "{errors:#?}");
    for error in &errors {
        assert!(error.chars().count() < 300, "{error}");
        assert!(error.contains('…'), "{error}");
    }
}
