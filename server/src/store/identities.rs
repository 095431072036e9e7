//! An anonymous id becoming a user.
//!
//! Before sign-in a device's events carry only its anonymous id, and what the user did
//! then (an email unsubscribe, the device's time zone) is recorded under that key. The
//! first time an anonymous id shows up with a user id, the user inherits it:
//! - permissions: each channel's current state under the anonymous id is applied to the
//!   user by the usual rule (the later change wins), and recorded in the user's history
//!   with origin `identify`;
//! - profile: time zone, locale, country and traits, each where newer than the user's;
//! - devices and push tokens need nothing: a device follows the user key of its latest
//!   event, so its token goes to the user as soon as the user's events arrive.
//!
//! Only the first user inherits. Another user signing in later on the same install
//! (when the app keeps its anonymous id) must not inherit a choice someone else made,
//! an SMS or WhatsApp opt-in above all. What the install records anonymously after that
//! first sign-in (signed out) stays with the anonymous id.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection};

use super::memberships::sortable_time;
use super::permissions::{self, ChangeOrigin};
use super::{profiles, StoreError};

const LINK: &str = "INSERT INTO anonymous_links (anonymous_id, user_id, linked_at)
    VALUES (?1, ?2, ?3) ON CONFLICT (anonymous_id) DO NOTHING";

/// Device `anonymous_id` was seen signed in as `user_id` at `at`. Returns whether this
/// was its first sign-in, and so whether the user inherited its anonymous state.
pub(super) fn identified(
    conn: &Connection,
    anonymous_id: &str,
    user_id: &str,
    at: DateTime<Utc>,
    recorded_at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    if anonymous_id == user_id {
        return Ok(false);
    }
    let linked =
        conn.prepare_cached(LINK)?
            .execute(params![anonymous_id, user_id, sortable_time(at)])?;
    if linked == 0 {
        return Ok(false);
    }
    let origin = ChangeOrigin::Identify {
        anonymous_id: anonymous_id.to_string(),
    };
    for permission in permissions::current(conn, anonymous_id)? {
        permissions::apply(conn, user_id, &permission, &origin, recorded_at)?;
    }
    profiles::merge(conn, anonymous_id, user_id)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use beckon::consent::{Channel, Permission, PermissionState};
    use chrono::TimeDelta;

    fn at(minute: i64) -> DateTime<Utc> {
        "2025-06-01T12:00:00Z".parse::<DateTime<Utc>>().unwrap() + TimeDelta::minutes(minute)
    }

    fn change(channel: Channel, state: PermissionState, minute: i64) -> Permission {
        Permission {
            channel,
            state,
            source: "app".into(),
            updated_at: at(minute),
        }
    }

    #[test]
    fn only_the_first_user_inherits_and_the_later_change_still_wins() {
        let conn = super::super::migrations::test_database();
        let device = ChangeOrigin::Device {
            event_id: "e".into(),
        };
        for (user, permission) in [
            (
                "anon",
                change(Channel::Email, PermissionState::Unsubscribed, 1),
            ),
            ("anon", change(Channel::Sms, PermissionState::OptedIn, 2)),
            ("alice", change(Channel::Email, PermissionState::OptedIn, 5)),
        ] {
            permissions::apply(&conn, user, &permission, &device, at(10)).unwrap();
        }

        assert!(identified(&conn, "anon", "alice", at(20), at(21)).unwrap());
        let alice = permissions::current(&conn, "alice").unwrap();
        assert_eq!(
            alice,
            [
                change(Channel::Email, PermissionState::OptedIn, 5),
                change(Channel::Sms, PermissionState::OptedIn, 2),
            ],
            "her own later email choice stands; the SMS opt-in comes along"
        );
        let history = permissions::history(&conn, "alice").unwrap();
        let inherited: Vec<(Channel, bool)> = history
            .iter()
            .filter(|c| matches!(c.origin, ChangeOrigin::Identify { .. }))
            .map(|c| (c.permission.channel, c.applied))
            .collect();
        assert_eq!(inherited, [(Channel::Email, false), (Channel::Sms, true)]);

        assert!(!identified(&conn, "anon", "alice", at(30), at(31)).unwrap());
        assert!(!identified(&conn, "anon", "bob", at(40), at(41)).unwrap());
        assert!(permissions::current(&conn, "bob").unwrap().is_empty());
        assert!(!identified(&conn, "same", "same", at(40), at(41)).unwrap());
    }
}
