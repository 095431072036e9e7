//! Time windows written as `30m`, `24h`, `7d` or `2w`.
//!
//! A window keeps the unit it was written in, so a definition serializes back to the
//! text its author wrote instead of a normalised number of seconds.

use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};

use crate::text::quote;

/// Longest window a rule may use. Devices keep a bounded history, and a year plus a
/// margin covers every "in the last year" rule backend teams asked for.
pub const MAX_WINDOW_DAYS: i64 = 400;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeUnit {
    Minutes,
    Hours,
    Days,
    Weeks,
}

impl TimeUnit {
    fn suffix(self) -> char {
        match self {
            TimeUnit::Minutes => 'm',
            TimeUnit::Hours => 'h',
            TimeUnit::Days => 'd',
            TimeUnit::Weeks => 'w',
        }
    }

    fn seconds(self) -> i64 {
        match self {
            TimeUnit::Minutes => 60,
            TimeUnit::Hours => 3_600,
            TimeUnit::Days => 86_400,
            TimeUnit::Weeks => 7 * 86_400,
        }
    }
}

/// A length of time such as `24h`. Validation (not construction) enforces the range, so
/// every constructor is infallible and evaluation never panics on an unchecked window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    pub amount: u32,
    pub unit: TimeUnit,
}

impl Window {
    pub const fn new(amount: u32, unit: TimeUnit) -> Self {
        Self { amount, unit }
    }
    pub const fn minutes(amount: u32) -> Self {
        Self::new(amount, TimeUnit::Minutes)
    }
    pub const fn hours(amount: u32) -> Self {
        Self::new(amount, TimeUnit::Hours)
    }
    pub const fn days(amount: u32) -> Self {
        Self::new(amount, TimeUnit::Days)
    }
    pub const fn weeks(amount: u32) -> Self {
        Self::new(amount, TimeUnit::Weeks)
    }

    /// Reads `30m`, `24h`, `7d` or `2w`. The range is checked by [`Window::check`].
    pub fn parse(text: &str) -> Result<Self, String> {
        let not_a_duration = || format!("{} is not a duration; use 30m, 24h or 7d", quote(text));
        let unit = match text.chars().last() {
            Some('m') => TimeUnit::Minutes,
            Some('h') => TimeUnit::Hours,
            Some('d') => TimeUnit::Days,
            Some('w') => TimeUnit::Weeks,
            _ => return Err(not_a_duration()),
        };
        let digits = &text[..text.len() - 1];
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(not_a_duration());
        }
        // Digits that overflow u32 are certainly past the limit; say that rather than
        // "not a duration", which would be misleading.
        let amount = digits.parse::<u32>().unwrap_or(u32::MAX);
        Ok(Self::new(amount, unit))
    }

    /// Whether the window is positive and within [`MAX_WINDOW_DAYS`].
    pub fn check(&self) -> Result<(), String> {
        if self.amount == 0 {
            return Err(format!("{:?} must be longer than zero", self.to_string()));
        }
        if self.seconds() > MAX_WINDOW_DAYS * 86_400 {
            return Err(format!(
                "{:?} is longer than the {MAX_WINDOW_DAYS}-day limit",
                self.to_string()
            ));
        }
        Ok(())
    }

    pub fn seconds(&self) -> i64 {
        i64::from(self.amount) * self.unit.seconds()
    }

    pub fn as_delta(&self) -> TimeDelta {
        TimeDelta::try_seconds(self.seconds()).unwrap_or(TimeDelta::MAX)
    }

    /// The latest instant that is *not* inside the window ending at `now`, or `None`
    /// when the window reaches back before any representable time (then everything is
    /// inside). An event is within the window iff its timestamp is strictly after this.
    pub fn boundary(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        now.checked_sub_signed(self.as_delta())
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.amount, self.unit.suffix())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_unit_and_keeps_it() {
        for (text, seconds) in [
            ("30m", 1_800),
            ("24h", 86_400),
            ("7d", 604_800),
            ("2w", 1_209_600),
        ] {
            let w = Window::parse(text).unwrap();
            assert_eq!(w.seconds(), seconds, "{text}");
            assert_eq!(w.to_string(), text);
        }
    }

    #[test]
    fn rejects_text_that_is_not_a_duration_with_the_expected_hint() {
        for text in [
            "3x", "", "d", "7", "-7d", "7 d", " 7d", "7D", "1.5h", "7dd", "٣d",
        ] {
            let err = Window::parse(text).unwrap_err();
            assert_eq!(
                err,
                format!("{text:?} is not a duration; use 30m, 24h or 7d"),
                "{text}"
            );
        }
    }

    #[test]
    fn range_is_positive_and_at_most_400_days() {
        assert_eq!(
            Window::parse("0h").unwrap().check().unwrap_err(),
            "\"0h\" must be longer than zero"
        );
        assert!(Window::days(400).check().is_ok());
        assert!(Window::hours(400 * 24).check().is_ok());
        assert!(Window::minutes(1).check().is_ok());
        assert_eq!(
            Window::days(401).check().unwrap_err(),
            "\"401d\" is longer than the 400-day limit"
        );
        assert!(Window::hours(400 * 24 + 1).check().is_err());
        assert!(Window::weeks(58).check().is_err(), "58w is 406 days");
        let huge = Window::parse("99999999999999999999d").unwrap();
        assert!(huge.check().unwrap_err().contains("400-day limit"));
    }

    #[test]
    fn boundary_never_panics_even_for_unchecked_windows() {
        let now = DateTime::<Utc>::MIN_UTC + TimeDelta::days(1);
        assert_eq!(Window::weeks(u32::MAX).boundary(now), None);
        assert_eq!(Window::days(2).boundary(now), None);
        assert_eq!(
            Window::hours(1).boundary(now),
            Some(now - TimeDelta::hours(1))
        );
    }
}
