//! The APNs provider token: an ES256 JWT naming the key and the team, signed with the
//! `.p8` key. APNs refuses one older than an hour and throttles providers that make a
//! new one more often than every 20 minutes, so it is cached and replaced at 50.

use std::sync::Mutex;

use chrono::{DateTime, TimeDelta, Utc};
use ring::signature::EcdsaKeyPair;
use serde_json::json;

use crate::delivery::clock::Clock;
use crate::delivery::jwt::sign_es256;

/// Age at which a provider token is replaced: inside Apple's 20-to-60-minute window.
pub(crate) const REFRESH_AFTER: TimeDelta = TimeDelta::minutes(50);

/// Whether a token issued at `issued_at` may still be sent at `now`. A token from the
/// future (the clock stepped back) is replaced too: APNs would judge its `iat` wrong.
pub(crate) fn is_fresh(issued_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    let age = now - issued_at;
    age >= TimeDelta::zero() && age < REFRESH_AFTER
}

#[derive(Clone)]
struct Issued {
    value: String,
    issued_at: DateTime<Utc>,
}

pub(crate) struct ProviderTokens {
    key: EcdsaKeyPair,
    key_id: String,
    team_id: String,
    clock: Clock,
    cached: Mutex<Option<Issued>>,
}

impl ProviderTokens {
    pub(crate) fn new(key: EcdsaKeyPair, key_id: String, team_id: String, clock: Clock) -> Self {
        Self {
            key,
            key_id,
            team_id,
            clock,
            cached: Mutex::new(None),
        }
    }

    /// The token to send now: the cached one while fresh, else a new one. `stale` is a
    /// token APNs just called expired; it is replaced unless another send already did.
    pub(crate) fn current(&self, stale: Option<&str>) -> Result<String, String> {
        let mut cached = self
            .cached
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = (self.clock)();
        if let Some(issued) = cached.as_ref() {
            if is_fresh(issued.issued_at, now) && Some(issued.value.as_str()) != stale {
                return Ok(issued.value.clone());
            }
        }
        let value = sign_es256(
            &self.key,
            &json!({"alg": "ES256", "kid": self.key_id}),
            &json!({"iss": self.team_id, "iat": now.timestamp()}),
        )?;
        *cached = Some(Issued {
            value: value.clone(),
            issued_at: now,
        });
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::sync::Arc;

    use super::*;
    use crate::delivery::jwt::p256_key_from_pem;
    use crate::delivery::jwt::tests::{decode_part, p256_pem};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn freshness_window() {
        let issued = at("2025-03-01T12:00:00Z");
        assert!(is_fresh(issued, issued));
        assert!(is_fresh(issued, at("2025-03-01T12:49:59Z")));
        assert!(!is_fresh(issued, at("2025-03-01T12:50:00Z")));
        assert!(!is_fresh(issued, at("2025-03-01T13:30:00Z")));
        assert!(!is_fresh(issued, at("2025-03-01T11:59:59Z")));
        // Replaced after 20 minutes at the earliest, and before 60 at the latest.
        assert!(REFRESH_AFTER > TimeDelta::minutes(20) && REFRESH_AFTER < TimeDelta::minutes(60));
    }

    /// A clock the test moves by hand.
    fn manual_clock(start: DateTime<Utc>) -> (Clock, Arc<AtomicI64>) {
        let now = Arc::new(AtomicI64::new(start.timestamp()));
        let read = now.clone();
        let clock: Clock =
            Arc::new(move || DateTime::from_timestamp(read.load(Ordering::SeqCst), 0).unwrap());
        (clock, now)
    }

    #[test]
    fn the_token_is_reused_until_due_then_replaced() {
        let start = at("2025-03-01T12:00:00Z");
        let (clock, now) = manual_clock(start);
        let key = p256_key_from_pem(&p256_pem()).unwrap();
        let tokens = ProviderTokens::new(key, "KEYID12345".into(), "TEAMID6789".into(), clock);

        let first = tokens.current(None).unwrap();
        assert_eq!(
            decode_part(&first, 0),
            json!({"alg": "ES256", "kid": "KEYID12345"})
        );
        assert_eq!(
            decode_part(&first, 1),
            json!({"iss": "TEAMID6789", "iat": start.timestamp()})
        );
        now.store(
            (start + TimeDelta::minutes(49)).timestamp(),
            Ordering::SeqCst,
        );
        assert_eq!(tokens.current(None).unwrap(), first);

        let later = start + TimeDelta::minutes(50);
        now.store(later.timestamp(), Ordering::SeqCst);
        let second = tokens.current(None).unwrap();
        assert_ne!(second, first);
        assert_eq!(decode_part(&second, 1)["iat"], later.timestamp());
        assert_eq!(tokens.current(None).unwrap(), second);
    }

    #[test]
    fn a_token_called_expired_is_replaced_once() {
        let (clock, _) = manual_clock(at("2025-03-01T12:00:00Z"));
        let key = p256_key_from_pem(&p256_pem()).unwrap();
        let tokens = ProviderTokens::new(key, "K".into(), "T".into(), clock);
        let first = tokens.current(None).unwrap();
        let replaced = tokens.current(Some(&first)).unwrap();
        assert_ne!(replaced, first);
        // A second send holding the same stale token gets the replacement, not a third.
        assert_eq!(tokens.current(Some(&first)).unwrap(), replaced);
    }
}
