//! Verified identities: the app key is public (it ships in every app), so only the
//! app's backend can say who a user is. It signs the user id, with an HMAC of the
//! app's secret or a short-lived JWT, the way Braze's SDK authentication and
//! OneSignal's identity verification work; devices send that token along, and a server
//! enforcing verification refuses a request naming a user without a valid one.
//!
//! How each app key is treated is its [`Enforcement`]; [`Verifier::judge`] is the one
//! decision every per-user route applies.

mod cache;
mod config;
mod flags;
pub mod hmac;
pub mod jwt;

pub use config::{Enforcement, IdentityConfig};
pub use flags::IdentityFlags;

use beckon::protocol::{IdentityProblem, IdentityRefusal};
use chrono::{DateTime, Utc};

use cache::VerifiedTokens;

/// Checks identity tokens against the configured secrets and keys.
pub struct Verifier {
    config: IdentityConfig,
    hmac: Vec<ring::hmac::Key>,
    jwt: Vec<jwt::PublicKey>,
    expect: jwt::Expectations,
    cache: VerifiedTokens,
}

/// What a request's users come to under its app key's [`Enforcement`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Judgement {
    /// Users without a valid token under `Required`: the request must be refused.
    pub refused: Vec<IdentityRefusal>,
    /// Users without a valid token under `Optional`: accepted, and counted.
    pub unverified: Vec<IdentityRefusal>,
}

impl Verifier {
    /// Reads the keys now, so a bad one stops the server at start.
    pub fn new(config: IdentityConfig) -> Result<Self, String> {
        let hmac = config
            .hmac_secrets
            .iter()
            .map(|secret| hmac::key(secret.as_bytes()))
            .collect();
        let jwt = config
            .jwt_keys
            .iter()
            .map(|source| {
                let pem = source
                    .read("identity JWT public key")
                    .map_err(|err| err.to_string())?;
                jwt::PublicKey::from_pem(&pem, None)
                    .map_err(|err| format!("identity JWT key {source:?}: {err}"))
            })
            .collect::<Result<_, _>>()?;
        let expect = jwt::Expectations {
            issuer: config.jwt_issuer.clone(),
            audience: config.jwt_audience.clone(),
        };
        Ok(Self {
            config,
            hmac,
            jwt,
            expect,
            cache: VerifiedTokens::default(),
        })
    }

    /// A verifier enforcing nothing.
    pub fn off() -> Self {
        Self::new(IdentityConfig::default()).expect("no keys to read")
    }

    pub fn enforcement(&self, app_key: &str) -> Enforcement {
        self.config.enforcement(app_key)
    }

    /// Whether `token` proves `user_id` at `now`. A token with dots is a JWT, any other
    /// an HMAC.
    pub fn check(
        &self,
        user_id: &str,
        token: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityProblem> {
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Err(IdentityProblem::Missing);
        };
        if self.cache.holds(user_id, token, now) {
            return Ok(());
        }
        let valid_until = if token.contains('.') {
            Some(jwt::verify(&self.jwt, &self.expect, user_id, token, now)?)
        } else if hmac::verify(&self.hmac, user_id, token) {
            None
        } else {
            return Err(IdentityProblem::Invalid);
        };
        self.cache.remember(user_id, token, valid_until);
        Ok(())
    }

    /// Judges the users a request from `app_key` names, each with the token it
    /// carries for them (`token_of`). Nothing is checked when enforcement is off.
    pub fn judge<'a>(
        &self,
        app_key: &str,
        users: impl IntoIterator<Item = &'a str>,
        token_of: impl Fn(&str) -> Option<&'a str>,
        now: DateTime<Utc>,
    ) -> Judgement {
        let enforcement = self.enforcement(app_key);
        let mut judgement = Judgement::default();
        if enforcement == Enforcement::Off {
            return judgement;
        }
        for user_id in users {
            if let Err(problem) = self.check(user_id, token_of(user_id), now) {
                let refusal = IdentityRefusal {
                    user_id: user_id.to_string(),
                    problem,
                };
                match enforcement {
                    Enforcement::Required => judgement.refused.push(refusal),
                    _ => judgement.unverified.push(refusal),
                }
            }
        }
        judgement
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::KeySource;
    use chrono::TimeDelta;
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use serde_json::json;

    const SECRET: &str = "the-apps-identity-secret";

    fn verifier(modes: &[&str]) -> Verifier {
        let mut config = IdentityConfig {
            hmac_secrets: vec![SECRET.into()],
            jwt_keys: vec![KeySource::Inline(jwt::test_keys::ES256_PUBLIC.into())],
            ..Default::default()
        };
        config
            .set_enforcement(&modes.iter().map(|m| m.to_string()).collect::<Vec<_>>())
            .unwrap();
        Verifier::new(config).unwrap()
    }

    fn jwt_for(user_id: &str, expires: DateTime<Utc>) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::ES256),
            &json!({"sub": user_id, "exp": expires.timestamp()}),
            &EncodingKey::from_ec_pem(jwt::test_keys::ES256_PRIVATE.as_bytes()).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn hmac_and_jwt_tokens_both_prove_their_user() {
        let verifier = verifier(&["required"]);
        let now = Utc::now();
        let hmac = hmac::sign(SECRET.as_bytes(), "alice");
        assert_eq!(verifier.check("alice", Some(&hmac), now), Ok(()));
        assert_eq!(
            verifier.check("bob", Some(&hmac), now),
            Err(IdentityProblem::Invalid)
        );
        let token = jwt_for("alice", now + TimeDelta::minutes(5));
        assert_eq!(verifier.check("alice", Some(&token), now), Ok(()));
        assert_eq!(
            verifier.check("alice", Some(&token), now + TimeDelta::minutes(7)),
            Err(IdentityProblem::Expired),
            "a cached token still expires"
        );
        assert_eq!(
            verifier.check("alice", None, now),
            Err(IdentityProblem::Missing)
        );
        assert_eq!(
            verifier.check("alice", Some(""), now),
            Err(IdentityProblem::Missing)
        );
    }

    #[test]
    fn enforcement_decides_between_refusing_counting_and_ignoring() {
        let verifier = verifier(&["optional", "ios=required", "legacy=off"]);
        let now = Utc::now();
        let good = hmac::sign(SECRET.as_bytes(), "alice");
        let tokens = |user: &str| (user == "alice").then_some(good.as_str());
        let users = ["alice", "mallory"];
        let required = verifier.judge("ios", users, tokens, now);
        assert_eq!(
            required.refused,
            [IdentityRefusal {
                user_id: "mallory".into(),
                problem: IdentityProblem::Missing
            }]
        );
        assert!(required.unverified.is_empty());
        let optional = verifier.judge("android", users, tokens, now);
        assert!(optional.refused.is_empty());
        assert_eq!(optional.unverified.len(), 1);
        assert_eq!(
            verifier.judge("legacy", users, tokens, now),
            Judgement::default()
        );
    }

    #[test]
    fn a_bad_key_stops_the_verifier_from_being_built() {
        let config = IdentityConfig {
            jwt_keys: vec![KeySource::Inline("not a key".into())],
            ..Default::default()
        };
        assert!(Verifier::new(config).is_err());
    }
}
