use chrono::{Duration as Delta, TimeZone};
use serde_json::{json, Map, Value};

use super::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap()
}

/// An active campaign on `Product Added` with the given id and priority, then `change`.
fn campaign(id: &str, priority: i32, change: impl FnOnce(&mut Value)) -> Campaign {
    let mut v = json!({
        "schema_version": 1,
        "id": id,
        "name": id,
        "status": "active",
        "trigger": {"event": "Product Added"},
        "priority": priority,
        "default_locale": "en",
        "variants": {"en": {"title": "T", "body": "B"}}
    });
    change(&mut v);
    Campaign::parse(&v.to_string()).unwrap()
}

fn plain(id: &str, priority: i32) -> Campaign {
    campaign(id, priority, |_| {})
}

fn product_added(props: Value) -> FiredTrigger {
    FiredTrigger::Event {
        name: "Product Added".into(),
        properties: props.as_object().cloned().unwrap_or_default(),
    }
}

fn added() -> FiredTrigger {
    product_added(json!({}))
}

fn user() -> UserState {
    UserState::default()
}

fn in_segments(ids: &[&str]) -> UserState {
    UserState {
        segments: ids.iter().map(|s| s.to_string()).collect(),
        ..UserState::default()
    }
}

fn shown(id: &str, times: &[DateTime<Utc>]) -> UserState {
    UserState {
        impressions: HashMap::from([(id.to_owned(), times.to_vec())]),
        ..UserState::default()
    }
}

fn pick<'a>(
    campaigns: &'a [Campaign],
    fired: &FiredTrigger,
    user: &UserState,
    now: DateTime<Utc>,
) -> Result<&'a str, NoMessage> {
    select(campaigns, fired, user, now, &SelectionPolicy::default()).map(Campaign::id)
}

fn rejection(
    campaigns: &[Campaign],
    user: &UserState,
    now: DateTime<Utc>,
) -> Vec<(String, Rejection)> {
    match pick(campaigns, &added(), user, now) {
        Err(NoMessage::Ineligible { rejected }) => rejected
            .into_iter()
            .map(|r| (r.campaign_id, r.reason))
            .collect(),
        other => panic!("expected Ineligible, got {other:?}"),
    }
}

// ---- priority and ties ----

#[test]
fn the_highest_priority_wins() {
    let campaigns = [plain("low", 1), plain("high", 10), plain("mid", 5)];
    assert_eq!(pick(&campaigns, &added(), &user(), t0()), Ok("high"));
}

#[test]
fn ties_go_to_the_smallest_id_whatever_the_order() {
    let a = [plain("b", 5), plain("a", 5), plain("c", 5)];
    let b = [plain("c", 5), plain("b", 5), plain("a", 5)];
    assert_eq!(pick(&a, &added(), &user(), t0()), Ok("a"));
    assert_eq!(pick(&b, &added(), &user(), t0()), Ok("a"));
    let negative = [plain("z", -5), plain("y", -10)];
    assert_eq!(pick(&negative, &added(), &user(), t0()), Ok("z"));
}

#[test]
fn an_ineligible_favourite_leaves_the_next_one() {
    let campaigns = [
        campaign("capped", 100, |v| v["cap"] = json!({"total": 1})),
        plain("fallback", 1),
    ];
    let u = shown("capped", &[t0() - Delta::days(3)]);
    assert_eq!(pick(&campaigns, &added(), &u, t0()), Ok("fallback"));
}

// ---- triggers ----

#[test]
fn no_campaign_for_the_trigger() {
    assert_eq!(
        pick(&[], &added(), &user(), t0()),
        Err(NoMessage::NoTriggerMatch)
    );
    let campaigns = [plain("a", 1)];
    let viewed = FiredTrigger::Event {
        name: "Product Viewed".into(),
        properties: Map::new(),
    };
    assert_eq!(
        pick(&campaigns, &viewed, &user(), t0()),
        Err(NoMessage::NoTriggerMatch)
    );
}

#[test]
fn trigger_filters_decide_which_campaigns_listen() {
    let campaigns = [
        campaign("shoes", 5, |v| {
            v["trigger"] = json!({"event": "Product Added", "where": {"category": "Shoes"}})
        }),
        campaign("big", 9, |v| {
            v["trigger"] = json!({"event": "Product Added", "where": {"price": [100, 200]}})
        }),
        campaign("cart-screen", 50, |v| {
            v["trigger"] = json!({"screen": "Cart"})
        }),
        campaign("abandoner", 50, |v| {
            v["trigger"] = json!({"segment_entered": "cart_abandoner"})
        }),
    ];
    let u = user();
    assert_eq!(
        pick(
            &campaigns,
            &product_added(json!({"category": "Shoes", "price": 20})),
            &u,
            t0()
        ),
        Ok("shoes")
    );
    assert_eq!(
        pick(
            &campaigns,
            &product_added(json!({"category": "Shoes", "price": 200.0})),
            &u,
            t0()
        ),
        Ok("big")
    );
    assert_eq!(
        pick(
            &campaigns,
            &product_added(json!({"category": "Hats", "price": 20})),
            &u,
            t0()
        ),
        Err(NoMessage::NoTriggerMatch)
    );
    assert_eq!(
        pick(&campaigns, &product_added(json!({})), &u, t0()),
        Err(NoMessage::NoTriggerMatch)
    );
    let screen = FiredTrigger::Screen {
        name: "Cart".into(),
        properties: Map::new(),
    };
    assert_eq!(pick(&campaigns, &screen, &u, t0()), Ok("cart-screen"));
    let entered = FiredTrigger::SegmentEntered {
        segment_id: "cart_abandoner".into(),
    };
    assert_eq!(pick(&campaigns, &entered, &u, t0()), Ok("abandoner"));
}

// ---- status and schedule ----

#[test]
fn paused_and_archived_campaigns_are_not_shown() {
    let campaigns = [
        campaign("p", 1, |v| v["status"] = json!("paused")),
        campaign("a", 1, |v| v["status"] = json!("archived")),
    ];
    assert_eq!(
        rejection(&campaigns, &user(), t0()),
        vec![
            ("p".into(), Rejection::NotActive(CampaignStatus::Paused)),
            ("a".into(), Rejection::NotActive(CampaignStatus::Archived)),
        ]
    );
}

#[test]
fn the_schedule_starts_inclusive_and_ends_exclusive() {
    let c = [campaign("s", 1, |v| {
        v["starts_at"] = json!("2025-03-01T12:00:00Z");
        v["ends_at"] = json!("2025-03-02T12:00:00Z");
    })];
    let start = t0();
    let end = t0() + Delta::days(1);
    assert_eq!(
        rejection(&c, &user(), start - Delta::seconds(1)),
        vec![("s".into(), Rejection::NotStarted { starts_at: start })]
    );
    assert_eq!(pick(&c, &added(), &user(), start), Ok("s"));
    assert_eq!(
        pick(&c, &added(), &user(), end - Delta::seconds(1)),
        Ok("s")
    );
    assert_eq!(
        rejection(&c, &user(), end),
        vec![("s".into(), Rejection::Ended { ends_at: end })]
    );
    let open_ended = [campaign("o", 1, |v| {
        v["starts_at"] = json!("2025-03-01T12:00:00Z")
    })];
    assert_eq!(
        pick(&open_ended, &added(), &user(), t0() + Delta::days(10_000)),
        Ok("o")
    );
}

// ---- audience ----

#[test]
fn the_audience_includes_members_of_any_listed_segment() {
    let c = [campaign("aud", 1, |v| {
        v["audience"] = json!({"segments": ["cart_abandoner", "new_user"]})
    })];
    assert_eq!(
        rejection(&c, &user(), t0()),
        vec![("aud".into(), Rejection::NotInAudience)]
    );
    assert_eq!(
        rejection(&c, &in_segments(&["vip"]), t0()),
        vec![("aud".into(), Rejection::NotInAudience)]
    );
    assert_eq!(
        pick(&c, &added(), &in_segments(&["new_user"]), t0()),
        Ok("aud")
    );
    let everyone = [plain("all", 1)];
    assert_eq!(pick(&everyone, &added(), &user(), t0()), Ok("all"));
}

#[test]
fn exclusions_win_over_inclusions() {
    let c = [campaign(
        "aud",
        1,
        |v| v["audience"] = json!({"segments": ["cart_abandoner"], "exclude": ["vip", "staff"]}),
    )];
    assert_eq!(
        rejection(&c, &in_segments(&["cart_abandoner", "staff"]), t0()),
        vec![(
            "aud".into(),
            Rejection::Excluded {
                segment_id: "staff".into()
            }
        )]
    );
    let exclude_only = [campaign("ex", 1, |v| {
        v["audience"] = json!({"exclude": ["vip"]})
    })];
    assert_eq!(pick(&exclude_only, &added(), &user(), t0()), Ok("ex"));
    assert!(pick(&exclude_only, &added(), &in_segments(&["vip"]), t0()).is_err());
}

// ---- caps ----

#[test]
fn the_total_cap_counts_every_impression() {
    let c = [campaign("c", 1, |v| v["cap"] = json!({"total": 3}))];
    let long_ago = |d: i64| t0() - Delta::days(d);
    assert_eq!(
        pick(&c, &added(), &shown("c", &[long_ago(9), long_ago(5)]), t0()),
        Ok("c")
    );
    assert_eq!(
        rejection(
            &c,
            &shown("c", &[long_ago(9), long_ago(5), long_ago(400)]),
            t0()
        ),
        vec![("c".into(), Rejection::TotalCapReached { shown: 3, max: 3 })]
    );
    assert_eq!(
        pick(
            &c,
            &added(),
            &shown("other", &[long_ago(9), long_ago(5), long_ago(1)]),
            t0()
        ),
        Ok("c")
    );
}

#[test]
fn the_window_cap_rolls() {
    let c = [campaign("w", 1, |v| {
        v["cap"] = json!({"window": {"max": 2, "seconds": 86400}})
    })];
    let day = Delta::days(1);
    let first = t0() - Delta::hours(20);
    let second = t0() - Delta::hours(2);
    assert_eq!(
        rejection(&c, &shown("w", &[second, first]), t0()),
        vec![(
            "w".into(),
            Rejection::WindowCapReached {
                shown: 2,
                max: 2,
                until: first + day
            }
        )]
    );
    // Once the older impression leaves the window, the campaign may show again.
    assert_eq!(
        pick(&c, &added(), &shown("w", &[first, second]), first + day),
        Ok("w")
    );
    // Exactly one window ago has left the window.
    assert_eq!(
        pick(&c, &added(), &shown("w", &[t0() - day, second]), t0()),
        Ok("w")
    );
}

#[test]
fn both_caps_apply() {
    let c =
        [campaign(
            "b",
            1,
            |v| v["cap"] = json!({"total": 2, "window": {"max": 1, "seconds": 3600}}),
        )];
    assert!(matches!(
        rejection(&c, &shown("b", &[t0() - Delta::minutes(10)]), t0())[0].1,
        Rejection::WindowCapReached { .. }
    ));
    assert_eq!(
        rejection(
            &c,
            &shown("b", &[t0() - Delta::days(2), t0() - Delta::days(1)]),
            t0()
        )[0]
        .1,
        Rejection::TotalCapReached { shown: 2, max: 2 }
    );
}

#[test]
fn impressions_in_the_future_count_as_now_for_caps() {
    let c = [campaign("w", 1, |v| {
        v["cap"] = json!({"window": {"max": 1, "seconds": 3600}})
    })];
    let future = t0() + Delta::days(30);
    assert_eq!(
        rejection(&c, &shown("w", &[future]), t0()),
        vec![(
            "w".into(),
            Rejection::WindowCapReached {
                shown: 1,
                max: 1,
                until: t0() + Delta::hours(1)
            }
        )]
    );
}

// ---- the global gap ----

#[test]
fn the_gap_holds_back_a_chosen_campaign() {
    let c = [plain("a", 1)];
    let u = UserState {
        last_shown: Some(t0() - Delta::seconds(10)),
        ..user()
    };
    assert_eq!(
        pick(&c, &added(), &u, t0()),
        Err(NoMessage::GapNotElapsed {
            remaining: Duration::from_secs(20),
            candidate: "a".into()
        })
    );
    assert_eq!(
        pick(&c, &added(), &u, t0() + Delta::seconds(20)),
        Ok("a"),
        "exactly the gap later"
    );
    let no_gap = SelectionPolicy {
        min_gap: Duration::ZERO,
    };
    assert_eq!(
        select(&c, &added(), &u, t0(), &no_gap).map(Campaign::id),
        Ok("a")
    );
    let long_gap = SelectionPolicy {
        min_gap: Duration::from_secs(600),
    };
    assert!(matches!(
        select(&c, &added(), &u, t0(), &long_gap),
        Err(NoMessage::GapNotElapsed { remaining, .. }) if remaining == Duration::from_secs(590)
    ));
}

#[test]
fn the_gap_also_counts_recorded_impressions() {
    let c = [plain("a", 1)];
    let mut u = shown("other", &[t0() - Delta::seconds(5)]);
    u.last_shown = Some(t0() - Delta::hours(1));
    assert_eq!(
        pick(&c, &added(), &u, t0()),
        Err(NoMessage::GapNotElapsed {
            remaining: Duration::from_secs(25),
            candidate: "a".into()
        })
    );
}

#[test]
fn a_clock_set_backwards_never_shows_twice_within_the_gap() {
    let c = [plain("a", 1)];
    // The last message was stamped an hour "later" than the device now says.
    let u = UserState {
        last_shown: Some(t0() + Delta::hours(1)),
        ..user()
    };
    assert_eq!(
        pick(&c, &added(), &u, t0()),
        Err(NoMessage::GapNotElapsed {
            remaining: DEFAULT_MIN_GAP,
            candidate: "a".into()
        })
    );
    // The SDK stores the clamped time; from then on the gap runs normally.
    let rebased = UserState {
        last_shown: Some(clamp_to_now(t0() + Delta::hours(1), t0())),
        ..user()
    };
    assert_eq!(rebased.last_shown, Some(t0()));
    assert!(pick(&c, &added(), &rebased, t0() + Delta::seconds(29)).is_err());
    assert_eq!(
        pick(&c, &added(), &rebased, t0() + Delta::seconds(30)),
        Ok("a")
    );
    let imp = shown("a", &[t0() + Delta::days(365)]);
    assert!(matches!(
        pick(&c, &added(), &imp, t0()),
        Err(NoMessage::GapNotElapsed { .. })
    ));
}

#[test]
fn ineligibility_is_reported_before_the_gap() {
    let c = [
        campaign("paused", 1, |v| v["status"] = json!("paused")),
        campaign("other-trigger", 1, |v| {
            v["trigger"] = json!({"screen": "Home"})
        }),
    ];
    let u = UserState {
        last_shown: Some(t0()),
        ..user()
    };
    assert_eq!(
        pick(&c, &added(), &u, t0()),
        Err(NoMessage::Ineligible {
            rejected: vec![Rejected {
                campaign_id: "paused".into(),
                reason: Rejection::NotActive(CampaignStatus::Paused)
            }]
        })
    );
}

#[test]
fn extreme_times_do_not_panic() {
    let c = [
        campaign("w", 1, |v| {
            v["cap"] = json!({"window": {"max": 1, "seconds": 31622400}})
        }),
        campaign("s", 2, |v| v["ends_at"] = json!("2030-01-01T00:00:00Z")),
    ];
    for now in [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC] {
        for u in [
            shown("w", &[DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC]),
            UserState {
                last_shown: Some(DateTime::<Utc>::MAX_UTC),
                ..user()
            },
            user(),
        ] {
            let _ = pick(&c, &added(), &u, now);
        }
    }
}

#[test]
fn eligibility_can_be_asked_directly() {
    let c = campaign("e", 1, |v| v["audience"] = json!({"segments": ["vip"]}));
    assert_eq!(
        eligibility(&c, &user(), t0()),
        Err(Rejection::NotInAudience)
    );
    assert_eq!(eligibility(&c, &in_segments(&["vip"]), t0()), Ok(()));
}
