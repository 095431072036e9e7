//! What a push token must look like before a device stores it and the server sends to
//! it. A token that fails here would only ever fail at the provider, after the user
//! waited for a push that never came.

use serde::{Deserialize, Serialize};

use crate::common::FieldError;

/// Who delivers a device's pushes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
pub enum PushProvider {
    /// Firebase Cloud Messaging (Android, and iOS apps that use Firebase).
    Fcm,
    /// Apple Push Notification service.
    Apns,
}

impl PushProvider {
    pub fn as_str(self) -> &'static str {
        match self {
            PushProvider::Fcm => "fcm",
            PushProvider::Apns => "apns",
        }
    }

    pub fn parse(name: &str) -> Option<PushProvider> {
        match name {
            "fcm" => Some(PushProvider::Fcm),
            "apns" => Some(PushProvider::Apns),
            _ => None,
        }
    }
}

/// Longest token accepted, in bytes. FCM documents no maximum but tokens are about
/// 160 characters; APNs tokens are 64 hex digits today and Apple warns they may grow.
/// Either way a token has to fit, with the payload, in a 4 KB request.
pub const MAX_PUSH_TOKEN_BYTES: usize = 4096;
/// Shortest APNs device token: 32 bytes as hex.
pub const MIN_APNS_TOKEN_HEX: usize = 64;

/// Checks `token` for `provider` and returns it as stored and sent: FCM tokens as given
/// (printable ASCII, no spaces), APNs tokens as lower-case hex (an even number of hex
/// digits, at least [`MIN_APNS_TOKEN_HEX`]), so the same token in either case is
/// recognised as the same.
pub fn check_push_token(provider: PushProvider, token: &str) -> Result<String, FieldError> {
    let field = "token";
    if token.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if token.len() > MAX_PUSH_TOKEN_BYTES {
        return Err(FieldError::new(
            field,
            format!(
                "is {} bytes, over the {MAX_PUSH_TOKEN_BYTES}-byte limit",
                token.len()
            ),
        ));
    }
    match provider {
        PushProvider::Fcm => match token.char_indices().find(|(_, c)| !c.is_ascii_graphic()) {
            None => Ok(token.to_owned()),
            Some((at, c)) => Err(FieldError::new(
                field,
                format!("an FCM token is printable ASCII without spaces; found {c:?} at byte {at}"),
            )),
        },
        PushProvider::Apns => {
            if let Some((at, c)) = token.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
                return Err(FieldError::new(
                    field,
                    format!("an APNs token is hexadecimal; found {c:?} at byte {at}"),
                ));
            }
            if token.len() < MIN_APNS_TOKEN_HEX || !token.len().is_multiple_of(2) {
                return Err(FieldError::new(
                    field,
                    format!(
                        "an APNs token is an even number of hex digits, at least \
                         {MIN_APNS_TOKEN_HEX}; found {}",
                        token.len()
                    ),
                ));
            }
            Ok(token.to_ascii_lowercase())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APNS: &str = "9f2c4a1b7e3d5c6a8b0f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6e5f4a3";

    #[test]
    fn good_tokens_pass_and_apns_tokens_are_lower_cased() {
        let fcm = "dQw4w9WgXcQ:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx_eW7fE1cR-0tR9n2";
        assert_eq!(check_push_token(PushProvider::Fcm, fcm).unwrap(), fcm);
        assert_eq!(check_push_token(PushProvider::Apns, APNS).unwrap(), APNS);
        assert_eq!(
            check_push_token(PushProvider::Apns, &APNS.to_ascii_uppercase()).unwrap(),
            APNS
        );
        // Longer APNs tokens are allowed, as Apple announced they may come.
        let long = APNS.repeat(2);
        assert_eq!(check_push_token(PushProvider::Apns, &long).unwrap(), long);
    }

    #[test]
    fn bad_tokens_say_what_is_wrong() {
        let cases = [
            (PushProvider::Fcm, String::new(), "token: must not be empty"),
            (
                PushProvider::Fcm,
                "abc def".into(),
                "token: an FCM token is printable ASCII without spaces; found ' ' at byte 3",
            ),
            (
                PushProvider::Fcm,
                "tokén".into(),
                "token: an FCM token is printable ASCII without spaces; found 'é' at byte 3",
            ),
            (
                PushProvider::Fcm,
                "x".repeat(4097),
                "token: is 4097 bytes, over the 4096-byte limit",
            ),
            (
                PushProvider::Apns,
                APNS.replace('9', "g"),
                "token: an APNs token is hexadecimal; found 'g' at byte 0",
            ),
            (
                PushProvider::Apns,
                APNS[..62].to_owned(),
                "token: an APNs token is an even number of hex digits, at least 64; found 62",
            ),
            (
                PushProvider::Apns,
                format!("{APNS}a"),
                "token: an APNs token is an even number of hex digits, at least 64; found 65",
            ),
        ];
        for (provider, token, expected) in cases {
            let err = check_push_token(provider, &token).unwrap_err();
            assert_eq!(err.to_string(), expected);
        }
    }
}
