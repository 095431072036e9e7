//! The checks made when a delivery's instant comes, as plain functions: has it
//! expired, does the user still permit the channel and still have the device, and how
//! long the runner may sleep before the next one is due.

use std::time::Duration;

use beckon::consent::{allows, Channel, PermissionState};
use chrono::{DateTime, TimeDelta, Utc};

use crate::store::{Audience, DueDelivery};

/// A delivery that waited longer than this since it was planned is checked again
/// against the user's permission and devices before it goes. Sooner, the check made
/// when it was planned stands: a device's own change takes about as long to arrive
/// (its upload queue flushes every 30 seconds).
pub const RECHECK_AFTER: TimeDelta = TimeDelta::seconds(60);

/// Whether the delivery can no longer go out (the server was down past its expiry).
pub fn expired(due: &DueDelivery, now: DateTime<Utc>) -> bool {
    due.expires_at.is_some_and(|expiry| now >= expiry)
}

/// Whether the delivery waited long enough since planning to be checked again.
pub fn needs_recheck(due: &DueDelivery, now: DateTime<Utc>) -> bool {
    now - due.planned_at > RECHECK_AFTER
}

/// Why a delivery planned earlier must not go out now, by what the user permits and
/// which devices they have at this moment; `None` when it may go. Planning checked the
/// same when it stored the delivery, but a delivery may wait hours for its instant.
pub fn withdrawn(due: &DueDelivery, audience: &Audience) -> Option<String> {
    let state = audience.state(due.channel);
    if !allows(due.channel, state) {
        let why = match state {
            PermissionState::Subscribed => "subscribed, needs an explicit opt-in".to_owned(),
            other => other.to_string(),
        };
        return Some(format!(
            "{}: not permitted when it was due ({why})",
            due.channel
        ));
    }
    if due.channel == Channel::Push {
        match audience
            .push_targets
            .iter()
            .find(|target| target.token == due.recipient)
        {
            None => return Some("push: the token was removed before it was due".into()),
            Some(target) if !target.os_allows() => {
                return Some("push: notifications were turned off on the device".into())
            }
            Some(_) => {}
        }
    }
    None
}

/// How long to sleep before looking for due deliveries again: until the next one is
/// due, never longer than `longest` (so a clock that jumps is noticed), nothing when
/// one is already due.
pub fn nap(next_due: Option<DateTime<Utc>>, now: DateTime<Utc>, longest: Duration) -> Duration {
    match next_due {
        Some(at) => (at - now).to_std().unwrap_or(Duration::ZERO).min(longest),
        None => longest,
    }
}

#[cfg(test)]
mod tests {
    use beckon::consent::Permission;
    use beckon::protocol::PushProvider;

    use super::*;
    use crate::store::{DeliveryContent, PushTarget};

    fn now() -> DateTime<Utc> {
        "2026-12-24T09:00:00Z".parse().unwrap()
    }

    fn due(channel: Channel) -> DueDelivery {
        DueDelivery {
            id: 1,
            send_id: "s".into(),
            user_key: "ana".into(),
            channel,
            provider: Some(PushProvider::Fcm),
            recipient: "tok".into(),
            message_id: "m".into(),
            deliver_at: now(),
            expires_at: Some(now() + TimeDelta::hours(1)),
            content: DeliveryContent {
                locale: "en".into(),
                title: "t".into(),
                body: "b".into(),
                deep_link: None,
            },
            planned_at: now() - TimeDelta::hours(3),
        }
    }

    fn audience(state: Option<PermissionState>, os: Option<bool>) -> Audience {
        Audience {
            user_key: "ana".into(),
            profile: None,
            permissions: state
                .map(|state| Permission {
                    channel: Channel::Push,
                    state,
                    source: "app".into(),
                    updated_at: now(),
                })
                .into_iter()
                .collect(),
            push_targets: os
                .map(|os| PushTarget {
                    provider: PushProvider::Fcm,
                    token: "tok".into(),
                    anonymous_id: "phone".into(),
                    os_permission: Some(os),
                })
                .into_iter()
                .collect(),
        }
    }

    #[test]
    fn expiry_is_judged_at_the_moment_of_sending() {
        let d = due(Channel::Push);
        assert!(!expired(&d, now()));
        assert!(expired(&d, now() + TimeDelta::hours(1)));
        let forever = DueDelivery {
            expires_at: None,
            ..due(Channel::Push)
        };
        assert!(!expired(&forever, now() + TimeDelta::days(400)));
    }

    #[test]
    fn only_a_delivery_that_waited_is_checked_again() {
        let mut d = due(Channel::Push);
        assert!(needs_recheck(&d, now()), "planned three hours before");
        d.planned_at = now() - TimeDelta::seconds(5);
        assert!(!needs_recheck(&d, now()), "planned moments ago");
        assert!(needs_recheck(&d, now() + RECHECK_AFTER));
    }

    #[test]
    fn a_push_still_permitted_and_reachable_goes_out() {
        assert_eq!(
            withdrawn(&due(Channel::Push), &audience(None, Some(true))),
            None
        );
        assert_eq!(
            withdrawn(
                &due(Channel::Push),
                &audience(Some(PermissionState::OptedIn), Some(true))
            ),
            None
        );
    }

    #[test]
    fn a_change_since_planning_withdraws_the_delivery() {
        let push = due(Channel::Push);
        assert_eq!(
            withdrawn(
                &push,
                &audience(Some(PermissionState::Unsubscribed), Some(true))
            ),
            Some("push: not permitted when it was due (unsubscribed)".into())
        );
        assert_eq!(
            withdrawn(&push, &audience(None, None)),
            Some("push: the token was removed before it was due".into())
        );
        assert_eq!(
            withdrawn(&push, &audience(None, Some(false))),
            Some("push: notifications were turned off on the device".into())
        );
        // SMS needs an explicit opt-in, which a user with nothing set has not given.
        assert_eq!(
            withdrawn(&due(Channel::Sms), &audience(None, None)),
            Some(
                "sms: not permitted when it was due (subscribed, needs an explicit opt-in)".into()
            )
        );
        assert_eq!(withdrawn(&due(Channel::Email), &audience(None, None)), None);
    }

    #[test]
    fn the_runner_sleeps_until_the_next_delivery_within_a_bound() {
        let longest = Duration::from_secs(60);
        assert_eq!(nap(None, now(), longest), longest);
        assert_eq!(
            nap(Some(now() + TimeDelta::seconds(5)), now(), longest),
            Duration::from_secs(5)
        );
        assert_eq!(
            nap(Some(now() + TimeDelta::hours(5)), now(), longest),
            longest
        );
        assert_eq!(
            nap(Some(now() - TimeDelta::seconds(5)), now(), longest),
            Duration::ZERO
        );
    }
}
