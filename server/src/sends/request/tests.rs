use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde_json::json;

use super::super::schedule::parse_clock;
use super::super::test_support::{
    catalog, now, refused, request, request_with, send, utc, Catalog,
};
use super::*;

#[test]
fn a_minimal_request_goes_now_on_every_channel_in_the_default_order() {
    let s = send(request());
    assert_eq!(s.audience(), &Audience::UserKey("u-1".into()));
    assert_eq!(s.target(), &Target::User("u-1".into()));
    assert_eq!(s.campaign_id(), None);
    assert_eq!(
        s.channels(),
        [
            Channel::Push,
            Channel::InApp,
            Channel::Email,
            Channel::Sms,
            Channel::Whatsapp
        ]
    );
    assert_eq!(s.schedule(), &Schedule::Now);
    assert_eq!(s.quiet_hours(), None);
    assert_eq!(s.expiry(), None);
    assert_eq!(s.collapse_id(), None);
    assert_eq!(s.promo(), None);
    assert_eq!(s.created_at(), now());
    assert_eq!(s.content().default_locale(), "en");
    assert_eq!(s.content().variants().len(), 2);
}

#[test]
fn a_full_request() {
    let s = send(request_with(json!({
        "audience": {"segment": "cart_abandoner"},
        "channels": ["email", "push"],
        "schedule": {"local": "2026-12-24T09:00"},
        "quiet_hours": {"start": "21:00", "end": "08:00"},
        "ttl_seconds": 7200,
        "collapse_id": "xmas-2026",
        "content": {
            "default_locale": "en",
            "variants": {"en": {"title": "Merry Christmas", "body": "Use {{promo_code}} today"}},
            "deep_link": "shop://sale/xmas?code={{promo_code}}",
            "promo": {"code": "XMAS10", "discount": {"percent": 10}, "expires_at": "2026-12-31T23:59:59Z"}
        }
    })));
    assert_eq!(
        s.target(),
        &Target::Segments {
            any_of: vec!["cart_abandoner".into()],
            exclude: vec![]
        }
    );
    assert_eq!(s.channels(), [Channel::Email, Channel::Push]);
    let nine = NaiveDate::from_ymd_opt(2026, 12, 24)
        .unwrap()
        .and_hms_opt(9, 0, 0)
        .unwrap();
    assert_eq!(s.schedule(), &Schedule::Local(nine));
    let quiet = s.quiet_hours().unwrap();
    assert_eq!(
        (quiet.start(), quiet.end()),
        (parse_clock("21:00").unwrap(), parse_clock("08:00").unwrap())
    );
    assert_eq!(s.expiry(), Some(&Expiry::After(Duration::from_secs(7200))));
    assert_eq!(s.collapse_id(), Some("xmas-2026"));
    assert_eq!(s.promo().unwrap().code, "XMAS10");
    assert_eq!(
        s.content().deep_link().unwrap().template().source(),
        "shop://sale/xmas?code={{promo_code}}"
    );
}

#[test]
fn rereading_a_stored_request_with_its_creation_time_gives_the_same_send() {
    let text = request_with(json!({"schedule": {"at": "2026-12-01T12:00:00Z"}})).to_string();
    let first = Send::parse(&text, &catalog(), now()).unwrap();
    let again = Send::parse(&text, &catalog(), now()).unwrap();
    assert_eq!(first, again);
}

#[test]
fn the_example_typo_is_reported_where_it_is() {
    let errs = refused(request_with(json!({"content": {
        "default_locale": "en",
        "variants": {
            "en": {"title": "Hi", "body": "Hello {{first_name}}"},
            "pt-BR": {"title": "Oi", "body": "Olá {{frist_name}}"}
        }
    }})));
    assert_eq!(
        errs,
        ["content.variants.pt-BR.body: \"{{frist_name}}\" at column 5 is not a known field; did you mean first_name?"]
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let errs = refused(json!({
        "schema_version": 1,
        "audience": {"segment": "nobody"},
        "content": {
            "default_locale": "en",
            "variants": {"en": {"title": "", "body": "ok"}},
            "deep_link": "/relative",
            "promo": {"code": "A B", "discount": "free_shipping", "expires_at": "2026-12-31T23:59:59Z"}
        },
        "channels": ["push", "push"],
        "schedule": {"at": "yesterday"},
        "quiet_hours": {"start": "25:00", "end": "8"},
        "ttl_seconds": 5,
        "collapse_id": "has space"
    }));
    assert_eq!(
        errs,
        [
            "audience.segment: no segment \"nobody\"",
            "content.promo.code: \"A B\" may only have letters, digits, _ and -",
            "content.deep_link: with no value known it renders as \"/relative\": \"/relative\" is not absolute; start it with a scheme such as https:// or yourapp://",
            "content.variants.en.title: must not be empty",
            "channels: lists push twice",
            "schedule.at: \"yesterday\" is not an RFC 3339 time such as 2026-12-24T09:00:00Z",
            "quiet_hours.start: \"25:00\" is not a time of day such as 08:00 or 21:30",
            "quiet_hours.end: \"8\" is not a time of day such as 08:00 or 21:30",
            "ttl_seconds: 5 is outside 60..=2419200 (a minute to 28 days)",
            "collapse_id: may only have visible ASCII characters, no spaces",
        ]
    );
}

#[test]
fn the_schema_version_is_checked_first() {
    let cases = [
        (
            json!({"audience": 5}),
            "schema_version: is required; this server reads 1",
        ),
        (
            json!({"schema_version": 2, "audience": 5}),
            "schema_version: 2 is not supported; this server reads 1",
        ),
        (
            json!({"schema_version": "1"}),
            "schema_version: \"1\" is not supported; this server reads 1",
        ),
        (json!([1]), "request: must be a JSON object"),
    ];
    for (request, expected) in cases {
        assert_eq!(refused(request), [expected]);
    }
}

#[test]
fn structural_errors_name_their_path() {
    let mut typo = request();
    typo["content"]["variants"]["en"]["bdy"] = json!("x");
    let errs = refused(typo);
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].starts_with(
            "content.variants.en.bdy: unknown field `bdy`, expected `title` or `body`"
        ),
        "{errs:?}"
    );

    let errs = refused(request_with(json!({"audiense": {"user_key": "u"}})));
    assert!(
        errs[0].starts_with("audiense: unknown field `audiense`"),
        "{errs:?}"
    );

    let errs = refused(request_with(json!({"audience": {"everyone": true}})));
    assert!(
        errs[0].contains(
            "unknown variant `everyone`, expected one of `user_key`, `segment`, `campaign`"
        ),
        "{errs:?}"
    );

    let errs = refused(request_with(json!({"channels": ["push", "fax"]})));
    assert!(
        errs[0].starts_with("channels[1]: unknown variant `fax`"),
        "{errs:?}"
    );

    let errs = refused(request_with(json!({"schedule": "later"})));
    assert!(
        errs[0].starts_with("schedule: unknown variant `later`"),
        "{errs:?}"
    );

    let errs = refused(request_with(json!({"ttl_seconds": -1})));
    assert!(
        errs[0].starts_with("ttl_seconds: invalid value"),
        "{errs:?}"
    );
}

#[test]
fn an_unknown_field_with_an_empty_name_is_placed_at_its_object() {
    // Found by fuzzing (fuzz/corpus/server_send): the problem had an empty path.
    let errs = refused(request_with(json!({"": {"user_key": "u-1"}})));
    assert!(errs[0].starts_with("request: unknown field ``"), "{errs:?}");
    let mut nested = request();
    nested["content"][""] = json!(1);
    let errs = refused(nested);
    assert!(errs[0].starts_with("content: unknown field ``"), "{errs:?}");
}

#[test]
fn text_that_is_not_json_or_too_large_is_refused() {
    let err = Send::parse("{\"schema_version\": 1,", &catalog(), now()).unwrap_err();
    assert!(matches!(err, SendError::Syntax { line: 1, .. }), "{err:?}");
    assert!(err
        .to_string()
        .starts_with("send request is not valid JSON"));
    assert!(err.errors().is_empty());

    let mut big = request();
    big["collapse_id"] = json!("x".repeat(MAX_SEND_BYTES));
    let err = Send::parse(&big.to_string(), &catalog(), now()).unwrap_err();
    assert!(
        err.to_string().starts_with("request: is ")
            && err.to_string().ends_with("over the 65536-byte limit"),
        "{err}"
    );
}

#[test]
fn audiences_are_resolved_against_the_definitions() {
    assert_eq!(
        refused(request_with(json!({"audience": {"segment": "retired"}}))),
        ["audience.segment: segment \"retired\" is archived"]
    );
    assert_eq!(
        refused(request_with(json!({"audience": {"user_key": " "}}))),
        ["audience.user_key: must not be empty"]
    );
}

#[test]
fn a_campaign_gives_its_audience_and_texts() {
    let s = send(json!({
        "schema_version": 1,
        "audience": {"campaign": "free-shipping"},
        "content": {"deep_link": "shop://cart"}
    }));
    assert_eq!(s.campaign_id(), Some("free-shipping"));
    assert_eq!(
        s.target(),
        &Target::Segments {
            any_of: vec!["cart_abandoner".into()],
            exclude: vec!["vip".into()]
        }
    );
    assert_eq!(s.content().variant_for("pt-BR").0, "pt-BR");
    assert_eq!(
        s.content().variant_for("en").1.title.source(),
        "Hi {{first_name | there}}"
    );
    assert!(s.content().free_shipping_thresholds().contains_key("EUR"));
    assert_eq!(s.content().deep_link().unwrap().fallback(), "shop://cart");

    let bare = send(json!({"schema_version": 1, "audience": {"campaign": "free-shipping"}}));
    assert_eq!(bare.content().deep_link(), None);
}

#[test]
fn a_campaign_must_be_usable_and_its_texts_are_not_repeated() {
    let errs = refused(json!({
        "schema_version": 1,
        "audience": {"campaign": "free-shipping"},
        "content": {"default_locale": "en", "variants": {"en": {"title": "t", "body": "b"}}}
    }));
    assert_eq!(
        errs,
        [
            "content.variants: comes from campaign \"free-shipping\"; leave it out",
            "content.default_locale: comes from campaign \"free-shipping\"; leave it out",
        ]
    );
    let audience = |id: &str| refused(json!({"schema_version": 1, "audience": {"campaign": id}}));
    assert_eq!(
        audience("nope"),
        ["audience.campaign: no campaign \"nope\""]
    );
    assert_eq!(
        audience("paused-nudge"),
        ["audience.campaign: campaign \"paused-nudge\" is paused; only active campaigns are sent"]
    );
    assert_eq!(
        audience("stale-nudge"),
        ["audience.campaign: campaign \"stale-nudge\" names segment \"retired\": segment \"retired\" is archived"]
    );
    assert_eq!(
        refused(json!({"schema_version": 1, "audience": {"user_key": "u"}})),
        ["content: is required unless the audience is a campaign, whose texts are used"]
    );
}

#[test]
fn targets_admit_members() {
    let members = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    let user = Target::User("u-1".into());
    assert!(user.admits("u-1", &members(&[])));
    assert!(!user.admits("u-2", &members(&["anything"])));
    let segments = Target::Segments {
        any_of: vec!["a".into(), "b".into()],
        exclude: vec!["vip".into()],
    };
    assert!(segments.admits("x", &members(&["b"])));
    assert!(!segments.admits("x", &members(&["c"])));
    assert!(!segments.admits("x", &members(&["a", "vip"])));
    let everyone = Target::Segments {
        any_of: vec![],
        exclude: vec!["vip".into()],
    };
    assert!(everyone.admits("x", &members(&[])));
    assert!(!everyone.admits("x", &members(&["vip"])));
}

#[test]
fn channels_are_a_non_empty_order_without_repeats() {
    assert_eq!(
        refused(request_with(json!({"channels": []}))),
        ["channels: must name at least one channel"]
    );
    let s = send(request_with(json!({"channels": ["whatsapp"]})));
    assert_eq!(s.channels(), [Channel::Whatsapp]);
}

#[test]
fn schedules() {
    let at = send(request_with(
        json!({"schedule": {"at": "2026-12-24T09:00:00-03:00"}}),
    ));
    assert_eq!(at.schedule(), &Schedule::At(utc("2026-12-24T12:00:00Z")));
    assert_eq!(
        send(request_with(json!({"schedule": "now"}))).schedule(),
        &Schedule::Now
    );
    // A few seconds behind is a clock difference, not a mistake.
    let just_past = send(request_with(
        json!({"schedule": {"at": "2026-12-01T09:59:30Z"}}),
    ));
    assert_eq!(
        just_past.schedule(),
        &Schedule::At(utc("2026-12-01T09:59:30Z"))
    );
    assert_eq!(
        refused(request_with(
            json!({"schedule": {"at": "2026-12-01T09:00:00Z"}})
        )),
        ["schedule.at: 2026-12-01T09:00:00Z is in the past; use \"now\" to send at once"]
    );
    // 09:00 on 1 December is past in Europe but still ahead in Hawaii: accepted, and
    // users for whom it has passed get it at once (unless it expired).
    send(request_with(
        json!({"schedule": {"local": "2026-12-01T09:00"}}),
    ));
    assert_eq!(
        refused(request_with(
            json!({"schedule": {"local": "2026-11-30T21:59"}})
        )),
        ["schedule.local: 2026-11-30T21:59 has already passed in every time zone"]
    );
    assert_eq!(
        refused(request_with(json!({"schedule": {"local": "2026-12-24T09:00Z"}}))),
        ["schedule.local: \"2026-12-24T09:00Z\" is not a local date and time such as 2026-12-24T09:00 (no offset or Z: it is read in each user's own zone)"]
    );
}

#[test]
fn quiet_hours_need_a_period() {
    assert_eq!(
        refused(request_with(json!({"quiet_hours": {"start": "08:00", "end": "08:00"}}))),
        ["quiet_hours: start and end are both 08:00; quiet hours need a period, such as 21:00 to 08:00"]
    );
    let errs = refused(request_with(json!({"quiet_hours": {"start": "21:00"}})));
    assert!(
        errs[0].starts_with("quiet_hours: missing field `end`"),
        "{errs:?}"
    );
}

#[test]
fn expiry_by_ttl_or_instant() {
    let s = send(request_with(json!({"expires_at": "2026-12-02T00:00:00Z"})));
    assert_eq!(s.expiry(), Some(&Expiry::At(utc("2026-12-02T00:00:00Z"))));
    assert_eq!(
        refused(request_with(
            json!({"ttl_seconds": 600, "expires_at": "2026-12-02T00:00:00Z"})
        )),
        ["expires_at: give either ttl_seconds or expires_at, not both"]
    );
    assert_eq!(
        refused(request_with(json!({"expires_at": "2026-12-01T09:00:00Z"}))),
        ["expires_at: 2026-12-01T09:00:00Z is in the past"]
    );
    assert_eq!(
        refused(request_with(json!({
            "schedule": {"at": "2026-12-24T09:00:00Z"},
            "expires_at": "2026-12-24T08:00:00Z"
        }))),
        ["expires_at: 2026-12-24T08:00:00Z is before the scheduled time"]
    );
    // A local 09:00 comes first at UTC+14 (19:00 UTC the day before).
    assert_eq!(
        refused(request_with(json!({
            "schedule": {"local": "2026-12-24T09:00"},
            "expires_at": "2026-12-23T19:00:00Z"
        }))),
        ["expires_at: 2026-12-23T19:00:00Z is before the scheduled time"]
    );
    send(request_with(json!({
        "schedule": {"local": "2026-12-24T09:00"},
        "expires_at": "2026-12-23T19:00:01Z"
    })));
    assert_eq!(
        refused(request_with(json!({"ttl_seconds": 2_419_201}))),
        ["ttl_seconds: 2419201 is outside 60..=2419200 (a minute to 28 days)"]
    );
}

#[test]
fn collapse_ids_fit_a_header() {
    assert_eq!(
        refused(request_with(json!({"collapse_id": ""}))),
        ["collapse_id: must not be empty"]
    );
    assert_eq!(
        refused(request_with(json!({"collapse_id": "x".repeat(65)}))),
        ["collapse_id: is 65 bytes, over the 64-byte limit"]
    );
    assert_eq!(
        send(request_with(json!({"collapse_id": "x".repeat(64)}))).collapse_id(),
        Some("x".repeat(64).as_str())
    );
}

#[test]
fn an_invalid_promo_does_not_also_blame_its_use() {
    let errs = refused(request_with(json!({"content": {
        "default_locale": "en",
        "variants": {"en": {"title": "t", "body": "Use {{promo_code}}"}},
        "promo": {"code": "", "discount": "free_shipping", "expires_at": "2026-12-31T23:59:59Z"}
    }})));
    assert_eq!(errs, ["content.promo.code: must not be empty"]);
}

#[test]
fn definitions_are_only_consulted_for_what_the_request_names() {
    let empty = Catalog {
        campaigns: Default::default(),
        segments: Default::default(),
    };
    assert!(Send::from_value(&request(), &empty, now()).is_ok());
}
