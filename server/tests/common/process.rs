//! The `beckon-server` binary as a child process.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

pub const BIN: &str = env!("CARGO_BIN_EXE_beckon-server");

/// The binary run in `dir`, with none of the configuration this process may hold in
/// its environment, its output piped, killed when dropped.
pub fn command(dir: impl AsRef<Path>) -> Command {
    let mut command = Command::new(BIN);
    for var in [
        "BECKON_LISTEN",
        "BECKON_DB",
        "BECKON_APP_KEYS",
        "BECKON_ADMIN_TOKEN",
        "BECKON_LOG_FORMAT",
        "BECKON_STARTUP_CHECK_SECONDS",
    ] {
        command.env_remove(var);
    }
    command
        .current_dir(dir.as_ref())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// A server on `db` listening on a free loopback port, with app key `app_key` and
/// admin token `admin_token`; `extra` arguments go last.
pub fn server_command(db: &Path, app_key: &str, admin_token: &str, extra: &[&str]) -> Command {
    let mut command = command(db.parent().expect("a file in a directory"));
    command
        .args(["--listen", "127.0.0.1:0", "--app-key", app_key])
        .args(["--admin-token", admin_token])
        .arg("--db")
        .arg(db)
        .args(extra);
    command
}

pub async fn wait(child: &mut Child) -> ExitStatus {
    tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("the server exits in time")
        .unwrap()
}

pub async fn stderr_of(child: &mut Child) -> String {
    let mut text = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut text)
        .await
        .unwrap();
    text
}

/// Waits for the line the server prints once it listens, and returns its base URL
/// with the rest of stdout.
pub async fn listening(child: &mut Child) -> (String, BufReader<ChildStdout>) {
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(20), stdout.read_line(&mut line))
        .await
        .expect("the address line comes promptly")
        .unwrap();
    let url = line
        .strip_suffix('\n')
        .and_then(|l| l.strip_prefix("beckon-server listening on "))
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    (url.to_string(), stdout)
}

/// Runs the binary with `args` to the end: its exit status, stdout and stderr.
pub async fn run(dir: impl AsRef<Path>, args: &[&std::ffi::OsStr]) -> (ExitStatus, String, String) {
    let output = tokio::time::timeout(Duration::from_secs(60), command(dir).args(args).output())
        .await
        .expect("the binary exits in time")
        .unwrap();
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).expect("UTF-8 output");
    (output.status, text(output.stdout), text(output.stderr))
}
