//! One campaign send to 100,000 users, end to end: the real server on loopback plans
//! the audience (segment evaluated over the stored events, profiles, permissions and
//! tokens read in chunks, texts rendered per user in their locale), stores every
//! delivery, and delivers through FCM (OAuth token, HTTP v1) to the FCM mock with 64
//! deliveries in flight, storing every attempt. The baseline in the same run posts the
//! same number of pre-rendered pushes to the same mock through the same FCM client
//! with the same concurrency: what HTTP and the mock cost without the pipeline.
//!
//! The mock runs in a child process (this binary, started with `--mock-fcm`), so the
//! peak memory read here (`VmHWM`, reset before each side) is the server's alone.
//!
//! Run: `cargo bench -p beckon-server --bench sends` (`BECKON_BENCH_USERS` to change
//! the audience size).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use beckon::protocol::{
    ConsentReport, Discount, ExportedEvent, PromoOffer, PushPayload, PushProvider, WireEvent,
    WireKind,
};
use beckon::segments::UserHistory;
use beckon_mock_providers::MockFcm;
use beckon_server::delivery::{
    DeliveryConfig, DeliveryRetry, FcmConfig, KeySource, Outbound, Outcome, Providers,
    PushNotification, PushPriority,
};
use beckon_server::dispatch::{recipient, CatalogDefinitions, SendsConfig};
use beckon_server::sends::{render_send, Recipient, Send};
use beckon_server::store::{SqliteStore, Store, UserVisitor, AUDIENCE_CHUNK};
use beckon_server::{start, ServerConfig};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Map, Value};
use tokio::sync::Semaphore;

const ADMIN_TOKEN: &str = "bench-admin-token";
const APP_KEY: &str = "bench-app-key";
const CONCURRENCY: usize = 64;
const FIRST_NAMES: [&str; 8] = [
    "Ana", "Bruno", "Chloé", "Diego", "Eva", "Fatima", "Gus", "Hana",
];
const PLACES: [(&str, &str, &str); 5] = [
    ("Europe/Lisbon", "pt-PT", "PT"),
    ("America/Sao_Paulo", "pt-BR", "BR"),
    ("America/New_York", "en-US", "US"),
    ("Europe/Berlin", "de-DE", "DE"),
    ("Asia/Kolkata", "en-IN", "IN"),
];

fn main() {
    if std::env::args().any(|arg| arg == "--mock-fcm") {
        return serve_mock();
    }
    let users: usize = std::env::var("BECKON_BENCH_USERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run(users));
}

// ------------------------------------------------------------------ the mock process

/// The child: an FCM mock; prints its URL and service account, answers `counters`
/// with a JSON line, exits when stdin closes.
fn serve_mock() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mock = runtime.block_on(MockFcm::start());
    let account: Value = serde_json::from_str(mock.service_account_json()).unwrap();
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", mock.url()).unwrap();
    writeln!(out, "{account}").unwrap();
    out.flush().unwrap();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if line.trim() == "counters" {
            let c = mock.counters();
            let rejections = mock.rejections();
            writeln!(
                out,
                "{}",
                json!({"delivered": c.delivered, "rejected": c.rejected, "send_requests": c.send_requests,
                       "token_requests": c.token_requests, "first_rejection": rejections.first()})
            )
            .unwrap();
            out.flush().unwrap();
        }
    }
}

struct MockProcess {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    url: String,
    service_account: String,
}

impl MockProcess {
    fn start() -> MockProcess {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .arg("--mock-fcm")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the mock process starts");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = || {
            let mut text = String::new();
            stdout.read_line(&mut text).unwrap();
            text.trim().to_owned()
        };
        let url = line();
        let service_account = line();
        MockProcess {
            child,
            stdin,
            stdout,
            url,
            service_account,
        }
    }

    fn counters(&mut self) -> Value {
        writeln!(self.stdin, "counters").unwrap();
        self.stdin.flush().unwrap();
        let mut text = String::new();
        self.stdout.read_line(&mut text).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn delivery_config(&self) -> DeliveryConfig {
        DeliveryConfig {
            fcm: Some(FcmConfig {
                service_account: KeySource::Inline(self.service_account.clone()),
                base_url: self.url.clone(),
            }),
            ..DeliveryConfig::default()
        }
    }
}

impl Drop for MockProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ------------------------------------------------------------------ memory

/// The process's peak resident set, in MiB.
fn peak_mib() -> f64 {
    status_kib("VmHWM:") / 1024.0
}

fn resident_mib() -> f64 {
    status_kib("VmRSS:") / 1024.0
}

fn status_kib(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(f64::NAN)
}

/// Starts the peak over from the current resident set (Linux `clear_refs`).
fn reset_peak() {
    if std::fs::write("/proc/self/clear_refs", "5").is_err() {
        eprintln!("cannot reset VmHWM: peaks include everything before");
    }
}

// ------------------------------------------------------------------ the audience

fn token(i: usize) -> String {
    // FCM registration tokens are about 160 characters.
    format!("fcm:{i:08}:{}", "APA91bH".repeat(21))
}

fn stored(event: WireEvent) -> ExportedEvent {
    ExportedEvent {
        original_timestamp: event.timestamp,
        sent_at: event.timestamp,
        received_at: event.timestamp,
        event,
    }
}

/// Identify (traits, zone, locale, country), push token, OS permission and one order:
/// a buyer reachable by push.
fn user_events(i: usize, at: DateTime<Utc>) -> Vec<ExportedEvent> {
    let user = format!("user-{i:06}");
    let (zone, locale, country) = PLACES[i % PLACES.len()];
    let event = |kind: WireKind, name: Option<&str>, properties: Value, n: i64| WireEvent {
        id: uuid::Uuid::now_v7().to_string(),
        kind,
        name: name.map(str::to_owned),
        properties: properties.as_object().cloned().unwrap_or_default(),
        traits: Map::new(),
        anonymous_id: format!("anon-{i:06}"),
        user_id: Some(user.clone()),
        timestamp: at + TimeDelta::seconds(n),
        context: json!({"timezone": zone, "locale": locale, "country": country})
            .as_object()
            .cloned()
            .unwrap(),
    };
    let mut identify = event(WireKind::Identify, None, json!({}), 0);
    identify.traits = json!({"first_name": FIRST_NAMES[i % FIRST_NAMES.len()],
                             "email": format!("{user}@shop.example")})
    .as_object()
    .cloned()
    .unwrap();
    let report = |report: ConsentReport, n| {
        event(
            WireKind::Track,
            Some(report.event_name()),
            Value::Object(report.properties()),
            n,
        )
    };
    let order = event(
        WireKind::Track,
        Some("Order Completed"),
        json!({"order_id": format!("o-{i}"), "total": 42.5, "currency": "EUR"}),
        3,
    );
    vec![
        stored(identify),
        stored(report(
            ConsentReport::PushTokenRegistered {
                provider: PushProvider::Fcm,
                token: token(i),
            },
            1,
        )),
        stored(report(
            ConsentReport::PushPermissionChanged { granted: true },
            2,
        )),
        stored(order),
    ]
}

async fn seed(store: &Store, users: usize) {
    let at = Utc::now() - TimeDelta::days(1);
    let per_batch = 1_000;
    for first in (0..users).step_by(per_batch) {
        let events: Vec<ExportedEvent> = (first..(first + per_batch).min(users))
            .flat_map(|i| user_events(i, at))
            .collect();
        store
            .insert(events)
            .await
            .expect("seeding stores the events");
    }
}

// ------------------------------------------------------------------ helpers

fn promo() -> PromoOffer {
    PromoOffer {
        code: "VOLTA10".into(),
        discount: Discount::Percent { value: 10.0 },
        currency: None,
        expires_at: Utc::now() + TimeDelta::days(30),
        min_basket: None,
        max_uses: 1,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

struct Admin {
    http: reqwest::Client,
    url: String,
}

impl Admin {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Value {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(ADMIN_TOKEN);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }
}

// ------------------------------------------------------------------ the two sides

/// The baseline: pre-rendered pushes through the same FCM client, 64 in flight.
async fn baseline(mock: &MockProcess, users: usize) -> Duration {
    let providers = Providers::new(mock.delivery_config()).unwrap();
    let policy = DeliveryRetry::default();
    let messages: Vec<Outbound> = (0..users)
        .map(|i| {
            let payload = PushPayload {
                campaign_id: Some("bench".into()),
                send_id: Some("baseline".into()),
                deep_link: Some("shop://cart?coupon=VOLTA10&utm_source=beckon".into()),
                promo: Some(promo()),
                ..PushPayload::new(uuid::Uuid::now_v7().to_string())
            };
            Outbound::Push {
                provider: PushProvider::Fcm,
                token: token(i),
                notification: PushNotification {
                    title: format!("Hi {}!", FIRST_NAMES[i % FIRST_NAMES.len()]),
                    body: "Your cart is waiting: VOLTA10 takes 10% off.".into(),
                    data: payload.to_fcm_data().unwrap(),
                    collapse_id: None,
                    expires_at: None,
                    priority: PushPriority::High,
                },
            }
        })
        .collect();
    let permits = Arc::new(Semaphore::new(CONCURRENCY));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for message in messages {
        let permit = Arc::clone(&permits).acquire_owned().await.unwrap();
        let providers = providers.clone();
        tasks.spawn(async move {
            let attempts = providers.deliver(&message, &policy).await;
            drop(permit);
            matches!(
                attempts.last().map(|a| &a.outcome),
                Some(Outcome::Delivered { .. })
            )
        });
    }
    let mut delivered = 0;
    while let Some(done) = tasks.join_next().await {
        delivered += usize::from(done.unwrap());
    }
    let elapsed = started.elapsed();
    assert_eq!(delivered, users, "the baseline delivers everything");
    elapsed
}

struct PipelineRun {
    elapsed: Duration,
    planned_after: Duration,
    request: Value,
    created_at: DateTime<Utc>,
}

/// The send through the real server, from the POST to the send reading `done`.
async fn pipeline(mock: &MockProcess, db: &std::path::Path, users: usize) -> PipelineRun {
    let mut config = ServerConfig::loopback(db, vec![APP_KEY.into()], ADMIN_TOKEN);
    config.delivery = mock.delivery_config();
    config.sends = SendsConfig {
        concurrency: CONCURRENCY,
        ..SendsConfig::default()
    };
    let server = start(config).await.expect("the server starts");
    let admin = Admin {
        http: reqwest::Client::new(),
        url: server.url(),
    };
    use reqwest::Method;
    admin
        .call(
            Method::POST,
            "/v1/admin/segments",
            Some(&json!({"schema": 1, "id": "buyers", "name": "Buyers",
                         "rule": {"count": {"event": "Order Completed"}, "at_least": 1}})),
        )
        .await;
    admin
        .call(
            Method::POST,
            "/v1/admin/campaigns",
            Some(&json!({
                "schema_version": 1, "id": "bench", "name": "Come back", "status": "active",
                "trigger": {"segment_entered": "buyers"},
                "audience": {"segments": ["buyers"]},
                "default_locale": "en",
                "variants": {
                    "en": {"title": "Hi {{first_name | there}}!",
                           "body": "Your cart is waiting: {{promo_code}} takes 10% off."},
                    "pt": {"title": "Olá {{first_name | você}}!",
                           "body": "O seu carrinho espera: {{promo_code}} dá 10%."},
                    "de": {"title": "Hallo {{first_name | du}}!",
                           "body": "Dein Warenkorb wartet: {{promo_code}} spart 10 %."}
                }
            })),
        )
        .await;
    let request = json!({
        "schema_version": 1,
        "audience": {"campaign": "bench"},
        "content": {
            "deep_link": "shop://cart?coupon={{promo_code}}&utm_source=beckon&utm_campaign=bench",
            "promo": {"code": "VOLTA10", "discount": {"percent": 10},
                      "expires_at": (Utc::now() + TimeDelta::days(30)).to_rfc3339()}
        },
        "channels": ["push"]
    });
    let started = Instant::now();
    let created = admin
        .call(Method::POST, "/v1/admin/sends", Some(&request))
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let view = loop {
        let view = admin
            .call(Method::GET, &format!("/v1/admin/sends/{id}"), None)
            .await;
        if view["status"] == "done" {
            break view;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let elapsed = started.elapsed();
    assert_eq!(view["counts"]["delivered"], users as u64, "{view}");
    let time = |key: &str| {
        view[key]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap()
    };
    let planned_after = (time("planned_at") - time("created_at")).to_std().unwrap();
    server.shutdown().await;
    PipelineRun {
        elapsed,
        planned_after,
        request: view["request"].clone(),
        created_at: time("created_at"),
    }
}

/// Users' histories, as the planner reads them.
struct Histories(Vec<(String, UserHistory)>);

impl UserVisitor for Histories {
    fn visit(&mut self, user_key: &str, events: &[WireEvent]) {
        self.0
            .push((user_key.to_owned(), UserHistory::from_wire(events)));
    }
}

/// Render time per user, measured on the planner's own inputs: the stored request
/// read back, and each user as the planner builds them.
async fn render_times(db: &std::path::Path, run: &PipelineRun) -> Vec<Duration> {
    let store = Store::new(SqliteStore::open(db).unwrap());
    let catalog = store.catalog().await.unwrap();
    let send = Send::from_value(&run.request, &CatalogDefinitions(&catalog), run.created_at)
        .expect("the stored request reads");
    let scanning = Instant::now();
    let histories = store.for_each_user(Histories(Vec::new())).await.unwrap().0;
    let scanned = scanning.elapsed();
    let reading = Instant::now();
    let mut recipients: Vec<Recipient> = Vec::with_capacity(histories.len());
    for chunk in histories.chunks(AUDIENCE_CHUNK) {
        let keys = chunk.iter().map(|(key, _)| key.clone()).collect();
        let audiences = store.audiences(keys).await.unwrap();
        for ((_, history), audience) in chunk.iter().zip(audiences) {
            recipients.push(recipient(audience, history.clone()));
        }
    }
    println!(
        "alone, after the run: the event log read user by user in {:.2} s, profiles, permissions and tokens in {:.2} s",
        scanned.as_secs_f64(),
        reading.elapsed().as_secs_f64()
    );
    let mut times: Vec<Duration> = recipients
        .iter()
        .map(|user| {
            let started = Instant::now();
            let rendered = render_send(&send, user);
            let took = started.elapsed();
            std::hint::black_box(rendered);
            took
        })
        .collect();
    times.sort();
    times
}

async fn run(users: usize) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bench.db");
    let mut mock = MockProcess::start();

    let seeding = Instant::now();
    {
        let store = Store::new(SqliteStore::open(&db).unwrap());
        seed(&store, users).await;
    }
    println!(
        "seeded {users} users ({} events) in {:.1} s",
        users * 4,
        seeding.elapsed().as_secs_f64()
    );

    // The server first: the baseline's pre-rendered pushes would leave the allocator
    // holding memory that hides the server's own peak.
    reset_peak();
    let rss_before_pipeline = resident_mib();
    let run = pipeline(&mock, &db, users).await;
    let pipeline_peak = peak_mib();
    let after_pipeline = mock.counters();
    assert_eq!(after_pipeline["rejected"], 0, "{after_pipeline}");
    assert_eq!(
        after_pipeline["delivered"], users as u64,
        "every user's push reached the mock"
    );

    reset_peak();
    let rss_before_baseline = resident_mib();
    let base = baseline(&mock, users).await;
    let base_peak = peak_mib();
    let after_baseline = mock.counters();
    assert_eq!(after_baseline["rejected"], 0, "{after_baseline}");

    let renders = render_times(&db, &run).await;

    let rate = |d: Duration| users as f64 / d.as_secs_f64();
    println!();
    println!("{users} users, {CONCURRENCY} deliveries in flight, FCM mock in a child process");
    println!(
        "| baseline: pre-rendered pushes, same client | {:.2} s | {:.0} sends/s | peak {:.0} MiB (from {:.0}) |",
        base.as_secs_f64(),
        rate(base),
        base_peak,
        rss_before_baseline
    );
    println!(
        "| campaign send through the server | {:.2} s | {:.0} sends/s | peak {:.0} MiB (from {:.0}) |",
        run.elapsed.as_secs_f64(),
        rate(run.elapsed),
        pipeline_peak,
        rss_before_pipeline
    );
    println!(
        "ratio (server / baseline time): {:.2}x; audience planned (every delivery stored) after {:.2} s",
        run.elapsed.as_secs_f64() / base.as_secs_f64(),
        run.planned_after.as_secs_f64()
    );
    println!(
        "render per user: p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs ({} users)",
        micros(percentile(&renders, 0.50)),
        micros(percentile(&renders, 0.99)),
        micros(*renders.last().unwrap()),
        renders.len()
    );
}
