//! Amounts of money in one currency, held in minor units so sums and differences are
//! exact, and formatted as `12.50 EUR`.
//!
//! Formatting is deliberately locale-neutral: digits, a `.` before the decimals, no
//! thousands separators, then a space and the ISO 4217 code. The number of decimals is
//! the currency's own (two for most, none for JPY or KRW, three for KWD or BHD), so an
//! amount is never shown with more or fewer digits than the currency has.

use std::fmt;

/// An amount in minor units (cents) of an ISO 4217 currency.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Money {
    minor: i64,
    currency: String,
}

/// Currencies without minor units (ISO 4217 exponent 0).
const NO_DECIMALS: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
    "VUV", "XAF", "XOF", "XPF",
];
/// Currencies with three decimals (ISO 4217 exponent 3).
const THREE_DECIMALS: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];

/// Largest magnitude, in minor units, that `f64` still counts exactly.
const MAX_EXACT: f64 = 9_007_199_254_740_992.0;

/// How many decimals a currency's amounts have: 2 unless the currency is known to
/// have none or three.
pub fn currency_decimals(code: &str) -> u32 {
    if NO_DECIMALS.contains(&code) {
        0
    } else if THREE_DECIMALS.contains(&code) {
        3
    } else {
        2
    }
}

/// A currency code as Beckon stores it: three ASCII letters, upper-cased
/// (`eur` → `EUR`). `None` for anything else.
pub fn normalize_currency(code: &str) -> Option<String> {
    let code = code.trim();
    (code.len() == 3 && code.bytes().all(|b| b.is_ascii_alphabetic()))
        .then(|| code.to_ascii_uppercase())
}

impl Money {
    /// An amount given in minor units; `None` if the currency code is malformed.
    pub fn from_minor(minor: i64, currency: &str) -> Option<Money> {
        Some(Money {
            minor,
            currency: normalize_currency(currency)?,
        })
    }

    /// An amount given as a decimal number (`12.5`), rounded to the currency's minor
    /// units. `None` if the number is not finite, too large, or the code malformed.
    pub fn from_decimal(amount: f64, currency: &str) -> Option<Money> {
        let currency = normalize_currency(currency)?;
        let scaled = amount * 10f64.powi(currency_decimals(&currency) as i32);
        if !scaled.is_finite() || scaled.abs() >= MAX_EXACT {
            return None;
        }
        Some(Money {
            minor: scaled.round() as i64,
            currency,
        })
    }

    /// Like [`Money::from_decimal`], but refuses amounts with more decimals than the
    /// currency has (`49.999` EUR), for configuration where rounding would hide a typo.
    pub fn from_decimal_exact(amount: f64, currency: &str) -> Option<Money> {
        let money = Money::from_decimal(amount, currency)?;
        let scaled = amount * 10f64.powi(money.decimals() as i32);
        // A few ulps of slack: 59.99 × 100 is 5999.000000000001 in binary.
        let slack = 1e-6_f64.max(scaled.abs() * f64::EPSILON * 4.0);
        ((scaled - money.minor as f64).abs() <= slack).then_some(money)
    }

    pub fn minor(&self) -> i64 {
        self.minor
    }

    pub fn currency(&self) -> &str {
        &self.currency
    }

    pub fn decimals(&self) -> u32 {
        currency_decimals(&self.currency)
    }

    /// The amount as a decimal number, for JSON output.
    pub fn to_decimal(&self) -> f64 {
        self.minor as f64 / 10f64.powi(self.decimals() as i32)
    }

    /// `self − other`, never below zero; `None` if the currencies differ.
    pub fn remaining_after(&self, other: &Money) -> Option<Money> {
        (self.currency == other.currency).then(|| Money {
            minor: self.minor.saturating_sub(other.minor).max(0),
            currency: self.currency.clone(),
        })
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.minor < 0 { "-" } else { "" };
        let magnitude = self.minor.unsigned_abs();
        match self.decimals() {
            0 => write!(f, "{sign}{magnitude} {}", self.currency),
            decimals => {
                let unit = 10u64.pow(decimals);
                write!(
                    f,
                    "{sign}{}.{:0width$} {}",
                    magnitude / unit,
                    magnitude % unit,
                    self.currency,
                    width = decimals as usize
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(amount: f64) -> Money {
        Money::from_decimal(amount, "EUR").unwrap()
    }

    #[test]
    fn formats_with_the_currency_decimals_and_code() {
        assert_eq!(eur(12.5).to_string(), "12.50 EUR");
        assert_eq!(eur(0.0).to_string(), "0.00 EUR");
        assert_eq!(eur(0.05).to_string(), "0.05 EUR");
        assert_eq!(eur(1234567.891).to_string(), "1234567.89 EUR");
        assert_eq!(eur(-3.5).to_string(), "-3.50 EUR");
        assert_eq!(
            Money::from_decimal(1200.0, "jpy").unwrap().to_string(),
            "1200 JPY"
        );
        assert_eq!(
            Money::from_decimal(1.5, "KWD").unwrap().to_string(),
            "1.500 KWD"
        );
        assert_eq!(
            Money::from_minor(i64::MIN, "USD").unwrap().to_string(),
            "-92233720368547758.08 USD"
        );
    }

    #[test]
    fn rounds_decimal_input_to_minor_units() {
        assert_eq!(eur(0.1 + 0.2).minor(), 30);
        assert_eq!(eur(19.999).minor(), 2000);
        assert_eq!(Money::from_decimal(99.6, "JPY").unwrap().minor(), 100);
    }

    #[test]
    fn rejects_bad_amounts_and_codes() {
        assert_eq!(Money::from_decimal(f64::NAN, "EUR"), None);
        assert_eq!(Money::from_decimal(f64::INFINITY, "EUR"), None);
        assert_eq!(Money::from_decimal(1e300, "EUR"), None);
        assert_eq!(Money::from_decimal(1.0, "EURO"), None);
        assert_eq!(Money::from_decimal(1.0, "€"), None);
        assert_eq!(Money::from_minor(1, "E1R"), None);
    }

    #[test]
    fn exact_amounts_refuse_extra_decimals() {
        assert_eq!(
            Money::from_decimal_exact(49.99, "EUR").map(|m| m.minor()),
            Some(4999)
        );
        assert_eq!(
            Money::from_decimal_exact(50.0, "EUR").map(|m| m.minor()),
            Some(5000)
        );
        assert_eq!(Money::from_decimal_exact(49.999, "EUR"), None);
        assert_eq!(
            Money::from_decimal_exact(59.99, "EUR").map(|m| m.minor()),
            Some(5999)
        );
        assert_eq!(
            Money::from_decimal_exact(123_456_789_012.34, "EUR").map(|m| m.minor()),
            Some(12_345_678_901_234)
        );
        assert_eq!(Money::from_decimal_exact(123_456_789_012.345, "EUR"), None);
        assert_eq!(Money::from_decimal_exact(10.5, "JPY"), None);
    }

    #[test]
    fn remaining_is_floored_at_zero_and_needs_one_currency() {
        assert_eq!(eur(50.0).remaining_after(&eur(37.5)), Some(eur(12.5)));
        assert_eq!(eur(50.0).remaining_after(&eur(80.0)), Some(eur(0.0)));
        let usd = Money::from_decimal(10.0, "USD").unwrap();
        assert_eq!(eur(50.0).remaining_after(&usd), None);
    }

    #[test]
    fn normalizes_currency_codes() {
        assert_eq!(normalize_currency(" eur ").as_deref(), Some("EUR"));
        assert_eq!(normalize_currency("EU"), None);
        assert_eq!(currency_decimals("EUR"), 2);
        assert_eq!(currency_decimals("JPY"), 0);
        assert_eq!(currency_decimals("BHD"), 3);
    }
}
