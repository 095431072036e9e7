//! The `beckon-server` binary killed with SIGKILL while devices upload: the file it
//! leaves passes the full integrity check, every event it acknowledged is there after
//! a restart, once, and batches retried after the kill are not stored twice.
//!
//! `BECKON_CRASH_ROUNDS` sets the number of kills (3 by default, to keep the suite fast;
//! run many more by hand: `BECKON_CRASH_ROUNDS=50 cargo test -p beckon-server --release
//! --test crash -- --nocapture`).

#![cfg(unix)]

mod common;

use std::collections::HashSet;
use std::ffi::OsStr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use beckon::protocol::{APP_KEY_HEADER, BATCH_PATH, EVENTS_PATH, NEXT_CURSOR_HEADER};
use common::process::{self, listening, server_command};
use common::{batch, events, gzip};
use serde_json::Value;
use tokio::process::Child;

const KEY: &str = "crash-app-key";
const ADMIN: &str = "crash-admin-token";
const UPLOADERS: usize = 4;
const PER_BATCH: usize = 100;

async fn start(db: &std::path::Path) -> (Child, String) {
    let mut child = server_command(db, KEY, ADMIN, &["--no-builtin-segments"])
        .env("RUST_LOG", "warn")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (url, _) = listening(&mut child).await;
    (child, url)
}

/// What the uploaders know: ids the server acknowledged, and batches sent without an
/// answer (to be sent again, as the SDK does).
#[derive(Default)]
struct Ledger {
    acknowledged: HashSet<String>,
    unanswered: Vec<Vec<Value>>,
}

async fn upload_until_killed(http: reqwest::Client, url: String, ledger: Arc<Mutex<Ledger>>) {
    loop {
        let retry = ledger.lock().unwrap().unanswered.pop();
        let events = retry.unwrap_or_else(|| events(PER_BATCH));
        let body = gzip(&serde_json::to_vec(&batch(events.clone())).unwrap());
        let answer = http
            .post(format!("{url}{BATCH_PATH}"))
            .header(APP_KEY_HEADER, KEY)
            .header("content-encoding", "gzip")
            .body(body)
            .send()
            .await;
        let acknowledged = match answer {
            Ok(response) if response.status().is_success() => response
                .json::<Value>()
                .await
                .ok()
                .filter(|answer| answer["rejected"] == serde_json::json!([])),
            _ => None,
        };
        let mut ledger = ledger.lock().unwrap();
        match acknowledged {
            Some(_) => ledger
                .acknowledged
                .extend(events.iter().map(|e| e["id"].as_str().unwrap().to_string())),
            None => {
                ledger.unanswered.push(events);
                return;
            }
        }
    }
}

async fn export_ids(http: &reqwest::Client, url: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor = "0".to_string();
    loop {
        let response = http
            .get(format!("{url}{EVENTS_PATH}?cursor={cursor}&limit=10000"))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
        let next = response.headers()[NEXT_CURSOR_HEADER]
            .to_str()
            .unwrap()
            .to_string();
        let text = response.text().await.unwrap();
        if text.is_empty() {
            return ids;
        }
        for line in text.lines() {
            let event: Value = serde_json::from_str(line).unwrap();
            ids.push(event["id"].as_str().unwrap().to_string());
        }
        cursor = next;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_acknowledged_event_is_lost_or_doubled_across_sigkills() {
    let rounds: usize = std::env::var("BECKON_CRASH_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    let http = reqwest::Client::new();
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    for round in 0..rounds {
        let (mut child, url) = start(&db).await;
        let uploaders: Vec<_> = (0..UPLOADERS)
            .map(|_| {
                tokio::spawn(upload_until_killed(
                    http.clone(),
                    url.clone(),
                    ledger.clone(),
                ))
            })
            .collect();
        // Kill at a different moment each round, mid-upload.
        tokio::time::sleep(Duration::from_millis(300 + 137 * (round as u64 % 5))).await;
        child.start_kill().unwrap();
        child.wait().await.unwrap();
        for uploader in uploaders {
            uploader.await.unwrap();
        }
    }

    let args = [
        OsStr::new("--db"),
        db.as_os_str(),
        OsStr::new("--check-database"),
    ];
    let (status, report, _) = process::run(dir.path(), &args).await;
    assert!(
        status.success(),
        "a file left by SIGKILL is sound: {report}"
    );

    // A last run sends every batch that never got an answer, then reads everything.
    let (_child, url) = start(&db).await;
    let unanswered = std::mem::take(&mut ledger.lock().unwrap().unanswered);
    for events in unanswered {
        let body = gzip(&serde_json::to_vec(&batch(events.clone())).unwrap());
        let response = http
            .post(format!("{url}{BATCH_PATH}"))
            .header(APP_KEY_HEADER, KEY)
            .header("content-encoding", "gzip")
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
        let mut ledger = ledger.lock().unwrap();
        ledger
            .acknowledged
            .extend(events.iter().map(|e| e["id"].as_str().unwrap().to_string()));
    }
    let stored = export_ids(&http, &url).await;
    let distinct: HashSet<&String> = stored.iter().collect();
    let acknowledged = &ledger.lock().unwrap().acknowledged;
    println!(
        "{rounds} kills: {} events acknowledged, {} stored",
        acknowledged.len(),
        stored.len()
    );
    assert_eq!(distinct.len(), stored.len(), "no event stored twice");
    let missing = acknowledged
        .iter()
        .filter(|id| !distinct.contains(id))
        .count();
    assert_eq!(missing, 0, "acknowledged events missing after SIGKILL");
    assert_eq!(
        stored.len(),
        acknowledged.len(),
        "nothing stored unacknowledged"
    );
    assert!(acknowledged.len() >= PER_BATCH, "the uploads got going");
}
