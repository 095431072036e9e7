//! Compact JSON Web Tokens signed with the keys providers hand out: RS256 for Google
//! service accounts, ES256 for APNs `.p8` keys (RFC 7515, RFC 7518).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_SHA256,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivatePkcs8KeyDer;
use serde_json::Value;

/// `base64url(header) "." base64url(claims)`: the bytes a JWT signature covers.
pub(crate) fn signing_input(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

fn append_signature(input: String, signature: &[u8]) -> String {
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// An RS256 JWT (RSASSA-PKCS1-v1_5 with SHA-256).
pub(crate) fn sign_rs256(
    key: &RsaKeyPair,
    header: &Value,
    claims: &Value,
) -> Result<String, String> {
    let input = signing_input(header, claims);
    let mut signature = vec![0; key.public().modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        input.as_bytes(),
        &mut signature,
    )
    .map_err(|_| "RS256 signing failed".to_string())?;
    Ok(append_signature(input, &signature))
}

/// An ES256 JWT (ECDSA P-256 with SHA-256, signature as `r ‖ s`).
pub(crate) fn sign_es256(
    key: &EcdsaKeyPair,
    header: &Value,
    claims: &Value,
) -> Result<String, String> {
    let input = signing_input(header, claims);
    let signature = key
        .sign(&SystemRandom::new(), input.as_bytes())
        .map_err(|_| "ES256 signing failed".to_string())?;
    Ok(append_signature(input, signature.as_ref()))
}

/// The DER of the first `PRIVATE KEY` (PKCS#8) block of a PEM text.
fn pkcs8_der(pem: &str) -> Result<PrivatePkcs8KeyDer<'static>, String> {
    PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes()).map_err(|err| match err {
        rustls_pki_types::pem::Error::NoItemsFound => {
            "no `-----BEGIN PRIVATE KEY-----` (PKCS#8) block found".to_string()
        }
        other => format!("unreadable PEM: {other}"),
    })
}

/// An RSA signing key from a PKCS#8 PEM (a Google service account's `private_key`).
pub(crate) fn rsa_key_from_pem(pem: &str) -> Result<RsaKeyPair, String> {
    let der = pkcs8_der(pem)?;
    RsaKeyPair::from_pkcs8(der.secret_pkcs8_der())
        .map_err(|err| format!("not a usable RSA private key: {err}"))
}

/// A P-256 signing key from a PKCS#8 PEM (an APNs `.p8` file).
pub(crate) fn p256_key_from_pem(pem: &str) -> Result<EcdsaKeyPair, String> {
    let der = pkcs8_der(pem)?;
    EcdsaKeyPair::from_pkcs8(
        &ECDSA_P256_SHA256_FIXED_SIGNING,
        der.secret_pkcs8_der(),
        &SystemRandom::new(),
    )
    .map_err(|err| format!("not a usable P-256 private key: {err}"))
}

#[cfg(test)]
pub(crate) mod tests {
    use ring::signature::{
        KeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256,
    };
    use serde_json::json;

    use super::*;

    /// A fresh P-256 key as the PEM text of a `.p8` file.
    pub(crate) fn p256_pem() -> String {
        let der =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .unwrap();
        let body = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            lines.join("\n")
        )
    }

    /// The RSA key of the committed test service account (a test-only key).
    pub(crate) fn test_service_account_json() -> &'static str {
        include_str!("../../../mock-providers/fixtures/test-service-account.TEST-KEY.json")
    }

    fn rsa_pem() -> String {
        let doc: Value = serde_json::from_str(test_service_account_json()).unwrap();
        doc["private_key"].as_str().unwrap().to_string()
    }

    pub(crate) fn decode_part(token: &str, index: usize) -> Value {
        let part = token.split('.').nth(index).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    fn verify(
        token: &str,
        alg: &'static dyn ring::signature::VerificationAlgorithm,
        public: &[u8],
    ) -> bool {
        let (input, signature) = token.rsplit_once('.').unwrap();
        let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
        UnparsedPublicKey::new(alg, public)
            .verify(input.as_bytes(), &signature)
            .is_ok()
    }

    #[test]
    fn es256_tokens_verify_with_the_public_key_and_carry_header_and_claims() {
        let key = p256_key_from_pem(&p256_pem()).unwrap();
        let header = json!({"alg": "ES256", "kid": "ABC123DEFG"});
        let claims = json!({"iss": "TEAM", "iat": 1_700_000_000});
        let token = sign_es256(&key, &header, &claims).unwrap();
        assert_eq!(token.split('.').count(), 3);
        assert_eq!(decode_part(&token, 0), header);
        assert_eq!(decode_part(&token, 1), claims);
        assert!(verify(
            &token,
            &ECDSA_P256_SHA256_FIXED,
            key.public_key().as_ref()
        ));
        // A different key does not verify it.
        let other = p256_key_from_pem(&p256_pem()).unwrap();
        assert!(!verify(
            &token,
            &ECDSA_P256_SHA256_FIXED,
            other.public_key().as_ref()
        ));
    }

    #[test]
    fn rs256_tokens_verify_with_the_public_key() {
        let key = rsa_key_from_pem(&rsa_pem()).unwrap();
        let token = sign_rs256(
            &key,
            &json!({"alg": "RS256", "typ": "JWT"}),
            &json!({"iss": "a"}),
        )
        .unwrap();
        assert!(verify(
            &token,
            &RSA_PKCS1_2048_8192_SHA256,
            key.public().as_ref()
        ));
        let mut tampered = token.clone();
        tampered.replace_range(
            token.find('.').unwrap() + 1..token.find('.').unwrap() + 3,
            "xx",
        );
        assert!(!verify(
            &tampered,
            &RSA_PKCS1_2048_8192_SHA256,
            key.public().as_ref()
        ));
    }

    #[test]
    fn keys_of_the_wrong_kind_or_shape_are_refused_with_a_reason() {
        let ec = p256_pem();
        assert!(rsa_key_from_pem(&ec).unwrap_err().contains("RSA"));
        assert!(p256_key_from_pem(&rsa_pem()).unwrap_err().contains("P-256"));
        assert!(p256_key_from_pem("")
            .unwrap_err()
            .contains("BEGIN PRIVATE KEY"));
        let garbled = "-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n";
        assert!(p256_key_from_pem(garbled).is_err());
        let ec_sec1 = "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n";
        assert!(p256_key_from_pem(ec_sec1).unwrap_err().contains("PKCS#8"));
    }
}
