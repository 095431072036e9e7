//! A damaged database file is noticed, through real HTTP on real files: refused at
//! start by the bounded integrity check, found by `--check-database`, and, when a page
//! goes bad while the server runs, answered with `storage_corrupt`, `/readyz` 503 and
//! no further writes. (`crash.rs` shows a file left by SIGKILL passes the check.)

mod common;

use std::ffi::OsStr;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

use beckon_server::{start, ServerConfig};
use common::process::{self, listening, server_command, stderr_of, wait};
use common::{assert_error, batch, event, gzip, TestServer, ADMIN_TOKEN, APP_KEY};
use reqwest::StatusCode;
use rusqlite::{Connection, OpenFlags};
use serde_json::{json, Value};

/// Events uploaded before the damage: a database of several MB.
const BATCHES: usize = 24;
const PER_BATCH: usize = 500;
const PAGE_SIZE: usize = 4096;

/// An event with some weight, so the file grows to several MB.
fn weighty(i: usize) -> Value {
    let mut event = event(&format!("Product Viewed {i}"));
    event["properties"]["description"] = json!(format!("{i:0>240}"));
    event
}

/// Uploads `BATCHES` batches through the API.
async fn fill(server: &TestServer) {
    for b in 0..BATCHES {
        let events: Vec<Value> = (0..PER_BATCH).map(|i| weighty(b * PER_BATCH + i)).collect();
        let (status, answer) = server.send(&batch(events)).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
}

/// A database of several MB written through the API, its server stopped cleanly.
async fn filled_database() -> TestServer {
    let mut server = TestServer::start().await;
    fill(&server).await;
    server.stop().await;
    server
}

/// `beckon-server --db PATH --check-database`: its exit code and what it printed.
async fn check_database(path: &Path) -> (Option<i32>, String) {
    let args = [
        OsStr::new("--db"),
        path.as_os_str(),
        OsStr::new("--check-database"),
    ];
    let (status, out, _) = process::run(path.parent().unwrap(), &args).await;
    (status.code(), out)
}

/// 4 KB of garbage (the same every run) over the page that starts at `offset`.
fn overwrite_page(path: &Path, offset: u64) {
    let mut rng = fastrand::Rng::with_seed(0x0bad_beef);
    let garbage: Vec<u8> = (0..PAGE_SIZE).map(|_| rng.u8(..)).collect();
    let mut file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.seek(SeekFrom::Start(offset)).unwrap();
    file.write_all(&garbage).unwrap();
    file.sync_all().unwrap();
}

/// A read-only connection to the file, as an operator would open one.
fn read_only(path: &Path) -> Connection {
    Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap()
}

/// The page in the middle of the event log: a leaf of the `events` table that the
/// export reads when it pages through.
fn middle_event_page(path: &Path) -> u64 {
    let conn = read_only(path);
    let size: usize = conn
        .query_row("PRAGMA page_size", [], |row| row.get(0))
        .unwrap();
    assert_eq!(size, PAGE_SIZE);
    let mut select = conn
        .prepare(
            "SELECT pageno FROM dbstat WHERE name = 'events' AND pagetype = 'leaf' ORDER BY pageno",
        )
        .unwrap();
    let pages: Vec<u64> = select
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(pages.len() > 100, "{} leaves", pages.len());
    pages[pages.len() / 2]
}

/// The database file and its WAL, as they are now.
fn files(path: &Path) -> (Vec<u8>, Option<Vec<u8>>) {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    (std::fs::read(path).unwrap(), std::fs::read(wal).ok())
}

/// An unauthenticated `GET`, as probes make.
async fn probe(server: &TestServer, path: &str) -> reqwest::Response {
    server.http.get(server.endpoint(path)).send().await.unwrap()
}

async fn metrics(server: &TestServer) -> String {
    let response = server
        .admin(reqwest::Method::GET, "/metrics")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap()
}

/// The 503 a damaged database answers, with the `Retry-After` devices wait for.
async fn assert_storage_corrupt(response: reqwest::Response) -> String {
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|value| value.to_str().unwrap().to_string());
    let message = assert_error(response, StatusCode::SERVICE_UNAVAILABLE, "storage_corrupt").await;
    let seconds: u64 = retry_after.expect("Retry-After").parse().unwrap();
    assert!(seconds > 0);
    message
}

#[tokio::test]
async fn a_page_damaged_while_running_stops_writes_and_turns_readyz_503() {
    let mut server = TestServer::start().await;
    fill(&server).await;
    // A clean stop writes the WAL back into the file and removes it; the start-up check
    // of the restart reads the file through its own connection, so the pages damaged
    // below are in no cache the server reads the event log through.
    server.restart().await;
    let path = server.db_path();
    assert_eq!(probe(&server, "/readyz").await.status(), StatusCode::OK);
    let page = middle_event_page(&path);
    overwrite_page(&path, (page - 1) * PAGE_SIZE as u64);

    // Paging through the export reaches the damaged page.
    let mut cursor = "0".to_string();
    let mut pages_read = 0;
    let failed = loop {
        let response = server.export(&format!("cursor={cursor}&limit=1000")).await;
        if response.status() != StatusCode::OK {
            break response;
        }
        let next = response.headers()[beckon::protocol::NEXT_CURSOR_HEADER]
            .to_str()
            .unwrap()
            .to_string();
        assert_ne!(next, cursor, "the export ended without reaching the damage");
        cursor = next;
        pages_read += 1;
    };
    assert!(pages_read > 0, "pages before the damaged one are read");
    let message = assert_storage_corrupt(failed).await;
    assert!(message.contains("damaged"), "{message}");

    // Not ready any more, yet alive.
    assert_storage_corrupt(probe(&server, "/readyz").await).await;
    assert_eq!(probe(&server, "/healthz").await.status(), StatusCode::OK);
    assert!(metrics(&server)
        .await
        .lines()
        .any(|line| line == "beckon_storage_damaged 1"));

    // Writes are refused without touching the file; reads of intact pages still work.
    let before = files(&path);
    let refused = event("Order Completed");
    let body = gzip(&serde_json::to_vec(&batch(vec![refused.clone()])).unwrap());
    assert_storage_corrupt(server.post_raw(body, Some("gzip")).await).await;
    let segment = server
        .admin(reqwest::Method::POST, common::SEGMENTS)
        .json(&common::buyer_segment("buyers", 1))
        .send()
        .await
        .unwrap();
    assert_storage_corrupt(segment).await;
    assert_eq!(server.sync(None).await.status(), StatusCode::OK);
    // Past a tick of the checkpoint thread.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(files(&path) == before, "the damaged files did not change");

    server.stop().await;
    assert!(files(&path).0 == before.0, "stopping did not write either");
    let id = uuid::Uuid::parse_str(refused["id"].as_str().unwrap()).unwrap();
    let stored: i64 = read_only(&path)
        .query_row(
            "SELECT count(*) FROM events WHERE id = ?1",
            [&id.as_bytes()[..]],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(stored, 0, "the refused event is not in the file");
}

#[tokio::test]
async fn an_unreadable_row_answers_storage_corrupt_and_leaves_writes_going() {
    let server = TestServer::start().await;
    let (status, _) = server.send(&batch(vec![event("Cart Viewed")])).await;
    assert_eq!(status, StatusCode::OK);
    // A value gone bad inside a sound page: SQLite reads it without complaint.
    Connection::open(server.db_path())
        .unwrap()
        .execute(
            "UPDATE events SET properties = '{not json' WHERE seq = 1",
            [],
        )
        .unwrap();

    let response = server.export("cursor=0").await;
    let message = assert_error(
        response,
        StatusCode::INTERNAL_SERVER_ERROR,
        "storage_corrupt",
    )
    .await;
    assert!(message.contains("--check-database"), "{message}");
    assert_eq!(probe(&server, "/readyz").await.status(), StatusCode::OK);
    let (status, answer) = server.send(&batch(vec![event("Cart Viewed")])).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["accepted"], 1);
    server.shutdown().await;
}

#[tokio::test]
async fn a_damaged_file_is_refused_at_start_and_found_by_check_database() {
    let server = filled_database().await;
    let path = server.db_path();
    let (code, out) = check_database(&path).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("ok"), "{out}");

    let len = std::fs::metadata(&path).unwrap().len();
    assert!(len > 4 << 20, "a database of several MB: {len} bytes");
    overwrite_page(&path, len / 2 / PAGE_SIZE as u64 * PAGE_SIZE as u64);
    let damaged = std::fs::read(&path).unwrap();

    let config = ServerConfig::loopback(&path, vec![APP_KEY.into()], ADMIN_TOKEN);
    let err = match start(config).await {
        Ok(_) => panic!("a damaged database was served"),
        Err(err) => err.to_string(),
    };
    assert!(err.contains("is damaged"), "{err}");
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains("--check-database"), "{err}");

    let mut binary = server_command(&path, APP_KEY, ADMIN_TOKEN, &[])
        .spawn()
        .unwrap();
    let status = wait(&mut binary).await;
    assert!(!status.success(), "{status}");
    let errors = stderr_of(&mut binary).await;
    assert!(errors.contains("is damaged"), "{errors}");
    assert!(errors.contains("page"), "SQLite's finding: {errors}");
    assert!(errors.contains(".recover"), "{errors}");

    let (code, out) = check_database(&path).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("damaged"), "{out}");
    assert!(out.lines().any(|line| line.contains("page")), "{out}");

    assert!(
        std::fs::read(&path).unwrap() == damaged,
        "the file was not modified"
    );
    let missing = path.with_file_name("missing.db");
    let (code, out) = check_database(&missing).await;
    assert_eq!(code, Some(2), "{out}");
    assert!(!missing.exists());
}

#[tokio::test]
async fn a_start_up_check_out_of_time_says_so_and_serves() {
    let server = filled_database().await;
    let path = server.db_path();
    let mut binary = server_command(
        &path,
        APP_KEY,
        ADMIN_TOKEN,
        &["--startup-check-seconds", "0.000001"],
    )
    .spawn()
    .unwrap();
    let (url, _stdout) = listening(&mut binary).await;
    let ready = reqwest::get(format!("{url}/readyz")).await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    binary.start_kill().unwrap();
    wait(&mut binary).await;
    let logs = stderr_of(&mut binary).await;
    assert!(logs.contains("only part of the database"), "{logs}");
    assert!(logs.contains("--check-database"), "{logs}");
}
