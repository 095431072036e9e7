//! The push payload: what Beckon puts inside an FCM or APNs notification so the app
//! can attribute the open, route the deep link and hand the shopper a promo code.
//!
//! It travels under the key [`PUSH_PAYLOAD_KEY`]: in FCM as a string of JSON in the
//! `data` map (`data.beckon`, since FCM data values are strings), in APNs as a JSON
//! object next to `aps`. The server builds it with [`PushPayload::to_fcm_data`] or
//! [`PushPayload::to_apns_custom`]; the device reads it with `push::parse_push`. Both
//! run [`PushPayload::validate`], so a payload the server sends is one every device
//! accepts. The format for backend teams is in `src/push/README.md`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::wire_event::check_id;
use crate::common::money::{normalize_currency, Money};
use crate::common::FieldError;
use crate::text::quote;

/// The key the payload travels under, in FCM `data` and in the APNs dictionary.
pub const PUSH_PAYLOAD_KEY: &str = "beckon";
/// The payload version this code writes and reads.
pub const PUSH_SCHEMA_VERSION: u32 = 1;
/// Largest push the providers deliver (FCM and APNs): payload and envelope together.
pub const MAX_PUSH_BYTES: usize = 4096;
/// Longest deep link a payload may carry, in bytes.
pub const MAX_DEEP_LINK_BYTES: usize = 1024;
/// Longest message, campaign or send id a payload may carry, in bytes: tighter than
/// event ids, to leave the notification's text most of the push.
pub const MAX_PUSH_ID_BYTES: usize = 128;
/// Promo codes are 1 to this many characters from `A-Z a-z 0-9 - _`.
pub const MAX_PROMO_CODE_CHARS: usize = 32;
/// Room a valid payload always leaves within [`MAX_PUSH_BYTES`] for the platform
/// envelope (title, body, `aps`, FCM keys).
pub const MIN_ENVELOPE_ROOM: usize = 1792;
/// Most times one shopper may use one promo code.
pub const MAX_PROMO_USES: u32 = 100;

/// The Beckon part of a push.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushPayload {
    /// Always [`PUSH_SCHEMA_VERSION`].
    pub v: u32,
    /// Unique per push sent to one device; `Push Opened` carries it.
    pub message_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<String>,
    /// The send (one API call to the server) this push belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_id: Option<String>,
    /// Where tapping the push takes the shopper: a custom scheme (`shop://product/42`)
    /// or a universal/app link (`https://shop.example/p/42?utm_source=push`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deep_link: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promo: Option<PromoOffer>,
}

/// A promo code handed to the shopper with a push.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromoOffer {
    pub code: String,
    pub discount: Discount,
    /// ISO 4217. Required for a fixed discount and a minimum basket; on a percent or
    /// free-shipping promo it limits the promo to carts in that currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// The promo cannot be used from this instant on (judged on the server's clock).
    pub expires_at: DateTime<Utc>,
    /// Smallest cart subtotal, in `currency`, the promo applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_basket: Option<f64>,
    /// How many times the shopper may use the code.
    #[serde(default = "one_use")]
    pub max_uses: u32,
}

fn one_use() -> u32 {
    1
}

/// What a promo takes off.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Discount {
    /// `value` percent of the cart subtotal, more than 0 and at most 100.
    Percent { value: f64 },
    /// `value` in the promo's currency, never more than the subtotal.
    Fixed { value: f64 },
    /// The shipping cost.
    FreeShipping,
}

impl Discount {
    pub fn kind(&self) -> &'static str {
        match self {
            Discount::Percent { .. } => "percent",
            Discount::Fixed { .. } => "fixed",
            Discount::FreeShipping => "free_shipping",
        }
    }
}

impl PushPayload {
    /// A version-1 payload with only the message id set.
    pub fn new(message_id: impl Into<String>) -> PushPayload {
        PushPayload {
            v: PUSH_SCHEMA_VERSION,
            message_id: message_id.into(),
            campaign_id: None,
            send_id: None,
            deep_link: None,
            promo: None,
        }
    }

    /// Checks every field; errors name the field as `beckon.<path>`.
    pub fn validate(&self) -> Result<(), FieldError> {
        if self.v != PUSH_SCHEMA_VERSION {
            return Err(FieldError::new(
                at("v"),
                format!(
                    "version {} is not supported; this code reads version {PUSH_SCHEMA_VERSION}",
                    self.v
                ),
            ));
        }
        check_push_id("message_id", &self.message_id)?;
        if let Some(id) = &self.campaign_id {
            check_push_id("campaign_id", id)?;
        }
        if let Some(id) = &self.send_id {
            check_push_id("send_id", id)?;
        }
        if let Some(link) = &self.deep_link {
            check_deep_link(link).map_err(|problem| FieldError::new(at("deep_link"), problem))?;
        }
        if let Some(promo) = &self.promo {
            promo.validate()?;
        }
        Ok(())
    }

    /// The compact JSON text of the payload, after validation. The field limits keep
    /// it at least [`MIN_ENVELOPE_ROOM`] bytes under [`MAX_PUSH_BYTES`]; the server
    /// checks the whole message with its envelope.
    pub fn to_json(&self) -> Result<String, FieldError> {
        self.validate()?;
        Ok(serde_json::to_string(self).expect("plain data always serializes"))
    }

    /// The FCM `data` map (every value a string): `{"beckon": "<payload JSON>"}`. The
    /// server adds its own keys beside it and checks the whole message's size.
    pub fn to_fcm_data(&self) -> Result<BTreeMap<String, String>, FieldError> {
        Ok(BTreeMap::from([(
            PUSH_PAYLOAD_KEY.to_owned(),
            self.to_json()?,
        )]))
    }

    /// The APNs custom keys, to sit next to `aps`: `{"beckon": {…}}`.
    pub fn to_apns_custom(&self) -> Result<Map<String, Value>, FieldError> {
        self.to_json()?;
        let value = serde_json::to_value(self).expect("plain data always serializes");
        Ok(Map::from_iter([(PUSH_PAYLOAD_KEY.to_owned(), value)]))
    }
}

impl PromoOffer {
    /// Checks the code, the discount, the currency, the minimum basket and the use
    /// limit; errors name the field as `beckon.promo.<field>`.
    pub fn validate(&self) -> Result<(), FieldError> {
        check_promo_code(&self.code)
            .map_err(|problem| FieldError::new(at("promo.code"), problem))?;
        let currency = match &self.currency {
            Some(code) => Some(
                normalize_currency(code)
                    .filter(|normalized| normalized == code)
                    .ok_or_else(|| {
                        FieldError::new(
                            at("promo.currency"),
                            format!(
                                "{} is not a three-letter ISO 4217 code such as EUR",
                                quote(code)
                            ),
                        )
                    })?,
            ),
            None => None,
        };
        match self.discount {
            Discount::Percent { value } => {
                if !(value.is_finite() && value > 0.0 && value <= 100.0) {
                    return Err(FieldError::new(
                        at("promo.discount.value"),
                        format!(
                            "a percent discount must be more than 0 and at most 100, not {value}"
                        ),
                    ));
                }
            }
            Discount::Fixed { value } => {
                let Some(currency) = &currency else {
                    return Err(FieldError::new(
                        at("promo.currency"),
                        "is required for a fixed discount",
                    ));
                };
                positive_amount(value, currency, "promo.discount.value")?;
            }
            Discount::FreeShipping => {}
        }
        if let Some(minimum) = self.min_basket {
            let Some(currency) = &currency else {
                return Err(FieldError::new(
                    at("promo.currency"),
                    "is required with min_basket",
                ));
            };
            positive_amount(minimum, currency, "promo.min_basket")?;
        }
        if !(1..=MAX_PROMO_USES).contains(&self.max_uses) {
            return Err(FieldError::new(
                at("promo.max_uses"),
                format!("must be 1 to {MAX_PROMO_USES}, not {}", self.max_uses),
            ));
        }
        Ok(())
    }

    /// The fixed discount or minimum basket as money, once validated.
    pub fn amount(&self, value: f64) -> Option<Money> {
        Money::from_decimal(value, self.currency.as_deref()?)
    }
}

/// A promo code: 1 to [`MAX_PROMO_CODE_CHARS`] characters from `A-Z a-z 0-9 - _`, so
/// it can be typed, shown in any template and put in a URL as it is.
pub fn check_promo_code(code: &str) -> Result<(), String> {
    if code.is_empty() {
        return Err("must not be empty".into());
    }
    if code.chars().count() > MAX_PROMO_CODE_CHARS {
        return Err(format!(
            "is {} characters, over the {MAX_PROMO_CODE_CHARS}-character limit",
            code.chars().count()
        ));
    }
    if let Some(bad) = code
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(format!(
            "{} contains {bad:?}; only letters A-Z, digits, - and _ are allowed",
            quote(code)
        ));
    }
    Ok(())
}

/// A deep link the device can route: bounded, absolute, parseable and safe. What a
/// payload's `deep_link` must pass, so whoever builds a push checks links with it.
pub fn check_deep_link(link: &str) -> Result<(), String> {
    if link.len() > MAX_DEEP_LINK_BYTES {
        return Err(format!(
            "is {} bytes, over the {MAX_DEEP_LINK_BYTES}-byte limit",
            link.len()
        ));
    }
    crate::text::url::check_link(link)
}

fn check_push_id(field: &str, id: &str) -> Result<(), FieldError> {
    check_id(&at(field), id)?;
    if id.len() > MAX_PUSH_ID_BYTES {
        return Err(FieldError::new(
            at(field),
            format!(
                "is {} bytes, over the {MAX_PUSH_ID_BYTES}-byte limit",
                id.len()
            ),
        ));
    }
    Ok(())
}

fn positive_amount(value: f64, currency: &str, field: &str) -> Result<(), FieldError> {
    match Money::from_decimal_exact(value, currency) {
        Some(money) if money.minor() > 0 => Ok(()),
        Some(_) => Err(FieldError::new(
            at(field),
            format!("must be more than 0, not {value}"),
        )),
        None => Err(FieldError::new(
            at(field),
            format!("{value} is not an amount in {currency} (finite, with at most the currency's decimals)"),
        )),
    }
}

fn at(field: &str) -> String {
    format!("{PUSH_PAYLOAD_KEY}.{field}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn payload() -> PushPayload {
        PushPayload {
            campaign_id: Some("black-friday".into()),
            send_id: Some("send-7".into()),
            deep_link: Some("shop://product/42?utm_source=push".into()),
            promo: Some(PromoOffer {
                code: "BF-10".into(),
                discount: Discount::Percent { value: 10.0 },
                currency: Some("EUR".into()),
                expires_at: "2026-11-30T23:59:59Z".parse().unwrap(),
                min_basket: Some(50.0),
                max_uses: 1,
            }),
            ..PushPayload::new("m-1")
        }
    }

    #[test]
    fn the_wire_format_is_the_documented_one() {
        let value = serde_json::to_value(payload()).unwrap();
        assert_eq!(
            value,
            json!({
                "v": 1,
                "message_id": "m-1",
                "campaign_id": "black-friday",
                "send_id": "send-7",
                "deep_link": "shop://product/42?utm_source=push",
                "promo": {
                    "code": "BF-10",
                    "discount": {"kind": "percent", "value": 10.0},
                    "currency": "EUR",
                    "expires_at": "2026-11-30T23:59:59Z",
                    "min_basket": 50.0,
                    "max_uses": 1
                }
            })
        );
        let minimal: PushPayload =
            serde_json::from_value(json!({"v": 1, "message_id": "m"})).unwrap();
        assert_eq!(minimal, PushPayload::new("m"));
        let free: Discount = serde_json::from_value(json!({"kind": "free_shipping"})).unwrap();
        assert_eq!(free, Discount::FreeShipping);
    }

    #[test]
    fn fcm_data_holds_the_payload_as_a_string_and_apns_as_an_object() {
        let p = payload();
        let data = p.to_fcm_data().unwrap();
        assert_eq!(data.len(), 1);
        let inner: PushPayload = serde_json::from_str(&data["beckon"]).unwrap();
        assert_eq!(inner, p);
        let apns = p.to_apns_custom().unwrap();
        assert_eq!(
            serde_json::from_value::<PushPayload>(apns["beckon"].clone()).unwrap(),
            p
        );
    }

    #[test]
    fn unknown_fields_are_refused_so_typos_surface() {
        let err = serde_json::from_value::<PushPayload>(
            json!({"v": 1, "message_id": "m", "deeplink": "shop://x"}),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("unknown field `deeplink`"),
            "{err}"
        );
        let err = serde_json::from_value::<Discount>(json!({"kind": "bogof"})).unwrap_err();
        assert!(err.to_string().contains("unknown variant `bogof`"), "{err}");
    }

    #[test]
    fn every_broken_field_is_named() {
        type Breaks = fn(&mut PushPayload);
        fn promo(p: &mut PushPayload) -> &mut PromoOffer {
            p.promo.as_mut().unwrap()
        }
        let cases: Vec<(Breaks, &str, &str)> = vec![
            (|p| p.v = 2, "beckon.v", "version 2 is not supported"),
            (|p| p.message_id = " ".into(), "beckon.message_id", "empty"),
            (
                |p| p.campaign_id = Some("a\u{7}".into()),
                "beckon.campaign_id",
                "control",
            ),
            (
                |p| p.send_id = Some("x".repeat(129)),
                "beckon.send_id",
                "byte limit",
            ),
            (
                |p| p.deep_link = Some("/product/42".into()),
                "beckon.deep_link",
                "absolute",
            ),
            (
                |p| p.deep_link = Some("javascript:alert(1)".into()),
                "beckon.deep_link",
                "not allowed",
            ),
            (
                |p| p.deep_link = Some(format!("shop://p/{}", "a".repeat(1020))),
                "beckon.deep_link",
                "1024-byte limit",
            ),
            (|p| promo(p).code = "".into(), "beckon.promo.code", "empty"),
            (
                |p| promo(p).code = "SAVE 10".into(),
                "beckon.promo.code",
                "' '",
            ),
            (
                |p| promo(p).code = "É10".into(),
                "beckon.promo.code",
                "only letters",
            ),
            (
                |p| promo(p).code = "A".repeat(33),
                "beckon.promo.code",
                "32-character limit",
            ),
            (
                |p| promo(p).discount = Discount::Percent { value: 0.0 },
                "beckon.promo.discount.value",
                "more than 0",
            ),
            (
                |p| promo(p).discount = Discount::Percent { value: 100.5 },
                "beckon.promo.discount.value",
                "at most 100",
            ),
            (
                |p| promo(p).discount = Discount::Percent { value: f64::NAN },
                "beckon.promo.discount.value",
                "more than 0",
            ),
            (
                |p| promo(p).discount = Discount::Fixed { value: -5.0 },
                "beckon.promo.discount.value",
                "more than 0",
            ),
            (
                |p| promo(p).discount = Discount::Fixed { value: 5.001 },
                "beckon.promo.discount.value",
                "not an amount in EUR",
            ),
            (
                |p| {
                    promo(p).discount = Discount::Fixed {
                        value: f64::INFINITY,
                    }
                },
                "beckon.promo.discount.value",
                "not an amount",
            ),
            (
                |p| {
                    promo(p).discount = Discount::Fixed { value: 5.0 };
                    promo(p).currency = None;
                    promo(p).min_basket = None;
                },
                "beckon.promo.currency",
                "required for a fixed discount",
            ),
            (
                |p| promo(p).currency = None,
                "beckon.promo.currency",
                "required with min_basket",
            ),
            (
                |p| promo(p).currency = Some("eur".into()),
                "beckon.promo.currency",
                "ISO 4217",
            ),
            (
                |p| promo(p).currency = Some("EURO".into()),
                "beckon.promo.currency",
                "ISO 4217",
            ),
            (
                |p| promo(p).min_basket = Some(0.0),
                "beckon.promo.min_basket",
                "more than 0",
            ),
            (
                |p| promo(p).max_uses = 0,
                "beckon.promo.max_uses",
                "must be 1 to 100",
            ),
            (
                |p| promo(p).max_uses = 101,
                "beckon.promo.max_uses",
                "must be 1 to 100",
            ),
        ];
        for (breaks, field, problem) in cases {
            let mut p = payload();
            breaks(&mut p);
            let err = p.validate().unwrap_err();
            assert_eq!(err.field, field, "{err}");
            assert!(err.problem.contains(problem), "{err} should say {problem}");
            assert!(p.to_fcm_data().is_err() && p.to_apns_custom().is_err());
        }
    }

    #[test]
    fn a_payload_with_every_field_at_its_limit_leaves_room_for_the_envelope() {
        // Quotes are escaped on the wire, so ids made of them are the widest possible.
        let mut widest = payload();
        widest.message_id = "\"".repeat(MAX_PUSH_ID_BYTES);
        widest.campaign_id = Some("\\".repeat(MAX_PUSH_ID_BYTES));
        widest.send_id = Some("\"".repeat(MAX_PUSH_ID_BYTES));
        let path = "p".repeat(MAX_DEEP_LINK_BYTES - "https://shop.example/".len());
        widest.deep_link = Some(format!("https://shop.example/{path}"));
        let promo = widest.promo.as_mut().unwrap();
        promo.code = "C".repeat(MAX_PROMO_CODE_CHARS);
        promo.min_basket = Some(123_456_789.99);
        assert_eq!(widest.validate(), Ok(()));
        let bytes = widest.to_json().unwrap().len();
        assert!(
            bytes + MIN_ENVELOPE_ROOM <= MAX_PUSH_BYTES,
            "{bytes} bytes leave too little room"
        );
    }
}
