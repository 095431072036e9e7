//! How much any one client may take of the server: connection timeouts and the
//! connection cap (enforced by [`crate::serve`]), request rates (enforced by
//! [`crate::rate_limit`]).

mod flags;

use std::time::Duration;

pub use flags::LimitFlags;

/// Bounds on connections: no client can hold one without making progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections open at once; more are refused at once with 503. Lowered at start to
    /// what the process's open-file limit allows.
    pub max_connections: usize,
    /// From the first byte of a request to the end of its header.
    pub header_timeout: Duration,
    /// A connection with no request under way: just opened, or after a response.
    pub idle_timeout: Duration,
    /// From the end of a request's header to the end of its response, body upload and
    /// download included.
    pub request_timeout: Duration,
    /// Reading a request body, in total (not per chunk): a trickling upload gets 408.
    pub body_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(30),
        }
    }
}

impl ConnectionLimits {
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.max_connections == 0 {
            return Err("--max-connections must be at least 1".into());
        }
        for (flag, timeout) in [
            ("--header-timeout", self.header_timeout),
            ("--idle-timeout", self.idle_timeout),
            ("--request-timeout", self.request_timeout),
            ("--body-timeout", self.body_timeout),
        ] {
            if timeout.is_zero() {
                return Err(format!("{flag} must be more than zero"));
            }
        }
        if self.body_timeout > self.request_timeout {
            return Err(format!(
                "--body-timeout ({:?}) cannot be longer than --request-timeout ({:?}), which \
                 includes it",
                self.body_timeout, self.request_timeout
            ));
        }
        Ok(())
    }
}

/// A token bucket: `burst` requests at once, refilled at `per_second`. A rate of 0
/// turns the limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_second: u32,
    pub burst: u32,
}

impl Rate {
    pub const OFF: Rate = Rate {
        per_second: 0,
        burst: 0,
    };

    pub fn is_off(self) -> bool {
        self.per_second == 0
    }

    fn check(self, flags: &str) -> Result<(), String> {
        if !self.is_off() && self.burst == 0 {
            return Err(format!("{flags}: a burst of 0 would refuse every request"));
        }
        Ok(())
    }
}

/// Request rates per client: per IP address on every route but `/healthz`, per app key
/// on device routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimits {
    pub per_ip: Rate,
    pub per_app_key: Rate,
    /// Behind a trusted proxy, the header naming the client (`X-Forwarded-For`); its
    /// last value is used. `None`: the peer address of the connection.
    pub client_ip_header: Option<String>,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            per_ip: Rate {
                per_second: 100,
                burst: 400,
            },
            per_app_key: Rate {
                per_second: 5_000,
                burst: 10_000,
            },
            client_ip_header: None,
        }
    }
}

impl RateLimits {
    /// No rate limit at all.
    pub fn off() -> Self {
        Self {
            per_ip: Rate::OFF,
            per_app_key: Rate::OFF,
            client_ip_header: None,
        }
    }

    pub(crate) fn check(&self) -> Result<(), String> {
        self.per_ip.check("--rate-per-ip / --burst-per-ip")?;
        self.per_app_key
            .check("--rate-per-app-key / --burst-per-app-key")?;
        if let Some(name) = &self.client_ip_header {
            axum::http::HeaderName::try_from(name.as_str())
                .map_err(|_| format!("--client-ip-header: {name:?} is not a header name"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass_their_own_check() {
        assert_eq!(ConnectionLimits::default().check(), Ok(()));
        assert_eq!(RateLimits::default().check(), Ok(()));
        assert_eq!(RateLimits::off().check(), Ok(()));
    }

    #[test]
    fn refuses_limits_that_cannot_work() {
        let zero_idle = ConnectionLimits {
            idle_timeout: Duration::ZERO,
            ..ConnectionLimits::default()
        };
        assert!(zero_idle.check().unwrap_err().contains("--idle-timeout"));
        let no_connections = ConnectionLimits {
            max_connections: 0,
            ..ConnectionLimits::default()
        };
        assert!(no_connections.check().is_err());
        let body_past_request = ConnectionLimits {
            body_timeout: Duration::from_secs(61),
            ..ConnectionLimits::default()
        };
        assert!(body_past_request.check().is_err());

        let no_burst = RateLimits {
            per_app_key: Rate {
                per_second: 10,
                burst: 0,
            },
            ..RateLimits::default()
        };
        assert!(no_burst
            .check()
            .unwrap_err()
            .contains("--burst-per-app-key"));
        let bad_header = RateLimits {
            client_ip_header: Some("two words".into()),
            ..RateLimits::default()
        };
        assert!(bad_header.check().is_err());
        // A burst with no rate is simply off.
        let off = RateLimits {
            per_ip: Rate {
                per_second: 0,
                burst: 5,
            },
            ..RateLimits::default()
        };
        assert_eq!(off.check(), Ok(()));
    }
}
