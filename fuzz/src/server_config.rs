//! The server's configuration files, as it reads them at start: the FCM service
//! account JSON, the APNs signing key (`.p8`), and the public keys identity JWTs are
//! checked with; and the `--verify-identities` values.
//!
//! The first byte picks the file; the rest is its text:
//!
//! - `0`: an FCM service account (JSON);
//! - `1`: an APNs key (PEM, PKCS#8 P-256);
//! - `2`: an identity JWT public key (PEM, P-256 or RSA);
//! - `3`: `--verify-identities` values, one a line (`MODE` or `APP_KEY=MODE`).
//!
//! Checked: an accepted service account has the fields a send needs (a Google project
//! id, an email, an http(s) token URI without query or fragment); a refusal names the
//! file it is about and never shows the private key (a start-up error goes to the
//! logs); an accepted public key is ES256 or RS256, and a private key is never taken
//! for one; enforcement values set the mode they name for the app key they name, the
//! last one winning.

use beckon_server::fuzzing::{apns_key, fcm_service_account};
use beckon_server::identity::jwt::PublicKey;
use beckon_server::identity::{Enforcement, IdentityConfig};
use serde_json::Value;

pub fn run(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    match which % 4 {
        0 => service_account(&text),
        1 => apns(&text),
        2 => public_key(&text),
        _ => enforcement(&text),
    }
}

/// The lines of base64 a PEM in `text` holds: what must never reach a log.
fn key_lines(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim)
        .filter(|line| line.len() >= 16 && !line.starts_with("-----"))
        .filter(|line| {
            line.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
        })
        .collect()
}

/// Every string anywhere in `value` but under `private_key`.
fn other_strings<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::String(text) => out.push(text),
        Value::Array(items) => items.iter().for_each(|item| other_strings(item, out)),
        Value::Object(fields) => {
            for (key, item) in fields {
                out.push(key);
                if key != "private_key" {
                    other_strings(item, out);
                }
            }
        }
        _ => {}
    }
}

fn service_account(json: &str) {
    match fcm_service_account(json) {
        Ok((project_id, client_email, token_uri)) => {
            assert!(!project_id.trim().is_empty() && !client_email.trim().is_empty());
            assert!(
                project_id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b':'),
                "{project_id:?}"
            );
            let uri = token_uri.to_ascii_lowercase();
            assert!(
                uri.trim_start().starts_with("http://") || uri.trim_start().starts_with("https://"),
                "{token_uri:?}"
            );
        }
        Err(message) => {
            assert!(
                message.starts_with("invalid FCM service account: "),
                "{message}"
            );
            let Ok(document) = serde_json::from_str::<Value>(json) else {
                return;
            };
            let Some(key) = document.get("private_key").and_then(Value::as_str) else {
                return;
            };
            let mut elsewhere = Vec::new();
            other_strings(&document, &mut elsewhere);
            for line in key_lines(key) {
                if elsewhere.iter().any(|text| text.contains(line)) {
                    continue;
                }
                assert!(
                    !message.contains(line),
                    "the refusal shows the private key: {message}"
                );
            }
        }
    }
}

fn apns(pem: &str) {
    if let Err(message) = apns_key(pem) {
        assert!(message.starts_with("invalid APNs key: "), "{message}");
        for line in key_lines(pem) {
            assert!(
                !message.contains(line),
                "the refusal shows the key: {message}"
            );
        }
    }
}

fn public_key(pem: &str) {
    match PublicKey::from_pem(pem, None) {
        Ok(key) => {
            let algorithm = format!("{:?}", key.algorithm());
            assert!(algorithm == "ES256" || algorithm == "RS256", "{algorithm}");
            // A PEM reader takes the first block: it is never a private key.
            let label = pem
                .find("-----BEGIN ")
                .map(|at| &pem[at + "-----BEGIN ".len()..])
                .and_then(|rest| rest.find("-----").map(|end| &rest[..end]));
            assert!(
                !label.is_some_and(|label| label.contains("PRIVATE")),
                "a private key taken for a public one: {label:?}"
            );
        }
        Err(message) => {
            for line in key_lines(pem) {
                assert!(
                    !message.contains(line),
                    "the refusal shows the key: {message}"
                );
            }
        }
    }
}

fn enforcement(text: &str) {
    let specs: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut config = IdentityConfig::default();
    if config.set_enforcement(&specs).is_err() {
        return;
    }
    // The last value naming an app key (or none, for the default) decides.
    let mut default = Enforcement::Off;
    let mut by_key = std::collections::BTreeMap::new();
    for spec in &specs {
        let (key, mode) = match spec.rsplit_once('=') {
            Some((key, mode)) => (Some(key), mode),
            None => (None, spec.as_str()),
        };
        let mode: Enforcement = mode.parse().expect("accepted above");
        assert_eq!(mode.as_str().parse::<Enforcement>(), Ok(mode));
        match key {
            Some(key) => {
                by_key.insert(key, mode);
            }
            None => default = mode,
        }
    }
    for (key, mode) in &by_key {
        assert_eq!(config.enforcement(key), *mode, "{key:?}");
    }
    let unnamed = "an-app-key-nobody-named";
    if !by_key.contains_key(unnamed) {
        assert_eq!(config.enforcement(unnamed), default);
    }
}
