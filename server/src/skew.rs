//! Device clock-skew correction.
//!
//! Phones' clocks are often minutes or hours off. The batch carries `sent_at`, the device
//! clock when the request left; the gap between it and the event time is measured on the
//! same (wrong) clock, so it is trustworthy and can be replayed on the server clock.

use chrono::{DateTime, Datelike, TimeDelta, Utc};

/// How far ahead of the server's clock a corrected event time may be: an honest device
/// only gets there when its clock jumped between the event and the upload.
pub const MAX_AHEAD: TimeDelta = TimeDelta::minutes(5);

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

/// `Ok(corrected)` when it is at most [`MAX_AHEAD`] past `received_at`, else
/// `Err(received_at)`: a device cannot claim an event happened after the server got
/// it, and a claim far in the future would otherwise outrank every later change.
pub fn clamp_to_receipt(
    corrected: DateTime<Utc>,
    received_at: DateTime<Utc>,
) -> Result<DateTime<Utc>, DateTime<Utc>> {
    if corrected > received_at + MAX_AHEAD {
        Err(received_at)
    } else {
        Ok(corrected)
    }
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
    fn only_times_well_ahead_of_receipt_are_clamped() {
        let received = at("2024-05-01T10:00:00Z");
        let near = received + MAX_AHEAD;
        assert_eq!(clamp_to_receipt(near, received), Ok(near));
        let past = at("2020-01-01T00:00:00Z");
        assert_eq!(clamp_to_receipt(past, received), Ok(past));
        let far = received + MAX_AHEAD + TimeDelta::milliseconds(1);
        assert_eq!(clamp_to_receipt(far, received), Err(received));
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
