//! The server's clock as the device sees it. Promo expiry is the server's instant, and
//! device clocks are wrong often enough (set by hand, set back to stretch a trial) that
//! the SDK judges it on the device clock corrected by the offset it last measured from
//! the `Date` header of the server's answers.

use chrono::{DateTime, TimeDelta, Utc};

/// Server time minus device time, in milliseconds, from an HTTP `Date` header
/// (`Sun, 06 Nov 1994 08:49:37 GMT`) read at `received_at` on the device clock.
/// `None` when the header is not a date.
///
/// The header has whole seconds and was written before the answer travelled, so the
/// server's time on arrival is taken as the middle of that second; the estimate is good
/// to about a second plus the answer's travel time, plenty for expiries.
pub fn server_offset_ms(date_header: &str, received_at: DateTime<Utc>) -> Option<i64> {
    let sent = DateTime::parse_from_rfc2822(date_header.trim()).ok()?;
    let server_now = sent.to_utc() + TimeDelta::milliseconds(500);
    Some((server_now - received_at).num_milliseconds())
}

/// The device clock corrected by a measured offset; the device clock as it is when
/// none was measured yet. An offset too large to apply leaves the device clock.
pub fn corrected_now(device_now: DateTime<Utc>, offset_ms: Option<i64>) -> DateTime<Utc> {
    offset_ms
        .and_then(TimeDelta::try_milliseconds)
        .and_then(|offset| device_now.checked_add_signed(offset))
        .unwrap_or(device_now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn measures_the_offset_from_a_date_header() {
        let device = at("2026-11-20T10:00:00.200Z");
        // The server is two days ahead.
        assert_eq!(
            server_offset_ms("Sun, 22 Nov 2026 10:00:00 GMT", device),
            Some(2 * 86_400_000 + 300)
        );
        // The server is behind.
        assert_eq!(
            server_offset_ms(" Fri, 20 Nov 2026 09:59:00 GMT ", device),
            Some(-60_000 + 300)
        );
        for broken in [
            "",
            "yesterday",
            "2026-11-20T10:00:00Z",
            "Sun, 99 Nov 2026 10:00:00 GMT",
        ] {
            assert_eq!(server_offset_ms(broken, device), None, "{broken}");
        }
    }

    #[test]
    fn corrects_the_device_clock() {
        let device = at("2026-11-20T10:00:00Z");
        assert_eq!(corrected_now(device, None), device);
        assert_eq!(
            corrected_now(device, Some(-3_600_000)),
            at("2026-11-20T09:00:00Z")
        );
        assert_eq!(corrected_now(device, Some(i64::MAX)), device);
    }
}
