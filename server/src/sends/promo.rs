//! The promo a send carries, as written in the request, read into the wire type the
//! push payload carries (`beckon::protocol::PromoOffer`). The device activates it when
//! the push is opened; here it is only read and checked.
//!
//! The request keeps its own spelling (`{"percent": 10}`, `{"amount": 5}`,
//! `"free_shipping"`) and reports every problem with its path; what it accepts is
//! exactly what a [`PromoOffer`] can say and a device accepts.

use beckon::common::FieldError;
use beckon::common::Money;
use beckon::messages::campaign::check_currency;
use beckon::protocol::{
    Discount, PromoOffer, MAX_PROMO_CODE_CHARS, MAX_PROMO_USES, PUSH_PAYLOAD_KEY,
};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::problems::Problems;
use super::schedule::parse_instant;

/// Uses per user when the request names none (the payload's default).
const DEFAULT_USES: u32 = 1;

/// The promo as written in a send request.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPromo {
    code: String,
    discount: RawDiscount,
    currency: Option<String>,
    expires_at: Option<String>,
    min_basket: Option<f64>,
    max_uses: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum RawDiscount {
    Percent(f64),
    Amount(f64),
    FreeShipping,
}

impl RawPromo {
    /// Checks every field, reporting each problem under `path`; `None` if any failed.
    pub(super) fn validate(
        &self,
        path: &str,
        now: DateTime<Utc>,
        problems: &mut Problems,
    ) -> Option<PromoOffer> {
        let at = |key: &str| format!("{path}.{key}");
        let mut ok = problems.check(&at("code"), check_code(&self.code));
        let currency = match &self.currency {
            Some(code) => match check_currency(code) {
                Ok(()) => Some(code.clone()),
                Err(problem) => {
                    problems.add(&at("currency"), problem);
                    ok = false;
                    None
                }
            },
            None => None,
        };
        let needs_currency =
            matches!(self.discount, RawDiscount::Amount(_)) || self.min_basket.is_some();
        if needs_currency && self.currency.is_none() {
            problems.add(
                &at("currency"),
                "is required with an amount discount or a minimum basket",
            );
            ok = false;
        }
        let amount = |key: &str, value: f64, problems: &mut Problems| -> Option<f64> {
            let currency = currency.as_deref()?;
            if value.is_nan() || value <= 0.0 {
                problems.add(&at(key), format!("{value} must be above zero"));
                return None;
            }
            if Money::from_decimal_exact(value, currency).is_none() {
                problems.add(
                    &at(key),
                    format!(
                        "{value} is not an amount of {currency}: too large, or more decimals than the currency has"
                    ),
                );
                return None;
            }
            Some(value)
        };
        let discount = match self.discount {
            RawDiscount::Percent(p) if p > 0.0 && p <= 100.0 => {
                Some(Discount::Percent { value: p })
            }
            RawDiscount::Percent(p) => {
                problems.add(
                    &at("discount.percent"),
                    format!("{p} is outside 0 (exclusive) to 100"),
                );
                None
            }
            RawDiscount::Amount(a) => {
                amount("discount.amount", a, problems).map(|value| Discount::Fixed { value })
            }
            RawDiscount::FreeShipping => Some(Discount::FreeShipping),
        };
        let min_basket = match self.min_basket {
            Some(value) => {
                let checked = amount("min_basket", value, problems);
                ok &= checked.is_some();
                checked
            }
            None => None,
        };
        let expires_at = match &self.expires_at {
            Some(text) => match parse_instant(text) {
                Ok(t) if t <= now => {
                    problems.add(&at("expires_at"), format!("{text} is in the past"));
                    None
                }
                Ok(t) => Some(t),
                Err(problem) => {
                    problems.add(&at("expires_at"), problem);
                    None
                }
            },
            None => {
                problems.add(
                    &at("expires_at"),
                    "is required: the instant the code stops working",
                );
                None
            }
        };
        if let Some(uses) = self.max_uses {
            if !(1..=MAX_PROMO_USES).contains(&uses) {
                problems.add(
                    &at("max_uses"),
                    format!("{uses} is outside 1..={MAX_PROMO_USES}"),
                );
                ok = false;
            }
        }
        let offer = PromoOffer {
            code: self.code.clone(),
            discount: discount?,
            currency,
            expires_at: expires_at?,
            min_basket,
            max_uses: self.max_uses.unwrap_or(DEFAULT_USES),
        };
        if !ok {
            return None;
        }
        // The payload's own check is the one devices run: should the two ever
        // disagree, the send is refused here rather than every push failing later.
        match offer.validate() {
            Ok(()) => Some(offer),
            Err(err) => {
                problems.add(&request_path(path, &err), err.problem);
                None
            }
        }
    }
}

/// `beckon.promo.min_basket` → `content.promo.min_basket`.
fn request_path(path: &str, err: &FieldError) -> String {
    let wire_prefix = format!("{PUSH_PAYLOAD_KEY}.promo");
    match err.field.strip_prefix(&wire_prefix) {
        Some(rest) => format!("{path}{rest}"),
        None => path.to_owned(),
    }
}

/// Codes travel in pushes and are typed at checkout: 1 to 32 ASCII letters, digits,
/// `_` and `-` (the payload's limit).
fn check_code(code: &str) -> Result<(), String> {
    if code.is_empty() {
        return Err("must not be empty".into());
    }
    if !code
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
    {
        return Err(format!("\"{code}\" may only have letters, digits, _ and -"));
    }
    if code.len() > MAX_PROMO_CODE_CHARS {
        return Err(format!(
            "is {} characters, over the {MAX_PROMO_CODE_CHARS}-character limit",
            code.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn now() -> DateTime<Utc> {
        parse_instant("2026-12-01T00:00:00Z").unwrap()
    }

    fn validate(v: Value) -> Result<PromoOffer, Vec<String>> {
        let raw: RawPromo = serde_json::from_value(v).map_err(|e| vec![e.to_string()])?;
        let mut problems = Problems::default();
        match raw.validate("content.promo", now(), &mut problems) {
            Some(promo) if problems.is_empty() => Ok(promo),
            _ => Err(problems.into_messages()),
        }
    }

    #[test]
    fn a_full_promo_reads_into_the_payload_type() {
        let promo = validate(json!({
            "code": "XMAS-10",
            "discount": {"amount": 5.5},
            "currency": "EUR",
            "expires_at": "2026-12-31T23:59:59+01:00",
            "min_basket": 30,
            "max_uses": 3
        }))
        .unwrap();
        assert_eq!(
            promo,
            PromoOffer {
                code: "XMAS-10".into(),
                discount: Discount::Fixed { value: 5.5 },
                currency: Some("EUR".into()),
                expires_at: parse_instant("2026-12-31T22:59:59Z").unwrap(),
                min_basket: Some(30.0),
                max_uses: 3,
            }
        );
        assert_eq!(promo.validate(), Ok(()));
        assert_eq!(
            serde_json::to_value(&promo).unwrap(),
            json!({"code": "XMAS-10", "discount": {"kind": "fixed", "value": 5.5},
                   "currency": "EUR", "expires_at": "2026-12-31T22:59:59Z",
                   "min_basket": 30.0, "max_uses": 3})
        );
    }

    #[test]
    fn percent_and_free_shipping_need_no_currency_and_uses_default_to_one() {
        let promo = validate(
            json!({"code": "TEN", "discount": {"percent": 12.5}, "expires_at": "2026-12-02T00:00:00Z"}),
        )
        .unwrap();
        assert_eq!(promo.discount, Discount::Percent { value: 12.5 });
        assert_eq!(promo.currency, None);
        assert_eq!(promo.max_uses, 1);
        let promo = validate(
            json!({"code": "SHIP", "discount": "free_shipping", "expires_at": "2026-12-02T00:00:00Z"}),
        )
        .unwrap();
        assert_eq!(promo.discount, Discount::FreeShipping);
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let errs = validate(json!({
            "code": "XMAS 10",
            "discount": {"percent": 150},
            "min_basket": 30,
            "expires_at": "2026-11-30T00:00:00Z",
            "max_uses": 0
        }))
        .unwrap_err();
        assert_eq!(
            errs,
            [
                "content.promo.code: \"XMAS 10\" may only have letters, digits, _ and -",
                "content.promo.currency: is required with an amount discount or a minimum basket",
                "content.promo.discount.percent: 150 is outside 0 (exclusive) to 100",
                "content.promo.expires_at: 2026-11-30T00:00:00Z is in the past",
                "content.promo.max_uses: 0 is outside 1..=100",
            ]
        );
        let errs = validate(json!({"code": "A", "discount": "free_shipping"})).unwrap_err();
        assert_eq!(
            errs,
            ["content.promo.expires_at: is required: the instant the code stops working"]
        );
    }

    #[test]
    fn amounts_follow_the_currency() {
        let expires = "2026-12-31T00:00:00Z";
        let errs = validate(
            json!({"code": "A", "discount": {"amount": 5.555}, "currency": "EUR", "expires_at": expires}),
        )
        .unwrap_err();
        assert_eq!(
            errs,
            ["content.promo.discount.amount: 5.555 is not an amount of EUR: too large, or more decimals than the currency has"]
        );
        let errs = validate(
            json!({"code": "A", "discount": {"amount": 0}, "currency": "JPY", "expires_at": expires}),
        )
        .unwrap_err();
        assert_eq!(
            errs,
            ["content.promo.discount.amount: 0 must be above zero"]
        );
        let errs = validate(
            json!({"code": "A", "discount": "free_shipping", "currency": "eur", "expires_at": expires}),
        )
        .unwrap_err();
        assert_eq!(
            errs,
            ["content.promo.currency: \"eur\" is not a three-letter ISO 4217 code such as EUR"]
        );
        let promo = validate(
            json!({"code": "A", "discount": {"amount": 500}, "currency": "JPY", "expires_at": expires}),
        )
        .unwrap();
        assert_eq!(promo.discount, Discount::Fixed { value: 500.0 });
        assert_eq!(promo.amount(500.0), Money::from_minor(500, "JPY"));
    }

    #[test]
    fn unknown_fields_discount_kinds_and_long_codes_are_refused() {
        let errs =
            validate(json!({"code": "A", "discount": "free_shipping", "codes": 1})).unwrap_err();
        assert!(errs[0].contains("unknown field `codes`"), "{errs:?}");
        let errs = validate(json!({"code": "A", "discount": {"bogo": 1}})).unwrap_err();
        assert!(errs[0].contains("unknown variant `bogo`"), "{errs:?}");
        let long = "C".repeat(MAX_PROMO_CODE_CHARS + 1);
        let errs = validate(
            json!({"code": long, "discount": "free_shipping", "expires_at": "2026-12-31T00:00:00Z"}),
        )
        .unwrap_err();
        assert_eq!(
            errs,
            ["content.promo.code: is 33 characters, over the 32-character limit"]
        );
        let errs = validate(json!({"code": "A", "discount": "free_shipping",
                                   "expires_at": "2026-12-31T00:00:00Z", "max_uses": 101}))
        .unwrap_err();
        assert_eq!(errs, ["content.promo.max_uses: 101 is outside 1..=100"]);
    }

    #[test]
    fn wire_paths_are_reported_under_the_request_path() {
        let err = FieldError::new("beckon.promo.min_basket", "x");
        assert_eq!(
            request_path("content.promo", &err),
            "content.promo.min_basket"
        );
        let err = FieldError::new("beckon.v", "x");
        assert_eq!(request_path("content.promo", &err), "content.promo");
    }
}
