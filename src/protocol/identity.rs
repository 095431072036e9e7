//! Verified identities: how a device shows that the user id on its events is the one
//! the app's backend signed in, and how the server says it does not believe it.
//!
//! The app key ships inside every copy of the app, so it cannot tell users apart. The
//! app's backend can: it signs the user id (an HMAC-SHA256 of it with the app's secret,
//! or a short-lived JWT whose `sub` is the user id) and the app hands that token to the
//! SDK with `identify`. Batches carry the token of every user id among their events in
//! [`Batch::identity_tokens`](super::Batch); per-user reads carry it in
//! [`IDENTITY_TOKEN_HEADER`]. A server enforcing verification refuses the request with
//! 401 and an [`ErrorAnswer`] listing the users whose token it refused.

use serde::{Deserialize, Serialize};

use crate::common::FieldError;

/// The token of the user a per-user read (`GET /v1/permissions?user_id=…`) is about.
pub const IDENTITY_TOKEN_HEADER: &str = "x-beckon-identity-token";

/// A JWT signed with a 4096-bit RSA key and a few claims takes under 1 KB; an HMAC
/// token is 64 hex digits.
pub const MAX_IDENTITY_TOKEN_BYTES: usize = 4096;

/// Why the server refused a user's identity. The error code of the answer is
/// [`IdentityProblem::code`] of the first user refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum IdentityProblem {
    /// The request names the user but carries no token for them.
    Missing,
    /// The token is not one the app's backend signed for this user (wrong signature,
    /// another user's, malformed, an algorithm or issuer the server does not accept).
    Invalid,
    /// The token was valid but is past its expiry: the app should fetch a new one.
    Expired,
}

impl IdentityProblem {
    pub const ALL: [IdentityProblem; 3] = [
        IdentityProblem::Missing,
        IdentityProblem::Invalid,
        IdentityProblem::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IdentityProblem::Missing => "missing",
            IdentityProblem::Invalid => "invalid",
            IdentityProblem::Expired => "expired",
        }
    }

    /// The `error.code` of an answer refusing this problem.
    pub fn code(self) -> &'static str {
        match self {
            IdentityProblem::Missing => "identity_token_missing",
            IdentityProblem::Invalid => "identity_token_invalid",
            IdentityProblem::Expired => "identity_token_expired",
        }
    }

    pub fn from_code(code: &str) -> Option<IdentityProblem> {
        IdentityProblem::ALL.into_iter().find(|p| p.code() == code)
    }
}

/// One user whose identity the server refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityRefusal {
    pub user_id: String,
    pub problem: IdentityProblem,
}

/// Every error answer of the server: `{"error": {"code": …, "message": …}}`, with the
/// refused identities when the code is an [`IdentityProblem`]'s.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorAnswer {
    pub error: ErrorBody,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable, machine-readable; clients branch on it.
    pub code: String,
    /// For people; wording may change.
    pub message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identity: Vec<IdentityRefusal>,
}

impl ErrorAnswer {
    /// The users refused for their identity, when this answer is such a refusal.
    pub fn identity_refusals(&self) -> Option<&[IdentityRefusal]> {
        IdentityProblem::from_code(&self.error.code).map(|_| self.error.identity.as_slice())
    }
}

/// A token is opaque to the device, but it travels in JSON and in a header: printable
/// ASCII without spaces (a JWT or hex digits), at most [`MAX_IDENTITY_TOKEN_BYTES`].
pub fn check_identity_token(field: &str, token: &str) -> Result<(), FieldError> {
    if token.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if token.len() > MAX_IDENTITY_TOKEN_BYTES {
        return Err(FieldError::new(
            field,
            format!(
                "is {} bytes, over the limit of {MAX_IDENTITY_TOKEN_BYTES}",
                token.len()
            ),
        ));
    }
    if let Some(bad) = token.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(FieldError::new(
            field,
            format!(
                "must be printable ASCII without spaces (a JWT or hex digits); found {:?}",
                bad
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for problem in IdentityProblem::ALL {
            assert_eq!(IdentityProblem::from_code(problem.code()), Some(problem));
        }
        assert_eq!(IdentityProblem::from_code("unauthorized"), None);
    }

    #[test]
    fn an_error_answer_names_the_refused_users() {
        let text = r#"{"error":{"code":"identity_token_expired","message":"m",
            "identity":[{"user_id":"u1","problem":"expired"},{"user_id":"u2","problem":"missing"}]}}"#;
        let answer: ErrorAnswer = serde_json::from_str(text).unwrap();
        let refused = answer.identity_refusals().unwrap();
        assert_eq!(refused.len(), 2);
        assert_eq!(refused[1].problem, IdentityProblem::Missing);
        let plain: ErrorAnswer =
            serde_json::from_str(r#"{"error":{"code":"bad_request","message":"m"}}"#).unwrap();
        assert_eq!(plain.identity_refusals(), None);
        assert!(!serde_json::to_string(&plain).unwrap().contains("identity"));
    }

    #[test]
    fn tokens_are_printable_ascii_of_bounded_size() {
        assert!(check_identity_token("identity_token", "eyJhbGciOi.e30.c2ln").is_ok());
        assert!(check_identity_token("identity_token", &"a".repeat(64)).is_ok());
        for bad in ["", "two words", "tab\there", "caf\u{e9}", "line\n"] {
            let err = check_identity_token("identity_token", bad).unwrap_err();
            assert_eq!(err.field, "identity_token", "{bad:?}");
        }
        let huge = "a".repeat(MAX_IDENTITY_TOKEN_BYTES + 1);
        assert!(check_identity_token("identity_token", &huge).is_err());
    }
}
