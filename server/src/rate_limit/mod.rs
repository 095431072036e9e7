//! Request rates: per client IP on every route but `/healthz`, checked before any
//! credential (so guessing the admin token is slowed too), and per app key on device
//! routes, after the key is checked. Each is a keyed GCRA token bucket (`governor`).
//! A request over its rate gets 429 `rate_limited` with `Retry-After` in whole seconds,
//! which the SDK honours.

mod client_ip;

use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::app::AppState;
use crate::auth::AppKey;
use crate::error::ApiError;
use crate::limits::{Rate, RateLimits};
use crate::metrics::ScopeLabel;

/// How often buckets back to full are forgotten, so memory follows the clients of the
/// last moments rather than every client ever seen.
const FORGET_EVERY: Duration = Duration::from_secs(30);

/// The buckets of one server.
pub struct RateLimiters {
    per_ip: Option<Bucket<IpAddr>>,
    per_app_key: Option<Bucket<Arc<str>>>,
    client_ip_header: Option<HeaderName>,
}

impl RateLimiters {
    /// Limiters for `limits` (already checked), forgetting idle clients in the
    /// background for as long as they are in use.
    pub fn new(limits: &RateLimits) -> Arc<Self> {
        let limiters = Arc::new(Self {
            per_ip: Bucket::new(limits.per_ip),
            per_app_key: Bucket::new(limits.per_app_key),
            client_ip_header: limits
                .client_ip_header
                .as_deref()
                .and_then(|name| HeaderName::try_from(name).ok()),
        });
        if limiters.per_ip.is_some() || limiters.per_app_key.is_some() {
            tokio::spawn(forget_idle_clients(Arc::downgrade(&limiters)));
        }
        limiters
    }

    /// No limit at all.
    pub fn off() -> Arc<Self> {
        Arc::new(Self {
            per_ip: None,
            per_app_key: None,
            client_ip_header: None,
        })
    }

    fn forget_idle_clients(&self) {
        if let Some(bucket) = &self.per_ip {
            bucket.limiter.retain_recent();
        }
        if let Some(bucket) = &self.per_app_key {
            bucket.limiter.retain_recent();
        }
    }
}

async fn forget_idle_clients(limiters: Weak<RateLimiters>) {
    let mut every = tokio::time::interval(FORGET_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let Some(limiters) = limiters.upgrade() else {
            return;
        };
        limiters.forget_idle_clients();
    }
}

struct Bucket<K: Hash + Eq + Clone> {
    limiter: DefaultKeyedRateLimiter<K>,
    rate: Rate,
}

impl<K: Hash + Eq + Clone> Bucket<K> {
    /// `None` when the rate is off.
    fn new(rate: Rate) -> Option<Self> {
        let per_second = NonZeroU32::new(rate.per_second)?;
        let burst = NonZeroU32::new(rate.burst).unwrap_or(per_second);
        let quota = Quota::per_second(per_second).allow_burst(burst);
        Some(Self {
            limiter: DefaultKeyedRateLimiter::keyed(quota),
            rate,
        })
    }

    /// Takes a token for `key`, or says how long until one is free.
    fn take(&self, key: &K) -> Result<(), Duration> {
        self.limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// The 429 for a request over the rate, counted under `scope`.
    fn refuse(
        &self,
        state: &AppState,
        scope: &'static str,
        whose: &str,
        wait: Duration,
    ) -> Response {
        state
            .metrics()
            .rate_limited
            .get_or_create(&ScopeLabel { scope })
            .inc();
        let seconds = retry_after_seconds(wait);
        let Rate { per_second, burst } = self.rate;
        let message = format!(
            "too many requests {whose}: the limit is {per_second} per second with bursts of \
             {burst}; retry after {seconds} s"
        );
        let mut response =
            ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message).into_response();
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(seconds));
        response
    }
}

/// `Retry-After` in whole seconds, rounded up so a client waiting that long finds a
/// token; at least 1.
fn retry_after_seconds(wait: Duration) -> u64 {
    let whole = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    whole.max(1)
}

/// The per-IP limit (an outer layer, before credentials are looked at).
pub async fn limit_ip(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limiters = state.rate_limiters();
    if let Some(bucket) = &limiters.per_ip {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        let ip = client_ip::client_ip(request.headers(), peer, limiters.client_ip_header.as_ref());
        if let Some(ip) = ip {
            if let Err(wait) = bucket.take(&client_ip::bucket(ip)) {
                return bucket.refuse(&state, "ip", "from this address", wait);
            }
        }
    }
    next.run(request).await
}

/// The per-app-key limit (inside `auth::require_app_key`, which names the key).
pub async fn limit_app_key(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let limiters = state.rate_limiters();
    if let (Some(bucket), Some(AppKey(key))) =
        (&limiters.per_app_key, request.extensions().get::<AppKey>())
    {
        if let Err(wait) = bucket.take(key) {
            return bucket.refuse(&state, "app_key", "with this app key", wait);
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_seconds(Duration::ZERO), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_seconds(Duration::from_secs(1)), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(1_001)), 2);
        assert_eq!(retry_after_seconds(Duration::from_secs(59)), 59);
    }

    #[test]
    fn a_bucket_allows_its_burst_then_says_how_long_to_wait() {
        let bucket = Bucket::new(Rate {
            per_second: 2,
            burst: 3,
        })
        .unwrap();
        for _ in 0..3 {
            assert_eq!(bucket.take(&"a"), Ok(()));
        }
        let wait = bucket.take(&"a").unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(500),
            "{wait:?}"
        );
        assert_eq!(bucket.take(&"b"), Ok(()), "another key has its own bucket");
        assert!(Bucket::<&str>::new(Rate::OFF).is_none());
    }
}
