//! Credentials for the mocks: the committed test service account (ring cannot make RSA
//! keys) and APNs keys made at run time.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{EcdsaKeyPair, KeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivatePkcs8KeyDer;
use serde_json::Value;

/// A Google service-account file whose key was made for Beckon's tests and grants
/// access to nothing. Its `token_uri` is Google's; [`crate::MockFcm::service_account_json`]
/// points it at the mock.
pub const TEST_SERVICE_ACCOUNT_JSON: &str =
    include_str!("../fixtures/test-service-account.TEST-KEY.json");

pub(crate) struct ServiceAccountKey {
    pub client_email: String,
    pub project_id: String,
    /// DER `RSAPublicKey`, what ring verifies RS256 with.
    pub public_key: Vec<u8>,
}

pub(crate) fn service_account_key(json: &str) -> ServiceAccountKey {
    let doc: Value = serde_json::from_str(json).expect("service account JSON");
    let field = |name: &str| doc[name].as_str().expect(name).to_string();
    let der = PrivatePkcs8KeyDer::from_pem_slice(field("private_key").as_bytes())
        .expect("PKCS#8 private key");
    let key = RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).expect("RSA key");
    ServiceAccountKey {
        client_email: field("client_email"),
        project_id: field("project_id"),
        public_key: key.public().as_ref().to_vec(),
    }
}

/// An APNs token-authentication key, as Apple's developer portal would give it.
#[derive(Clone)]
pub struct ApnsTestKey {
    /// The `.p8` file's text.
    pub pem: String,
    pub key_id: String,
    pub team_id: String,
    /// The uncompressed P-256 point, what ring verifies ES256 with.
    pub public_key: Vec<u8>,
}

fn random_id(rng: &SystemRandom) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut bytes = [0u8; 10];
    rng.fill(&mut bytes).expect("random bytes");
    bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

pub(crate) fn pem_block(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

impl ApnsTestKey {
    /// A new P-256 key with a random 10-character key id and team id.
    pub fn generate() -> ApnsTestKey {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("P-256 key");
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .expect("P-256 key parses");
        ApnsTestKey {
            pem: pem_block("PRIVATE KEY", pkcs8.as_ref()),
            key_id: random_id(&rng),
            team_id: random_id(&rng),
            public_key: key.public_key().as_ref().to_vec(),
        }
    }
}

/// A Standard Webhooks secret: `whsec_` and 32 random bytes in base64.
pub(crate) fn webhook_secret() -> String {
    let mut bytes = [0u8; 32];
    SystemRandom::new().fill(&mut bytes).expect("random bytes");
    format!("whsec_{}", STANDARD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_service_account_has_a_2048_bit_key() {
        let key = service_account_key(TEST_SERVICE_ACCOUNT_JSON);
        assert_eq!(key.project_id, "beckon-test-project");
        assert!(key.public_key.len() > 256);
    }

    #[test]
    fn generated_apns_keys_differ_and_round_trip_through_pem() {
        let a = ApnsTestKey::generate();
        let b = ApnsTestKey::generate();
        assert_ne!(a.public_key, b.public_key);
        assert_eq!(a.key_id.len(), 10);
        let der = PrivatePkcs8KeyDer::from_pem_slice(a.pem.as_bytes()).unwrap();
        let parsed = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            der.secret_pkcs8_der(),
            &SystemRandom::new(),
        )
        .unwrap();
        assert_eq!(parsed.public_key().as_ref(), a.public_key.as_slice());
    }
}
