use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// Everything the server needs to run.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to bind; port 0 lets the OS pick one (read it back from `RunningServer::addr`).
    pub listen: SocketAddr,
    /// SQLite database file, created if missing.
    pub db_path: PathBuf,
    /// Keys accepted in the `x-beckon-app-key` header of device requests.
    pub app_keys: Vec<String>,
    /// Bearer token of the admin API.
    pub admin_token: String,
    /// On a database that has never held a segment, create the built-in segments
    /// (cart abandoners, almost buyers, …) so devices evaluate them from the first sync.
    pub builtin_segments: bool,
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
            app_keys,
            admin_token: admin_token.into(),
            builtin_segments: false,
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
        Ok(())
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
    /// App key accepted from devices; repeat the flag, or list them comma-separated in the
    /// environment variable.
    #[arg(
        long = "app-key",
        env = "BECKON_APP_KEYS",
        value_delimiter = ',',
        required = true,
        hide_env_values = true
    )]
    pub app_keys: Vec<String>,
    /// Bearer token of the admin API (prefer the environment variable: flags show in `ps`).
    #[arg(long, env = "BECKON_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: String,
    /// Log format on stderr; the level comes from RUST_LOG (default info).
    #[arg(long, env = "BECKON_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Start a new database without the built-in segments.
    #[arg(long, env = "BECKON_NO_BUILTIN_SEGMENTS")]
    pub no_builtin_segments: bool,
}

impl Cli {
    pub fn into_config(self) -> ServerConfig {
        ServerConfig {
            listen: self.listen,
            db_path: self.db_path,
            app_keys: self.app_keys,
            admin_token: self.admin_token,
            builtin_segments: !self.no_builtin_segments,
        }
    }
}

#[cfg(test)]
mod tests {
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
