//! The Google service-account JSON that authorises sends through FCM.

use ring::signature::RsaKeyPair;
use serde::Deserialize;

use crate::delivery::config::{base_url, DeliveryConfigError};
use crate::delivery::jwt::rsa_key_from_pem;

const WHAT: &str = "FCM service account";

pub(crate) struct ServiceAccount {
    pub project_id: String,
    pub client_email: String,
    /// Where the signed assertion is exchanged for an access token; also its `aud`.
    pub token_uri: String,
    pub key: RsaKeyPair,
}

#[derive(Deserialize)]
struct ServiceAccountFile {
    #[serde(rename = "type")]
    kind: Option<String>,
    project_id: Option<String>,
    private_key: Option<String>,
    client_email: Option<String>,
    token_uri: Option<String>,
}

fn required(field: &'static str, value: Option<String>) -> Result<String, DeliveryConfigError> {
    match value {
        Some(value) if !value.trim().is_empty() => Ok(value),
        _ => Err(DeliveryConfigError::invalid(
            WHAT,
            format!("`{field}` is missing or empty"),
        )),
    }
}

pub(crate) fn parse_service_account(json: &str) -> Result<ServiceAccount, DeliveryConfigError> {
    let file: ServiceAccountFile = serde_json::from_str(json)
        .map_err(|err| DeliveryConfigError::invalid(WHAT, format!("not a JSON object: {err}")))?;
    if let Some(kind) = file.kind.as_deref() {
        if kind != "service_account" {
            return Err(DeliveryConfigError::invalid(
                WHAT,
                format!("`type` is `{kind}`, expected `service_account`"),
            ));
        }
    }
    let project_id = required("project_id", file.project_id)?;
    if !project_id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b':')
    {
        return Err(DeliveryConfigError::invalid(
            WHAT,
            format!("`project_id` `{project_id}` is not a Google project id"),
        ));
    }
    let client_email = required("client_email", file.client_email)?;
    let token_uri = required("token_uri", file.token_uri)?;
    base_url(WHAT, &token_uri)?;
    let pem = required("private_key", file.private_key)?;
    let key = rsa_key_from_pem(&pem)
        .map_err(|reason| DeliveryConfigError::invalid(WHAT, format!("`private_key`: {reason}")))?;
    Ok(ServiceAccount {
        project_id,
        client_email,
        token_uri,
        key,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::delivery::jwt::tests::{p256_pem, test_service_account_json};

    fn fixture() -> Value {
        serde_json::from_str(test_service_account_json()).unwrap()
    }

    fn reason(doc: &Value) -> String {
        match parse_service_account(&doc.to_string()) {
            Err(DeliveryConfigError::Invalid { what, reason }) => {
                assert_eq!(what, WHAT);
                reason
            }
            Err(other) => panic!("unexpected error {other}"),
            Ok(_) => panic!("accepted {doc}"),
        }
    }

    #[test]
    fn reads_the_fields_a_send_needs() {
        let account = parse_service_account(test_service_account_json()).unwrap();
        assert_eq!(account.project_id, "beckon-test-project");
        assert!(account.client_email.ends_with(".iam.gserviceaccount.com"));
        assert_eq!(account.token_uri, "https://oauth2.googleapis.com/token");
        assert_eq!(account.key.public().modulus_len(), 256);
    }

    #[test]
    fn refuses_missing_fields_and_wrong_keys_naming_the_field() {
        for field in ["project_id", "client_email", "token_uri", "private_key"] {
            let mut doc = fixture();
            doc.as_object_mut().unwrap().remove(field);
            assert!(reason(&doc).contains(field), "{field}");
            let mut blank = fixture();
            blank[field] = json!("  ");
            assert!(reason(&blank).contains(field), "{field}");
        }
        let mut wrong_type = fixture();
        wrong_type["type"] = json!("authorized_user");
        assert!(reason(&wrong_type).contains("authorized_user"));
        let mut ec_key = fixture();
        ec_key["private_key"] = json!(p256_pem());
        assert!(reason(&ec_key).contains("private_key"));
        let mut bad_uri = fixture();
        bad_uri["token_uri"] = json!("oauth2.googleapis.com/token");
        assert!(reason(&bad_uri).contains("oauth2.googleapis.com/token"));
        let mut bad_project = fixture();
        bad_project["project_id"] = json!("a/b");
        assert!(reason(&bad_project).contains("a/b"));
        assert!(parse_service_account("[]").is_err());
        assert!(parse_service_account("not json").is_err());
    }
}
