//! Reading a permission set as a whole: every channel with its default filled in, and
//! which of the server's changes a device takes when the two sides have heard of
//! different changes.

use chrono::DateTime;

use super::{Channel, Permission, PermissionState};

/// The source of a channel's state when nothing was ever recorded for it.
pub const DEFAULT_SOURCE: &str = "default";

/// The permission of a channel nobody has set: subscribed, from [`DEFAULT_SOURCE`], at
/// the Unix epoch, so any recorded change supersedes it.
pub fn default_permission(channel: Channel) -> Permission {
    Permission {
        channel,
        state: PermissionState::Subscribed,
        source: DEFAULT_SOURCE.to_owned(),
        updated_at: DateTime::UNIX_EPOCH,
    }
}

/// Every channel, in [`Channel::ALL`] order: its recorded permission, or the default.
pub fn with_defaults(recorded: &[Permission]) -> Vec<Permission> {
    Channel::ALL
        .into_iter()
        .map(|channel| {
            recorded
                .iter()
                .find(|p| p.channel == channel)
                .cloned()
                .unwrap_or_else(|| default_permission(channel))
        })
        .collect()
}

/// The server's changes the device takes: per channel, the server's latest entry when
/// it supersedes the device's (a channel the device never set takes any entry).
///
/// An entry that only repeats the device's state and source is left out: it is the
/// server's copy of a change the device uploaded, stamped with the server's corrected
/// clock, and taking it would add a change nobody made. A device change the server has
/// not heard of yet is later than what the server holds, so it stays.
pub fn changes_from_server(local: &[Permission], server: &[Permission]) -> Vec<Permission> {
    let mut changes: Vec<Permission> = Vec::new();
    for channel in Channel::ALL {
        let Some(latest) = server
            .iter()
            .filter(|p| p.channel == channel)
            .reduce(|a, b| if b.supersedes(a) { b } else { a })
        else {
            continue;
        };
        let taken = match local.iter().find(|p| p.channel == channel) {
            None => true,
            Some(current) => {
                latest.supersedes(current)
                    && (latest.state, latest.source.as_str())
                        != (current.state, current.source.as_str())
            }
        };
        if taken {
            changes.push(latest.clone());
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};
    use PermissionState::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap()
    }

    fn p(channel: Channel, state: PermissionState, source: &str, seconds: i64) -> Permission {
        Permission {
            channel,
            state,
            source: source.into(),
            updated_at: at(seconds),
        }
    }

    #[test]
    fn every_channel_is_listed_with_its_default_when_never_set() {
        let all = with_defaults(&[p(Channel::Sms, OptedIn, "app", 5)]);
        assert_eq!(
            all.iter().map(|p| p.channel).collect::<Vec<_>>(),
            Channel::ALL.to_vec()
        );
        assert_eq!(all[3], p(Channel::Sms, OptedIn, "app", 5));
        assert_eq!(all[0], p(Channel::Push, Subscribed, DEFAULT_SOURCE, 0));
        assert!(p(Channel::Push, OptedIn, "app", 1).supersedes(&all[0]));
    }

    #[test]
    fn a_later_server_change_wins_and_an_earlier_one_does_not() {
        let local = [
            p(Channel::Email, OptedIn, "app", 100),
            p(Channel::Push, Subscribed, "app", 100),
        ];
        let server = [
            p(Channel::Email, Unsubscribed, "unsubscribe_link", 200),
            // Older than the device's change, which the server has not heard of yet.
            p(Channel::Push, Unsubscribed, "admin", 50),
        ];
        assert_eq!(
            changes_from_server(&local, &server),
            vec![p(Channel::Email, Unsubscribed, "unsubscribe_link", 200)]
        );
    }

    #[test]
    fn channels_the_device_never_set_take_the_server_entry() {
        let server = [p(Channel::Whatsapp, OptedIn, "checkout", 10)];
        assert_eq!(changes_from_server(&[], &server), server.to_vec());
    }

    #[test]
    fn the_echo_of_a_device_change_is_not_a_new_change() {
        let local = [p(Channel::Sms, OptedIn, "app", 100)];
        // The server's corrected clock put the same change a moment later.
        let echo = [p(Channel::Sms, OptedIn, "app", 101)];
        assert!(changes_from_server(&local, &echo).is_empty());
        // The same state from somewhere else is a change worth keeping.
        let renewed = [p(Channel::Sms, OptedIn, "double_opt_in", 101)];
        assert_eq!(changes_from_server(&local, &renewed), renewed.to_vec());
    }

    #[test]
    fn of_several_server_entries_for_a_channel_the_latest_counts() {
        let server = [
            p(Channel::Email, Unsubscribed, "admin", 300),
            p(Channel::Email, OptedIn, "app", 200),
            p(Channel::Email, Subscribed, "admin", 300),
        ];
        // At the same instant the more restrictive state wins, as everywhere.
        assert_eq!(
            changes_from_server(&[], &server),
            vec![p(Channel::Email, Unsubscribed, "admin", 300)]
        );
    }

    #[test]
    fn the_same_document_twice_changes_nothing_the_second_time() {
        let server = [p(Channel::InApp, Unsubscribed, "admin", 10)];
        let first = changes_from_server(&[], &server);
        assert_eq!(first.len(), 1);
        assert!(changes_from_server(&first, &server).is_empty());
    }
}
