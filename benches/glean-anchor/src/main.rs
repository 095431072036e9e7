//! Beckon's `track` beside Glean's durable event recording, in one process.
//!
//! `latency` (the default): 100,000 calls per side, interleaved in rounds of 2,000 so
//! every side sees the same machine state, each round in a rotated order and followed by
//! a pause of 50 ms (an app's events come in bursts, and what one side leaves running in
//! the background must not land in the next side's round):
//! - Beckon `Client::track` of a `Product Viewed` event (the event `benches/track.rs`
//!   uses), which returns once the event is committed to SQLite;
//! - Glean 70 `EventMetric::record_sync` on a standalone `Glean::new`, an
//!   `ecommerce.product_viewed` event with the same fields as extras: Glean's durable
//!   path (a JSON line appended to the ping's event file before it returns), with the
//!   two clock readings its `record` takes on the caller's thread;
//! - the raw baseline: a prepared SQLite insert of a payload the size of Beckon's
//!   stored event, with the store's durability (WAL, `synchronous=NORMAL`, the file held
//!   by one process: exclusive locking mode), as plain SQLite does it: two writes per WAL
//!   frame and checkpoints on the committing thread.
//!
//! Neither side pays for building its input: Beckon borrows one event, Glean is handed
//! extras cloned before the round (its API takes them by value). Glean's `max_events`
//! is raised above the run's count so that no `events` ping is assembled mid-run; Beckon
//! runs with its queue unbounded and uploads pointed at a closed port, as in
//! `benches/track.rs`. Prints p50, p99, p99.9 and the maximum per side, and the ratios.
//!
//! `burst`: Beckon alone, 100,000 calls back to back, for its tail when events never
//! pause.
//!
//! `kill`: SIGKILL survival for both. A child process (this binary) records events and
//! acknowledges each on stdout after the call returned; the parent kills it with
//! SIGKILL after a random number of acknowledgements, then reopens what the child wrote
//! (Beckon: `Store::open` on the same directory, every trial adding to it; Glean: the
//! ping's event file, which Glean reloads its events from, a fresh directory per trial)
//! and checks every acknowledged event is there.
//!
//! Run: `scripts/bench glean` (or `cargo run --release -- [latency [EVENTS] | kill [TRIALS]]`
//! in this directory).

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use beckon::client::{BeckonConfig, Client, FlushPolicy};
use beckon::events::{Event, JsonValue, Product};
use beckon::store::{QueueLimits, Store};
use glean_core::metrics::EventMetric;
use glean_core::{CommonMetricData, Glean, InternalConfiguration, Lifetime};
use rusqlite::Connection;

const ROUND: usize = 2_000;
/// The pause after each side's round.
const SETTLE: Duration = Duration::from_millis(50);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("latency") => latency(arg(&args, 1, 100_000)),
        Some("kill") => kill(arg(&args, 1, 60) as u32),
        Some("burst") => burst(arg(&args, 1, 100_000)),
        Some("child") => child(&args[1], Path::new(&args[2]), &args[3]),
        Some(other) => {
            eprintln!(
                "usage: beckon-glean-anchor [latency [EVENTS] | kill [TRIALS]] (got {other})"
            );
            std::process::exit(2);
        }
    }
}

fn arg(args: &[String], at: usize, default: usize) -> usize {
    args.get(at)
        .map_or(default, |a| a.parse().expect("a count"))
}

// ---- the two SDKs, set up as an app would ----

fn product_viewed(extra: &[(&str, String)]) -> Event {
    let mut properties = HashMap::from([(
        "source".to_string(),
        JsonValue::Text {
            value: "search".into(),
        },
    )]);
    for (key, value) in extra {
        properties.insert(
            key.to_string(),
            JsonValue::Text {
                value: value.clone(),
            },
        );
    }
    Event::ProductViewed {
        product: Product {
            product_id: "sku-42".into(),
            name: Some("Trail running shoe".into()),
            category: Some("Shoes".into()),
            brand: Some("Peak".into()),
            price: Some(89.9),
            currency: Some("EUR".into()),
            ..Default::default()
        },
        properties,
    }
}

/// A Beckon client that never uploads during the run, with room for every event.
fn beckon_client(dir: &Path) -> Client {
    let mut config = BeckonConfig::new(dir.to_str().unwrap(), "http://127.0.0.1:9", "bench-key");
    config.flush_policy = FlushPolicy {
        flush_at: 500,
        flush_interval_ms: 3_600_000,
        ..Default::default()
    };
    config.queue_limits = unbounded();
    Client::new(config).unwrap()
}

fn unbounded() -> QueueLimits {
    QueueLimits {
        max_events: i64::MAX,
        max_bytes: i64::MAX,
        ..Default::default()
    }
}

const GLEAN_EXTRAS: [&str; 9] = [
    "product_id",
    "name",
    "category",
    "brand",
    "price",
    "currency",
    "source",
    "trial",
    "n",
];

fn glean(dir: &Path) -> Glean {
    let cfg = InternalConfiguration {
        data_path: dir.display().to_string(),
        application_id: "dev.beckon.bench".into(),
        language_binding_name: "Rust".into(),
        upload_enabled: true,
        // No `events` ping is assembled during the run.
        max_events: Some(u32::MAX),
        delay_ping_lifetime_io: false,
        app_build: "bench".into(),
        use_core_mps: false,
        trim_data_to_registered_pings: false,
        log_level: None,
        rate_limit: None,
        enable_event_timestamps: true,
        experimentation_id: None,
        enable_internal_pings: true,
        ping_schedule: Default::default(),
        ping_lifetime_threshold: 0,
        ping_lifetime_max_time: 0,
        max_pending_pings_count: None,
        max_pending_pings_directory_size: None,
        session_mode: glean_core::SessionMode::Auto,
        session_sample_rate: 1.0,
        session_inactivity_timeout_ms: 1_800_000,
        events_ping_acceleration_factor: None,
    };
    Glean::new(cfg).unwrap()
}

fn glean_metric() -> EventMetric {
    EventMetric::new(
        CommonMetricData {
            name: "product_viewed".into(),
            category: "ecommerce".into(),
            send_in_pings: vec!["events".into()],
            lifetime: Lifetime::Ping,
            ..Default::default()
        },
        GLEAN_EXTRAS.iter().map(|k| k.to_string()).collect(),
    )
}

fn glean_extras(extra: &[(&str, String)]) -> HashMap<String, String> {
    let mut extras: HashMap<String, String> = [
        ("product_id", "sku-42"),
        ("name", "Trail running shoe"),
        ("category", "Shoes"),
        ("brand", "Peak"),
        ("price", "89.9"),
        ("currency", "EUR"),
        ("source", "search"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (key, value) in extra {
        extras.insert(key.to_string(), value.clone());
    }
    extras
}

/// What `EventMetric::record` does on the caller's thread (two clock readings) and
/// then on Glean's dispatcher, here on the caller's thread: the recording itself.
fn glean_record(glean: &Glean, metric: &EventMetric, extras: HashMap<String, String>) {
    let timestamp = glean_core::get_timestamp_ms();
    let precise = chrono::Utc::now().timestamp_millis() as u64;
    metric.record_sync(glean, timestamp, extras, precise);
}

/// The baseline: what SQLite alone costs for one durable row of the same size.
fn raw_insert_connection(path: &Path) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.pragma_update(None, "locking_mode", "EXCLUSIVE")
        .unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
    conn.execute_batch(
        "CREATE TABLE events (seq INTEGER PRIMARY KEY, created_at INTEGER NOT NULL, payload BLOB NOT NULL);",
    )
    .unwrap();
    conn
}

// ---- latency ----

struct Side {
    name: &'static str,
    samples: Vec<Duration>,
}

impl Side {
    fn new(name: &'static str, capacity: usize) -> Side {
        Side {
            name,
            samples: Vec::with_capacity(capacity),
        }
    }

    fn percentiles(&self) -> [Duration; 4] {
        let mut s = self.samples.clone();
        s.sort();
        let at = |q: f64| s[((s.len() as f64 * q) as usize).min(s.len() - 1)];
        [at(0.50), at(0.99), at(0.999), s[s.len() - 1]]
    }
}

fn time_into(samples: &mut Vec<Duration>, n: usize, mut f: impl FnMut(usize)) {
    for i in 0..n {
        let start = Instant::now();
        f(i);
        samples.push(start.elapsed());
    }
}

fn latency(events: usize) {
    let dir = tempfile::tempdir().unwrap();
    let client = beckon_client(&dir.path().join("beckon"));
    let glean = glean(&dir.path().join("glean"));
    let metric = glean_metric();
    let event = product_viewed(&[]);
    let extras = glean_extras(&[]);

    // The raw row is as large as Beckon's stored event.
    client.track(&event).unwrap();
    let payload = vec![b'x'; client.stats().unwrap().queued_bytes as usize];
    let raw = raw_insert_connection(&dir.path().join("raw.db"));
    let mut insert = raw
        .prepare("INSERT INTO events(created_at, payload) VALUES (?1, ?2)")
        .unwrap();

    let rounds = events.div_ceil(ROUND);
    let mut sides = [
        Side::new("Beckon Client::track", rounds * ROUND),
        Side::new("Glean record_sync", rounds * ROUND),
        Side::new("raw SQLite insert", rounds * ROUND),
    ];
    let mut scratch = Vec::with_capacity(ROUND);
    // One warm-up round, not counted; then each round rotates which side goes first.
    for round in 0..=rounds {
        for k in 0..3 {
            let side = (round + k) % 3;
            let mut inputs: Vec<HashMap<String, String>> = if side == 1 {
                vec![extras.clone(); ROUND]
            } else {
                Vec::new()
            };
            scratch.clear();
            match side {
                0 => time_into(&mut scratch, ROUND, |_| client.track(&event).unwrap()),
                1 => time_into(&mut scratch, ROUND, |_| {
                    glean_record(&glean, &metric, inputs.pop().unwrap())
                }),
                _ => time_into(&mut scratch, ROUND, |i| {
                    insert
                        .execute(rusqlite::params![i as i64, &payload])
                        .unwrap();
                }),
            }
            if round > 0 {
                sides[side].samples.extend_from_slice(&scratch);
            }
            // What a side leaves running (Beckon's WAL checkpoints on its upload thread,
            // the OS writing dirty pages back) then runs here, not in the next side's
            // round: writes wait for a sync on another thread of the machine.
            std::thread::sleep(SETTLE);
        }
    }

    let glean_line = std::fs::read_to_string(dir.path().join("glean/events/events"))
        .ok()
        .and_then(|f| f.lines().next().map(str::len))
        .unwrap_or(0);
    println!(
        "{} calls per side, {rounds} rounds of {ROUND} interleaved; stored: Beckon {} bytes per event, Glean {glean_line} bytes per line, raw {} bytes",
        rounds * ROUND,
        payload.len(),
        payload.len()
    );
    println!(
        "{:<22} {:>10} {:>10} {:>10} {:>10}",
        "", "p50", "p99", "p99.9", "max"
    );
    let all: Vec<[Duration; 4]> = sides.iter().map(Side::percentiles).collect();
    for (side, p) in sides.iter().zip(&all) {
        println!(
            "{:<22} {:>10.2?} {:>10.2?} {:>10.2?} {:>10.2?}",
            side.name, p[0], p[1], p[2], p[3]
        );
    }
    let ratio = |a: &[Duration; 4], b: &[Duration; 4]| {
        let r = |i: usize| a[i].as_secs_f64() / b[i].as_secs_f64();
        format!(
            "{:>9.2}× {:>9.2}× {:>9.2}× {:>9.2}×",
            r(0),
            r(1),
            r(2),
            r(3)
        )
    };
    println!("{:<22} {}", "Beckon / Glean", ratio(&all[0], &all[1]));
    println!("{:<22} {}", "Beckon / raw", ratio(&all[0], &all[2]));
    println!("{:<22} {}", "Glean / raw", ratio(&all[1], &all[2]));
    exit_leaving_nothing(dir);
}

/// Exits without `Client::shutdown()`, which would wait for the engagement thread to
/// work through the segment evaluations of every event tracked, minutes after a burst
/// of this size (every event is already durable), and without leaving the files behind.
fn exit_leaving_nothing(dir: tempfile::TempDir) -> ! {
    let _ = std::fs::remove_dir_all(dir.path());
    std::process::exit(0);
}

/// Beckon alone, every call right after the one before: no pause in which the WAL
/// could be started over, so the checkpoints that must make writers wait fall here.
fn burst(events: usize) {
    let dir = tempfile::tempdir().unwrap();
    let client = beckon_client(&dir.path().join("beckon"));
    let event = product_viewed(&[]);
    let mut side = Side::new("Beckon Client::track", events);
    time_into(&mut side.samples, events, |_| client.track(&event).unwrap());
    let p = side.percentiles();
    println!("{events} calls back to back");
    println!(
        "{:<22} {:>10} {:>10} {:>10} {:>10}",
        "", "p50", "p99", "p99.9", "max"
    );
    println!(
        "{:<22} {:>10.2?} {:>10.2?} {:>10.2?} {:>10.2?}",
        side.name, p[0], p[1], p[2], p[3]
    );
    let over = |limit: Duration| side.samples.iter().filter(|d| **d > limit).count();
    println!(
        "calls over 1 ms: {}, over 5 ms: {}",
        over(Duration::from_millis(1)),
        over(Duration::from_millis(5))
    );
    exit_leaving_nothing(dir);
}

// ---- SIGKILL survival ----

/// The child's work: record events as fast as possible, acknowledging each on stdout
/// only after the call returned, until killed.
fn child(side: &str, dir: &Path, trial: &str) {
    let stdout = std::io::stdout();
    let ack = |n: u64| {
        let mut out = stdout.lock();
        writeln!(out, "{n}").unwrap();
        out.flush().unwrap();
    };
    match side {
        "beckon" => {
            let client = beckon_client(dir);
            // Every other trial pauses now and then, long enough for the WAL to be
            // checkpointed and started over, so that kills also land around those.
            let pauses = trial.parse::<u32>().unwrap() % 2 == 1;
            for n in 0.. {
                let event = product_viewed(&[("trial", trial.to_owned()), ("n", n.to_string())]);
                client.track(&event).unwrap();
                ack(n);
                if pauses && n % 700 == 699 {
                    std::thread::sleep(beckon::store::IDLE * 2);
                }
            }
        }
        "glean" => {
            let glean = glean(dir);
            let metric = glean_metric();
            for n in 0.. {
                let extras = glean_extras(&[("trial", trial.to_owned()), ("n", n.to_string())]);
                glean_record(&glean, &metric, extras);
                ack(n);
            }
        }
        other => panic!("no side {other}"),
    }
}

/// A small deterministic generator: the kill points differ per trial, the same per run.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// Runs a child until it acknowledged `kill_after` events, kills it with SIGKILL at
/// once and returns every acknowledgement it wrote.
fn run_and_kill(side: &str, dir: &Path, trial: u32, kill_after: u64) -> Vec<u64> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["child", side, dir.to_str().unwrap(), &trial.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acked = Vec::new();
    while (acked.len() as u64) < kill_after {
        match lines.next() {
            Some(line) => acked.push(line.unwrap().parse().unwrap()),
            None => panic!("the {side} child exited before it was killed"),
        }
    }
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
    // What it acknowledged between the last line read and the kill counts too.
    acked.extend(
        lines
            .map_while(Result::ok)
            .filter_map(|l| l.parse::<u64>().ok()),
    );
    let status = child.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL)
    );
    acked
}

fn beckon_stored(dir: &Path, trial: u32) -> HashSet<u64> {
    let (mut store, report) = Store::open(dir, unbounded()).unwrap();
    assert_eq!(
        report.moved_aside, None,
        "a kill must not corrupt the database"
    );
    let trial = trial.to_string();
    store
        .peek_batch(usize::MAX, usize::MAX)
        .unwrap()
        .iter()
        .filter_map(|e| {
            let event: serde_json::Value = serde_json::from_slice(&e.payload).unwrap();
            let properties = &event["properties"];
            (properties["trial"].as_str() == Some(trial.as_str()))
                .then(|| properties["n"].as_str().unwrap().parse().unwrap())
        })
        .collect()
}

fn glean_stored(dir: &Path) -> HashSet<u64> {
    let file = dir.join("events/events");
    let Ok(text) = std::fs::read_to_string(&file) else {
        return HashSet::new();
    };
    text.lines()
        .filter_map(|line| {
            // A line cut by the kill is not an acknowledged event.
            let event: serde_json::Value = serde_json::from_str(line).ok()?;
            event["extra"]["n"].as_str()?.parse().ok()
        })
        .collect()
}

fn kill(trials: u32) {
    let dir = tempfile::tempdir().unwrap();
    let beckon_dir = dir.path().join("beckon");
    let mut rng = Lcg(0x5eed);
    let mut lost = [0usize; 2];
    let mut acked_total = [0usize; 2];
    let mut whole = [0u32; 2];
    let started = Instant::now();
    for trial in 0..trials {
        // Sometimes almost at once, sometimes after thousands of events (past WAL
        // checkpoints).
        let kill_after = 1 + match trial % 3 {
            0 => rng.below(20),
            1 => rng.below(1_000),
            _ => rng.below(5_000),
        };
        for (i, side) in ["beckon", "glean"].into_iter().enumerate() {
            let side_dir: PathBuf = match side {
                "beckon" => beckon_dir.clone(),
                _ => dir.path().join(format!("glean-{trial}")),
            };
            let acked = run_and_kill(side, &side_dir, trial, kill_after);
            let stored = match side {
                "beckon" => beckon_stored(&side_dir, trial),
                _ => glean_stored(&side_dir),
            };
            let missing = acked.iter().filter(|n| !stored.contains(n)).count();
            acked_total[i] += acked.len();
            lost[i] += missing;
            if missing == 0 {
                whole[i] += 1;
            } else {
                eprintln!(
                    "{side}: trial {trial}: {missing} of {} acknowledged events lost",
                    acked.len()
                );
            }
        }
    }
    for (i, side) in ["Beckon", "Glean"].into_iter().enumerate() {
        println!(
            "{side:<7} {}/{trials} trials kept every acknowledged event ({} acknowledged, {} lost)",
            whole[i], acked_total[i], lost[i]
        );
    }
    println!("({:.1?})", started.elapsed());
    if lost.iter().any(|&l| l > 0) {
        std::process::exit(1);
    }
}
