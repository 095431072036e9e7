//! Apple Push Notification service over HTTP/2 with token authentication: one client
//! per server, multiplexing every push over its HTTP/2 connections and sharing one
//! provider token.

mod provider_token;
mod request;
pub(crate) mod response;

use std::sync::Arc;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};

use self::provider_token::ProviderTokens;
use self::request::apns_request;
use self::response::classify;
use super::clock::{system_clock, Clock};
use super::config::{base_url, ApnsConfig, DeliveryConfigError};
use super::http::{client_builder, transport_outcome, Reply, Verdict};
use super::jwt::p256_key_from_pem;
use super::message::PushNotification;
use super::outcome::Outcome;

pub(crate) struct ApnsClient {
    http: reqwest::Client,
    base: String,
    topic: String,
    tokens: ProviderTokens,
    clock: Clock,
}

fn identifier(what: &'static str, value: &str) -> Result<String, DeliveryConfigError> {
    if value.is_empty()
        || !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
    {
        return Err(DeliveryConfigError::invalid(
            what,
            format!("`{value}` must be non-empty letters, digits, `.`, `-` or `_`"),
        ));
    }
    Ok(value.to_string())
}

impl ApnsClient {
    pub(crate) fn new(config: &ApnsConfig) -> Result<Arc<ApnsClient>, DeliveryConfigError> {
        let clock = system_clock();
        let key = p256_key_from_pem(&config.key.read("APNs key")?)
            .map_err(|reason| DeliveryConfigError::invalid("APNs key", reason))?;
        let key_id = identifier("APNs key id", &config.key_id)?;
        let team_id = identifier("APNs team id", &config.team_id)?;
        let topic = identifier("APNs topic", &config.topic)?;
        let base = base_url("APNs base URL", &config.base_url)?;
        // APNs speaks nothing but HTTP/2.
        let mut http = client_builder().http2_prior_knowledge();
        if let Some(root) = &config.extra_root_ca {
            let pem = root.read("APNs extra root certificate")?;
            let certificate = reqwest::Certificate::from_pem(pem.as_bytes()).map_err(|err| {
                DeliveryConfigError::invalid("APNs extra root certificate", err.to_string())
            })?;
            http = http.add_root_certificate(certificate);
        }
        let http = http.build().map_err(|source| DeliveryConfigError::Client {
            provider: "APNs",
            source,
        })?;
        Ok(Arc::new(ApnsClient {
            http,
            base,
            topic,
            tokens: ProviderTokens::new(key, key_id, team_id, clock.clone()),
            clock,
        }))
    }

    pub(crate) async fn send(&self, token: &str, notification: &PushNotification) -> Outcome {
        let request = match apns_request(token, notification, &self.topic, (self.clock)()) {
            Ok(request) => request,
            Err(outcome) => return outcome,
        };
        let provider_token = match self.tokens.current(None) {
            Ok(value) => value,
            Err(reason) => return Outcome::failed(format!("APNs: {reason}")),
        };
        match self.post(&request, &provider_token).await {
            Verdict::Done(outcome) => outcome,
            Verdict::StaleCredentials(_) => {
                let fresh = match self.tokens.current(Some(&provider_token)) {
                    Ok(value) => value,
                    Err(reason) => return Outcome::failed(format!("APNs: {reason}")),
                };
                match self.post(&request, &fresh).await {
                    Verdict::Done(outcome) => outcome,
                    Verdict::StaleCredentials(detail) => Outcome::Failed {
                        status: Some(403),
                        detail: format!("{detail} (after a fresh provider token)"),
                    },
                }
            }
        }
    }

    async fn post(&self, request: &request::ApnsRequest, provider_token: &str) -> Verdict {
        let mut builder = self
            .http
            .post(format!("{}{}", self.base, request.path))
            .header(AUTHORIZATION, format!("bearer {provider_token}"))
            .header(CONTENT_TYPE, "application/json");
        for (name, value) in &request.headers {
            builder = builder.header(*name, value);
        }
        let reply = match builder.body(request.body.clone()).send().await {
            Ok(response) => Reply::read(response).await,
            Err(err) => Err(err),
        };
        match reply {
            Ok(reply) => classify(&reply, (self.clock)()),
            Err(err) => Verdict::Done(transport_outcome("APNs", &err)),
        }
    }
}
