//! The promo a send carries: a code with its discount and conditions. The device
//! activates it when the push is opened; here it is only read and checked.

use beckon::messages::campaign::check_currency;
use beckon::messages::Money;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::problems::Problems;
use super::schedule::parse_instant;

/// Longest promo code, in bytes.
pub const MAX_PROMO_CODE_BYTES: usize = 64;
/// Most uses a promo may allow.
pub const MAX_PROMO_USES: u32 = 1000;

/// A validated promo.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Promo {
    /// What the user types or the app applies at checkout (`XMAS10`).
    pub code: String,
    pub discount: Discount,
    /// The currency of an amount discount and of the minimum basket.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// The code cannot be used from this instant on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// The smallest basket the code applies to.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "money_amount"
    )]
    pub min_basket: Option<Money>,
    /// How many times one user may apply it; unlimited when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_uses: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Discount {
    /// Percent off the basket, above 0 and at most 100.
    Percent(f64),
    /// A fixed amount off, in the promo's currency.
    #[serde(serialize_with = "money")]
    Amount(Money),
    FreeShipping,
}

fn money<S: serde::Serializer>(m: &Money, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(m.to_decimal())
}

fn money_amount<S: serde::Serializer>(m: &Option<Money>, s: S) -> Result<S::Ok, S::Error> {
    match m {
        Some(m) => s.serialize_f64(m.to_decimal()),
        None => s.serialize_none(),
    }
}

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
    ) -> Option<Promo> {
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
        let amount = |key: &str, value: f64, problems: &mut Problems| -> Option<Money> {
            let currency = currency.as_deref()?;
            if value.is_nan() || value <= 0.0 {
                problems.add(&at(key), format!("{value} must be above zero"));
                return None;
            }
            let money = Money::from_decimal_exact(value, currency);
            if money.is_none() {
                problems.add(
                    &at(key),
                    format!(
                        "{value} is not an amount of {currency}: too large, or more decimals than the currency has"
                    ),
                );
            }
            money
        };
        let discount = match self.discount {
            RawDiscount::Percent(p) if p > 0.0 && p <= 100.0 => Some(Discount::Percent(p)),
            RawDiscount::Percent(p) => {
                problems.add(
                    &at("discount.percent"),
                    format!("{p} is outside 0 (exclusive) to 100"),
                );
                None
            }
            RawDiscount::Amount(a) => amount("discount.amount", a, problems).map(Discount::Amount),
            RawDiscount::FreeShipping => Some(Discount::FreeShipping),
        };
        let min_basket = match self.min_basket {
            Some(value) => {
                let money = amount("min_basket", value, problems);
                ok &= money.is_some();
                money
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
            None => None,
        };
        ok &= self.expires_at.is_none() || expires_at.is_some();
        if let Some(uses) = self.max_uses {
            if !(1..=MAX_PROMO_USES).contains(&uses) {
                problems.add(
                    &at("max_uses"),
                    format!("{uses} is outside 1..={MAX_PROMO_USES}"),
                );
                ok = false;
            }
        }
        let discount = discount?;
        ok.then(|| Promo {
            code: self.code.clone(),
            discount,
            currency,
            expires_at,
            min_basket,
            max_uses: self.max_uses,
        })
    }
}

/// Codes travel in pushes and are typed at checkout: 1 to 64 ASCII letters, digits,
/// `_` and `-`.
fn check_code(code: &str) -> Result<(), String> {
    if code.is_empty() {
        return Err("must not be empty".into());
    }
    if code.len() > MAX_PROMO_CODE_BYTES {
        return Err(format!(
            "is {} bytes, over the {MAX_PROMO_CODE_BYTES}-byte limit",
            code.len()
        ));
    }
    if !code
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
    {
        return Err(format!("\"{code}\" may only have letters, digits, _ and -"));
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

    fn validate(v: Value) -> Result<Promo, Vec<String>> {
        let raw: RawPromo = serde_json::from_value(v).map_err(|e| vec![e.to_string()])?;
        let mut problems = Problems::default();
        match raw.validate("content.promo", now(), &mut problems) {
            Some(promo) if problems.is_empty() => Ok(promo),
            _ => Err(problems.into_messages()),
        }
    }

    #[test]
    fn a_full_promo() {
        let promo = validate(json!({
            "code": "XMAS-10",
            "discount": {"amount": 5.5},
            "currency": "EUR",
            "expires_at": "2026-12-31T23:59:59+01:00",
            "min_basket": 30,
            "max_uses": 1
        }))
        .unwrap();
        assert_eq!(promo.code, "XMAS-10");
        assert_eq!(
            promo.discount,
            Discount::Amount(Money::from_minor(550, "EUR").unwrap())
        );
        assert_eq!(promo.min_basket, Money::from_minor(3000, "EUR"));
        assert_eq!(
            promo.expires_at,
            Some(parse_instant("2026-12-31T22:59:59Z").unwrap())
        );
        assert_eq!(promo.max_uses, Some(1));
        assert_eq!(
            serde_json::to_value(&promo).unwrap(),
            json!({"code": "XMAS-10", "discount": {"amount": 5.5}, "currency": "EUR",
                   "expires_at": "2026-12-31T22:59:59Z", "min_basket": 30.0, "max_uses": 1})
        );
    }

    #[test]
    fn percent_and_free_shipping_need_no_currency() {
        let promo = validate(json!({"code": "TEN", "discount": {"percent": 12.5}})).unwrap();
        assert_eq!(promo.discount, Discount::Percent(12.5));
        assert_eq!(promo.currency, None);
        let promo = validate(json!({"code": "SHIP", "discount": "free_shipping"})).unwrap();
        assert_eq!(promo.discount, Discount::FreeShipping);
        assert_eq!(
            serde_json::to_value(&promo).unwrap(),
            json!({"code": "SHIP", "discount": "free_shipping"})
        );
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
                "content.promo.max_uses: 0 is outside 1..=1000",
            ]
        );
    }

    #[test]
    fn amounts_follow_the_currency() {
        let errs = validate(json!({"code": "A", "discount": {"amount": 5.555}, "currency": "EUR"}))
            .unwrap_err();
        assert_eq!(
            errs,
            ["content.promo.discount.amount: 5.555 is not an amount of EUR: too large, or more decimals than the currency has"]
        );
        let errs = validate(json!({"code": "A", "discount": {"amount": 0}, "currency": "JPY"}))
            .unwrap_err();
        assert_eq!(
            errs,
            ["content.promo.discount.amount: 0 must be above zero"]
        );
        let errs = validate(json!({"code": "A", "discount": "free_shipping", "currency": "eur"}))
            .unwrap_err();
        assert_eq!(
            errs,
            ["content.promo.currency: \"eur\" is not a three-letter ISO 4217 code such as EUR"]
        );
        let promo =
            validate(json!({"code": "A", "discount": {"amount": 500}, "currency": "JPY"})).unwrap();
        assert_eq!(
            promo.discount,
            Discount::Amount(Money::from_minor(500, "JPY").unwrap())
        );
    }

    #[test]
    fn unknown_fields_and_discount_kinds_are_refused() {
        let errs =
            validate(json!({"code": "A", "discount": "free_shipping", "codes": 1})).unwrap_err();
        assert!(errs[0].contains("unknown field `codes`"), "{errs:?}");
        let errs = validate(json!({"code": "A", "discount": {"bogo": 1}})).unwrap_err();
        assert!(errs[0].contains("unknown variant `bogo`"), "{errs:?}");
        let long = "C".repeat(MAX_PROMO_CODE_BYTES + 1);
        let errs = validate(json!({"code": long, "discount": "free_shipping"})).unwrap_err();
        assert!(errs[0].ends_with("over the 64-byte limit"), "{errs:?}");
    }
}
