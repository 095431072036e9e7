//! Who makes the upload thread's requests: the app's [`HttpClient`] (the Kotlin and
//! Swift packages' platform client), or the library's own where it has one.
//!
//! An app's client blocks, so it runs on a thread of tokio's blocking pool while the
//! upload thread goes on with its timers and commands; the upload thread stops waiting
//! [`GRACE`] after the request's timeout, or at shutdown, whatever the client does. What
//! a client returns is checked before anything reads it.

use std::sync::Arc;
use std::time::Duration;

use super::exchange::{HttpClient, HttpClientError, HttpRequest, HttpResponse};
#[cfg(feature = "builtin-http")]
use super::http::BuiltinClient;

/// How much longer than the request's timeout the device waits for an app's client.
pub const GRACE: Duration = Duration::from_secs(5);

pub enum Sender {
    /// The app's client.
    App(Arc<dyn HttpClient>),
    /// The library's own.
    #[cfg(feature = "builtin-http")]
    Builtin(BuiltinClient),
}

impl Sender {
    pub async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpClientError> {
        match self {
            Sender::App(client) => send_blocking(client.clone(), request, GRACE).await,
            #[cfg(feature = "builtin-http")]
            Sender::Builtin(client) => client.exchange(request).await,
        }
    }
}

async fn send_blocking(
    client: Arc<dyn HttpClient>,
    request: HttpRequest,
    grace: Duration,
) -> Result<HttpResponse, HttpClientError> {
    let limit = request.max_response_bytes;
    let wait = Duration::from_millis(request.timeout_ms) + grace;
    let call = tokio::task::spawn_blocking(move || client.send(request));
    let response = match tokio::time::timeout(wait, call).await {
        Err(_) => {
            return Err(HttpClientError::network(format!(
                "the app's HTTP client gave no answer within {} ms",
                wait.as_millis()
            )))
        }
        // A client written in Rust that panicked.
        Ok(Err(join)) => {
            return Err(HttpClientError::network(format!(
                "the app's HTTP client failed: {join}"
            )))
        }
        Ok(Ok(answer)) => answer?,
    };
    checked(response, limit)
}

/// An answer the device can read: a real status, no more body than it allowed.
fn checked(response: HttpResponse, limit: u64) -> Result<HttpResponse, HttpClientError> {
    if !(100..=599).contains(&response.status) {
        return Err(HttpClientError::network(format!(
            "the app's HTTP client returned status {}, which is not an HTTP status",
            response.status
        )));
    }
    if response.body.len() as u64 > limit {
        return Err(HttpClientError::TooLarge { limit });
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::net::exchange::{HttpHeader, HttpMethod};

    fn request(timeout_ms: u64, max_response_bytes: u64) -> HttpRequest {
        HttpRequest {
            method: HttpMethod::Get,
            url: "https://api.shop.example/v1/sync".into(),
            headers: vec![HttpHeader::new("accept", "application/json")],
            body: Vec::new(),
            timeout_ms,
            max_response_bytes,
        }
    }

    struct Answers(Mutex<Vec<Result<HttpResponse, HttpClientError>>>);

    impl HttpClient for Answers {
        fn send(&self, _: HttpRequest) -> Result<HttpResponse, HttpClientError> {
            self.0.lock().unwrap().remove(0)
        }
    }

    fn answer(status: u16, body: &[u8]) -> Result<HttpResponse, HttpClientError> {
        Ok(HttpResponse {
            status,
            headers: Vec::new(),
            body: body.to_vec(),
        })
    }

    async fn send_each(
        answers: Vec<Result<HttpResponse, HttpClientError>>,
        limit: u64,
    ) -> Vec<String> {
        let count = answers.len();
        let sender = Sender::App(Arc::new(Answers(Mutex::new(answers))));
        let mut outcomes = Vec::new();
        for _ in 0..count {
            outcomes.push(match sender.send(request(1_000, limit)).await {
                Ok(response) => format!("{} {} bytes", response.status, response.body.len()),
                Err(e) => e.to_string(),
            });
        }
        outcomes
    }

    #[tokio::test]
    async fn answers_are_checked_before_they_are_read() {
        let outcomes = send_each(
            vec![
                answer(200, b"{}"),
                answer(503, b""),
                answer(0, b""),
                answer(1_000, b""),
                answer(200, &[b'x'; 11]),
                answer(200, &[b'x'; 10]),
                Err(HttpClientError::network("no route to host")),
            ],
            10,
        )
        .await;
        assert_eq!(
            outcomes,
            [
                "200 2 bytes",
                "503 0 bytes",
                "the app's HTTP client returned status 0, which is not an HTTP status",
                "the app's HTTP client returned status 1000, which is not an HTTP status",
                "the answer is over the 10-byte limit",
                "200 10 bytes",
                "no route to host",
            ]
        );
    }

    struct Panics;

    impl HttpClient for Panics {
        fn send(&self, _: HttpRequest) -> Result<HttpResponse, HttpClientError> {
            panic!("a bug in the app's client")
        }
    }

    #[tokio::test]
    async fn a_client_that_panics_is_a_network_failure() {
        let sender = Sender::App(Arc::new(Panics));
        let error = sender.send(request(1_000, 10)).await.unwrap_err();
        assert!(
            matches!(&error, HttpClientError::Network { reason } if reason.starts_with("the app's HTTP client failed")),
            "{error:?}"
        );
    }

    /// Blocks until told to answer.
    struct Stuck(Mutex<std::sync::mpsc::Receiver<()>>);

    impl HttpClient for Stuck {
        fn send(&self, _: HttpRequest) -> Result<HttpResponse, HttpClientError> {
            let _ = self.0.lock().unwrap().recv();
            answer(200, b"late")
        }
    }

    #[tokio::test]
    async fn a_client_that_never_answers_is_given_up_after_its_timeout_and_the_grace() {
        let (release, stuck) = std::sync::mpsc::channel();
        let client = Arc::new(Stuck(Mutex::new(stuck)));
        let started = std::time::Instant::now();
        let grace = Duration::from_millis(200);
        let error = send_blocking(client, request(300, 10), grace)
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "the app's HTTP client gave no answer within 500 ms"
        );
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(500) && waited < Duration::from_secs(3),
            "{waited:?}"
        );
        release.send(()).unwrap();
    }
}
