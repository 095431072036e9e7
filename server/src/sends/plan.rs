//! The decision for one user: skip them (and why), drop the message as expired, or
//! deliver it on a channel at an instant with their rendered texts.
//!
//! Cheapest first: the channel, then the time, and only then the rendering, so users
//! who get nothing cost no rendering. Pure: `now` is a parameter.

use beckon::consent::Channel;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::channel::{choose_channel, Route, Skipped};
use super::local_time::{delivery_time, scheduled_instant, user_zone, UserZone};
use super::recipient::Recipient;
use super::render::{render_send, RenderedSend};
use super::request::Send;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    Deliver(Delivery),
    /// No channel of the send's order is both permitted and able to reach the user:
    /// they get nothing. Every channel is listed with why.
    Skip {
        skipped: Vec<Skipped>,
    },
    /// The message could only be delivered at or after its expiry: dropped.
    Expired {
        channel: Channel,
        deliver_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        skipped: Vec<Skipped>,
    },
}

/// A message to deliver.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delivery {
    /// The channel and where on it: push tokens, address, phone.
    pub route: Route,
    pub deliver_at: DateTime<Utc>,
    /// The instant the schedule named for this user, before quiet hours.
    pub scheduled_for: DateTime<Utc>,
    pub held_by_quiet_hours: bool,
    /// Not delivered from this instant on (providers are given it as the TTL).
    pub expires_at: Option<DateTime<Utc>>,
    /// The zone the user's times were read in, and where it came from.
    pub zone: UserZone,
    pub content: RenderedSend,
    /// The channels preferred over the chosen one and why they were passed over.
    pub skipped: Vec<Skipped>,
}

impl Delivery {
    pub fn channel(&self) -> Channel {
        self.route.channel()
    }
}

/// Decides what `send` does for `recipient`, as of `now`. The caller passes only users
/// the send's target admits (`Target::admits`).
pub fn plan(send: &Send, recipient: &Recipient, now: DateTime<Utc>) -> Decision {
    let choice = choose_channel(
        send.channels(),
        &recipient.permissions,
        &recipient.traits,
        &recipient.push_targets,
    );
    let Some(route) = choice.route else {
        return Decision::Skip {
            skipped: choice.skipped,
        };
    };
    let zone = user_zone(recipient.time_zone.as_deref(), recipient.country.as_deref());
    let scheduled_for = scheduled_instant(send.schedule(), send.created_at(), zone.tz);
    let timing = delivery_time(scheduled_for, send.quiet_hours(), zone.tz, now);
    let expires_at = send.expiry().map(|e| e.deadline(scheduled_for));
    if let Some(expires_at) = expires_at.filter(|&deadline| timing.deliver_at >= deadline) {
        return Decision::Expired {
            channel: route.channel(),
            deliver_at: timing.deliver_at,
            expires_at,
            skipped: choice.skipped,
        };
    }
    Decision::Deliver(Delivery {
        route,
        deliver_at: timing.deliver_at,
        scheduled_for,
        held_by_quiet_hours: timing.held_by_quiet_hours,
        expires_at,
        zone,
        content: render_send(send, recipient),
        skipped: choice.skipped,
    })
}

#[cfg(test)]
mod tests {
    use beckon::consent::{Permission, PermissionState};
    use beckon::protocol::PushProvider;
    use serde_json::json;

    use super::super::channel::{PushTarget, Unusable};
    use super::super::local_time::ZoneSource;
    use super::super::test_support::{now, request_with, send, utc};
    use super::*;

    fn phone(provider: PushProvider, token: &str) -> PushTarget {
        PushTarget {
            provider,
            token: token.into(),
            os_granted: true,
        }
    }

    fn user(key: &str, zone: Option<&str>, country: Option<&str>) -> Recipient {
        Recipient {
            user_key: key.into(),
            traits: json!({"first_name": "Ana", "email": "ana@shop.example"})
                .as_object()
                .unwrap()
                .clone(),
            locale: Some("en-GB".into()),
            time_zone: zone.map(str::to_owned),
            country: country.map(str::to_owned),
            push_targets: vec![phone(PushProvider::Fcm, "fcm-1")],
            ..Recipient::default()
        }
    }

    fn delivery(decision: Decision) -> Delivery {
        match decision {
            Decision::Deliver(d) => d,
            other => panic!("not delivered: {other:?}"),
        }
    }

    #[test]
    fn a_send_now_goes_by_push_at_once_with_the_rendered_texts() {
        let s = send(request_with(json!({})));
        let d = delivery(plan(&s, &user("u-1", Some("Europe/Lisbon"), None), now()));
        assert_eq!(d.channel(), Channel::Push);
        assert_eq!(
            d.route,
            Route::Push {
                targets: vec![phone(PushProvider::Fcm, "fcm-1")]
            }
        );
        assert_eq!(d.deliver_at, now());
        assert_eq!(d.scheduled_for, now());
        assert!(!d.held_by_quiet_hours);
        assert_eq!(d.expires_at, None);
        assert_eq!(d.zone.tz.name(), "Europe/Lisbon");
        assert_eq!(d.zone.source, ZoneSource::Device);
        assert_eq!(d.content.title, "Hi Ana");
        assert!(d.skipped.is_empty());
    }

    #[test]
    fn a_user_no_channel_reaches_gets_nothing_and_every_reason() {
        let s = send(request_with(json!({"channels": ["push", "sms"]})));
        let mut u = user("u-1", None, None);
        u.permissions = vec![Permission {
            channel: Channel::Push,
            state: PermissionState::Unsubscribed,
            source: "app".into(),
            updated_at: utc("2026-11-01T00:00:00Z"),
        }];
        let decision = plan(&s, &u, now());
        let Decision::Skip { skipped } = &decision else {
            panic!("{decision:?}")
        };
        let reasons: Vec<String> = skipped.iter().map(ToString::to_string).collect();
        assert_eq!(
            reasons,
            [
                "push: unsubscribed",
                "sms: subscribed, needs an explicit opt-in"
            ]
        );
        assert_eq!(
            serde_json::to_value(&decision).unwrap(),
            json!({"decision": "skip", "skipped": [
                {"channel": "push", "reason": "not_permitted", "state": "unsubscribed"},
                {"channel": "sms", "reason": "not_permitted", "state": "subscribed"}
            ]})
        );
    }

    #[test]
    fn the_next_channel_is_used_and_the_skipped_ones_are_kept() {
        let s = send(request_with(json!({})));
        let mut u = user("u-1", None, None);
        u.push_targets[0].os_granted = false;
        let d = delivery(plan(&s, &u, now()));
        assert_eq!(d.route, Route::InApp);
        assert_eq!(d.skipped.len(), 1);
        assert_eq!(d.skipped[0].why, Unusable::OsPermissionDenied);
    }

    #[test]
    fn a_local_send_reaches_everyone_at_nine_in_their_own_zone() {
        let s = send(request_with(
            json!({"schedule": {"local": "2026-12-24T09:00"}}),
        ));
        let at = |zone: Option<&str>, country: Option<&str>| {
            let d = delivery(plan(&s, &user("u", zone, country), now()));
            (d.deliver_at, d.zone.source)
        };
        assert_eq!(
            at(Some("Europe/Lisbon"), None),
            (utc("2026-12-24T09:00:00Z"), ZoneSource::Device)
        );
        assert_eq!(
            at(Some("America/Sao_Paulo"), None),
            (utc("2026-12-24T12:00:00Z"), ZoneSource::Device)
        );
        assert_eq!(
            at(Some("Asia/Kolkata"), None),
            (utc("2026-12-24T03:30:00Z"), ZoneSource::Device)
        );
        assert_eq!(
            at(Some("Pacific/Kiritimati"), None),
            (utc("2026-12-23T19:00:00Z"), ZoneSource::Device)
        );
        assert_eq!(
            at(Some("Not/A_Zone"), Some("IN")),
            (utc("2026-12-24T03:30:00Z"), ZoneSource::Country)
        );
        assert_eq!(
            at(None, None),
            (utc("2026-12-24T09:00:00Z"), ZoneSource::Utc)
        );
    }

    #[test]
    fn quiet_hours_hold_the_message_until_the_users_morning() {
        let s = send(request_with(json!({
            "schedule": {"at": "2026-12-01T23:30:00Z"},
            "quiet_hours": {"start": "22:00", "end": "08:00"}
        })));
        // 23:30 in Lisbon: held until 08:00. 20:30 in São Paulo: delivered.
        let lisbon = delivery(plan(&s, &user("a", Some("Europe/Lisbon"), None), now()));
        assert_eq!(lisbon.deliver_at, utc("2026-12-02T08:00:00Z"));
        assert_eq!(lisbon.scheduled_for, utc("2026-12-01T23:30:00Z"));
        assert!(lisbon.held_by_quiet_hours);
        let sao_paulo = delivery(plan(&s, &user("b", Some("America/Sao_Paulo"), None), now()));
        assert_eq!(sao_paulo.deliver_at, utc("2026-12-01T23:30:00Z"));
        assert!(!sao_paulo.held_by_quiet_hours);
    }

    #[test]
    fn a_ttl_counts_from_each_users_scheduled_time() {
        let s = send(request_with(json!({
            "schedule": {"local": "2026-12-01T09:00"},
            "ttl_seconds": 7200
        })));
        // At 10:00 UTC: Lisbon's 09:00 was an hour ago, still within two hours: now.
        let lisbon = delivery(plan(&s, &user("a", Some("Europe/Lisbon"), None), now()));
        assert_eq!(lisbon.deliver_at, now());
        assert_eq!(lisbon.expires_at, Some(utc("2026-12-01T11:00:00Z")));
        // Kolkata's 09:00 was at 03:30 UTC: more than two hours ago, dropped.
        let kolkata = plan(&s, &user("b", Some("Asia/Kolkata"), None), now());
        assert_eq!(
            kolkata,
            Decision::Expired {
                channel: Channel::Push,
                deliver_at: now(),
                expires_at: utc("2026-12-01T05:30:00Z"),
                skipped: vec![],
            }
        );
        // New York's 09:00 is still to come.
        let new_york = delivery(plan(&s, &user("c", Some("America/New_York"), None), now()));
        assert_eq!(new_york.deliver_at, utc("2026-12-01T14:00:00Z"));
        assert_eq!(new_york.expires_at, Some(utc("2026-12-01T16:00:00Z")));
    }

    #[test]
    fn quiet_hours_past_the_expiry_drop_the_message() {
        let s = send(request_with(json!({
            "schedule": {"at": "2026-12-01T23:30:00Z"},
            "quiet_hours": {"start": "22:00", "end": "08:00"},
            "expires_at": "2026-12-02T06:00:00Z"
        })));
        let decision = plan(&s, &user("a", Some("Europe/Lisbon"), None), now());
        assert!(
            matches!(decision, Decision::Expired { deliver_at, .. } if deliver_at == utc("2026-12-02T08:00:00Z")),
            "{decision:?}"
        );
        let on_time = delivery(plan(&s, &user("b", Some("America/Sao_Paulo"), None), now()));
        assert_eq!(on_time.expires_at, Some(utc("2026-12-02T06:00:00Z")));
    }

    #[test]
    fn planning_again_later_keeps_the_send_now_instant() {
        let s = send(request_with(json!({"ttl_seconds": 3600})));
        let later = utc("2026-12-01T10:30:00Z");
        let d = delivery(plan(&s, &user("a", None, None), later));
        assert_eq!(d.scheduled_for, now());
        assert_eq!(d.deliver_at, later);
        assert_eq!(d.expires_at, Some(utc("2026-12-01T11:00:00Z")));
        let too_late = plan(&s, &user("a", None, None), utc("2026-12-01T11:00:00Z"));
        assert!(matches!(too_late, Decision::Expired { .. }), "{too_late:?}");
    }

    #[test]
    fn deliveries_serialize_for_the_delivery_log() {
        let s = send(request_with(json!({"channels": ["email"]})));
        let d = plan(&s, &user("u-1", Some("Asia/Kolkata"), None), now());
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            json!({
                "decision": "deliver",
                "route": {"channel": "email", "address": "ana@shop.example"},
                "deliver_at": "2026-12-01T10:00:00Z",
                "scheduled_for": "2026-12-01T10:00:00Z",
                "held_by_quiet_hours": false,
                "expires_at": null,
                "zone": {"tz": "Asia/Kolkata", "source": "device"},
                "content": {"locale": "en", "title": "Hi Ana", "body": "Your cart is waiting",
                            "deep_link": null, "fell_back": ["cart_items"]},
                "skipped": []
            })
        );
    }
}
