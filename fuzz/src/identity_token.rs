//! Identity tokens as the server verifies them (`server/src/identity`): HMAC tokens,
//! JWTs (ES256, RS256) and the cache of tokens already verified, with the test keys of
//! `server/tests/fixtures/identity`.
//!
//! The first byte picks where the token comes from:
//!
//! - `0`: the token is text from the input (up to the first NUL), as a device may send
//!   anything;
//! - `1`: an HMAC token the app's backend signed for a user, with one of the two
//!   configured secrets or an unknown one, maybe changed (case, a byte);
//! - `2`: a JWT signed for a user with the ES256 or RS256 test key, another ES256 key
//!   or as HS256 with the public key as secret, with drawn claims (`sub`, `exp`, `nbf`,
//!   `iss`, `aud`, types and values, far past and far future included), maybe changed.
//!
//! The rest of the input draws the verifier's expectations (issuer, audience), then a
//! series of checks: which user (the one signed for, another, a drawn one) and when
//! (never earlier than the check before).
//!
//! Checked: every check gives the same answer on a verifier that has seen the token
//! before (its cache) and on a fresh one; a token verifies only for the user it was
//! signed for (an HMAC of that user under a configured secret, a JWT whose `sub` is
//! that user); an unchanged token signed by us gets exactly the answer its claims call
//! for at that instant (valid until `exp` plus the leeway, not before `nbf` minus it;
//! `Expired` only once past); an empty or absent token is `Missing`; and a request's
//! judgement under each enforcement refuses or counts exactly the users whose check
//! fails.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use arbitrary::{Result, Unstructured};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use beckon::protocol::IdentityProblem;
use beckon_server::delivery::KeySource;
use beckon_server::identity::{hmac, IdentityConfig, Verifier};
use chrono::{DateTime, TimeDelta, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Map, Value};

use crate::gen;

const SECRET: &str = "the-apps-identity-secret";
const OLD_SECRET: &str = "the-previous-identity-secret";
const UNKNOWN_SECRET: &str = "a-secret-this-server-never-had";
const ISSUER: &str = "https://shop.example";
const AUDIENCE: &str = "beckon";
/// `server/src/identity/jwt.rs`'s `LEEWAY`, in seconds.
const LEEWAY: i64 = 60;

const ES256_PRIVATE: &str = include_str!("../../server/tests/fixtures/identity/es256-private.pem");
const ES256_PUBLIC: &str = include_str!("../../server/tests/fixtures/identity/es256-public.pem");
const RS256_PRIVATE: &str = include_str!("../../server/tests/fixtures/identity/rs256-private.pem");
const RS256_PUBLIC: &str = include_str!("../../server/tests/fixtures/identity/rs256-public.pem");
const OTHER_ES256_PRIVATE: &str =
    include_str!("../../server/tests/fixtures/identity/other-es256-private.pem");

const USERS: &[&str] = &["alice", "bob", "Alice", "alice ", "", "ユーザー", "u-1"];

fn config(issuer: bool, audience: bool) -> IdentityConfig {
    let mut config = IdentityConfig {
        hmac_secrets: vec![SECRET.into(), OLD_SECRET.into()],
        jwt_keys: vec![
            KeySource::Inline(ES256_PUBLIC.into()),
            KeySource::Inline(RS256_PUBLIC.into()),
        ],
        jwt_issuer: issuer.then(|| ISSUER.into()),
        jwt_audience: audience.then(|| AUDIENCE.into()),
        ..Default::default()
    };
    config
        .set_enforcement(&["required".into()])
        .expect("a known mode");
    config
}

fn verifier(issuer: bool, audience: bool) -> Verifier {
    Verifier::new(config(issuer, audience)).expect("the test keys are read")
}

struct Keys {
    es256: EncodingKey,
    rs256: EncodingKey,
    other_es256: EncodingKey,
    confused: EncodingKey,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        es256: EncodingKey::from_ec_pem(ES256_PRIVATE.as_bytes()).expect("a P-256 key"),
        rs256: EncodingKey::from_rsa_pem(RS256_PRIVATE.as_bytes()).expect("an RSA key"),
        other_es256: EncodingKey::from_ec_pem(OTHER_ES256_PRIVATE.as_bytes()).expect("a P-256 key"),
        confused: EncodingKey::from_secret(ES256_PUBLIC.as_bytes()).expect("any secret"),
    })
}

/// Where a token came from, for the answer it must get.
enum Origin {
    /// Text from the input.
    Raw,
    /// An HMAC of `user` under a secret, `known` to the server or not.
    Hmac { user: String, known: bool },
    /// A JWT we signed: `trusted` when with a configured key, and its claims.
    Jwt {
        user: String,
        trusted: bool,
        claims: Map<String, Value>,
    },
}

pub fn run(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let (token, origin, rest) = match which % 3 {
        0 => {
            let (text, rest) = gen::split(rest);
            (text, Origin::Raw, rest)
        }
        1 => {
            let mut u = Unstructured::new(rest);
            let Ok((token, origin)) = hmac_token(&mut u) else {
                return;
            };
            (token, origin, u.take_rest())
        }
        _ => {
            let mut u = Unstructured::new(rest);
            let Ok((token, origin)) = jwt_token(&mut u) else {
                return;
            };
            (token, origin, u.take_rest())
        }
    };
    let mut u = Unstructured::new(rest);
    let _ = checks(&mut u, &token, &origin);
}

fn user(u: &mut Unstructured) -> Result<String> {
    Ok(if u.ratio(1, 8)? {
        u.arbitrary()?
    } else {
        u.choose(USERS)?.to_string()
    })
}

/// Changes the token, or not: a byte replaced, a character's case swapped, a cut.
fn change(u: &mut Unstructured, token: String) -> Result<(String, bool)> {
    let mut bytes = token.into_bytes();
    let changed = match u.int_in_range(0..=5u8)? {
        0 if !bytes.is_empty() => {
            let at = u.choose_index(bytes.len())?;
            bytes[at] = u.arbitrary()?;
            true
        }
        1 if !bytes.is_empty() => {
            let at = u.choose_index(bytes.len())?;
            bytes[at] = if bytes[at].is_ascii_lowercase() {
                bytes[at].to_ascii_uppercase()
            } else {
                bytes[at].to_ascii_lowercase()
            };
            true
        }
        2 if !bytes.is_empty() => {
            let at = u.choose_index(bytes.len())?;
            bytes.truncate(at);
            true
        }
        _ => false,
    };
    let token = String::from_utf8_lossy(&bytes).into_owned();
    Ok((token, changed))
}

fn hmac_token(u: &mut Unstructured) -> Result<(String, Origin)> {
    let user = user(u)?;
    let (secret, known) =
        *u.choose(&[(SECRET, true), (OLD_SECRET, true), (UNKNOWN_SECRET, false)])?;
    let signed = hmac::sign(secret.as_bytes(), &user);
    let (token, changed) = change(u, signed)?;
    // A changed HMAC token is just text: the generic checks judge it.
    let origin = if changed {
        Origin::Raw
    } else {
        Origin::Hmac { user, known }
    };
    Ok((token, origin))
}

/// An instant relative to [`gen::now`], in seconds: near it mostly, sometimes anywhere
/// an `i64` reaches (chrono's range ends far before).
fn seconds(u: &mut Unstructured) -> Result<i64> {
    let base = gen::now().timestamp();
    Ok(match u.int_in_range(0..=3u8)? {
        0 => u.arbitrary()?,
        1 => *u.choose(&[
            DateTime::<Utc>::MAX_UTC.timestamp(),
            DateTime::<Utc>::MAX_UTC.timestamp() - LEEWAY,
            DateTime::<Utc>::MIN_UTC.timestamp(),
            DateTime::<Utc>::MIN_UTC.timestamp() + LEEWAY,
            0,
            i64::MAX,
            i64::MIN,
        ])?,
        _ => base + i64::from(u.int_in_range(-7_200..=7_200i32)?),
    })
}

fn jwt_token(u: &mut Unstructured) -> Result<(String, Origin)> {
    let user = user(u)?;
    let mut claims = Map::new();
    match u.int_in_range(0..=9u8)? {
        0 => {}
        1 => {
            claims.insert("sub".into(), json!(42));
        }
        2 => {
            claims.insert("sub".into(), json!(self::user(u)?));
        }
        _ => {
            claims.insert("sub".into(), json!(user));
        }
    }
    match u.int_in_range(0..=9u8)? {
        0 => {}
        1 => {
            claims.insert("exp".into(), json!("never"));
        }
        2 => {
            claims.insert("exp".into(), json!(1.5));
        }
        _ => {
            claims.insert("exp".into(), json!(seconds(u)?));
        }
    }
    match u.int_in_range(0..=5u8)? {
        0 => {
            claims.insert("nbf".into(), json!(seconds(u)?));
        }
        1 => {
            claims.insert("nbf".into(), json!("soon"));
        }
        _ => {}
    }
    match u.int_in_range(0..=3u8)? {
        0 => {}
        1 => {
            claims.insert("iss".into(), json!("https://evil.example"));
        }
        _ => {
            claims.insert("iss".into(), json!(ISSUER));
        }
    }
    match u.int_in_range(0..=4u8)? {
        0 => {}
        1 => {
            claims.insert("aud".into(), json!("other"));
        }
        2 => {
            claims.insert("aud".into(), json!(["other", AUDIENCE]));
        }
        _ => {
            claims.insert("aud".into(), json!(AUDIENCE));
        }
    }
    if u.ratio(1, 4)? {
        let key: String = u.arbitrary()?;
        let value: String = u.arbitrary()?;
        claims.insert(key, json!(value));
    }
    let keys = keys();
    let (algorithm, key, trusted) = *u.choose(&[
        (Algorithm::ES256, &keys.es256, true),
        (Algorithm::ES256, &keys.es256, true),
        (Algorithm::RS256, &keys.rs256, true),
        (Algorithm::ES256, &keys.other_es256, false),
        (Algorithm::HS256, &keys.confused, false),
    ])?;
    let mut header = Header::new(algorithm);
    if u.ratio(1, 4)? {
        header.kid = Some(u.arbitrary()?);
    }
    let signed = signed(&header, &claims, key);
    let (token, changed) = change(u, signed)?;
    let origin = if changed {
        Origin::Raw
    } else {
        Origin::Jwt {
            user,
            trusted,
            claims,
        }
    };
    Ok((token, origin))
}

/// Signs as the app's backend does. Signing (RS256 above all) costs far more than the
/// rest of a run, and the fuzzer draws the same claims again and again: each token is
/// signed once.
fn signed(header: &Header, claims: &Map<String, Value>, key: &EncodingKey) -> String {
    static SIGNED: Mutex<Option<HashMap<String, String>>> = Mutex::new(None);
    let claims = Value::Object(claims.clone());
    let id = format!(
        "{:?} {:?} {:p} {claims}",
        header.alg, header.kid, key as *const EncodingKey
    );
    let mut signed = SIGNED.lock().unwrap_or_else(|p| p.into_inner());
    let signed = signed.get_or_insert_with(HashMap::new);
    if signed.len() >= 4_096 {
        signed.clear();
    }
    signed
        .entry(id)
        .or_insert_with(|| jsonwebtoken::encode(header, &claims, key).expect("signing works"))
        .clone()
}

fn checks(u: &mut Unstructured, token: &str, origin: &Origin) -> Result<()> {
    let issuer = u.arbitrary()?;
    let audience = u.arbitrary()?;
    let cached = verifier(issuer, audience);
    let mut now = gen::now() + TimeDelta::seconds(i64::from(u.int_in_range(-3_600..=3_600i32)?));
    let signed_for = match origin {
        Origin::Hmac { user, .. } | Origin::Jwt { user, .. } => Some(user.as_str()),
        Origin::Raw => None,
    };
    let mut answers = Vec::new();
    for _ in 0..u.int_in_range(1..=4u8)? {
        let user = match (u.int_in_range(0..=2u8)?, signed_for) {
            (0, Some(user)) => user.to_string(),
            _ => self::user(u)?,
        };
        let given = if u.ratio(1, 16)? { None } else { Some(token) };
        let answer = cached.check(&user, given, now);
        let fresh = verifier(issuer, audience).check(&user, given, now);
        assert_eq!(
            answer, fresh,
            "the cache changes the answer for {user:?} at {now}: {token:?}"
        );
        holds_for_its_user_only(token, &user, &answer);
        if given.is_none_or(str::is_empty) {
            assert_eq!(answer, Err(IdentityProblem::Missing));
        } else {
            assert_ne!(answer, Err(IdentityProblem::Missing), "{token:?}");
        }
        if let Some(given) = given {
            if let Some(expected) = expected(origin, &user, now, issuer, audience) {
                assert_eq!(
                    answer, expected,
                    "{given:?} for {user:?} at {now} (issuer {issuer}, audience {audience})"
                );
            }
        }
        if answer == Err(IdentityProblem::Expired) {
            assert!(token.contains('.'), "only a JWT expires: {token:?}");
        }
        answers.push((user, given.is_some(), answer));
        now += TimeDelta::seconds(i64::from(u.int_in_range(0..=3_600u16)?));
    }
    let mode = *u
        .choose(&["required", "optional", "off"])
        .unwrap_or(&"required");
    judged_as_checked(mode, token, &answers, now);
    Ok(())
}

/// An accepted token was made for that user: the HMAC of their id under a configured
/// secret, or a JWT whose `sub` is their id.
fn holds_for_its_user_only(
    token: &str,
    user: &str,
    answer: &std::result::Result<(), IdentityProblem>,
) {
    if answer.is_err() {
        return;
    }
    if token.contains('.') {
        let sub = token
            .split('.')
            .nth(1)
            .and_then(|claims| URL_SAFE_NO_PAD.decode(claims).ok())
            .and_then(|claims| serde_json::from_slice::<Value>(&claims).ok())
            .and_then(|claims| claims.get("sub").and_then(Value::as_str).map(str::to_owned));
        assert_eq!(
            sub.as_deref(),
            Some(user),
            "a JWT verified for another user: {token:?}"
        );
    } else {
        let token = token.to_ascii_lowercase();
        assert!(
            token == hmac::sign(SECRET.as_bytes(), user)
                || token == hmac::sign(OLD_SECRET.as_bytes(), user),
            "an HMAC token verified for a user it was not signed for: {user:?} {token:?}"
        );
    }
}

/// The answer an unchanged token we signed must get, when it is known.
fn expected(
    origin: &Origin,
    user: &str,
    now: DateTime<Utc>,
    issuer: bool,
    audience: bool,
) -> Option<std::result::Result<(), IdentityProblem>> {
    let invalid = Some(Err(IdentityProblem::Invalid));
    match origin {
        Origin::Raw => None,
        Origin::Hmac {
            user: signed,
            known,
        } => {
            if *known && signed == user {
                Some(Ok(()))
            } else {
                invalid
            }
        }
        Origin::Jwt {
            user: _,
            trusted,
            claims,
        } => {
            if !trusted {
                return invalid;
            }
            let Some(sub) = claims.get("sub").and_then(Value::as_str) else {
                return invalid;
            };
            let Some(exp) = claims.get("exp").and_then(Value::as_i64) else {
                return invalid;
            };
            let nbf = match claims.get("nbf") {
                None => None,
                Some(nbf) => match nbf.as_i64() {
                    Some(nbf) => Some(nbf),
                    None => return invalid,
                },
            };
            if issuer && claims.get("iss") != Some(&json!(ISSUER)) {
                return invalid;
            }
            if audience {
                let ours = match claims.get("aud") {
                    Some(Value::String(aud)) => aud == AUDIENCE,
                    Some(Value::Array(auds)) => auds.contains(&json!(AUDIENCE)),
                    _ => false,
                };
                if !ours {
                    return invalid;
                }
            }
            if sub != user {
                return invalid;
            }
            let in_range = |seconds: i64| DateTime::from_timestamp(seconds, 0).is_some();
            let now = i128::from(now.timestamp());
            if let Some(nbf) = nbf {
                if !in_range(nbf) || i128::from(nbf) - i128::from(LEEWAY) > now {
                    return invalid;
                }
            }
            if !in_range(exp) {
                return invalid;
            }
            if i128::from(exp) + i128::from(LEEWAY) <= now {
                return Some(Err(IdentityProblem::Expired));
            }
            Some(Ok(()))
        }
    }
}

/// A request naming the checked users, each with the token (or none, as checked), is
/// judged as they are checked at the same instant: refused under `required`, counted
/// under `optional`, ignored under `off`; exactly the failures, in order.
fn judged_as_checked(
    mode: &str,
    token: &str,
    answers: &[(String, bool, std::result::Result<(), IdentityProblem>)],
    now: DateTime<Utc>,
) {
    let mut config = config(false, false);
    config
        .set_enforcement(&[mode.to_string()])
        .expect("a known mode");
    let judge = Verifier::new(config).expect("the test keys are read");
    let with_token: Vec<&str> = answers
        .iter()
        .filter(|(_, given, _)| *given)
        .map(|(user, _, _)| user.as_str())
        .collect();
    let token_of = |user: &str| with_token.contains(&user).then_some(token);
    let users = answers.iter().map(|(user, _, _)| user.as_str());
    let judgement = judge.judge("any-app-key", users, token_of, now);
    if mode == "off" {
        assert!(judgement.refused.is_empty() && judgement.unverified.is_empty());
        return;
    }
    // Checked again by the judge itself: its cache, warmed by the judgement, answers
    // as a fresh verifier would (checked above).
    let failures: Vec<_> = answers
        .iter()
        .filter_map(|(user, _, _)| {
            judge
                .check(user, token_of(user), now)
                .err()
                .map(|problem| (user.clone(), problem))
        })
        .collect();
    let (listed, other) = if mode == "required" {
        (&judgement.refused, &judgement.unverified)
    } else {
        (&judgement.unverified, &judgement.refused)
    };
    assert!(other.is_empty(), "{mode}: {judgement:?}");
    let listed: Vec<_> = listed
        .iter()
        .map(|refusal| (refusal.user_id.clone(), refusal.problem))
        .collect();
    assert_eq!(listed, failures, "{mode}");
}
