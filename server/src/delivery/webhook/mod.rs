//! Email, SMS and WhatsApp through one generic webhook: the operator's service (or a
//! bridge to SendGrid, Twilio, Meta…) receives a signed JSON message and delivers it.

mod request;
pub(crate) mod response;
mod signature;

use std::sync::Arc;

use chrono::Utc;
use reqwest::header::CONTENT_TYPE;

use self::request::{webhook_body, WebhookMessage};
use self::response::classify;
use self::signature::{parse_secret, signature};
use super::config::{base_url, DeliveryConfigError, WebhookConfig};
use super::http::{client_builder, transport_outcome, Reply};
use super::message::WebhookChannel;
use super::outcome::Outcome;

pub(crate) struct WebhookClient {
    http: reqwest::Client,
    url: String,
    key: ring::hmac::Key,
}

/// One message for the webhook, borrowed from the [`super::Outbound`].
pub(crate) struct WebhookSend<'a> {
    pub channel: WebhookChannel,
    pub user_key: &'a str,
    pub address: &'a str,
    pub subject: Option<&'a str>,
    pub body: &'a str,
    pub data: &'a serde_json::Value,
}

/// The `webhook-id`, derived from the body so every attempt at the same message carries
/// the same id: a receiver deduplicating on it never delivers a retry twice. Messages
/// meant to be distinct differ in their body (the send pipeline puts its message id in
/// `data`).
fn message_id(body: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, body);
    let hex: String = digest.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("msg_{hex}")
}

impl WebhookClient {
    pub(crate) fn new(config: &WebhookConfig) -> Result<Arc<WebhookClient>, DeliveryConfigError> {
        let url = base_url("webhook URL", &config.url)?;
        let key = parse_secret(&config.secret)
            .map_err(|reason| DeliveryConfigError::invalid("webhook secret", reason))?;
        let http = client_builder()
            .build()
            .map_err(|source| DeliveryConfigError::Client {
                provider: "webhook",
                source,
            })?;
        Ok(Arc::new(WebhookClient { http, url, key }))
    }

    pub(crate) async fn send(&self, send: WebhookSend<'_>) -> Outcome {
        let body = match webhook_body(&WebhookMessage {
            channel: send.channel,
            user_key: send.user_key,
            address: send.address,
            subject: send.subject,
            body: send.body,
            data: send.data,
        }) {
            Ok(body) => body,
            Err(reason) => return Outcome::failed(format!("webhook: {reason}")),
        };
        let id = message_id(&body);
        let timestamp = Utc::now().timestamp();
        let sent = self
            .http
            .post(&self.url)
            .header(CONTENT_TYPE, "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header(
                "webhook-signature",
                signature(&self.key, &id, timestamp, &body),
            )
            .body(body)
            .send()
            .await;
        let reply = match sent {
            Ok(response) => Reply::read(response).await,
            Err(err) => Err(err),
        };
        match reply {
            Ok(reply) => classify(&reply, &id, Utc::now()),
            Err(err) => transport_outcome("webhook", &err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_follow_the_body() {
        let id = message_id(b"{\"a\":1}");
        assert_eq!(id.len(), 4 + 32);
        assert!(id.starts_with("msg_"));
        assert_eq!(id, message_id(b"{\"a\":1}"));
        assert_ne!(id, message_id(b"{\"a\":2}"));
    }
}
