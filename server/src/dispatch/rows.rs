//! From what the store knows of a user to what `sends::plan` reads, and from its
//! decision to the delivery rows stored: one per push token, one per address, one
//! saying why the user gets nothing.

use beckon::segments::UserHistory;

use crate::sends::{Decision, Delivery, PushTarget, Recipient, Route, UserZone, ZoneSource};
use crate::store::{Audience, DeliveryContent, DeliveryStatus, NewDelivery};

/// Why an in-app delivery of a send without a campaign is skipped.
pub const IN_APP_NEEDS_A_CAMPAIGN: &str =
    "in_app: the app shows only campaigns' messages, and this send names no campaign";

/// The user as planning reads them: profile, permissions, push targets and history.
pub fn recipient(audience: Audience, history: UserHistory) -> Recipient {
    let profile = audience.profile;
    let push_targets = audience
        .push_targets
        .iter()
        .map(|target| PushTarget {
            provider: target.provider,
            token: target.token.clone(),
            os_granted: target.os_allows(),
        })
        .collect();
    match profile {
        Some(profile) => Recipient {
            user_key: audience.user_key,
            traits: profile.traits,
            locale: profile.locale,
            time_zone: profile.timezone,
            country: profile.country,
            permissions: audience.permissions,
            push_targets,
            history,
        },
        None => Recipient {
            user_key: audience.user_key,
            permissions: audience.permissions,
            push_targets,
            history,
            ..Recipient::default()
        },
    }
}

/// Whether the server knows anything of the user: a send to a key it never heard of
/// goes nowhere, not even in-app.
pub fn is_known(audience: &Audience) -> bool {
    audience.profile.is_some()
        || !audience.permissions.is_empty()
        || !audience.push_targets.is_empty()
}

/// The row of a user the server has never heard of.
pub fn unknown_user(user_key: &str) -> NewDelivery {
    nothing(
        user_key,
        DeliveryStatus::Skipped,
        vec!["unknown user: no event, permission or device of this user key".into()],
    )
}

/// The rows of one user's decision; `new_message_id` is called once per row that
/// carries a message.
pub fn deliveries(
    user_key: &str,
    decision: Decision,
    campaign_id: Option<&str>,
    new_message_id: &mut impl FnMut() -> String,
) -> Vec<NewDelivery> {
    match decision {
        Decision::Skip { skipped } => vec![nothing(
            user_key,
            DeliveryStatus::Skipped,
            skipped.iter().map(ToString::to_string).collect(),
        )],
        Decision::Expired {
            channel,
            deliver_at,
            expires_at,
            skipped,
        } => vec![NewDelivery {
            channel: Some(channel),
            deliver_at: Some(deliver_at),
            expires_at: Some(expires_at),
            detail: Some(format!(
                "it could only be delivered at {deliver_at}, at or after its expiry at {expires_at}"
            )),
            ..nothing(
                user_key,
                DeliveryStatus::Expired,
                skipped.iter().map(ToString::to_string).collect(),
            )
        }],
        Decision::Deliver(delivery) => planned(user_key, delivery, campaign_id, new_message_id),
    }
}

fn planned(
    user_key: &str,
    delivery: Delivery,
    campaign_id: Option<&str>,
    new_message_id: &mut impl FnMut() -> String,
) -> Vec<NewDelivery> {
    let (time_zone, zone_source) = zone(&delivery.zone);
    let base = NewDelivery {
        user_key: user_key.to_owned(),
        channel: Some(delivery.channel()),
        provider: None,
        recipient: String::new(),
        status: DeliveryStatus::Pending,
        reasons: delivery.skipped.iter().map(ToString::to_string).collect(),
        message_id: None,
        scheduled_for: Some(delivery.scheduled_for),
        deliver_at: Some(delivery.deliver_at),
        expires_at: delivery.expires_at,
        time_zone: Some(time_zone),
        zone_source: Some(zone_source),
        held_by_quiet_hours: delivery.held_by_quiet_hours,
        content: Some(DeliveryContent {
            locale: delivery.content.locale,
            title: delivery.content.title,
            body: delivery.content.body,
            deep_link: delivery.content.deep_link,
        }),
        detail: None,
    };
    let to = |recipient: &str, new_message_id: &mut dyn FnMut() -> String| NewDelivery {
        recipient: recipient.to_owned(),
        message_id: Some(new_message_id()),
        ..base.clone()
    };
    match delivery.route {
        Route::Push { targets } => targets
            .iter()
            .map(|target| NewDelivery {
                provider: Some(target.provider),
                ..to(&target.token, new_message_id)
            })
            .collect(),
        Route::Email { address } => vec![to(&address, new_message_id)],
        Route::Sms { phone } | Route::Whatsapp { phone } => vec![to(&phone, new_message_id)],
        // The SDK shows in-app messages from the campaigns it syncs: a campaign's send
        // is live for the user already; any other send has nothing to show.
        Route::InApp => vec![match campaign_id {
            Some(campaign) => NewDelivery {
                status: DeliveryStatus::Delivered,
                detail: Some(format!(
                    "in the app: campaign \"{campaign}\" is live for this user and shows on its trigger"
                )),
                ..base
            },
            None => {
                let mut reasons = base.reasons.clone();
                reasons.push(IN_APP_NEEDS_A_CAMPAIGN.into());
                NewDelivery {
                    status: DeliveryStatus::Skipped,
                    reasons,
                    ..base
                }
            }
        }],
    }
}

fn nothing(user_key: &str, status: DeliveryStatus, reasons: Vec<String>) -> NewDelivery {
    NewDelivery {
        user_key: user_key.to_owned(),
        channel: None,
        provider: None,
        recipient: String::new(),
        status,
        reasons,
        message_id: None,
        scheduled_for: None,
        deliver_at: None,
        expires_at: None,
        time_zone: None,
        zone_source: None,
        held_by_quiet_hours: false,
        content: None,
        detail: None,
    }
}

fn zone(zone: &UserZone) -> (String, String) {
    let source = match zone.source {
        ZoneSource::Device => "device",
        ZoneSource::Country => "country",
        ZoneSource::Utc => "utc",
    };
    (zone.tz.name().to_owned(), source.to_owned())
}

#[cfg(test)]
mod tests {
    use beckon::consent::{Channel, Permission, PermissionState};
    use beckon::protocol::PushProvider;
    use chrono::{DateTime, Utc};
    use serde_json::json;

    use super::*;
    use crate::sends::{plan, Send};
    use crate::store::{Profile, PushTarget as StoredTarget};

    fn now() -> DateTime<Utc> {
        "2026-12-01T10:00:00Z".parse().unwrap()
    }

    struct NoDefinitions;

    impl crate::sends::Definitions for NoDefinitions {
        fn campaign(&self, id: &str) -> Result<beckon::messages::Campaign, String> {
            Err(format!("no campaign {id}"))
        }
        fn segment(&self, _: &str) -> Result<(), String> {
            Ok(())
        }
    }

    fn send(extra: serde_json::Value) -> Send {
        let mut request = json!({
            "schema_version": 1,
            "audience": {"segment": "vip"},
            "content": {"default_locale": "en", "variants": {"en": {"title": "Hi {{first_name | there}}", "body": "b"}},
                        "deep_link": "shop://cart"}
        });
        for (key, value) in extra.as_object().unwrap() {
            request[key] = value.clone();
        }
        Send::from_value(&request, &NoDefinitions, now()).unwrap()
    }

    fn audience(tokens: &[(&str, Option<bool>)], traits: serde_json::Value) -> Audience {
        Audience {
            user_key: "ana".into(),
            profile: Some(Profile {
                user_key: "ana".into(),
                timezone: Some("America/Sao_Paulo".into()),
                locale: Some("pt-BR".into()),
                country: Some("BR".into()),
                traits: traits.as_object().unwrap().clone(),
                first_seen_at: now(),
                last_seen_at: now(),
            }),
            permissions: vec![],
            push_targets: tokens
                .iter()
                .map(|(token, os)| StoredTarget {
                    provider: PushProvider::Fcm,
                    token: (*token).into(),
                    anonymous_id: "phone".into(),
                    os_permission: *os,
                })
                .collect(),
        }
    }

    fn rows(send: &Send, audience: Audience, campaign: Option<&str>) -> Vec<NewDelivery> {
        let user = recipient(audience, UserHistory::new());
        let mut n = 0;
        deliveries("ana", plan(send, &user, now()), campaign, &mut || {
            n += 1;
            format!("m{n}")
        })
    }

    #[test]
    fn the_store_view_becomes_the_planning_view() {
        let user = recipient(
            audience(
                &[("t1", Some(true)), ("t2", None)],
                json!({"first_name": "Ana"}),
            ),
            UserHistory::new(),
        );
        assert_eq!(user.user_key, "ana");
        assert_eq!(user.time_zone.as_deref(), Some("America/Sao_Paulo"));
        assert_eq!(user.locale.as_deref(), Some("pt-BR"));
        assert_eq!(user.country.as_deref(), Some("BR"));
        assert_eq!(user.traits["first_name"], "Ana");
        let granted: Vec<(&str, bool)> = user
            .push_targets
            .iter()
            .map(|t| (t.token.as_str(), t.os_granted))
            .collect();
        assert_eq!(
            granted,
            [("t1", true), ("t2", false)],
            "unknown means not granted"
        );
        let nobody = Audience {
            profile: None,
            push_targets: vec![],
            ..audience(&[], json!({}))
        };
        assert!(!is_known(&nobody));
        assert_eq!(recipient(nobody, UserHistory::new()).traits.len(), 0);
    }

    #[test]
    fn a_push_goes_to_every_granted_device_with_its_own_message_id() {
        let s = send(json!({"channels": ["push", "email"]}));
        let rows = rows(
            &s,
            audience(
                &[("t1", Some(true)), ("t2", Some(true)), ("t3", Some(false))],
                json!({"first_name": "Ana"}),
            ),
            None,
        );
        let tokens: Vec<(&str, Option<&str>)> = rows
            .iter()
            .map(|r| (r.recipient.as_str(), r.message_id.as_deref()))
            .collect();
        assert_eq!(tokens, [("t1", Some("m1")), ("t2", Some("m2"))]);
        let first = &rows[0];
        assert_eq!(first.status, DeliveryStatus::Pending);
        assert_eq!(first.channel, Some(Channel::Push));
        assert_eq!(first.provider, Some(PushProvider::Fcm));
        assert_eq!(first.deliver_at, Some(now()));
        assert_eq!(first.time_zone.as_deref(), Some("America/Sao_Paulo"));
        assert_eq!(first.zone_source.as_deref(), Some("device"));
        let content = first.content.as_ref().unwrap();
        assert_eq!(content.title, "Hi Ana");
        assert_eq!(content.deep_link.as_deref(), Some("shop://cart"));
    }

    #[test]
    fn email_falls_back_with_the_reason_push_was_passed_over() {
        let s = send(json!({"channels": ["push", "email"]}));
        let rows = rows(
            &s,
            audience(&[], json!({"email": "ana@shop.example"})),
            None,
        );
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].channel, Some(Channel::Email));
        assert_eq!(rows[0].recipient, "ana@shop.example");
        assert_eq!(rows[0].provider, None);
        assert_eq!(rows[0].reasons, ["push: no push token"]);
        assert!(rows[0].message_id.is_some());
    }

    #[test]
    fn nobody_reachable_gets_one_skipped_row_with_every_reason() {
        let s = send(json!({"channels": ["push", "sms"]}));
        let mut user = audience(&[("t1", Some(true))], json!({"phone": "+351 910 000 000"}));
        user.permissions = vec![Permission {
            channel: Channel::Push,
            state: PermissionState::Unsubscribed,
            source: "app".into(),
            updated_at: now(),
        }];
        let rows = rows(&s, user, None);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].status, DeliveryStatus::Skipped);
        assert_eq!(rows[0].channel, None);
        assert_eq!(rows[0].message_id, None);
        assert_eq!(
            rows[0].reasons,
            [
                "push: unsubscribed",
                "sms: subscribed, needs an explicit opt-in"
            ]
        );
    }

    #[test]
    fn in_app_is_live_for_a_campaign_and_skipped_otherwise() {
        let s = send(json!({"channels": ["push", "in_app"]}));
        let with_campaign = rows(&s, audience(&[], json!({})), Some("xmas"));
        assert_eq!(with_campaign[0].status, DeliveryStatus::Delivered);
        assert_eq!(with_campaign[0].channel, Some(Channel::InApp));
        assert!(with_campaign[0]
            .detail
            .as_deref()
            .unwrap()
            .contains("\"xmas\" is live"));
        let without = rows(&s, audience(&[], json!({})), None);
        assert_eq!(without[0].status, DeliveryStatus::Skipped);
        assert_eq!(
            without[0].reasons,
            ["push: no push token", IN_APP_NEEDS_A_CAMPAIGN]
        );
    }

    #[test]
    fn an_expired_message_is_stored_as_expired_with_its_instants() {
        let s = send(json!({
            "schedule": {"at": "2026-12-01T23:30:00Z"},
            "quiet_hours": {"start": "20:00", "end": "08:00"},
            "expires_at": "2026-12-02T06:00:00Z"
        }));
        let rows = rows(&s, audience(&[("t1", Some(true))], json!({})), None);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].status, DeliveryStatus::Expired);
        assert_eq!(rows[0].channel, Some(Channel::Push));
        assert_eq!(
            rows[0].deliver_at,
            Some("2026-12-02T11:00:00Z".parse().unwrap())
        );
        assert_eq!(
            rows[0].expires_at,
            Some("2026-12-02T06:00:00Z".parse().unwrap())
        );
        assert_eq!(rows[0].message_id, None);
    }

    #[test]
    fn an_unknown_user_is_skipped_with_the_reason() {
        let row = unknown_user("ghost");
        assert_eq!(row.user_key, "ghost");
        assert_eq!(row.status, DeliveryStatus::Skipped);
        assert!(row.reasons[0].starts_with("unknown user"));
    }
}
