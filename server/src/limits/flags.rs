//! The command-line flags of the limits, flattened into [`crate::Cli`].

use std::time::Duration;

use clap::Args;

use super::{ConnectionLimits, Rate, RateLimits};

/// Connection and rate limits; every flag has an environment fallback.
#[derive(Debug, Clone, Args)]
pub struct LimitFlags {
    /// Connections open at once; more are refused with 503 (lowered to what the
    /// open-file limit allows).
    #[arg(long, env = "BECKON_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,
    /// Longest time a request header may take to arrive (`10`, `10s`, `500ms`, `2m`).
    #[arg(long, env = "BECKON_HEADER_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub header_timeout: Duration,
    /// Longest time a connection may stay open with no request under way.
    #[arg(long, env = "BECKON_IDLE_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    pub idle_timeout: Duration,
    /// Longest time from a request's header to the end of its response.
    #[arg(long, env = "BECKON_REQUEST_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    pub request_timeout: Duration,
    /// Longest time a request body may take to arrive, in total; then 408.
    #[arg(long, env = "BECKON_BODY_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub body_timeout: Duration,
    /// Requests per second from one client IP address (every route but /healthz);
    /// 0 turns the limit off.
    #[arg(long, env = "BECKON_RATE_PER_IP", default_value_t = 100)]
    pub rate_per_ip: u32,
    /// Requests one client IP address may make at once before the rate applies.
    #[arg(long, env = "BECKON_BURST_PER_IP", default_value_t = 400)]
    pub burst_per_ip: u32,
    /// Requests per second with one app key (device routes); 0 turns the limit off.
    #[arg(long, env = "BECKON_RATE_PER_APP_KEY", default_value_t = 5_000)]
    pub rate_per_app_key: u32,
    /// Requests with one app key at once before the rate applies.
    #[arg(long, env = "BECKON_BURST_PER_APP_KEY", default_value_t = 10_000)]
    pub burst_per_app_key: u32,
    /// Behind a trusted proxy only: the header naming the client (e.g.
    /// `X-Forwarded-For`, last value used) for the per-IP limit.
    #[arg(long, env = "BECKON_CLIENT_IP_HEADER")]
    pub client_ip_header: Option<String>,
}

impl LimitFlags {
    pub fn connections(&self) -> ConnectionLimits {
        ConnectionLimits {
            max_connections: self.max_connections,
            header_timeout: self.header_timeout,
            idle_timeout: self.idle_timeout,
            request_timeout: self.request_timeout,
            body_timeout: self.body_timeout,
        }
    }

    pub fn rates(&self) -> RateLimits {
        RateLimits {
            per_ip: Rate {
                per_second: self.rate_per_ip,
                burst: self.burst_per_ip,
            },
            per_app_key: Rate {
                per_second: self.rate_per_app_key,
                burst: self.burst_per_app_key,
            },
            client_ip_header: self.client_ip_header.clone(),
        }
    }
}

/// `10` or `10s` (seconds), `500ms`, `2m`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let value: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration; use 10s, 500ms or 2m"))?;
    match unit {
        "s" => Ok(Duration::from_secs(value)),
        "ms" => Ok(Duration::from_millis(value)),
        "m" => Ok(Duration::from_secs(value.saturating_mul(60))),
        _ => Err(format!(
            "{text:?}: unknown unit {unit:?}; use s, ms or m (10s, 500ms, 2m)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_durations_in_seconds_milliseconds_and_minutes() {
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration(" 10s "), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("1.5s").is_err());
        assert!(parse_duration("10h").unwrap_err().contains("unit"));
        assert!(parse_duration("-1").is_err());
    }
}
