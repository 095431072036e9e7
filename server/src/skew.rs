//! Device clock-skew correction.
//!
//! Phones' clocks are often minutes or hours off. The batch carries `sent_at`, the device
//! clock when the request left; the gap between it and the event time is measured on the
//! same (wrong) clock, so it is trustworthy and can be replayed on the server clock.

use chrono::{DateTime, Datelike, Utc};

/// `received_at − (sent_at − event_time)`: the event time on the server clock.
///
/// Network transit time is ignored (it is small next to typical skew). `None` when the
/// result falls outside years 1–9999, which only absurd device clocks produce and which
/// RFC 3339 timestamps cannot express.
pub fn corrected_timestamp(
    event_time: DateTime<Utc>,
    sent_at: DateTime<Utc>,
    received_at: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let age = sent_at.signed_duration_since(event_time);
    let corrected = received_at.checked_sub_signed(age)?;
    (1..=9999).contains(&corrected.year()).then_some(corrected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_device_clock_one_hour_behind_is_moved_forward() {
        let corrected = corrected_timestamp(
            at("2024-05-01T09:55:00Z"),
            at("2024-05-01T10:00:00Z"),
            at("2024-05-01T11:00:00Z"),
        );
        assert_eq!(corrected, Some(at("2024-05-01T10:55:00Z")));
    }

    #[test]
    fn a_device_clock_ahead_is_moved_back_keeping_sub_second_precision() {
        let corrected = corrected_timestamp(
            at("2030-01-01T00:00:00.250Z"),
            at("2030-01-01T00:00:01Z"),
            at("2024-05-01T12:00:00Z"),
        );
        assert_eq!(corrected, Some(at("2024-05-01T11:59:59.250Z")));
    }

    #[test]
    fn a_correct_clock_keeps_the_event_time() {
        let t = at("2024-05-01T10:00:00.123456Z");
        let sent = t + TimeDelta::seconds(30);
        assert_eq!(corrected_timestamp(t, sent, sent), Some(t));
    }

    #[test]
    fn an_event_stamped_after_sent_at_stays_after_received_at() {
        // Should not happen, but the arithmetic must stay consistent rather than clamp.
        let corrected = corrected_timestamp(
            at("2024-05-01T10:00:10Z"),
            at("2024-05-01T10:00:00Z"),
            at("2024-05-01T10:00:00Z"),
        );
        assert_eq!(corrected, Some(at("2024-05-01T10:00:10Z")));
    }

    #[test]
    fn results_outside_rfc3339_years_are_refused() {
        let far = corrected_timestamp(
            at("9999-01-01T00:00:00Z"),
            at("0001-01-01T00:00:00Z"),
            at("2024-05-01T10:00:00Z"),
        );
        assert_eq!(far, None);
        let before = corrected_timestamp(
            at("0001-01-01T00:00:00Z"),
            at("9999-01-01T00:00:00Z"),
            at("2024-05-01T10:00:00Z"),
        );
        assert_eq!(before, None);
    }
}
