use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Sends structured logs to stderr, so stdout stays free for the one line scripts parse.
///
/// The level comes from `RUST_LOG` (default `info`). Calling it twice is harmless: the
/// second call keeps the first subscriber.
pub fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
