use std::io::Write;
use std::process::ExitCode;

use beckon_server::{check_database, init_logging, shutdown_signal, start, Cli};
use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.check_database {
        return ExitCode::from(check_database(&cli.db_path, &mut std::io::stdout()));
    }
    init_logging(cli.log_format);
    let server = match start(cli.into_config()).await {
        Ok(server) => server,
        Err(err) => {
            tracing::error!(error = %err, "beckon-server failed to start");
            eprintln!("beckon-server: {err}");
            return ExitCode::FAILURE;
        }
    };
    // Scripts wait for this exact line to learn the bound port.
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "beckon-server listening on {}", server.url());
    let _ = stdout.flush();
    drop(stdout);

    shutdown_signal().await;
    tracing::info!("shutting down");
    server.shutdown().await;
    ExitCode::SUCCESS
}
