//! The answer at the connection cap: a fixed 503 `overloaded`, written at once, then
//! the connection closed. It costs no request parsing and never makes the accept loop
//! wait, however many connections come in.

use std::sync::Arc;
use std::time::Duration;

use beckon::protocol::{ErrorAnswer, ErrorBody};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// Refusals lingering at once; past them a refused connection is closed at once.
const LINGERING_AT_ONCE: usize = 64;
/// How long a refused connection may linger: reading what the client still sends so
/// that closing does not reset the connection before the client reads the answer.
const LINGER: Duration = Duration::from_millis(500);

pub struct Refusals {
    answer: Arc<[u8]>,
    lingering: Arc<Semaphore>,
}

impl Refusals {
    /// File descriptors refusals may hold besides the connections served.
    pub const DESCRIPTORS: usize = LINGERING_AT_ONCE;

    pub fn new() -> Self {
        Self {
            answer: answer().into(),
            lingering: Arc::new(Semaphore::new(LINGERING_AT_ONCE)),
        }
    }

    /// Answers 503 on `stream` and closes it, lingering in the background while there
    /// is room for it.
    pub fn refuse(&self, mut stream: TcpStream) {
        // A new connection's send buffer is empty: the answer goes out whole, at once.
        let _ = stream.try_write(&self.answer);
        // What the client already sent is read, so closing now sends a plain FIN.
        drain(&stream);
        let Ok(permit) = self.lingering.clone().try_acquire_owned() else {
            return;
        };
        tokio::spawn(async move {
            let _permit = permit;
            let _ = tokio::time::timeout(LINGER, async move {
                stream.shutdown().await?;
                let mut sink = [0u8; 1024];
                while stream.read(&mut sink).await? > 0 {}
                std::io::Result::Ok(())
            })
            .await;
        });
    }
}

/// Reads and discards whatever has arrived, without waiting.
fn drain(stream: &TcpStream) {
    let mut sink = [0u8; 1024];
    while matches!(stream.try_read(&mut sink), Ok(n) if n > 0) {}
}

fn answer() -> Vec<u8> {
    let body = serde_json::to_string(&ErrorAnswer {
        error: ErrorBody {
            code: "overloaded".into(),
            message: "the server is at its connection limit; retry shortly".into(),
            identity: Vec::new(),
        },
    })
    .expect("a fixed error serializes");
    format!(
        "HTTP/1.1 503 Service Unavailable\r\n\
         content-type: application/json\r\n\
         content-length: {}\r\n\
         retry-after: 1\r\n\
         connection: close\r\n\
         \r\n\
         {body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_is_a_complete_503_in_the_api_error_shape() {
        let text = String::from_utf8(answer()).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "), "{head}");
        assert!(head.contains("\r\nretry-after: 1"), "{head}");
        assert!(head.contains("\r\nconnection: close"), "{head}");
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["error"]["code"], "overloaded");
    }
}
