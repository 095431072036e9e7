//! Channel permissions, the pure core shared by the SDK and the server: which channels
//! exist, the state a user gave each one, and the one rule deciding whether a channel
//! may be used (DESIGN.md, "Consent first").
//!
//! Both sides keep the latest change per channel and a history of every change. A
//! change carries its time; the later change wins wherever it is applied, so the device
//! and the server converge whichever order they hear of changes in.

mod merge;
mod profile;
mod token;

pub use merge::{changes_from_server, default_permission, with_defaults, DEFAULT_SOURCE};
pub use profile::{check_country, check_time_zone};
pub use token::{check_push_token, PushProvider, MAX_PUSH_TOKEN_BYTES, MIN_APNS_TOKEN_HEX};

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::common::FieldError;
use crate::text::quote;

/// A way of reaching the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Push,
    InApp,
    Email,
    Sms,
    Whatsapp,
}

impl Channel {
    /// Every channel, in the default order of preference for a send.
    pub const ALL: [Channel; 5] = [
        Channel::Push,
        Channel::InApp,
        Channel::Email,
        Channel::Sms,
        Channel::Whatsapp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Push => "push",
            Channel::InApp => "in_app",
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Whatsapp => "whatsapp",
        }
    }

    /// SMS and WhatsApp may only be used after an explicit opt-in (consent law for
    /// those channels); the others may be used until the user unsubscribes.
    pub fn needs_explicit_opt_in(self) -> bool {
        matches!(self, Channel::Sms | Channel::Whatsapp)
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Channel {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Channel::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownName::new("channel", s, Channel::ALL.map(Channel::as_str)))
    }
}

/// What the user said about a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum PermissionState {
    /// Nothing explicit: the default for every channel.
    Subscribed,
    /// The user explicitly agreed.
    OptedIn,
    /// The user said no.
    Unsubscribed,
}

impl PermissionState {
    pub const ALL: [PermissionState; 3] = [
        PermissionState::Subscribed,
        PermissionState::OptedIn,
        PermissionState::Unsubscribed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PermissionState::Subscribed => "subscribed",
            PermissionState::OptedIn => "opted_in",
            PermissionState::Unsubscribed => "unsubscribed",
        }
    }
}

impl fmt::Display for PermissionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PermissionState {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PermissionState::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                UnknownName::new(
                    "state",
                    s,
                    PermissionState::ALL.map(PermissionState::as_str),
                )
            })
    }
}

/// The latest state of one channel, with who set it and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permission {
    pub channel: Channel,
    pub state: PermissionState,
    /// Where the change came from: `app`, `server`, `unsubscribe_link`...
    pub source: String,
    pub updated_at: DateTime<Utc>,
}

impl Permission {
    /// Whether `self` replaces `current`: the later change wins; at the same instant the
    /// more restrictive state wins, so a tie can never re-enable a channel.
    pub fn supersedes(&self, current: &Permission) -> bool {
        (self.updated_at, restrictiveness(self.state))
            > (current.updated_at, restrictiveness(current.state))
    }
}

fn restrictiveness(state: PermissionState) -> u8 {
    match state {
        PermissionState::OptedIn => 0,
        PermissionState::Subscribed => 1,
        PermissionState::Unsubscribed => 2,
    }
}

/// Whether a channel in `state` may carry a message. Push additionally needs the OS
/// permission and a live token, which the caller checks.
pub fn allows(channel: Channel, state: PermissionState) -> bool {
    match state {
        PermissionState::OptedIn => true,
        PermissionState::Subscribed => !channel.needs_explicit_opt_in(),
        PermissionState::Unsubscribed => false,
    }
}

/// The state of `channel` among `permissions`: the default when none is recorded.
pub fn state_of(permissions: &[Permission], channel: Channel) -> PermissionState {
    permissions
        .iter()
        .find(|p| p.channel == channel)
        .map_or(PermissionState::Subscribed, |p| p.state)
}

/// Longest [`Permission::source`], in bytes.
pub const MAX_SOURCE_BYTES: usize = 64;

/// Checks where a change says it came from: a short machine-readable name such as
/// `app`, `settings_screen` or `checkout.v2`, kept in the history and sent to the server.
pub fn check_source(source: &str) -> Result<(), FieldError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':');
    if source.is_empty() || source.len() > MAX_SOURCE_BYTES || !source.chars().all(allowed) {
        return Err(FieldError::new(
            "source",
            format!(
                "{} is not a source name: 1 to {MAX_SOURCE_BYTES} letters, digits, \
                 '_', '-', '.' or ':' (such as app or settings_screen)",
                quote(source)
            ),
        ));
    }
    Ok(())
}

/// A name that is not one of the allowed ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {}; expected one of {expected}", quote(.found))]
pub struct UnknownName {
    pub what: &'static str,
    pub found: String,
    pub expected: String,
}

impl UnknownName {
    fn new<const N: usize>(what: &'static str, found: &str, expected: [&str; N]) -> Self {
        UnknownName {
            what,
            found: found.to_string(),
            expected: expected.join(", "),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap()
    }

    fn permission(state: PermissionState, seconds: i64) -> Permission {
        Permission {
            channel: Channel::Email,
            state,
            source: "app".into(),
            updated_at: at(seconds),
        }
    }

    #[test]
    fn names_round_trip_and_unknown_names_list_the_choices() {
        for channel in Channel::ALL {
            assert_eq!(channel.as_str().parse::<Channel>(), Ok(channel));
            let json = serde_json::to_string(&channel).unwrap();
            assert_eq!(json, format!("\"{}\"", channel.as_str()));
        }
        for state in PermissionState::ALL {
            assert_eq!(state.as_str().parse::<PermissionState>(), Ok(state));
        }
        let err = "fax".parse::<Channel>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown channel \"fax\"; expected one of push, in_app, email, sms, whatsapp"
        );
        assert!("Opted_In".parse::<PermissionState>().is_err());
    }

    #[test]
    fn sms_and_whatsapp_need_an_explicit_opt_in() {
        use PermissionState::*;
        for channel in [Channel::Push, Channel::InApp, Channel::Email] {
            assert!(allows(channel, Subscribed), "{channel}");
            assert!(allows(channel, OptedIn), "{channel}");
            assert!(!allows(channel, Unsubscribed), "{channel}");
        }
        for channel in [Channel::Sms, Channel::Whatsapp] {
            assert!(!allows(channel, Subscribed), "{channel}");
            assert!(allows(channel, OptedIn), "{channel}");
            assert!(!allows(channel, Unsubscribed), "{channel}");
        }
    }

    #[test]
    fn the_later_change_wins_and_a_tie_goes_to_the_more_restrictive_state() {
        use PermissionState::*;
        assert!(permission(Unsubscribed, 20).supersedes(&permission(OptedIn, 10)));
        assert!(!permission(OptedIn, 10).supersedes(&permission(Unsubscribed, 20)));
        assert!(permission(Unsubscribed, 10).supersedes(&permission(OptedIn, 10)));
        assert!(!permission(OptedIn, 10).supersedes(&permission(Unsubscribed, 10)));
        // The same change heard twice changes nothing.
        assert!(!permission(OptedIn, 10).supersedes(&permission(OptedIn, 10)));
    }

    #[test]
    fn sources_are_short_machine_names() {
        for good in ["app", "settings_screen", "checkout.v2", "crm:import", "A-1"] {
            assert_eq!(check_source(good), Ok(()), "{good}");
        }
        for bad in ["", "settings screen", "app\n", "ação", &"x".repeat(65)] {
            let err = check_source(bad).unwrap_err();
            assert_eq!(err.field, "source");
            assert!(err.problem.contains("is not a source name"), "{err}");
        }
    }

    #[test]
    fn a_channel_never_set_is_subscribed() {
        let set = [permission(PermissionState::Unsubscribed, 1)];
        assert_eq!(
            state_of(&set, Channel::Email),
            PermissionState::Unsubscribed
        );
        assert_eq!(state_of(&set, Channel::Push), PermissionState::Subscribed);
    }
}
