//! The events export's `cursor` and `limit` query parameters.

use std::fmt;

use beckon::text::quote;

/// Events returned when the client gives no `limit`.
pub const DEFAULT_LIMIT: usize = 1000;
/// Largest `limit` a client may ask for.
pub const MAX_LIMIT: usize = 10_000;

/// A position in the event log: export returns the events stored after it.
///
/// Clients treat it as opaque. It is the store's last returned row id, which only grows
/// and is never reused, so a cursor stays valid across restarts and never skips or
/// repeats an event. `0` is the start of the log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cursor(pub u64);

impl Cursor {
    /// Only the canonical form (what [`Display`](fmt::Display) writes) is accepted, so the
    /// cursor echoed back at the end of the log is byte-for-byte the one given.
    pub fn parse(text: &str) -> Result<Self, String> {
        let canonical = !text.is_empty()
            && text.len() <= 19
            && text.bytes().all(|b| b.is_ascii_digit())
            && (text == "0" || !text.starts_with('0'));
        let seq = canonical
            .then(|| text.parse::<u64>().ok())
            .flatten()
            .filter(|seq| i64::try_from(*seq).is_ok());
        seq.map(Cursor)
            .ok_or_else(|| format!("cursor {} is not one this server issued", quote(text)))
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Reads `limit`: absent means [`DEFAULT_LIMIT`]; otherwise 1..=[`MAX_LIMIT`].
pub fn parse_limit(text: Option<&str>) -> Result<usize, String> {
    let Some(text) = text else {
        return Ok(DEFAULT_LIMIT);
    };
    let invalid = || {
        format!(
            "limit must be a whole number from 1 to {MAX_LIMIT}, got {}",
            quote(text)
        )
    };
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    match text.parse::<usize>() {
        Ok(limit) if (1..=MAX_LIMIT).contains(&limit) => Ok(limit),
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_through_their_text() {
        for seq in [0, 1, 42, i64::MAX as u64] {
            let text = Cursor(seq).to_string();
            assert_eq!(Cursor::parse(&text), Ok(Cursor(seq)));
        }
    }

    #[test]
    fn rejects_non_canonical_or_out_of_range_cursors() {
        for bad in [
            "",
            " 1",
            "1 ",
            "+1",
            "-1",
            "01",
            "00",
            "1e3",
            "abc",
            "9223372036854775808",
            "99999999999999999999",
        ] {
            assert!(Cursor::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn limit_defaults_and_bounds() {
        assert_eq!(parse_limit(None), Ok(DEFAULT_LIMIT));
        assert_eq!(parse_limit(Some("1")), Ok(1));
        assert_eq!(parse_limit(Some("10000")), Ok(MAX_LIMIT));
        for bad in [
            "",
            "0",
            "10001",
            "-5",
            "+5",
            "2.5",
            "ten",
            "99999999999999999999999",
        ] {
            assert!(parse_limit(Some(bad)).is_err(), "{bad:?} accepted");
        }
    }
}
