//! Firebase Cloud Messaging, HTTP v1 API: one client per server, sharing its
//! connections and its OAuth access token across every send.

pub(crate) mod oauth;
mod request;
pub(crate) mod response;
pub(crate) mod service_account;

use std::sync::Arc;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use tokio::sync::Mutex;

use self::oauth::{assertion, token_from_reply, AccessToken, GRANT_TYPE};
use self::request::message_body;
use self::response::classify;
use self::service_account::{parse_service_account, ServiceAccount};
use super::clock::{system_clock, Clock};
use super::config::{base_url, DeliveryConfigError, FcmConfig};
use super::http::{client_builder, transport_outcome, Reply, Verdict};
use super::message::PushNotification;
use super::outcome::Outcome;

pub(crate) struct FcmClient {
    http: reqwest::Client,
    account: ServiceAccount,
    send_url: String,
    /// Held across the token request, so concurrent sends wait for one fetch instead of
    /// each fetching their own.
    token: Mutex<Option<AccessToken>>,
    clock: Clock,
}

impl FcmClient {
    pub(crate) fn new(config: &FcmConfig) -> Result<Arc<FcmClient>, DeliveryConfigError> {
        let account = parse_service_account(&config.service_account.read("FCM service account")?)?;
        let base = base_url("FCM base URL", &config.base_url)?;
        let http = client_builder()
            .build()
            .map_err(|source| DeliveryConfigError::Client {
                provider: "FCM",
                source,
            })?;
        Ok(Arc::new(FcmClient {
            send_url: format!("{base}/v1/projects/{}/messages:send", account.project_id),
            http,
            account,
            token: Mutex::new(None),
            clock: system_clock(),
        }))
    }

    pub(crate) async fn send(&self, token: &str, notification: &PushNotification) -> Outcome {
        let body = match message_body(token, notification, (self.clock)()) {
            Ok(body) => body,
            Err(reason) => return Outcome::failed(format!("FCM: {reason}")),
        };
        let access = match self.access_token(None).await {
            Ok(access) => access,
            Err(outcome) => return outcome,
        };
        match self.post(&access, &body).await {
            Verdict::Done(outcome) => outcome,
            // Tokens can be revoked before they expire: fetch a new one, once.
            Verdict::StaleCredentials(_) => {
                let fresh = match self.access_token(Some(&access)).await {
                    Ok(fresh) => fresh,
                    Err(outcome) => return outcome,
                };
                match self.post(&fresh, &body).await {
                    Verdict::Done(outcome) => outcome,
                    Verdict::StaleCredentials(detail) => Outcome::Failed {
                        status: Some(401),
                        detail: format!("{detail} (after a fresh access token)"),
                    },
                }
            }
        }
    }

    async fn post(&self, access: &str, body: &[u8]) -> Verdict {
        let sent = self
            .http
            .post(&self.send_url)
            .header(AUTHORIZATION, format!("Bearer {access}"))
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_vec())
            .send()
            .await;
        let reply = match sent {
            Ok(response) => Reply::read(response).await,
            Err(err) => Err(err),
        };
        match reply {
            Ok(reply) => classify(&reply, (self.clock)()),
            Err(err) => Verdict::Done(transport_outcome("FCM", &err)),
        }
    }

    /// The cached access token, or a new one when it is due for refresh or is `stale`
    /// (the one the API just refused; another send may already have replaced it).
    async fn access_token(&self, stale: Option<&str>) -> Result<String, Outcome> {
        let mut cached = self.token.lock().await;
        let now = (self.clock)();
        if let Some(token) = cached.as_ref() {
            if token.is_usable(now) && Some(token.value.as_str()) != stale {
                return Ok(token.value.clone());
            }
        }
        let fresh = self.fetch_token().await?;
        let value = fresh.value.clone();
        *cached = Some(fresh);
        Ok(value)
    }

    async fn fetch_token(&self) -> Result<AccessToken, Outcome> {
        let now = (self.clock)();
        let assertion = assertion(&self.account, now)
            .map_err(|reason| Outcome::failed(format!("FCM: {reason}")))?;
        let sent = self
            .http
            .post(&self.account.token_uri)
            .form(&[
                ("grant_type", GRANT_TYPE),
                ("assertion", assertion.as_str()),
            ])
            .send()
            .await;
        let reply = match sent {
            Ok(response) => Reply::read(response).await,
            Err(err) => Err(err),
        };
        match reply {
            Ok(reply) => token_from_reply(&reply, (self.clock)()),
            Err(err) => Err(transport_outcome("FCM OAuth token request", &err)),
        }
    }
}
