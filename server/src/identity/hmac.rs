//! HMAC tokens: the hex HMAC-SHA256 of the user id, keyed with the app's secret (as
//! Intercom's and OneSignal's identity verification use). They never expire: rotate
//! the secret to revoke them.

use ring::hmac;

/// Whether `token` is the HMAC of `user_id` under one of `secrets` (several during a
/// rotation). The comparison takes the same time whatever the token.
pub fn verify(secrets: &[hmac::Key], user_id: &str, token: &str) -> bool {
    let Some(tag) = decode_hex(token) else {
        return false;
    };
    secrets.iter().fold(false, |ok, key| {
        ok | hmac::verify(key, user_id.as_bytes(), &tag).is_ok()
    })
}

/// The token the app's backend computes, for tests and documentation.
pub fn sign(secret: &[u8], user_id: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    hmac::sign(&key, user_id.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn key(secret: &[u8]) -> hmac::Key {
    hmac::Key::new(hmac::HMAC_SHA256, secret)
}

/// 64 hex digits (either case) to the 32 bytes of a SHA-256 tag.
fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    text.as_bytes()
        .chunks(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_hmac() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            sign(b"Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn accepts_only_the_users_own_token_under_a_known_secret() {
        let secrets = [key(b"old-secret"), key(b"new-secret")];
        let token = sign(b"new-secret", "alice");
        assert!(verify(&secrets, "alice", &token));
        assert!(verify(&secrets, "alice", &token.to_uppercase()));
        assert!(verify(&secrets, "alice", &sign(b"old-secret", "alice")));
        assert!(!verify(&secrets, "bob", &token), "another user's token");
        assert!(!verify(&secrets, "alice", &sign(b"other", "alice")));
        assert!(!verify(&secrets, "alice", &token[..62]));
        assert!(!verify(&secrets, "alice", &format!("{}zz", &token[..62])));
        assert!(!verify(&[], "alice", &token), "no secret configured");
    }
}
