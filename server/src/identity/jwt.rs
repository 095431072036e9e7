//! JWT tokens from the app's backend: ES256 or RS256, `sub` the user id, `exp`
//! required, checked against the public keys the operator configured.
//!
//! The signature is checked by `jsonwebtoken`; the claims are read here into strict
//! types (a string `exp` is a malformed token, never a missing one) and compared with
//! the time passed in, so tests can move the clock.

use std::collections::HashSet;

use beckon::protocol::IdentityProblem;
use chrono::{DateTime, TimeDelta, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

/// Clock difference tolerated between the app's backend and this server.
pub const LEEWAY: TimeDelta = TimeDelta::seconds(60);

/// One configured public key.
pub struct PublicKey {
    algorithm: Algorithm,
    key: DecodingKey,
    /// The key id a token names in its header (`kid`), when the operator gave one.
    id: Option<String>,
}

impl PublicKey {
    /// A PEM public key (`-----BEGIN PUBLIC KEY-----`): P-256 for ES256, RSA for RS256.
    pub fn from_pem(pem: &str, id: Option<String>) -> Result<Self, String> {
        // `jsonwebtoken` takes an RSA private key (PKCS#1 or PKCS#8) for a public one,
        // and every token would then fail to verify: refuse it at start instead (the
        // private key has no business on this server either).
        if first_pem_label(pem).is_some_and(|label| label.contains("PRIVATE")) {
            return Err("a private key, not a public key: give the public key \
                 (`openssl pkey -in KEY -pubout`)"
                .into());
        }
        if let Ok(key) = DecodingKey::from_ec_pem(pem.as_bytes()) {
            return Ok(Self {
                algorithm: Algorithm::ES256,
                key,
                id,
            });
        }
        DecodingKey::from_rsa_pem(pem.as_bytes())
            .map(|key| Self {
                algorithm: Algorithm::RS256,
                key,
                id,
            })
            .map_err(|err| format!("not a PEM public key for ES256 (P-256) or RS256 (RSA): {err}"))
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicKey")
            .field("algorithm", &self.algorithm)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The label of the first PEM block (`PUBLIC KEY` for `-----BEGIN PUBLIC KEY-----`),
/// the one a PEM reader takes.
fn first_pem_label(pem: &str) -> Option<&str> {
    let start = pem.find("-----BEGIN ")? + "-----BEGIN ".len();
    let rest = &pem[start..];
    Some(rest[..rest.find("-----")?].trim())
}

/// What the server requires of a token besides its signature.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expectations {
    pub issuer: Option<String>,
    pub audience: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    exp: i64,
    #[serde(default)]
    nbf: Option<i64>,
}

/// Checks `token` for `user_id` at `now`; on success, when it expires.
pub fn verify(
    keys: &[PublicKey],
    expect: &Expectations,
    user_id: &str,
    token: &str,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, IdentityProblem> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| IdentityProblem::Invalid)?;
    let mut validation = Validation::new(header.alg);
    // Times are checked below against `now`, claim types are checked by `Claims`.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.required_spec_claims = HashSet::new();
    validation.validate_aud = expect.audience.is_some();
    if let Some(audience) = &expect.audience {
        validation.set_audience(&[audience]);
        validation.required_spec_claims.insert("aud".into());
    }
    if let Some(issuer) = &expect.issuer {
        validation.set_issuer(&[issuer]);
        validation.required_spec_claims.insert("iss".into());
    }
    let candidates = keys.iter().filter(|key| {
        key.algorithm == header.alg
            && match (&key.id, &header.kid) {
                (Some(ours), Some(theirs)) => ours == theirs,
                _ => true,
            }
    });
    let mut claims = None;
    for key in candidates {
        if let Ok(data) = jsonwebtoken::decode::<Claims>(token, &key.key, &validation) {
            claims = Some(data.claims);
            break;
        }
    }
    let claims = claims.ok_or(IdentityProblem::Invalid)?;
    if claims.sub != user_id {
        return Err(IdentityProblem::Invalid);
    }
    let at = |seconds: i64| DateTime::from_timestamp(seconds, 0).ok_or(IdentityProblem::Invalid);
    // The leeway is added and taken saturating: a signed `exp` at the end of the times
    // chrono can hold (or an `nbf` at their start) must not overflow.
    if let Some(not_before) = claims.nbf {
        let earliest = at(not_before)?
            .checked_sub_signed(LEEWAY)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        if earliest > now {
            return Err(IdentityProblem::Invalid);
        }
    }
    let valid_until = at(claims.exp)?
        .checked_add_signed(LEEWAY)
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    if valid_until <= now {
        return Err(IdentityProblem::Expired);
    }
    Ok(valid_until)
}

#[cfg(test)]
pub(crate) mod test_keys {
    //! Throwaway keys for tests only, generated with
    //! `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256` and
    //! `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`.
    pub const ES256_PRIVATE: &str = include_str!("../../tests/fixtures/identity/es256-private.pem");
    pub const ES256_PUBLIC: &str = include_str!("../../tests/fixtures/identity/es256-public.pem");
    pub const RS256_PRIVATE: &str = include_str!("../../tests/fixtures/identity/rs256-private.pem");
    pub const RS256_PUBLIC: &str = include_str!("../../tests/fixtures/identity/rs256-public.pem");
    pub const OTHER_ES256_PRIVATE: &str =
        include_str!("../../tests/fixtures/identity/other-es256-private.pem");
}

#[cfg(test)]
mod tests {
    use super::test_keys::*;
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::{json, Value};

    fn now() -> DateTime<Utc> {
        "2026-06-01T12:00:00Z".parse().unwrap()
    }

    fn sign(alg: Algorithm, private: &str, claims: Value, kid: Option<&str>) -> String {
        let key = match alg {
            Algorithm::ES256 => EncodingKey::from_ec_pem(private.as_bytes()).unwrap(),
            _ => EncodingKey::from_rsa_pem(private.as_bytes()).unwrap(),
        };
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_string);
        jsonwebtoken::encode(&header, &claims, &key).unwrap()
    }

    fn keys() -> Vec<PublicKey> {
        vec![
            PublicKey::from_pem(ES256_PUBLIC, Some("ec-1".into())).unwrap(),
            PublicKey::from_pem(RS256_PUBLIC, None).unwrap(),
        ]
    }

    fn exp_in(seconds: i64) -> i64 {
        (now() + TimeDelta::seconds(seconds)).timestamp()
    }

    #[test]
    fn reads_both_key_kinds_and_refuses_anything_else() {
        let keys = keys();
        assert_eq!(keys[0].algorithm(), Algorithm::ES256);
        assert_eq!(keys[1].algorithm(), Algorithm::RS256);
        assert!(PublicKey::from_pem("not a key", None).is_err());
        assert!(
            PublicKey::from_pem(ES256_PRIVATE, None).is_err(),
            "a private key is not a public key"
        );
    }

    #[test]
    fn a_private_key_is_never_taken_for_a_public_one() {
        // An RSA private key was read as an RS256 public key that verified nothing.
        let pkcs1 = format!(
            "-----BEGIN RSA PRIVATE KEY-----\n{}-----END RSA PRIVATE KEY-----\n",
            RS256_PRIVATE
                .lines()
                .filter(|line| !line.starts_with("-----"))
                .map(|line| format!("{line}\n"))
                .collect::<String>()
        );
        for private in [RS256_PRIVATE, ES256_PRIVATE, OTHER_ES256_PRIVATE, &pkcs1] {
            let err = PublicKey::from_pem(private, None).unwrap_err();
            assert!(err.contains("not a public key"), "{err}");
        }
        let both = format!("{RS256_PUBLIC}{RS256_PRIVATE}");
        assert_eq!(
            PublicKey::from_pem(&both, None).unwrap().algorithm(),
            Algorithm::RS256
        );
    }

    #[test]
    fn accepts_a_valid_token_of_either_algorithm_until_it_expires() {
        let keys = keys();
        let expect = Expectations::default();
        for (alg, private) in [
            (Algorithm::ES256, ES256_PRIVATE),
            (Algorithm::RS256, RS256_PRIVATE),
        ] {
            let token = sign(
                alg,
                private,
                json!({"sub": "alice", "exp": exp_in(300)}),
                None,
            );
            let expires = verify(&keys, &expect, "alice", &token, now()).unwrap();
            assert_eq!(expires, now() + TimeDelta::seconds(300) + LEEWAY);
            let later = now() + TimeDelta::seconds(300) + LEEWAY;
            assert_eq!(
                verify(&keys, &expect, "alice", &token, later),
                Err(IdentityProblem::Expired)
            );
            assert_eq!(
                verify(&keys, &expect, "bob", &token, now()),
                Err(IdentityProblem::Invalid),
                "another user's token"
            );
        }
    }

    #[test]
    fn refuses_forged_malformed_and_mistyped_tokens() {
        let keys = keys();
        let expect = Expectations::default();
        let check = |token: &str| verify(&keys, &expect, "alice", token, now());
        let forged = sign(
            Algorithm::ES256,
            OTHER_ES256_PRIVATE,
            json!({"sub": "alice", "exp": exp_in(300)}),
            None,
        );
        assert_eq!(check(&forged), Err(IdentityProblem::Invalid));
        let wrong_kid = sign(
            Algorithm::ES256,
            ES256_PRIVATE,
            json!({"sub": "alice", "exp": exp_in(300)}),
            Some("ec-2"),
        );
        assert_eq!(check(&wrong_kid), Err(IdentityProblem::Invalid));
        for claims in [
            json!({"sub": "alice"}),
            json!({"sub": "alice", "exp": "never"}),
            json!({"sub": "alice", "exp": exp_in(300), "nbf": "soon"}),
            json!({"exp": exp_in(300)}),
            json!({"sub": "alice", "exp": exp_in(300), "nbf": exp_in(3600)}),
        ] {
            let token = sign(Algorithm::ES256, ES256_PRIVATE, claims.clone(), None);
            assert_eq!(check(&token), Err(IdentityProblem::Invalid), "{claims}");
        }
        // An HMAC-signed JWT with the public key as secret (algorithm confusion).
        let confused = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &json!({"sub": "alice", "exp": exp_in(300)}),
            &EncodingKey::from_secret(ES256_PUBLIC.as_bytes()).unwrap(),
        )
        .unwrap();
        assert_eq!(check(&confused), Err(IdentityProblem::Invalid));
        let token = sign(
            Algorithm::RS256,
            RS256_PRIVATE,
            json!({"sub": "alice", "exp": exp_in(300)}),
            None,
        );
        let mut tampered = token.clone();
        tampered.replace_range(tampered.len() - 4.., "AAAA");
        assert_eq!(check(&tampered), Err(IdentityProblem::Invalid));
        for junk in ["", "a.b.c", "not-a-jwt", "..", &"e".repeat(5000)] {
            assert_eq!(check(junk), Err(IdentityProblem::Invalid), "{junk:?}");
        }
    }

    #[test]
    fn times_at_the_ends_of_the_calendar_do_not_overflow() {
        // Signed tokens with these claims made the leeway arithmetic panic.
        let keys = keys();
        let expect = Expectations::default();
        let end = DateTime::<Utc>::MAX_UTC.timestamp();
        let start = DateTime::<Utc>::MIN_UTC.timestamp();
        let token = |claims: Value| sign(Algorithm::ES256, ES256_PRIVATE, claims, None);
        let forever = token(json!({"sub": "alice", "exp": end}));
        assert_eq!(
            verify(&keys, &expect, "alice", &forever, now()),
            Ok(DateTime::<Utc>::MAX_UTC)
        );
        let always = token(json!({"sub": "alice", "exp": exp_in(300), "nbf": start}));
        assert!(verify(&keys, &expect, "alice", &always, now()).is_ok());
        let at_the_end = token(json!({"sub": "alice", "exp": exp_in(300), "nbf": end}));
        assert_eq!(
            verify(&keys, &expect, "alice", &at_the_end, now()),
            Err(IdentityProblem::Invalid)
        );
    }

    #[test]
    fn issuer_and_audience_are_required_when_configured() {
        let keys = keys();
        let expect = Expectations {
            issuer: Some("https://shop.example".into()),
            audience: Some("beckon".into()),
        };
        let token = |claims: Value| sign(Algorithm::ES256, ES256_PRIVATE, claims, None);
        let good = token(json!({"sub": "alice", "exp": exp_in(60),
            "iss": "https://shop.example", "aud": "beckon"}));
        assert!(verify(&keys, &expect, "alice", &good, now()).is_ok());
        for claims in [
            json!({"sub": "alice", "exp": exp_in(60), "aud": "beckon"}),
            json!({"sub": "alice", "exp": exp_in(60), "iss": "https://evil.example", "aud": "beckon"}),
            json!({"sub": "alice", "exp": exp_in(60), "iss": "https://shop.example", "aud": "other"}),
        ] {
            assert_eq!(
                verify(&keys, &expect, "alice", &token(claims.clone()), now()),
                Err(IdentityProblem::Invalid),
                "{claims}"
            );
        }
    }
}
