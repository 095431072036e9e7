//! What the three provider clients share: the HTTP client settings, a provider's answer
//! as plain data, and how transport failures map to outcomes.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, RETRY_AFTER};

use super::outcome::Outcome;
use super::retry::parse_retry_after;

/// A provider that does not answer within this is treated as down (retried).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Error bodies are short; anything past this is not needed to classify an answer.
const MAX_REPLY_BYTES: usize = 64 * 1024;

pub(crate) fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .user_agent(concat!("beckon-server/", env!("CARGO_PKG_VERSION")))
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
}

/// A provider's answer, read off the wire.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub(crate) async fn read(response: reqwest::Response) -> Result<Reply, reqwest::Error> {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let mut body = Vec::new();
        let mut response = response;
        while let Some(chunk) = response.chunk().await? {
            let room = MAX_REPLY_BYTES.saturating_sub(body.len());
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if room <= chunk.len() {
                break;
            }
        }
        Ok(Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub(crate) fn retry_after(&self, now: DateTime<Utc>) -> Option<Duration> {
        self.headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, now))
    }

    /// What an answer that says nothing about the token itself means: throttling and
    /// server errors are retried (after `Retry-After` when given), the rest is final.
    pub(crate) fn retry_or_fail(&self, now: DateTime<Utc>, detail: String) -> Outcome {
        match self.status {
            429 | 500..=599 => Outcome::Retry {
                after: self.retry_after(now),
                status: Some(self.status),
                detail,
            },
            status => Outcome::Failed {
                status: Some(status),
                detail,
            },
        }
    }

    /// The body, shortened for an outcome's detail.
    pub(crate) fn body_excerpt(&self) -> String {
        excerpt(&self.body)
    }
}

/// At most 300 characters of `text`, so stored attempts stay small.
pub(crate) fn excerpt(text: &str) -> String {
    const MAX_CHARS: usize = 300;
    let text = text.trim();
    match text.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// How a request that got no answer ended. Only a request we could not even build is
/// final; refused connections, resets and timeouts are worth another try.
pub(crate) fn transport_outcome(provider: &str, err: &reqwest::Error) -> Outcome {
    if err.is_builder() {
        return Outcome::failed(format!("{provider}: cannot build the request: {err}"));
    }
    let what = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "cannot connect"
    } else {
        "transport error"
    };
    Outcome::Retry {
        after: None,
        status: None,
        detail: format!("{provider}: {what}: {}", error_chain(err)),
    }
}

/// The error and its causes on one line: reqwest's own message rarely says why.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The answer to a request, before the client acts on it: either an outcome, or the
/// provider refusing our credentials as stale, which the client fixes once by fetching
/// new ones and trying again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    Done(Outcome),
    StaleCredentials(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_cut_long_text_on_a_character_boundary() {
        assert_eq!(excerpt("  short  "), "short");
        let long = "é".repeat(400);
        let cut = excerpt(&long);
        assert_eq!(cut.chars().count(), 301);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn retry_after_is_read_from_the_header() {
        let now = Utc::now();
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "12".parse().unwrap());
        let reply = Reply {
            status: 429,
            headers,
            body: String::new(),
        };
        assert_eq!(reply.retry_after(now), Some(Duration::from_secs(12)));
        let none = Reply {
            headers: HeaderMap::new(),
            ..reply
        };
        assert_eq!(none.retry_after(now), None);
    }
}
