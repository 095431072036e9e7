//! How the operator configures verified identities: the app's secret and public keys,
//! and how strictly each app key's requests must prove their users.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::delivery::KeySource;

/// How strictly one app key's requests must prove the users they name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Enforcement {
    /// Tokens are ignored: any user id is taken at its word (the default, and how a
    /// server runs before the app's backend issues tokens).
    #[default]
    Off,
    /// Tokens are checked when present and failures are counted, but nothing is
    /// refused: for rolling out an app version that sends them.
    Optional,
    /// A request naming a user without a valid token is refused (401), and anonymous
    /// ids must be random 128-bit values (UUIDs) that were never a user's id.
    Required,
}

impl Enforcement {
    pub fn as_str(self) -> &'static str {
        match self {
            Enforcement::Off => "off",
            Enforcement::Optional => "optional",
            Enforcement::Required => "required",
        }
    }
}

impl FromStr for Enforcement {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "off" => Ok(Enforcement::Off),
            "optional" => Ok(Enforcement::Optional),
            "required" => Ok(Enforcement::Required),
            other => Err(format!(
                "{other:?} is not an enforcement mode: use off, optional or required"
            )),
        }
    }
}

/// Verified identities, as the operator gives them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct IdentityConfig {
    /// Secrets the app's backend computes HMAC tokens with; several during a rotation.
    pub hmac_secrets: Vec<String>,
    /// PEM public keys the app's backend signs JWTs with (P-256 for ES256, RSA for
    /// RS256); several during a rotation.
    pub jwt_keys: Vec<KeySource>,
    /// The `iss` a JWT must carry, when set.
    pub jwt_issuer: Option<String>,
    /// The `aud` a JWT must carry, when set.
    pub jwt_audience: Option<String>,
    /// For app keys not listed in `enforcement_by_app_key`.
    pub default_enforcement: Enforcement,
    pub enforcement_by_app_key: BTreeMap<String, Enforcement>,
}

impl IdentityConfig {
    /// Reads `--verify-identities` values: `MODE` sets the default, `APP_KEY=MODE` one
    /// app key's mode.
    pub fn set_enforcement(&mut self, specs: &[String]) -> Result<(), String> {
        for spec in specs {
            let (app_key, mode) = super::flags::parse_spec(spec)?;
            self.set_mode(app_key, mode);
        }
        Ok(())
    }

    /// Sets one app key's mode, or with `None` the default.
    pub fn set_mode(&mut self, app_key: Option<String>, mode: Enforcement) {
        match app_key {
            Some(app_key) => {
                self.enforcement_by_app_key.insert(app_key, mode);
            }
            None => self.default_enforcement = mode,
        }
    }

    pub fn enforcement(&self, app_key: &str) -> Enforcement {
        self.enforcement_by_app_key
            .get(app_key)
            .copied()
            .unwrap_or(self.default_enforcement)
    }

    /// Refuses settings that would verify nothing or name unknown app keys.
    pub(crate) fn check(&self, app_keys: &[String]) -> Result<(), String> {
        for key in self.enforcement_by_app_key.keys() {
            if !app_keys.contains(key) {
                return Err(format!(
                    "--verify-identities names an app key the server does not accept ({} characters)",
                    key.len()
                ));
            }
        }
        let verifies = app_keys
            .iter()
            .any(|key| self.enforcement(key) != Enforcement::Off);
        if verifies && self.hmac_secrets.is_empty() && self.jwt_keys.is_empty() {
            return Err(
                "verifying identities needs --identity-secret or --identity-jwt-key".into(),
            );
        }
        if let Some(secret) = self.hmac_secrets.iter().find(|s| s.len() < 16) {
            return Err(format!(
                "an identity secret must have at least 16 characters (one has {})",
                secret.len()
            ));
        }
        Ok(())
    }
}

impl fmt::Debug for IdentityConfig {
    // The secrets must never reach a log, even through a debug dump of the config.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityConfig")
            .field(
                "hmac_secrets",
                &format!("<{} redacted>", self.hmac_secrets.len()),
            )
            .field("jwt_keys", &self.jwt_keys)
            .field("jwt_issuer", &self.jwt_issuer)
            .field("jwt_audience", &self.jwt_audience)
            .field("default_enforcement", &self.default_enforcement)
            .field("enforcement_by_app_key", &self.enforcement_by_app_key)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Vec<String> {
        vec!["ios".into(), "android".into()]
    }

    #[test]
    fn a_mode_alone_is_the_default_and_key_eq_mode_overrides_it() {
        let mut config = IdentityConfig::default();
        config
            .set_enforcement(&["optional".into(), "ios=required".into()])
            .unwrap();
        assert_eq!(config.enforcement("ios"), Enforcement::Required);
        assert_eq!(config.enforcement("android"), Enforcement::Optional);
        assert!(config.set_enforcement(&["ios=strict".into()]).is_err());
        assert!(config.set_enforcement(&["maybe".into()]).is_err());
    }

    #[test]
    fn check_refuses_enforcement_without_keys_and_unknown_app_keys() {
        let mut config = IdentityConfig::default();
        assert_eq!(config.check(&keys()), Ok(()), "off needs nothing");
        config.set_enforcement(&["required".into()]).unwrap();
        assert!(config.check(&keys()).is_err());
        config.hmac_secrets.push("a-long-enough-secret".into());
        assert_eq!(config.check(&keys()), Ok(()));
        config.set_enforcement(&["web=required".into()]).unwrap();
        assert!(config.check(&keys()).is_err());
        let mut short = IdentityConfig {
            hmac_secrets: vec!["short".into()],
            ..Default::default()
        };
        assert!(short.check(&keys()).is_err());
        short.hmac_secrets = vec!["a-long-enough-secret".into()];
        assert_eq!(short.check(&keys()), Ok(()));
    }

    #[test]
    fn debug_output_hides_the_secrets() {
        let config = IdentityConfig {
            hmac_secrets: vec!["super-secret-value".into()],
            ..Default::default()
        };
        let text = format!("{config:?}");
        assert!(!text.contains("super-secret-value"), "{text}");
        assert!(text.contains("<1 redacted>"), "{text}");
    }
}
