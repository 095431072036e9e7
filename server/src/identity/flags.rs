//! The command-line flags of verified identities, flattened into [`crate::Cli`].

use std::path::PathBuf;

use clap::Args;

use super::{Enforcement, IdentityConfig};
use crate::delivery::KeySource;

/// Verified identities; every flag has an environment fallback.
#[derive(Debug, Clone, Args)]
pub struct IdentityFlags {
    /// How strictly requests must prove the users they name: `off`, `optional` or
    /// `required` for every app key, or `APP_KEY=MODE` for one; repeat the flag or
    /// list them comma-separated in the environment variable.
    #[arg(
        long = "verify-identities",
        env = "BECKON_VERIFY_IDENTITIES",
        value_delimiter = ',',
        value_parser = parse_spec,
        hide_env_values = true
    )]
    pub verify_identities: Vec<(Option<String>, Enforcement)>,
    /// Secret the app's backend computes identity HMACs with (hex HMAC-SHA256 of the
    /// user id); repeat during a rotation. Prefer the environment variable.
    #[arg(
        long = "identity-secret",
        env = "BECKON_IDENTITY_SECRETS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub identity_secrets: Vec<String>,
    /// PEM public key (P-256 for ES256, RSA for RS256) the app's backend signs identity
    /// JWTs with; repeat during a rotation.
    #[arg(
        long = "identity-jwt-key",
        env = "BECKON_IDENTITY_JWT_KEYS",
        value_delimiter = ','
    )]
    pub identity_jwt_keys: Vec<PathBuf>,
    /// The `iss` every identity JWT must carry.
    #[arg(long, env = "BECKON_IDENTITY_JWT_ISSUER")]
    pub identity_jwt_issuer: Option<String>,
    /// The `aud` every identity JWT must carry.
    #[arg(long, env = "BECKON_IDENTITY_JWT_AUDIENCE")]
    pub identity_jwt_audience: Option<String>,
}

impl IdentityFlags {
    pub fn into_config(self) -> IdentityConfig {
        let mut config = IdentityConfig {
            hmac_secrets: self.identity_secrets,
            jwt_keys: self
                .identity_jwt_keys
                .into_iter()
                .map(KeySource::File)
                .collect(),
            jwt_issuer: self.identity_jwt_issuer,
            jwt_audience: self.identity_jwt_audience,
            ..Default::default()
        };
        for (app_key, mode) in self.verify_identities {
            config.set_mode(app_key, mode);
        }
        config
    }
}

/// One `--verify-identities` value: `MODE` (every app key) or `APP_KEY=MODE`.
pub(super) fn parse_spec(spec: &str) -> Result<(Option<String>, Enforcement), String> {
    match spec.rsplit_once('=') {
        Some((app_key, mode)) => Ok((Some(app_key.to_string()), mode.parse()?)),
        None => Ok((None, spec.parse()?)),
    }
}
