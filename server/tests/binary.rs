//! The `beckon-server` binary: configuration from the environment, the one stdout line
//! scripts parse, clean exit on SIGTERM, and refusal to start on bad setup.

mod common;

use beckon::protocol::APP_KEY_HEADER;
use common::process::{command, listening, stderr_of, wait};
use common::{batch, events, gzip};
use reqwest::StatusCode;
use tokio::io::AsyncReadExt;

#[cfg(unix)]
#[tokio::test]
async fn prints_its_address_serves_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = command(&dir)
        .env("BECKON_LISTEN", "127.0.0.1:0")
        .env("BECKON_DB", dir.path().join("events.db"))
        .env("BECKON_APP_KEYS", "first-key,second-key")
        .env("BECKON_ADMIN_TOKEN", "admin")
        .env("BECKON_LOG_FORMAT", "json")
        .spawn()
        .unwrap();
    let (base, mut stdout) = listening(&mut child).await;
    let port: u16 = base
        .strip_prefix("http://127.0.0.1:")
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("unexpected address {base:?}"));
    assert_ne!(port, 0, "the real bound port");

    let http = reqwest::Client::new();
    let health = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let body = gzip(&serde_json::to_vec(&batch(events(2))).unwrap());
    let response = http
        .post(format!("{base}/v1/batch"))
        .header(APP_KEY_HEADER, "second-key")
        .header("content-encoding", "gzip")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let export = http
        .get(format!("{base}/v1/events"))
        .bearer_auth("admin")
        .send()
        .await
        .unwrap();
    assert_eq!(export.text().await.unwrap().lines().count(), 2);

    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = wait(&mut child).await;
    assert!(status.success(), "exit after SIGTERM: {status}");

    let mut rest = String::new();
    stdout.read_to_string(&mut rest).await.unwrap();
    assert_eq!(rest, "", "stdout holds only the address line");
    let logs = stderr_of(&mut child).await;
    let first = logs.lines().next().expect("logs on stderr");
    let entry: serde_json::Value = serde_json::from_str(first).expect("JSON log lines");
    assert!(entry.get("level").is_some(), "{first}");
}

#[tokio::test]
async fn refuses_to_start_without_keys_or_with_a_bad_database() {
    let dir = tempfile::tempdir().unwrap();

    let mut no_keys = command(&dir).args(["--admin-token", "t"]).spawn().unwrap();
    assert!(!wait(&mut no_keys).await.success());
    let errors = stderr_of(&mut no_keys).await;
    assert!(errors.contains("--app-key"), "{errors}");

    let mut no_token = command(&dir).args(["--app-key", "k"]).spawn().unwrap();
    assert!(!wait(&mut no_token).await.success());
    let errors = stderr_of(&mut no_token).await;
    assert!(errors.contains("--admin-token"), "{errors}");

    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, vec![0x42; 4096]).unwrap();
    let mut bad_db = command(&dir)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--app-key",
            "k",
            "--admin-token",
            "t",
        ])
        .arg("--db")
        .arg(&garbage)
        .spawn()
        .unwrap();
    assert!(!wait(&mut bad_db).await.success());
    let errors = stderr_of(&mut bad_db).await;
    assert!(errors.contains("garbage.db"), "{errors}");
    assert_eq!(
        std::fs::read(&garbage).unwrap(),
        vec![0x42; 4096],
        "data left as it was"
    );
}

#[tokio::test]
async fn defaults_to_a_database_in_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    // Taking a port that is already in use must fail after the database is created.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let mut child = command(&dir)
        .args(["--listen", &addr, "--app-key", "k", "--admin-token", "t"])
        .spawn()
        .unwrap();
    assert!(!wait(&mut child).await.success());
    let errors = stderr_of(&mut child).await;
    assert!(errors.contains(&addr), "{errors}");
    assert!(dir.path().join("beckon-server.db").exists());
}
