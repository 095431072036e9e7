use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::database::DEFAULT_STARTUP_CHECK;
use crate::delivery::{
    ApnsConfig, DeliveryConfig, FcmConfig, KeySource, WebhookConfig, DEFAULT_APNS_BASE_URL,
    DEFAULT_FCM_BASE_URL,
};
use crate::dispatch::SendsConfig;
use crate::identity::{IdentityConfig, IdentityFlags};
use crate::limits::{ConnectionLimits, LimitFlags, RateLimits};

/// Everything the server needs to run.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to bind; port 0 lets the OS pick one (read it back from `RunningServer::addr`).
    pub listen: SocketAddr,
    /// SQLite database file, created if missing.
    pub db_path: PathBuf,
    /// How long the integrity check before serving may take; zero skips it.
    pub startup_check: Duration,
    /// Keys accepted in the `x-beckon-app-key` header of device requests.
    pub app_keys: Vec<String>,
    /// Bearer token of the admin API.
    pub admin_token: String,
    /// On a database that has never held a segment, create the built-in segments
    /// (cart abandoners, almost buyers, …) so devices evaluate them from the first sync.
    pub builtin_segments: bool,
    /// Push and message providers; those left out are not used.
    pub delivery: DeliveryConfig,
    /// How sends are delivered: clock, retries, deliveries in flight.
    pub sends: SendsConfig,
    /// Verified identities: the app's secret and keys, and each app key's enforcement.
    pub identity: IdentityConfig,
    /// Connection timeouts and the connection cap.
    pub limits: ConnectionLimits,
    /// Request rates per client IP and per app key.
    pub rates: RateLimits,
}

impl ServerConfig {
    /// A server on 127.0.0.1 with a port the OS picks: what tests and benchmarks want.
    pub fn loopback(
        db_path: impl Into<PathBuf>,
        app_keys: Vec<String>,
        admin_token: impl Into<String>,
    ) -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            db_path: db_path.into(),
            startup_check: DEFAULT_STARTUP_CHECK,
            app_keys,
            admin_token: admin_token.into(),
            builtin_segments: false,
            delivery: DeliveryConfig::default(),
            sends: SendsConfig::default(),
            identity: IdentityConfig::default(),
            limits: ConnectionLimits::default(),
            rates: RateLimits::default(),
        }
    }

    /// The same, starting with the built-in segments, as the command line does.
    pub fn with_builtin_segments(mut self) -> Self {
        self.builtin_segments = true;
        self
    }

    /// Refuses settings that would leave an API open or unusable.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.app_keys.is_empty() {
            return Err("at least one app key is required".into());
        }
        for key in &self.app_keys {
            // The key travels in a header, so it must be a valid, non-blank header value.
            if key.trim().is_empty() || !key.bytes().all(|b| b.is_ascii_graphic()) {
                return Err("app keys must be non-empty printable ASCII without spaces".into());
            }
        }
        if self.admin_token.trim().is_empty()
            || !self.admin_token.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err("the admin token must be non-empty printable ASCII without spaces".into());
        }
        self.limits.check()?;
        self.rates.check()?;
        self.identity.check(&self.app_keys)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// The command line; every flag has an environment fallback for containers.
#[derive(Debug, Parser)]
#[command(name = "beckon-server", version, about = "Beckon reference server")]
pub struct Cli {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "BECKON_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// SQLite database file.
    #[arg(long = "db", env = "BECKON_DB", default_value = "beckon-server.db")]
    pub db_path: PathBuf,
    /// Seconds the integrity check before serving (`PRAGMA quick_check`) may take; past
    /// that the server starts with the file partly checked. 0 skips it.
    #[arg(
        long = "startup-check-seconds",
        env = "BECKON_STARTUP_CHECK_SECONDS",
        value_name = "SECONDS",
        default_value = "5",
        value_parser = parse_seconds
    )]
    pub startup_check: Duration,
    /// Check the whole database file (`PRAGMA integrity_check`, read-only), print what
    /// SQLite finds and exit: 0 sound, 1 damaged, 2 unreadable. Starts no server.
    #[arg(long)]
    pub check_database: bool,
    /// App key accepted from devices; repeat the flag, or list them comma-separated in the
    /// environment variable.
    #[arg(
        long = "app-key",
        env = "BECKON_APP_KEYS",
        value_delimiter = ',',
        required_unless_present = "check_database",
        hide_env_values = true
    )]
    pub app_keys: Vec<String>,
    /// Bearer token of the admin API (prefer the environment variable: flags show in `ps`).
    #[arg(
        long,
        env = "BECKON_ADMIN_TOKEN",
        required_unless_present = "check_database",
        hide_env_values = true
    )]
    pub admin_token: Option<String>,
    /// Log format on stderr; the level comes from RUST_LOG (default info).
    #[arg(long, env = "BECKON_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Start a new database without the built-in segments.
    #[arg(long, env = "BECKON_NO_BUILTIN_SEGMENTS")]
    pub no_builtin_segments: bool,
    /// Google service-account JSON file enabling pushes through FCM.
    #[arg(long, env = "BECKON_FCM_SERVICE_ACCOUNT")]
    pub fcm_service_account: Option<PathBuf>,
    /// FCM API base URL (a mock's, in tests).
    #[arg(long, env = "BECKON_FCM_BASE_URL", default_value = DEFAULT_FCM_BASE_URL)]
    pub fcm_base_url: String,
    /// APNs `.p8` signing key file enabling pushes through APNs.
    #[arg(
        long,
        env = "BECKON_APNS_KEY",
        requires_all = ["apns_key_id", "apns_team_id", "apns_topic"]
    )]
    pub apns_key: Option<PathBuf>,
    /// Id of the APNs key.
    #[arg(long, env = "BECKON_APNS_KEY_ID", requires = "apns_key")]
    pub apns_key_id: Option<String>,
    /// Apple developer team id.
    #[arg(long, env = "BECKON_APNS_TEAM_ID", requires = "apns_key")]
    pub apns_team_id: Option<String>,
    /// The app's bundle id, sent as `apns-topic`.
    #[arg(long, env = "BECKON_APNS_TOPIC", requires = "apns_key")]
    pub apns_topic: Option<String>,
    /// APNs base URL (`https://api.sandbox.push.apple.com` for development builds).
    #[arg(long, env = "BECKON_APNS_BASE_URL", default_value = DEFAULT_APNS_BASE_URL)]
    pub apns_base_url: String,
    /// A PEM root certificate trusted for APNs on top of the public ones (a local mock).
    #[arg(long, env = "BECKON_APNS_EXTRA_ROOT_CA")]
    pub apns_extra_root_ca: Option<PathBuf>,
    /// URL receiving signed email, SMS and WhatsApp messages.
    #[arg(long, env = "BECKON_WEBHOOK_URL", requires = "webhook_secret")]
    pub webhook_url: Option<String>,
    /// Standard Webhooks secret (`whsec_…`) signing those messages (prefer the
    /// environment variable: flags show in `ps`).
    #[arg(
        long,
        env = "BECKON_WEBHOOK_SECRET",
        requires = "webhook_url",
        hide_env_values = true
    )]
    pub webhook_secret: Option<String>,
    #[command(flatten)]
    pub identity: IdentityFlags,
    #[command(flatten)]
    pub limits: LimitFlags,
}

/// Whole or fractional seconds, as a duration.
fn parse_seconds(text: &str) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
        .ok_or_else(|| format!("{text:?} is not a number of seconds"))
}

impl Cli {
    pub fn into_config(self) -> ServerConfig {
        let (limits, rates) = (self.limits.connections(), self.limits.rates());
        ServerConfig {
            limits,
            rates,
            listen: self.listen,
            db_path: self.db_path,
            startup_check: self.startup_check,
            app_keys: self.app_keys,
            admin_token: self.admin_token.unwrap_or_default(),
            builtin_segments: !self.no_builtin_segments,
            delivery: DeliveryConfig {
                fcm: self.fcm_service_account.map(|path| FcmConfig {
                    service_account: KeySource::File(path),
                    base_url: self.fcm_base_url,
                }),
                apns: match (
                    self.apns_key,
                    self.apns_key_id,
                    self.apns_team_id,
                    self.apns_topic,
                ) {
                    (Some(key), Some(key_id), Some(team_id), Some(topic)) => Some(ApnsConfig {
                        key: KeySource::File(key),
                        key_id,
                        team_id,
                        topic,
                        base_url: self.apns_base_url,
                        extra_root_ca: self.apns_extra_root_ca.map(KeySource::File),
                    }),
                    _ => None,
                },
                webhook: match (self.webhook_url, self.webhook_secret) {
                    (Some(url), Some(secret)) => Some(WebhookConfig { url, secret }),
                    _ => None,
                },
            },
            sends: SendsConfig::default(),
            identity: self.identity.into_config(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn parses_repeated_and_comma_separated_app_keys() {
        let cli = Cli::try_parse_from([
            "beckon-server",
            "--listen",
            "127.0.0.1:0",
            "--db",
            "/tmp/x.db",
            "--app-key",
            "k1",
            "--app-key",
            "k2,k3",
            "--admin-token",
            "secret",
        ])
        .unwrap();
        let config = cli.into_config();
        assert_eq!(config.app_keys, ["k1", "k2", "k3"]);
        assert_eq!(config.listen.port(), 0);
        assert_eq!(config.db_path, PathBuf::from("/tmp/x.db"));
        assert_eq!(config.check(), Ok(()));
        assert_eq!(config.delivery, DeliveryConfig::default());
    }

    #[test]
    fn provider_flags_configure_delivery() {
        let cli = Cli::try_parse_from([
            "beckon-server",
            "--app-key",
            "k",
            "--admin-token",
            "t",
            "--fcm-service-account",
            "/keys/sa.json",
            "--fcm-base-url",
            "http://127.0.0.1:9001",
            "--apns-key",
            "/keys/AuthKey.p8",
            "--apns-key-id",
            "ABC123DEFG",
            "--apns-team-id",
            "TEAM123456",
            "--apns-topic",
            "com.example.shop",
            "--apns-extra-root-ca",
            "/keys/ca.pem",
            "--webhook-url",
            "https://hooks.example/send",
            "--webhook-secret",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        ])
        .unwrap();
        let delivery = cli.into_config().delivery;
        assert_eq!(
            delivery.fcm,
            Some(FcmConfig {
                service_account: KeySource::File("/keys/sa.json".into()),
                base_url: "http://127.0.0.1:9001".into(),
            })
        );
        assert_eq!(
            delivery.apns,
            Some(ApnsConfig {
                key: KeySource::File("/keys/AuthKey.p8".into()),
                key_id: "ABC123DEFG".into(),
                team_id: "TEAM123456".into(),
                topic: "com.example.shop".into(),
                base_url: DEFAULT_APNS_BASE_URL.into(),
                extra_root_ca: Some(KeySource::File("/keys/ca.pem".into())),
            })
        );
        assert_eq!(
            delivery.webhook,
            Some(WebhookConfig {
                url: "https://hooks.example/send".into(),
                secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
            })
        );
    }

    #[test]
    fn incomplete_provider_flags_are_refused() {
        let base = ["beckon-server", "--app-key", "k", "--admin-token", "t"];
        for (extra, missing) in [
            (
                vec!["--apns-key", "/k.p8", "--apns-key-id", "K"],
                "--apns-team-id",
            ),
            (vec!["--apns-topic", "com.example"], "--apns-key"),
            (
                vec!["--webhook-url", "https://h.example"],
                "--webhook-secret",
            ),
            (vec!["--webhook-secret", "whsec_x"], "--webhook-url"),
        ] {
            let args: Vec<&str> = base.iter().copied().chain(extra).collect();
            let err = Cli::try_parse_from(args).unwrap_err();
            assert!(err.to_string().contains(missing), "{missing}: {err}");
        }
    }

    #[test]
    fn identity_flags_configure_verification() {
        use crate::identity::Enforcement;
        let cli = Cli::try_parse_from([
            "beckon-server",
            "--app-key",
            "ios,android",
            "--admin-token",
            "t",
            "--verify-identities",
            "optional",
            "--verify-identities",
            "ios=required",
            "--identity-secret",
            "0123456789abcdef-secret",
            "--identity-jwt-key",
            "/keys/backend.pem",
            "--identity-jwt-issuer",
            "https://shop.example",
        ])
        .unwrap();
        let config = cli.into_config();
        let identity = &config.identity;
        assert_eq!(identity.enforcement("ios"), Enforcement::Required);
        assert_eq!(identity.enforcement("android"), Enforcement::Optional);
        assert_eq!(identity.hmac_secrets, ["0123456789abcdef-secret"]);
        assert_eq!(
            identity.jwt_keys,
            [KeySource::File("/keys/backend.pem".into())]
        );
        assert_eq!(identity.jwt_issuer.as_deref(), Some("https://shop.example"));
        assert_eq!(config.check(), Ok(()));

        let bad_mode = Cli::try_parse_from([
            "beckon-server",
            "--app-key",
            "k",
            "--admin-token",
            "t",
            "--verify-identities",
            "k=strict",
        ]);
        assert!(bad_mode.unwrap_err().to_string().contains("strict"));
        let no_keys = Cli::try_parse_from([
            "beckon-server",
            "--app-key",
            "k",
            "--admin-token",
            "t",
            "--verify-identities",
            "required",
        ])
        .unwrap()
        .into_config();
        assert!(no_keys.check().unwrap_err().contains("--identity-secret"));
    }

    #[test]
    fn rejects_a_bad_listen_address() {
        let err = Cli::try_parse_from([
            "beckon-server",
            "--listen",
            "localhost",
            "--app-key",
            "k",
            "--admin-token",
            "t",
        ])
        .unwrap_err();
        assert!(err.to_string().contains("--listen"), "{err}");
    }

    #[test]
    fn limit_flags_set_timeouts_cap_and_rates() {
        let parse = |flags: &[&str]| {
            let required = ["beckon-server", "--app-key", "k", "--admin-token", "t"];
            Cli::try_parse_from(required.iter().chain(flags)).map(Cli::into_config)
        };
        let defaults = parse(&[]).unwrap();
        assert_eq!(defaults.limits, ConnectionLimits::default());
        assert_eq!(defaults.rates, RateLimits::default());

        let config = parse(&[
            "--max-connections",
            "500",
            "--header-timeout",
            "5s",
            "--idle-timeout",
            "2m",
            "--request-timeout",
            "45",
            "--body-timeout",
            "1500ms",
            "--rate-per-ip",
            "0",
            "--rate-per-app-key",
            "50",
            "--burst-per-app-key",
            "80",
            "--client-ip-header",
            "X-Forwarded-For",
        ])
        .unwrap();
        assert_eq!(
            config.limits,
            ConnectionLimits {
                max_connections: 500,
                header_timeout: Duration::from_secs(5),
                idle_timeout: Duration::from_secs(120),
                request_timeout: Duration::from_secs(45),
                body_timeout: Duration::from_millis(1_500),
            }
        );
        assert!(config.rates.per_ip.is_off());
        assert_eq!(
            config.rates.per_app_key,
            crate::limits::Rate {
                per_second: 50,
                burst: 80
            }
        );
        assert_eq!(
            config.rates.client_ip_header.as_deref(),
            Some("X-Forwarded-For")
        );
        assert_eq!(config.check(), Ok(()));

        let zero = parse(&["--idle-timeout", "0s"]).unwrap();
        assert!(zero.check().unwrap_err().contains("--idle-timeout"));
        let unit = parse(&["--body-timeout", "3h"]).unwrap_err();
        assert!(unit.to_string().contains("--body-timeout"), "{unit}");
    }

    #[test]
    fn check_refuses_missing_or_blank_secrets() {
        let ok = ServerConfig::loopback("db", vec!["key".into()], "token");
        assert_eq!(ok.check(), Ok(()));
        let mut none = ok.clone();
        none.app_keys.clear();
        assert!(none.check().is_err());
        let mut blank = ok.clone();
        blank.app_keys.push(String::new());
        assert!(blank.check().is_err());
        let mut spaced = ok.clone();
        spaced.admin_token = "two words".into();
        assert!(spaced.check().is_err());
    }
}
