//! The server's send definitions (`POST /v1/admin/sends`): the request JSON up to the
//! first NUL byte, then the bytes a recipient is drawn from (traits, locale, zone,
//! country, permissions, devices, history). Journeys (multi-step flows) do not exist
//! yet, so there is no journey definition to fuzz.
//!
//! Checked: a refusal lists its problems with their paths; an accepted send reads the
//! same again; planning it for any recipient decides (deliver, skip or expire) without
//! panicking; a delivery is due before it expires, on a channel of the send's, and its
//! deep link is a valid link; and the push the server builds from it is a payload every
//! device reads back unchanged (`parse_fcm_data`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;

use arbitrary::Unstructured;
use beckon::consent::{Channel, Permission, PermissionState};
use beckon::messages::{check_link, Campaign};
use beckon::protocol::{PushPayload, PushProvider};
use beckon::push::parse_fcm_data;
use beckon::segments::{templates, UserHistory};
use beckon_server::sends::{
    plan, Decision, InMemoryDefinitions, PushTarget, Recipient, Route, Send,
};
use serde_json::json;

use crate::gen;

/// What the server holds: the built-in segments (and one archived), an active and a
/// paused campaign.
fn stored() -> &'static InMemoryDefinitions {
    static STORED: OnceLock<InMemoryDefinitions> = OnceLock::new();
    STORED.get_or_init(|| {
        let campaign = |id: &str, status: &str| {
            Campaign::from_value(&json!({
                "schema_version": 1,
                "id": id,
                "name": "Free shipping nudge",
                "status": status,
                "trigger": {"event": "Product Added"},
                "audience": {"segments": ["cart_abandoner"], "exclude": ["vip"]},
                "free_shipping_threshold": {"EUR": 50, "JPY": 6000},
                "default_locale": "en",
                "variants": {
                    "en": {"title": "Hi {{first_name | there}}",
                           "body": "Add {{free_shipping_remaining}} more for free shipping",
                           "buttons": [{"id": "cart", "label": "Cart", "url": "shop://cart"}]},
                    "pt-BR": {"title": "Oi {{first_name}}", "body": "{{cart_items}} te espera"}
                }
            }))
            .expect("a valid campaign")
        };
        let mut segments: BTreeMap<String, bool> = templates::builtin()
            .into_iter()
            .map(|d| (d.id, true))
            .collect();
        segments.insert("vip".into(), true);
        segments.insert("old".into(), false);
        InMemoryDefinitions {
            campaigns: BTreeMap::from([
                ("nudge".to_owned(), campaign("nudge", "active")),
                ("paused".to_owned(), campaign("paused", "paused")),
            ]),
            segments,
        }
    })
}

pub fn run(data: &[u8]) {
    let (text, rest) = gen::split(data);
    let now = gen::now();
    let send = match Send::parse(&text, stored(), now) {
        Ok(send) => send,
        Err(err) => {
            let _ = err.to_string();
            for problem in err.errors() {
                assert!(!problem.field.is_empty(), "{problem}");
            }
            return;
        }
    };
    assert_eq!(Send::parse(&text, stored(), now).as_ref(), Ok(&send));
    assert!(!send.channels().is_empty());
    let _ = deliver(&send, &mut Unstructured::new(rest));
}

fn deliver(send: &Send, u: &mut Unstructured) -> arbitrary::Result<()> {
    let recipient = recipient(u)?;
    let memberships: BTreeSet<String> = ["cart_abandoner".to_owned()].into();
    let _ = send.target().admits(&recipient.user_key, &memberships);
    let now = gen::now() + chrono::TimeDelta::seconds(u.int_in_range(0..=30 * 86_400)?);
    match plan(send, &recipient, now) {
        Decision::Deliver(delivery) => {
            assert!(send.channels().contains(&delivery.channel()));
            if let Some(expires_at) = delivery.expires_at {
                assert!(delivery.deliver_at < expires_at, "{delivery:?}");
            }
            if let Some(link) = &delivery.content.deep_link {
                check_link(link).unwrap_or_else(|e| panic!("rendered deep link {link:?}: {e}"));
            }
            if let Route::Push { targets } = &delivery.route {
                assert!(!targets.is_empty());
                let payload = PushPayload {
                    campaign_id: send.campaign_id().map(str::to_owned),
                    send_id: Some("0190b7e4-5c2a-7000-8000-000000000001".into()),
                    deep_link: delivery.content.deep_link.clone(),
                    promo: send.promo().cloned(),
                    ..PushPayload::new("0190b7e4-5c2a-7000-8000-000000000002")
                };
                let data: HashMap<String, String> = payload
                    .to_fcm_data()
                    .unwrap_or_else(|e| panic!("a planned push is refused as a payload: {e}"))
                    .into_iter()
                    .collect();
                assert_eq!(parse_fcm_data(&data), Ok(payload));
            }
        }
        Decision::Skip { skipped } => assert_eq!(skipped.len(), send.channels().len()),
        Decision::Expired {
            deliver_at,
            expires_at,
            ..
        } => assert!(deliver_at >= expires_at),
    }
    Ok(())
}

fn recipient(u: &mut Unstructured) -> arbitrary::Result<Recipient> {
    let traits = gen::object(u, gen::TRAIT_KEYS, 1)?;
    let option = |u: &mut Unstructured, list: &[&str]| -> arbitrary::Result<Option<String>> {
        Ok(if u.arbitrary()? {
            Some(gen::name(u, list)?)
        } else {
            None
        })
    };
    let locale = option(u, &["en", "pt-BR", "pt", "de", "zh-Hant-TW"])?;
    let time_zone = option(
        u,
        &[
            "Europe/Lisbon",
            "America/Sao_Paulo",
            "Pacific/Kiritimati",
            "Etc/GMT+12",
            "America/New_York",
            "Nowhere/City",
        ],
    )?;
    let country = option(u, &["PT", "BR", "US", "KI", "XX"])?;
    let mut permissions = Vec::new();
    for channel in Channel::ALL {
        if u.arbitrary()? {
            permissions.push(Permission {
                channel,
                state: *u.choose(&PermissionState::ALL)?,
                source: "app".into(),
                updated_at: gen::instant(u)?,
            });
        }
    }
    let mut push_targets = Vec::new();
    for i in 0..u.int_in_range(0..=2)? {
        push_targets.push(PushTarget {
            provider: if u.arbitrary()? {
                PushProvider::Fcm
            } else {
                PushProvider::Apns
            },
            token: format!("token-{i}"),
            os_granted: u.arbitrary()?,
        });
    }
    let events = gen::events(u)?;
    Ok(Recipient {
        user_key: "user-1".into(),
        traits,
        locale,
        time_zone,
        country,
        permissions,
        push_targets,
        history: UserHistory::from_wire(&events),
    })
}
