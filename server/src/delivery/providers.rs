//! The configured providers behind one handle the send pipeline clones freely.

use std::sync::Arc;

use chrono::Utc;

use super::apns::ApnsClient;
use super::config::{DeliveryConfig, DeliveryConfigError};
use super::fcm::FcmClient;
use super::message::Outbound;
use super::outcome::{Attempt, Outcome};
use super::retry::DeliveryRetry;
use super::webhook::{WebhookClient, WebhookSend};
use beckon::protocol::PushProvider;

/// Every configured provider; cheap to clone, each provider keeping one HTTP client
/// (and so one connection pool and one cached credential) for all clones.
#[derive(Clone, Default)]
pub struct Providers {
    fcm: Option<Arc<FcmClient>>,
    apns: Option<Arc<ApnsClient>>,
    webhook: Option<Arc<WebhookClient>>,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Providers")
            .field("fcm", &self.fcm.is_some())
            .field("apns", &self.apns.is_some())
            .field("webhook", &self.webhook.is_some())
            .finish()
    }
}

impl Providers {
    /// Reads keys and checks every setting now, so a bad one stops the server at start
    /// instead of failing its first send.
    pub fn new(config: DeliveryConfig) -> Result<Providers, DeliveryConfigError> {
        Ok(Providers {
            fcm: config.fcm.as_ref().map(FcmClient::new).transpose()?,
            apns: config.apns.as_ref().map(ApnsClient::new).transpose()?,
            webhook: config
                .webhook
                .as_ref()
                .map(WebhookClient::new)
                .transpose()?,
        })
    }

    /// Whether a provider for this message is configured.
    pub fn supports(&self, outbound: &Outbound) -> bool {
        match outbound {
            Outbound::Push {
                provider: PushProvider::Fcm,
                ..
            } => self.fcm.is_some(),
            Outbound::Push {
                provider: PushProvider::Apns,
                ..
            } => self.apns.is_some(),
            Outbound::Webhook { .. } => self.webhook.is_some(),
        }
    }

    /// One attempt, without retrying.
    pub async fn send_once(&self, outbound: &Outbound) -> Outcome {
        let not_configured = || {
            Outcome::failed(format!(
                "no {} provider is configured",
                outbound.provider_name()
            ))
        };
        match outbound {
            Outbound::Push {
                provider: PushProvider::Fcm,
                token,
                notification,
            } => match &self.fcm {
                Some(fcm) => fcm.send(token, notification).await,
                None => not_configured(),
            },
            Outbound::Push {
                provider: PushProvider::Apns,
                token,
                notification,
            } => match &self.apns {
                Some(apns) => apns.send(token, notification).await,
                None => not_configured(),
            },
            Outbound::Webhook {
                channel,
                user_key,
                address,
                subject,
                body,
                data,
            } => match &self.webhook {
                Some(webhook) => {
                    webhook
                        .send(WebhookSend {
                            channel: *channel,
                            user_key,
                            address,
                            subject: subject.as_deref(),
                            body,
                            data,
                        })
                        .await
                }
                None => not_configured(),
            },
        }
    }

    /// Retries `Retry` outcomes per the policy (Retry-After wins over backoff), stops on
    /// Delivered/Unregistered/Failed; returns every attempt.
    pub async fn deliver(&self, outbound: &Outbound, policy: &DeliveryRetry) -> Vec<Attempt> {
        let max_attempts = policy.max_attempts.max(1);
        let mut attempts = Vec::new();
        for number in 1..=max_attempts {
            let started_at = Utc::now();
            let outcome = self.send_once(outbound).await;
            let finished_at = Utc::now();
            let wait = match &outcome {
                Outcome::Retry { after, .. } if number < max_attempts => {
                    Some(policy.delay(number, *after, fastrand::f64()))
                }
                _ => None,
            };
            attempts.push(Attempt {
                number,
                started_at,
                finished_at,
                outcome,
            });
            match wait {
                Some(wait) => tokio::time::sleep(wait).await,
                None => break,
            }
        }
        attempts
    }
}
