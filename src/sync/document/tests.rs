use serde_json::{json, Value};

use super::*;

fn builtin_segments() -> Vec<Value> {
    templates::builtin().iter().map(|d| d.to_value()).collect()
}

fn segment(id: &str, rule: Value) -> Value {
    json!({"schema": 1, "id": id, "name": id, "rule": rule})
}

fn viewed_once() -> Value {
    json!({"count": {"event": "Product Viewed"}, "at_least": 1})
}

fn campaign(id: &str, audience: &[&str]) -> Value {
    json!({
        "schema_version": 1,
        "id": id,
        "name": "Free shipping nudge",
        "status": "active",
        "trigger": {"event": "Product Added"},
        "audience": {"segments": audience},
        "default_locale": "en",
        "variants": {"en": {"title": "Hi {{first_name | there}}", "body": "Free shipping at 50 EUR"}}
    })
}

fn document(segments: Vec<Value>, campaigns: Vec<Value>) -> Vec<u8> {
    json!({"schema": 1, "segments": segments, "campaigns": campaigns})
        .to_string()
        .into_bytes()
}

fn refusal(body: &[u8]) -> String {
    match SyncedDefinitions::parse(body) {
        Ok(_) => panic!("accepted {}", String::from_utf8_lossy(body)),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_builtins_are_the_segment_templates_without_campaigns() {
    let builtin = SyncedDefinitions::builtin();
    let ids: BTreeSet<&str> = builtin
        .segments
        .definitions()
        .iter()
        .map(|d| d.id.as_str())
        .collect();
    let expected: BTreeSet<String> = templates::builtin().into_iter().map(|d| d.id).collect();
    assert_eq!(
        ids,
        expected.iter().map(String::as_str).collect::<BTreeSet<_>>()
    );
    assert!(builtin.campaigns.is_empty());
    assert_eq!(builtin.settings, SyncSettings::default());
}

#[test]
fn reads_the_builtins_plus_a_campaign_and_settings() {
    let mut entered = campaign("welcome-back", &[]);
    entered["trigger"] = json!({"segment_entered": "cart_abandoner"});
    let body = json!({
        "schema": 1,
        "segments": builtin_segments(),
        "campaigns": [campaign("nudge", &["cart_abandoner", "high_spender"]), entered],
        "settings": {"in_app_min_gap_seconds": 60}
    })
    .to_string();
    let definitions = SyncedDefinitions::parse(body.as_bytes()).unwrap();
    assert_eq!(definitions.segments.len(), templates::builtin().len());
    assert_eq!(
        definitions.segments.get("cart_abandoner"),
        Some(&templates::cart_abandoner(crate::segments::Window::hours(
            24
        )))
    );
    let ids: Vec<&str> = definitions.campaigns.iter().map(|c| c.id()).collect();
    assert_eq!(ids, ["nudge", "welcome-back"]);
    assert_eq!(definitions.settings.in_app_min_gap_seconds, 60);
}

#[test]
fn an_empty_document_is_valid_and_defines_nothing() {
    let definitions = SyncedDefinitions::parse(br#"{"schema": 1}"#).unwrap();
    assert!(definitions.segments.is_empty());
    assert!(definitions.campaigns.is_empty());
}

#[test]
fn refuses_a_document_over_the_size_limit_before_reading_it() {
    let body = vec![b' '; MAX_SYNC_BYTES + 1];
    assert_eq!(
        refusal(&body),
        "sync document is 2097153 bytes, over the 2097152-byte limit"
    );
}

#[test]
fn refuses_what_is_not_a_json_object() {
    assert_eq!(
        refusal(b"<html>oops</html>"),
        "sync document is not valid JSON: expected value at line 1 column 1"
    );
    assert_eq!(refusal(b"[]"), "sync document must be a JSON object");
}

#[test]
fn refuses_other_versions_before_looking_at_anything_else() {
    assert_eq!(
        refusal(br#"{"schema": 2, "segments": "new shape", "rules": []}"#),
        "schema: version 2 is not supported; this device reads version 1"
    );
    assert_eq!(
        refusal(br#"{"segments": []}"#),
        "schema: is required; this device reads version 1"
    );
    assert_eq!(
        refusal(br#"{"schema": "1"}"#),
        r#"schema: expected a version number such as 1, found "1""#
    );
}

#[test]
fn refuses_unknown_top_level_fields() {
    assert_eq!(
        refusal(br#"{"schema": 1, "segmnts": []}"#),
        "sync document: unknown field `segmnts`, expected one of `schema`, `segments`, `campaigns`, `settings`"
    );
}

#[test]
fn names_an_invalid_segment_by_position_and_id_with_the_engines_message() {
    let mut segments = builtin_segments();
    segments[0]["rule"]["all"][0]["count"]["within"] = json!("3x");
    assert_eq!(
        refusal(&document(segments, vec![])),
        r#"segments[0] ("cart_abandoner"): rule.all[0].count.within: "3x" is not a duration; use 30m, 24h or 7d"#
    );
    let nameless = json!({"schema": 1, "rule": viewed_once()});
    assert_eq!(
        refusal(&document(vec![nameless], vec![])),
        "segments[0]: id: is required"
    );
}

#[test]
fn refuses_references_to_unknown_segments_and_cycles() {
    let dangling = segment("vip", json!({"segment": "nobody"}));
    assert_eq!(
        refusal(&document(
            vec![segment("viewer", viewed_once()), dangling],
            vec![]
        )),
        r#"segments[1] ("vip"): rule.segment: "nobody" is not a defined segment"#
    );
    let a = segment("a", json!({"segment": "b"}));
    let b = segment("b", json!({"any": [{"segment": "a"}, viewed_once()]}));
    assert_eq!(
        refusal(&document(vec![a, b], vec![])),
        r#"segments[1] ("b"): rule.any[0].segment: refers back to itself through a → b → a"#
    );
}

#[test]
fn names_an_invalid_campaign_with_every_problem_the_engine_found() {
    let mut bad = campaign("nudge", &[]);
    bad["priority"] = json!(5000);
    bad["variants"]["en"]["title"] = json!("Hi {{frist_name}}");
    assert_eq!(
        refusal(&document(vec![], vec![bad])),
        r#"campaigns[0] ("nudge"): priority: 5000 is outside -1000..=1000; campaigns[0] ("nudge"): variants.en.title: "{{frist_name}}" at column 4 is not a known field; did you mean first_name?"#
    );
}

#[test]
fn refuses_campaigns_naming_segments_the_document_does_not_define() {
    let mut excluding = campaign("sale", &["viewer"]);
    excluding["audience"]["exclude"] = json!(["vip"]);
    let mut entered = campaign("welcome", &[]);
    entered["trigger"] = json!({"segment_entered": "churned"});
    assert_eq!(
        refusal(&document(
            vec![segment("viewer", viewed_once())],
            vec![campaign("nudge", &["viewer", "cart_abandoner"]), excluding, entered]
        )),
        [
            r#"campaigns[0] ("nudge"): audience.segments[1]: "cart_abandoner" is not a segment of this document"#,
            r#"campaigns[1] ("sale"): audience.exclude[0]: "vip" is not a segment of this document"#,
            r#"campaigns[2] ("welcome"): trigger.segment_entered: "churned" is not a segment of this document"#,
        ]
        .join("; ")
    );
}

#[test]
fn refuses_duplicate_campaign_ids() {
    assert_eq!(
        refusal(&document(
            vec![],
            vec![
                campaign("nudge", &[]),
                campaign("other", &[]),
                campaign("nudge", &[])
            ]
        )),
        r#"campaigns[2] ("nudge"): id: is used by more than one campaign (positions 0 and 2)"#
    );
}

#[test]
fn reports_every_problem_at_once_without_cascades() {
    let mut segments = builtin_segments();
    segments[3]["rule"]["count"]["exactly"] = json!(-1);
    let mut bad = campaign("broken", &[]);
    bad["status"] = json!("live");
    let error = SyncedDefinitions::parse(&document(
        segments,
        vec![
            // Refers to the refused segment: no second error for it.
            campaign("nudge", &["first_time_customer"]),
            bad,
            campaign("lost", &["ghost"]),
        ],
    ))
    .unwrap_err();
    let places: Vec<&str> = error
        .problems()
        .iter()
        .map(|p| p.split(':').next().unwrap())
        .collect();
    assert_eq!(
        places,
        [
            r#"segments[3] ("first_time_customer")"#,
            r#"campaigns[1] ("broken")"#,
            r#"campaigns[2] ("lost")"#
        ],
        "{error}"
    );
}
