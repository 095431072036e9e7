//! When a send goes out: now, at an instant, or at a wall-clock time in each user's own
//! zone; the quiet hours during which nothing is delivered; when an undelivered message
//! is dropped. Plain values and their text forms; the time-zone arithmetic is in
//! `local_time`.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, NaiveTime, TimeDelta, Utc};
use serde::Serialize;

/// When a send is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// As soon as the send is created.
    Now,
    /// At one instant for everyone.
    At(DateTime<Utc>),
    /// At this wall-clock time in each user's own zone.
    Local(NaiveDateTime),
}

/// A daily period, in the user's zone, during which nothing is delivered. `start` is
/// inclusive, `end` exclusive; when `end` is not after `start` the period crosses
/// midnight (`21:00`–`08:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct QuietHours {
    start: NaiveTime,
    end: NaiveTime,
}

impl QuietHours {
    /// Refuses an empty period (`start` = `end`): it would mean either never or always.
    pub fn new(start: NaiveTime, end: NaiveTime) -> Result<QuietHours, String> {
        if start == end {
            return Err(format!(
                "start and end are both {}; quiet hours need a period, such as 21:00 to 08:00",
                start.format("%H:%M")
            ));
        }
        Ok(QuietHours { start, end })
    }

    pub fn start(&self) -> NaiveTime {
        self.start
    }

    pub fn end(&self) -> NaiveTime {
        self.end
    }

    pub fn crosses_midnight(&self) -> bool {
        self.end < self.start
    }

    /// Whether a wall-clock time falls inside the period.
    pub fn contains(&self, time: NaiveTime) -> bool {
        if self.crosses_midnight() {
            time >= self.start || time < self.end
        } else {
            time >= self.start && time < self.end
        }
    }
}

/// When an undelivered message is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expiry {
    /// At one instant for everyone.
    At(DateTime<Utc>),
    /// This long after the user's scheduled instant (before quiet hours move it), so a
    /// local-time send expires at the same wall-clock time everywhere.
    #[serde(serialize_with = "seconds")]
    After(Duration),
}

impl Expiry {
    /// The instant at and after which a message scheduled for `scheduled_for` is dropped.
    pub fn deadline(&self, scheduled_for: DateTime<Utc>) -> DateTime<Utc> {
        match *self {
            Expiry::At(at) => at,
            Expiry::After(ttl) => {
                let ttl = TimeDelta::from_std(ttl).unwrap_or(TimeDelta::MAX);
                scheduled_for
                    .checked_add_signed(ttl)
                    .unwrap_or(DateTime::<Utc>::MAX_UTC)
            }
        }
    }
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_secs())
}

/// A wall-clock time of day, `HH:MM` (24-hour, two digits each).
pub fn parse_clock(text: &str) -> Result<NaiveTime, String> {
    let well_formed = text.len() == 5
        && text.as_bytes()[2] == b':'
        && text
            .bytes()
            .enumerate()
            .all(|(i, b)| i == 2 || b.is_ascii_digit());
    well_formed
        .then(|| NaiveTime::parse_from_str(text, "%H:%M").ok())
        .flatten()
        .ok_or_else(|| format!("\"{text}\" is not a time of day such as 08:00 or 21:30"))
}

/// A wall-clock date and time without zone, `YYYY-MM-DDTHH:MM` (seconds allowed).
pub fn parse_local(text: &str) -> Result<NaiveDateTime, String> {
    let bad = || {
        format!(
            "\"{text}\" is not a local date and time such as 2026-12-24T09:00 \
             (no offset or Z: it is read in each user's own zone)"
        )
    };
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .ok_or_else(bad)
}

/// An instant in RFC 3339 form; an offset is converted to UTC.
pub fn parse_instant(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.to_utc())
        .map_err(|_| format!("\"{text}\" is not an RFC 3339 time such as 2026-12-24T09:00:00Z"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock(text: &str) -> NaiveTime {
        parse_clock(text).unwrap()
    }

    #[test]
    fn quiet_hours_within_a_day() {
        let q = QuietHours::new(clock("13:00"), clock("15:30")).unwrap();
        assert!(!q.crosses_midnight());
        assert!(!q.contains(clock("12:59")));
        assert!(q.contains(clock("13:00")));
        assert!(q.contains(clock("15:29")));
        assert!(!q.contains(clock("15:30")), "the end is not quiet");
    }

    #[test]
    fn quiet_hours_across_midnight() {
        let q = QuietHours::new(clock("21:00"), clock("08:00")).unwrap();
        assert!(q.crosses_midnight());
        for quiet in ["21:00", "23:59", "00:00", "03:00", "07:59"] {
            assert!(q.contains(clock(quiet)), "{quiet}");
        }
        for awake in ["08:00", "12:00", "20:59"] {
            assert!(!q.contains(clock(awake)), "{awake}");
        }
    }

    #[test]
    fn empty_quiet_hours_are_refused() {
        let err = QuietHours::new(clock("08:00"), clock("08:00")).unwrap_err();
        assert!(err.contains("both 08:00"), "{err}");
    }

    #[test]
    fn clock_times_are_strict() {
        assert_eq!(clock("00:00"), NaiveTime::MIN);
        assert_eq!(clock("23:59"), NaiveTime::from_hms_opt(23, 59, 0).unwrap());
        for bad in [
            "24:00", "8:00", "08:0", "08:60", "0800", "08:00:00", "8h", "", "ab:cd",
        ] {
            let err = parse_clock(bad).unwrap_err();
            assert!(err.contains("is not a time of day"), "{bad}: {err}");
        }
    }

    #[test]
    fn local_times_have_no_offset() {
        let t = parse_local("2026-12-24T09:00").unwrap();
        assert_eq!(t.to_string(), "2026-12-24 09:00:00");
        assert_eq!(
            parse_local("2026-12-24T09:00:30").unwrap().to_string(),
            "2026-12-24 09:00:30"
        );
        for bad in [
            "2026-12-24T09:00Z",
            "2026-12-24T09:00:00+01:00",
            "2026-12-24",
            "2026-02-30T09:00",
            "24/12/2026 09:00",
        ] {
            let err = parse_local(bad).unwrap_err();
            assert!(err.contains("no offset or Z"), "{bad}: {err}");
        }
    }

    #[test]
    fn instants_are_rfc3339_and_end_up_in_utc() {
        assert_eq!(
            parse_instant("2026-12-24T09:00:00+01:00").unwrap(),
            parse_instant("2026-12-24T08:00:00Z").unwrap()
        );
        for bad in ["2026-12-24T09:00", "2026-12-24", "tomorrow"] {
            assert!(
                parse_instant(bad).unwrap_err().contains("RFC 3339"),
                "{bad}"
            );
        }
    }

    #[test]
    fn expiry_deadlines() {
        let t = parse_instant("2026-12-24T09:00:00Z").unwrap();
        assert_eq!(
            Expiry::After(Duration::from_secs(7200)).deadline(t),
            parse_instant("2026-12-24T11:00:00Z").unwrap()
        );
        let fixed = parse_instant("2026-12-25T00:00:00Z").unwrap();
        assert_eq!(Expiry::At(fixed).deadline(t), fixed);
        assert_eq!(
            Expiry::After(Duration::MAX).deadline(t),
            DateTime::<Utc>::MAX_UTC
        );
    }
}
