//! Which channel carries a send to one user: the first of the send's preference order
//! that the user permits and that can reach them, with the reason for every channel
//! passed over (for the delivery log and the admin API).
//!
//! Permission is the shared rule (`beckon::consent::allows`, a channel never set being
//! `subscribed`). Reach: push needs a token on a device whose OS permission is granted;
//! email needs an `email` trait; SMS and WhatsApp a `phone` trait; in-app nothing more,
//! as the SDK shows it the next time the app is open.

use std::fmt;

use beckon::consent::{allows, state_of, Channel, Permission, PermissionState};
use beckon::protocol::PushProvider;
use serde::Serialize;
use serde_json::{Map, Value};

/// The trait holding the user's email address (Segment's reserved trait).
pub const EMAIL_TRAIT: &str = "email";
/// The trait holding the user's phone number (Segment's reserved trait).
pub const PHONE_TRAIT: &str = "phone";

/// Fewest and most digits in a phone number (E.164 allows 15).
const PHONE_DIGITS: std::ops::RangeInclusive<usize> = 7..=15;

/// One device's push registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushTarget {
    pub provider: PushProvider,
    pub token: String,
    /// The OS notification permission, as the app last reported it.
    pub os_granted: bool,
}

/// How a message reaches the user on the chosen channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "channel", rename_all = "snake_case")]
pub enum Route {
    /// Every device of the user that can show a notification.
    Push {
        targets: Vec<PushTarget>,
    },
    /// Shown by the SDK the next time the app is open.
    InApp,
    Email {
        address: String,
    },
    Sms {
        phone: String,
    },
    Whatsapp {
        phone: String,
    },
}

impl Route {
    pub fn channel(&self) -> Channel {
        match self {
            Route::Push { .. } => Channel::Push,
            Route::InApp => Channel::InApp,
            Route::Email { .. } => Channel::Email,
            Route::Sms { .. } => Channel::Sms,
            Route::Whatsapp { .. } => Channel::Whatsapp,
        }
    }
}

/// Why a channel was passed over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Unusable {
    /// The user's permission does not allow it.
    NotPermitted {
        state: PermissionState,
    },
    NoPushToken,
    /// Every device with a token has notifications turned off.
    OsPermissionDenied,
    NoAddress,
    BadAddress {
        address: String,
    },
    NoPhone,
    BadPhone {
        phone: String,
    },
}

impl fmt::Display for Unusable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unusable::NotPermitted {
                state: PermissionState::Subscribed,
            } => f.write_str("subscribed, needs an explicit opt-in"),
            Unusable::NotPermitted { state } => write!(f, "{state}"),
            Unusable::NoPushToken => f.write_str("no push token"),
            Unusable::OsPermissionDenied => f.write_str("notifications off on every device"),
            Unusable::NoAddress => f.write_str("no address"),
            Unusable::BadAddress { address } => write!(f, "{address:?} is not an email address"),
            Unusable::NoPhone => f.write_str("no phone number"),
            Unusable::BadPhone { phone } => write!(f, "{phone:?} is not a phone number"),
        }
    }
}

/// A channel passed over and why: shown as `push: unsubscribed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub channel: Channel,
    #[serde(flatten)]
    pub why: Unusable,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.channel, self.why)
    }
}

/// The outcome for one user: the route, if any channel remains, and every channel
/// passed over before it (all of them when none remains: that user gets nothing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelChoice {
    pub route: Option<Route>,
    pub skipped: Vec<Skipped>,
}

/// Picks the first channel of `order` that the user permits and that reaches them.
pub fn choose_channel(
    order: &[Channel],
    permissions: &[Permission],
    traits: &Map<String, Value>,
    push_targets: &[PushTarget],
) -> ChannelChoice {
    let mut skipped = Vec::new();
    for &channel in order {
        let state = state_of(permissions, channel);
        let reached = if allows(channel, state) {
            reach(channel, traits, push_targets)
        } else {
            Err(Unusable::NotPermitted { state })
        };
        match reached {
            Ok(route) => {
                return ChannelChoice {
                    route: Some(route),
                    skipped,
                }
            }
            Err(why) => skipped.push(Skipped { channel, why }),
        }
    }
    ChannelChoice {
        route: None,
        skipped,
    }
}

fn reach(
    channel: Channel,
    traits: &Map<String, Value>,
    push_targets: &[PushTarget],
) -> Result<Route, Unusable> {
    match channel {
        Channel::Push => push_route(push_targets),
        Channel::InApp => Ok(Route::InApp),
        Channel::Email => email_address(traits).map(|address| Route::Email { address }),
        Channel::Sms => phone_number(traits).map(|phone| Route::Sms { phone }),
        Channel::Whatsapp => phone_number(traits).map(|phone| Route::Whatsapp { phone }),
    }
}

fn push_route(push_targets: &[PushTarget]) -> Result<Route, Unusable> {
    let with_token = push_targets.iter().filter(|t| !t.token.trim().is_empty());
    let targets: Vec<PushTarget> = with_token
        .clone()
        .filter(|t| t.os_granted)
        .cloned()
        .collect();
    if !targets.is_empty() {
        Ok(Route::Push { targets })
    } else if with_token.count() > 0 {
        Err(Unusable::OsPermissionDenied)
    } else {
        Err(Unusable::NoPushToken)
    }
}

/// Text of a trait, trimmed; `None` when absent, not text, or blank.
fn text_trait<'a>(traits: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    traits
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The `email` trait if it looks like an address: one `@` with text on both sides, a
/// dot in the domain, no spaces. Deliverability is the provider's business.
fn email_address(traits: &Map<String, Value>) -> Result<String, Unusable> {
    let address = text_trait(traits, EMAIL_TRAIT).ok_or(Unusable::NoAddress)?;
    let plausible = match address.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !address.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    };
    if plausible {
        Ok(address.to_owned())
    } else {
        Err(Unusable::BadAddress {
            address: address.to_owned(),
        })
    }
}

/// The `phone` trait as digits, with a leading `+` if it had one: spaces, dots,
/// dashes and parentheses between digits are dropped; 7 to 15 digits.
fn phone_number(traits: &Map<String, Value>) -> Result<String, Unusable> {
    let phone = text_trait(traits, PHONE_TRAIT).ok_or(Unusable::NoPhone)?;
    let bad = || Unusable::BadPhone {
        phone: phone.to_owned(),
    };
    let (plus, rest) = match phone.strip_prefix('+') {
        Some(rest) => ("+", rest),
        None => ("", phone),
    };
    if !rest
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '.' | '-' | '(' | ')'))
    {
        return Err(bad());
    }
    let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
    if !PHONE_DIGITS.contains(&digits.len()) {
        return Err(bad());
    }
    Ok(format!("{plus}{digits}"))
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use serde_json::json;

    use super::*;

    fn set(channel: Channel, state: PermissionState) -> Permission {
        Permission {
            channel,
            state,
            source: "app".into(),
            updated_at: DateTime::<Utc>::from_timestamp(1_790_000_000, 0).unwrap(),
        }
    }

    fn traits(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn device(provider: PushProvider, token: &str, os_granted: bool) -> PushTarget {
        PushTarget {
            provider,
            token: token.into(),
            os_granted,
        }
    }

    fn reasons(choice: &ChannelChoice) -> Vec<String> {
        choice.skipped.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn push_first_when_a_device_can_show_it() {
        let devices = [
            device(PushProvider::Fcm, "fcm-1", true),
            device(PushProvider::Apns, "apns-1", false),
            device(PushProvider::Apns, "apns-2", true),
        ];
        let choice = choose_channel(&Channel::ALL, &[], &Map::new(), &devices);
        assert_eq!(
            choice.route,
            Some(Route::Push {
                targets: vec![devices[0].clone(), devices[2].clone()]
            })
        );
        assert!(choice.skipped.is_empty());
    }

    #[test]
    fn every_channel_passed_over_says_why() {
        let permissions = [
            set(Channel::Push, PermissionState::Unsubscribed),
            set(Channel::InApp, PermissionState::Unsubscribed),
        ];
        let t = traits(json!({"phone": "+351 912 345 678"}));
        let choice = choose_channel(&Channel::ALL, &permissions, &t, &[]);
        assert_eq!(choice.route, None);
        assert_eq!(
            reasons(&choice),
            [
                "push: unsubscribed",
                "in_app: unsubscribed",
                "email: no address",
                "sms: subscribed, needs an explicit opt-in",
                "whatsapp: subscribed, needs an explicit opt-in",
            ]
        );
    }

    #[test]
    fn sms_and_whatsapp_need_an_opt_in_and_a_phone() {
        let order = [Channel::Sms, Channel::Whatsapp, Channel::Email];
        let opted = [set(Channel::Whatsapp, PermissionState::OptedIn)];
        let t = traits(json!({"phone": "+55 (11) 91234-5678", "email": "ana@shop.example"}));
        let choice = choose_channel(&order, &opted, &t, &[]);
        assert_eq!(
            choice.route,
            Some(Route::Whatsapp {
                phone: "+5511912345678".into()
            })
        );
        assert_eq!(
            reasons(&choice),
            ["sms: subscribed, needs an explicit opt-in"]
        );

        let both = [
            set(Channel::Sms, PermissionState::OptedIn),
            set(Channel::Whatsapp, PermissionState::OptedIn),
        ];
        let choice = choose_channel(
            &order,
            &both,
            &traits(json!({"email": "ana@shop.example"})),
            &[],
        );
        assert_eq!(
            choice.route,
            Some(Route::Email {
                address: "ana@shop.example".into()
            })
        );
        assert_eq!(
            reasons(&choice),
            ["sms: no phone number", "whatsapp: no phone number"]
        );
    }

    #[test]
    fn push_needs_a_token_and_the_os_permission() {
        let order = [Channel::Push, Channel::InApp];
        let choice = choose_channel(&order, &[], &Map::new(), &[]);
        assert_eq!(choice.route, Some(Route::InApp));
        assert_eq!(reasons(&choice), ["push: no push token"]);

        let off = [
            device(PushProvider::Fcm, "fcm-1", false),
            device(PushProvider::Apns, "   ", true),
        ];
        let choice = choose_channel(&order, &[], &Map::new(), &off);
        assert_eq!(
            reasons(&choice),
            ["push: notifications off on every device"]
        );

        let opted_in = [set(Channel::Push, PermissionState::OptedIn)];
        let on = [device(PushProvider::Apns, "apns-1", true)];
        let choice = choose_channel(&order, &opted_in, &Map::new(), &on);
        assert_eq!(choice.route.unwrap().channel(), Channel::Push);
    }

    #[test]
    fn an_unsubscribed_channel_is_never_used_even_when_reachable() {
        let t = traits(json!({"email": "ana@shop.example"}));
        let choice = choose_channel(
            &[Channel::Email],
            &[set(Channel::Email, PermissionState::Unsubscribed)],
            &t,
            &[],
        );
        assert_eq!(choice.route, None);
        assert_eq!(reasons(&choice), ["email: unsubscribed"]);
    }

    #[test]
    fn addresses_and_phone_numbers_are_checked() {
        let email = |v: Value| email_address(&traits(json!({ "email": v })));
        assert_eq!(
            email(json!(" ana@shop.example ")),
            Ok("ana@shop.example".into())
        );
        assert_eq!(email(json!("")), Err(Unusable::NoAddress));
        assert_eq!(email(json!(42)), Err(Unusable::NoAddress));
        for bad in [
            "ana",
            "ana@",
            "@shop.example",
            "ana@shop",
            "a@b@c.d",
            "ana @shop.example",
            "ana@.example",
            "ana@shop.",
        ] {
            assert_eq!(
                email(json!(bad)),
                Err(Unusable::BadAddress {
                    address: bad.trim().into()
                }),
                "{bad}"
            );
        }
        let phone = |v: Value| phone_number(&traits(json!({ "phone": v })));
        assert_eq!(phone(json!("+1 (212) 555-0100")), Ok("+12125550100".into()));
        assert_eq!(phone(json!("912.345.678")), Ok("912345678".into()));
        assert_eq!(phone(json!(null)), Err(Unusable::NoPhone));
        for bad in [
            "12345",
            "+1234567890123456",
            "call me",
            "+351+912345678",
            "912345678 ext 2",
        ] {
            assert!(
                matches!(phone(json!(bad)), Err(Unusable::BadPhone { .. })),
                "{bad}"
            );
        }
        assert_eq!(
            Skipped {
                channel: Channel::Email,
                why: Unusable::BadAddress {
                    address: "ana".into()
                }
            }
            .to_string(),
            "email: \"ana\" is not an email address"
        );
    }

    #[test]
    fn the_order_is_the_sends_own() {
        let t = traits(json!({"email": "ana@shop.example"}));
        let devices = [device(PushProvider::Fcm, "fcm-1", true)];
        let choice = choose_channel(&[Channel::Email, Channel::Push], &[], &t, &devices);
        assert_eq!(choice.route.unwrap().channel(), Channel::Email);
        let choice = choose_channel(&[], &[], &t, &devices);
        assert_eq!(
            choice,
            ChannelChoice {
                route: None,
                skipped: vec![]
            }
        );
    }

    #[test]
    fn choices_serialize_for_the_admin_api() {
        let choice = choose_channel(
            &[Channel::Push, Channel::InApp],
            &[set(Channel::Push, PermissionState::Unsubscribed)],
            &Map::new(),
            &[],
        );
        assert_eq!(
            serde_json::to_value(&choice).unwrap(),
            json!({
                "route": {"channel": "in_app"},
                "skipped": [{"channel": "push", "reason": "not_permitted", "state": "unsubscribed"}]
            })
        );
    }
}
