//! Each user's delivery instant: the send's schedule read in the user's own zone, then
//! moved out of the quiet hours.
//!
//! A wall-clock time is read as the first instant at which the user's clock shows that
//! time or later:
//! - in a DST gap (02:30 on a day the clock jumps from 02:00 to 03:00) that is the end
//!   of the gap, 03:00 the new time;
//! - in a DST overlap (01:30 on a day the clock goes back from 02:00 to 01:00) that is
//!   the first of the two 01:30s.
//!
//! The user's zone is the IANA name their device reported. When it is missing or not a
//! zone this build knows, the main zone of their country is used, and without a known
//! country, UTC ([`ZoneSource`] says which).

use chrono::offset::LocalResult;
use chrono::{DateTime, NaiveDateTime, TimeDelta, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::country_zone::main_zone;
use super::schedule::{QuietHours, Schedule};

/// Where a user's zone came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ZoneSource {
    /// The zone the device reported.
    Device,
    /// The main zone of the country the device reported.
    Country,
    /// Nothing usable was known.
    Utc,
}

/// The zone a user's wall-clock times are read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct UserZone {
    #[serde(serialize_with = "zone_name")]
    pub tz: Tz,
    pub source: ZoneSource,
}

fn zone_name<S: serde::Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(tz.name())
}

/// The user's zone from what their device reported: the IANA zone if known, else the
/// main zone of the ISO 3166-1 country, else UTC.
pub fn user_zone(time_zone: Option<&str>, country: Option<&str>) -> UserZone {
    if let Some(tz) = time_zone.and_then(|name| name.trim().parse::<Tz>().ok()) {
        return UserZone {
            tz,
            source: ZoneSource::Device,
        };
    }
    match country.and_then(main_zone) {
        Some(tz) => UserZone {
            tz,
            source: ZoneSource::Country,
        },
        None => UserZone {
            tz: Tz::UTC,
            source: ZoneSource::Utc,
        },
    }
}

/// The first instant at which a clock in `tz` shows `local` or later.
pub fn first_instant_at(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.to_utc(),
        LocalResult::None => end_of_gap(tz, local),
    }
}

/// The instant the clock jumps to over the gap `local` falls in. Real gaps last at most
/// a day (Pacific/Kiritimati skipped 31 December 1994), so the first wall-clock time
/// that exists again lies within two days; it is found to the second.
fn end_of_gap(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    // Transitions fall on whole seconds: search whole seconds after `local`.
    let start = local.with_nanosecond(0).unwrap_or(local);
    let at = |seconds: i64| start + TimeDelta::seconds(seconds);
    let exists = |seconds: i64| !matches!(tz.from_local_datetime(&at(seconds)), LocalResult::None);
    let (mut missing, mut present) = (0_i64, 2 * 24 * 3600);
    if !exists(present) {
        // No real zone has such a gap; read the time as UTC rather than fail.
        return local.and_utc();
    }
    while present - missing > 1 {
        let middle = missing + (present - missing) / 2;
        if exists(middle) {
            present = middle;
        } else {
            missing = middle;
        }
    }
    match tz.from_local_datetime(&at(present)) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.to_utc(),
        LocalResult::None => local.and_utc(),
    }
}

/// The instant a schedule names for a user in `tz`; `created_at` for a send to go now.
pub fn scheduled_instant(schedule: &Schedule, created_at: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
    match *schedule {
        Schedule::Now => created_at,
        Schedule::At(at) => at,
        Schedule::Local(local) => first_instant_at(tz, local),
    }
}

/// When the quiet period `at` falls in ends, in `tz`; `None` when `at` is not quiet.
pub fn quiet_until(quiet: &QuietHours, tz: Tz, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let local = at.with_timezone(&tz).naive_local();
    let time = local.time();
    if !quiet.contains(time) {
        return None;
    }
    let end_date = if quiet.crosses_midnight() && time >= quiet.start() {
        local.date().succ_opt()?
    } else {
        local.date()
    };
    let end_local = end_date.and_time(quiet.end());
    let end = first_instant_at(tz, end_local);
    if end > at {
        return Some(end);
    }
    // `at` is in the second pass of a repeated hour, after the first pass of the end
    // time: the period ends when the clock shows that time again.
    match tz.from_local_datetime(&end_local) {
        LocalResult::Ambiguous(_, second) if second.to_utc() > at => Some(second.to_utc()),
        _ => Some(at),
    }
}

/// A user's delivery time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Timing {
    /// The instant the schedule names for this user (what a ttl counts from).
    pub scheduled_for: DateTime<Utc>,
    /// When to deliver: the scheduled instant, or now if that has passed, moved to the
    /// end of the quiet hours if it falls inside them.
    pub deliver_at: DateTime<Utc>,
    pub held_by_quiet_hours: bool,
}

/// When to deliver to a user in `tz`. A scheduled instant already past means now: the
/// send's expiry decides whether a late message is still worth sending.
pub fn delivery_time(
    scheduled_for: DateTime<Utc>,
    quiet: Option<&QuietHours>,
    tz: Tz,
    now: DateTime<Utc>,
) -> Timing {
    let earliest = scheduled_for.max(now);
    let held = quiet.and_then(|q| quiet_until(q, tz, earliest));
    Timing {
        scheduled_for,
        deliver_at: held.unwrap_or(earliest),
        held_by_quiet_hours: held.is_some(),
    }
}

#[cfg(test)]
mod tests {
    use chrono_tz::America::{New_York, Sao_Paulo};
    use chrono_tz::Asia::Kolkata;
    use chrono_tz::Europe::Lisbon;
    use chrono_tz::Pacific::Kiritimati;

    use super::super::schedule::{parse_clock, parse_local};
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    fn local(text: &str) -> NaiveDateTime {
        parse_local(text).unwrap()
    }

    fn quiet(start: &str, end: &str) -> QuietHours {
        QuietHours::new(parse_clock(start).unwrap(), parse_clock(end).unwrap()).unwrap()
    }

    #[test]
    fn the_device_zone_wins_then_the_country_then_utc() {
        let zone = |tz, country| {
            let z = user_zone(tz, country);
            (z.tz.name(), z.source)
        };
        assert_eq!(
            zone(Some("America/Sao_Paulo"), Some("PT")),
            ("America/Sao_Paulo", ZoneSource::Device)
        );
        assert_eq!(
            zone(Some(" Asia/Kolkata "), None),
            ("Asia/Kolkata", ZoneSource::Device)
        );
        assert_eq!(
            zone(Some("Mars/Olympus_Mons"), Some("br")),
            ("America/Sao_Paulo", ZoneSource::Country)
        );
        assert_eq!(
            zone(None, Some("PT")),
            ("Europe/Lisbon", ZoneSource::Country)
        );
        assert_eq!(zone(Some(""), Some("ZZ")), ("UTC", ZoneSource::Utc));
        assert_eq!(zone(None, None), ("UTC", ZoneSource::Utc));
    }

    #[test]
    fn ordinary_local_times_in_real_zones() {
        let cases = [
            (Lisbon, "2026-12-24T09:00", "2026-12-24T09:00:00Z"),
            (Lisbon, "2026-07-24T09:00", "2026-07-24T08:00:00Z"),
            (Sao_Paulo, "2026-12-24T09:00", "2026-12-24T12:00:00Z"),
            (Kolkata, "2026-12-24T09:00", "2026-12-24T03:30:00Z"),
            (Kiritimati, "2026-12-24T09:00", "2026-12-23T19:00:00Z"),
            (New_York, "2026-12-24T09:00", "2026-12-24T14:00:00Z"),
        ];
        for (tz, wall, expected) in cases {
            assert_eq!(
                first_instant_at(tz, local(wall)),
                utc(expected),
                "{tz} {wall}"
            );
        }
    }

    #[test]
    fn nine_oclock_on_dst_days_is_nine_oclock_local() {
        // New York springs forward on 8 March 2026 and falls back on 1 November 2026.
        assert_eq!(
            first_instant_at(New_York, local("2026-03-08T09:00")),
            utc("2026-03-08T13:00:00Z")
        );
        assert_eq!(
            first_instant_at(New_York, local("2026-11-01T09:00")),
            utc("2026-11-01T14:00:00Z")
        );
        // Lisbon springs forward on 29 March 2026, at 01:00.
        assert_eq!(
            first_instant_at(Lisbon, local("2026-03-29T09:00")),
            utc("2026-03-29T08:00:00Z")
        );
    }

    #[test]
    fn a_time_inside_a_gap_is_when_the_clock_jumps_past_it() {
        // 02:00–03:00 does not exist in New York on 8 March 2026.
        let jump = utc("2026-03-08T07:00:00Z");
        for wall in [
            "2026-03-08T02:00",
            "2026-03-08T02:30",
            "2026-03-08T02:59:59",
        ] {
            assert_eq!(first_instant_at(New_York, local(wall)), jump, "{wall}");
        }
        assert_eq!(
            jump.with_timezone(&New_York).to_rfc3339(),
            "2026-03-08T03:00:00-04:00"
        );
        assert_eq!(
            first_instant_at(New_York, local("2026-03-08T03:00")),
            jump,
            "the end of the gap is itself"
        );
        // Lisbon: 01:00–02:00 does not exist on 29 March 2026.
        assert_eq!(
            first_instant_at(Lisbon, local("2026-03-29T01:15")),
            utc("2026-03-29T01:00:00Z")
        );
    }

    #[test]
    fn a_whole_missing_day_moves_to_the_next_midnight() {
        // Kiritimati went from UTC−10 to UTC+14 and skipped 31 December 1994.
        let new_year = utc("1994-12-31T10:00:00Z");
        assert_eq!(
            new_year.with_timezone(&Kiritimati).to_rfc3339(),
            "1995-01-01T00:00:00+14:00"
        );
        assert_eq!(
            first_instant_at(Kiritimati, local("1994-12-31T09:00")),
            new_year
        );
        assert_eq!(
            first_instant_at(Kiritimati, local("1994-12-30T09:00")),
            utc("1994-12-30T19:00:00Z")
        );
    }

    #[test]
    fn a_time_inside_an_overlap_takes_the_first() {
        // New York repeats 01:00–02:00 on 1 November 2026: EDT first, then EST.
        assert_eq!(
            first_instant_at(New_York, local("2026-11-01T01:30")),
            utc("2026-11-01T05:30:00Z")
        );
        // São Paulo has had no DST since 2019; in February 2018 it repeated 23:00–00:00.
        assert_eq!(
            first_instant_at(Sao_Paulo, local("2018-02-17T23:30")),
            utc("2018-02-18T01:30:00Z")
        );
    }

    #[test]
    fn quiet_hours_across_midnight_move_the_delivery_to_the_morning() {
        let q = quiet("21:00", "08:00");
        // 22:00 in Lisbon on 24 December → 08:00 on the 25th.
        let t = delivery_time(
            utc("2026-12-24T22:00:00Z"),
            Some(&q),
            Lisbon,
            utc("2026-12-24T00:00:00Z"),
        );
        assert_eq!(t.deliver_at, utc("2026-12-25T08:00:00Z"));
        assert!(t.held_by_quiet_hours);
        assert_eq!(t.scheduled_for, utc("2026-12-24T22:00:00Z"));
        // 03:00 in Kolkata → 08:00 the same day.
        let at_3 = utc("2026-12-23T21:30:00Z");
        assert_eq!(
            quiet_until(&q, Kolkata, at_3),
            Some(utc("2026-12-24T02:30:00Z"))
        );
        // 20:59 and 08:00 are not quiet.
        assert_eq!(quiet_until(&q, Lisbon, utc("2026-12-24T20:59:00Z")), None);
        assert_eq!(quiet_until(&q, Lisbon, utc("2026-12-24T08:00:00Z")), None);
        let t = delivery_time(
            utc("2026-12-24T08:00:00Z"),
            Some(&q),
            Lisbon,
            utc("2026-12-24T00:00:00Z"),
        );
        assert_eq!(t.deliver_at, utc("2026-12-24T08:00:00Z"));
        assert!(!t.held_by_quiet_hours);
    }

    #[test]
    fn quiet_hours_within_the_day() {
        let q = quiet("12:00", "14:00");
        assert_eq!(
            quiet_until(&q, Sao_Paulo, utc("2026-06-10T15:30:00Z")),
            Some(utc("2026-06-10T17:00:00Z"))
        );
        assert_eq!(
            quiet_until(&q, Sao_Paulo, utc("2026-06-10T17:00:00Z")),
            None
        );
    }

    #[test]
    fn quiet_hours_end_on_a_dst_morning() {
        let q = quiet("22:00", "02:30");
        // 23:00 EST on 7 March 2026; 02:30 the next morning does not exist: the clock
        // jumps from 02:00 to 03:00 EDT, and the quiet period is over then.
        assert_eq!(
            quiet_until(&q, New_York, utc("2026-03-08T04:00:00Z")),
            Some(utc("2026-03-08T07:00:00Z"))
        );
        // On 1 November 01:30 happens twice; a delivery in the first 01:10 waits for the
        // first 01:30...
        let q = quiet("22:00", "01:30");
        assert_eq!(
            quiet_until(&q, New_York, utc("2026-11-01T05:10:00Z")),
            Some(utc("2026-11-01T05:30:00Z"))
        );
        // ...and one in the second 01:10 (EST, after the first 01:30) for the second.
        assert_eq!(
            quiet_until(&q, New_York, utc("2026-11-01T06:10:00Z")),
            Some(utc("2026-11-01T06:30:00Z"))
        );
    }

    #[test]
    fn quiet_hours_are_read_in_each_users_zone() {
        let q = quiet("21:00", "08:00");
        let instant = utc("2026-12-24T23:00:00Z");
        // 23:00 in Lisbon (quiet), 20:00 in São Paulo (awake), 04:30 in Kolkata (quiet),
        // 13:00 on the 25th in Kiritimati (awake).
        assert_eq!(
            quiet_until(&q, Lisbon, instant),
            Some(utc("2026-12-25T08:00:00Z"))
        );
        assert_eq!(quiet_until(&q, Sao_Paulo, instant), None);
        assert_eq!(
            quiet_until(&q, Kolkata, instant),
            Some(utc("2026-12-25T02:30:00Z"))
        );
        assert_eq!(quiet_until(&q, Kiritimati, instant), None);
    }

    #[test]
    fn a_local_schedule_lands_at_each_users_nine_oclock() {
        let schedule = Schedule::Local(local("2026-12-24T09:00"));
        let created = utc("2026-12-01T00:00:00Z");
        assert_eq!(
            scheduled_instant(&schedule, created, Lisbon),
            utc("2026-12-24T09:00:00Z")
        );
        assert_eq!(
            scheduled_instant(&schedule, created, Kolkata),
            utc("2026-12-24T03:30:00Z")
        );
        assert_eq!(scheduled_instant(&Schedule::Now, created, Kolkata), created);
        let at = utc("2026-12-24T12:00:00Z");
        assert_eq!(scheduled_instant(&Schedule::At(at), created, Kolkata), at);
    }

    #[test]
    fn a_time_already_past_means_now() {
        let now = utc("2026-12-24T10:00:00Z");
        let t = delivery_time(utc("2026-12-24T09:00:00Z"), None, Lisbon, now);
        assert_eq!(t.deliver_at, now);
        assert_eq!(t.scheduled_for, utc("2026-12-24T09:00:00Z"));
        // ...and now may itself be quiet.
        let q = quiet("09:30", "11:00");
        let t = delivery_time(utc("2026-12-24T09:00:00Z"), Some(&q), Lisbon, now);
        assert_eq!(t.deliver_at, utc("2026-12-24T11:00:00Z"));
        assert!(t.held_by_quiet_hours);
    }
}
