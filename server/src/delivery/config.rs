//! Provider settings, as the operator gives them, and their validation.

use std::fmt;
use std::path::PathBuf;

pub const DEFAULT_FCM_BASE_URL: &str = "https://fcm.googleapis.com";
pub const DEFAULT_APNS_BASE_URL: &str = "https://api.push.apple.com";

/// Where a key or certificate comes from: a file (production) or the PEM/JSON text
/// itself (tests, secrets injected by an orchestrator).
#[derive(Clone, PartialEq, Eq)]
pub enum KeySource {
    File(PathBuf),
    Inline(String),
}

impl KeySource {
    pub(crate) fn read(&self, what: &'static str) -> Result<String, DeliveryConfigError> {
        match self {
            KeySource::File(path) => {
                std::fs::read_to_string(path).map_err(|source| DeliveryConfigError::Read {
                    what,
                    path: path.clone(),
                    source,
                })
            }
            KeySource::Inline(text) => Ok(text.clone()),
        }
    }
}

impl fmt::Debug for KeySource {
    // Inline keys are secrets: never print them, even in a debug dump of the config.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::File(path) => f.debug_tuple("File").field(path).finish(),
            KeySource::Inline(_) => f.write_str("Inline(<redacted>)"),
        }
    }
}

/// Firebase Cloud Messaging, HTTP v1 API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FcmConfig {
    /// The Google service-account JSON (`client_email`, `private_key`, `token_uri`,
    /// `project_id`).
    pub service_account: KeySource,
    /// Scheme and authority of the FCM API, without a trailing slash.
    pub base_url: String,
}

impl FcmConfig {
    pub fn new(service_account: KeySource) -> Self {
        Self {
            service_account,
            base_url: DEFAULT_FCM_BASE_URL.into(),
        }
    }
}

/// Apple Push Notification service with token (`.p8` key) authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApnsConfig {
    /// The PKCS#8 P-256 signing key (`AuthKey_XXXXXXXXXX.p8`).
    pub key: KeySource,
    /// The key's 10-character id from the developer account.
    pub key_id: String,
    /// The developer team id.
    pub team_id: String,
    /// The app's bundle id (`apns-topic`).
    pub topic: String,
    /// `https://api.push.apple.com`, `https://api.sandbox.push.apple.com`, or a mock.
    pub base_url: String,
    /// A root certificate (PEM) trusted on top of the public ones, for a local mock.
    pub extra_root_ca: Option<KeySource>,
}

/// The webhook delivering email, SMS and WhatsApp messages.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    pub url: String,
    /// Standard Webhooks signing secret, `whsec_<base64>`.
    pub secret: String,
}

impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// The providers the server may deliver through; one left `None` is simply not used.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryConfig {
    pub fcm: Option<FcmConfig>,
    pub apns: Option<ApnsConfig>,
    pub webhook: Option<WebhookConfig>,
}

/// A provider setting that cannot work; says which one and why.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryConfigError {
    #[error("cannot read the {what} {path}: {source}")]
    Read {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid {what}: {reason}")]
    Invalid { what: &'static str, reason: String },
    #[error("cannot build the {provider} HTTP client: {source}")]
    Client {
        provider: &'static str,
        source: reqwest::Error,
    },
}

impl DeliveryConfigError {
    pub(crate) fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        DeliveryConfigError::Invalid {
            what,
            reason: reason.into(),
        }
    }
}

/// An `http` or `https` base URL (a path prefix is allowed) without query, fragment or
/// trailing slash, so request paths can be appended to it.
pub(crate) fn base_url(what: &'static str, url: &str) -> Result<String, DeliveryConfigError> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|err| DeliveryConfigError::invalid(what, format!("`{url}`: {err}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(DeliveryConfigError::invalid(
            what,
            format!("`{url}` is not an http(s) URL"),
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(DeliveryConfigError::invalid(
            what,
            format!("`{url}` must not have a query or fragment"),
        ));
    }
    Ok(url.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_lose_their_trailing_slash_and_must_be_http() {
        assert_eq!(
            base_url("FCM base URL", "https://fcm.googleapis.com/").unwrap(),
            "https://fcm.googleapis.com"
        );
        assert_eq!(
            base_url("x", "http://127.0.0.1:9000").unwrap(),
            "http://127.0.0.1:9000"
        );
        for bad in [
            "",
            "fcm.googleapis.com",
            "ftp://host",
            "https://h/?a=1",
            "unix:/x",
        ] {
            let err = base_url("FCM base URL", bad).unwrap_err();
            assert!(err.to_string().starts_with("invalid FCM base URL"), "{err}");
        }
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let config = DeliveryConfig {
            fcm: Some(FcmConfig::new(KeySource::Inline("PRIVATE-KEY".into()))),
            apns: None,
            webhook: Some(WebhookConfig {
                url: "https://hooks.example/send".into(),
                secret: "whsec_SECRET".into(),
            }),
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("PRIVATE-KEY"), "{shown}");
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("hooks.example"), "{shown}");
    }

    #[test]
    fn reading_a_missing_file_names_it() {
        let missing = KeySource::File("/nonexistent/beckon/key.p8".into());
        let err = missing.read("APNs key").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("APNs key") && text.contains("/nonexistent/beckon/key.p8"));
    }
}
