//! What the send pipeline asks a provider to deliver.

use std::collections::BTreeMap;

use beckon::consent::Channel;
use beckon::protocol::PushProvider;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How urgently the provider should wake the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PushPriority {
    /// Deliver now, waking the device (FCM `high`, APNs 10).
    #[default]
    High,
    /// Deliver when convenient for the battery (FCM `normal`, APNs 5).
    Normal,
}

/// One rendered push, independent of the platform that carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushNotification {
    pub title: String,
    pub body: String,
    /// Custom keys for the app. Under the key `beckon`, the push payload as a string of
    /// JSON: FCM carries it as that string, APNs as the JSON object it contains.
    pub data: BTreeMap<String, String>,
    /// Pushes with the same id replace each other on the device.
    pub collapse_id: Option<String>,
    /// After this instant the provider drops the push instead of delivering it late.
    pub expires_at: Option<DateTime<Utc>>,
    pub priority: PushPriority,
}

/// The channels delivered through the webhook provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookChannel {
    Email,
    Sms,
    Whatsapp,
}

impl WebhookChannel {
    pub fn channel(self) -> Channel {
        match self {
            WebhookChannel::Email => Channel::Email,
            WebhookChannel::Sms => Channel::Sms,
            WebhookChannel::Whatsapp => Channel::Whatsapp,
        }
    }

    /// The webhook channel delivering `channel`; `None` for push and in-app, which have
    /// their own ways to the device.
    pub fn for_channel(channel: Channel) -> Option<WebhookChannel> {
        match channel {
            Channel::Email => Some(WebhookChannel::Email),
            Channel::Sms => Some(WebhookChannel::Sms),
            Channel::Whatsapp => Some(WebhookChannel::Whatsapp),
            Channel::Push | Channel::InApp => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.channel().as_str()
    }
}

/// One message to one recipient through one provider.
#[derive(Debug, Clone, PartialEq)]
pub enum Outbound {
    Push {
        provider: PushProvider,
        /// The device's FCM registration token or APNs device token (hex).
        token: String,
        notification: PushNotification,
    },
    Webhook {
        channel: WebhookChannel,
        /// The user id (or anonymous id) the message is for.
        user_key: String,
        /// Email address or phone number.
        address: String,
        subject: Option<String>,
        body: String,
        /// Anything else the receiving service needs (template id, attribution…).
        data: serde_json::Value,
    },
}

impl Outbound {
    /// A short name of the provider, for logs and stored attempts.
    pub fn provider_name(&self) -> &'static str {
        match self {
            Outbound::Push { provider, .. } => provider.as_str(),
            Outbound::Webhook { channel, .. } => channel.as_str(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_channels_map_to_consent_channels_and_back() {
        for channel in [
            WebhookChannel::Email,
            WebhookChannel::Sms,
            WebhookChannel::Whatsapp,
        ] {
            assert_eq!(
                WebhookChannel::for_channel(channel.channel()),
                Some(channel)
            );
        }
        assert_eq!(WebhookChannel::for_channel(Channel::Push), None);
        assert_eq!(WebhookChannel::for_channel(Channel::InApp), None);
        assert_eq!(WebhookChannel::Whatsapp.as_str(), "whatsapp");
    }
}
