//! Checking a compact JWT's signature and reading its header and claims.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::signature::{UnparsedPublicKey, VerificationAlgorithm};
use serde_json::Value;

pub(crate) struct Jwt {
    pub header: Value,
    pub claims: Value,
}

fn json_part(part: &str, what: &str) -> Result<Value, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| format!("the JWT {what} is not base64url"))?;
    match serde_json::from_slice(&bytes) {
        Ok(value @ Value::Object(_)) => Ok(value),
        _ => Err(format!("the JWT {what} is not a JSON object")),
    }
}

/// The token's parts, once its signature checks out against `public_key`.
pub(crate) fn verify(
    token: &str,
    algorithm: &'static dyn VerificationAlgorithm,
    public_key: &[u8],
) -> Result<Jwt, String> {
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("not a compact JWT (three dot-separated parts)".into());
    };
    let header_json = json_part(header, "header")?;
    let claims_json = json_part(claims, "claims")?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| "the JWT signature is not base64url".to_string())?;
    let signed = &token[..header.len() + 1 + claims.len()];
    UnparsedPublicKey::new(algorithm, public_key)
        .verify(signed.as_bytes(), &signature)
        .map_err(|_| "the JWT signature does not verify with the expected key".to_string())?;
    Ok(Jwt {
        header: header_json,
        claims: claims_json,
    })
}
