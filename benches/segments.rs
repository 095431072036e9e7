//! On-device segment evaluation for a user with 10,000 stored events and every
//! built-in segment: the incremental update after one event, and a full
//! re-evaluation, beside the baseline of recording the event without evaluating.
//!
//! Run: `cargo bench --bench segments`. Besides criterion's estimates it prints p50/p99
//! latencies over individual calls, and the ratios.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use beckon::protocol::WireEvent;
use beckon::segments::{templates, DeviceSegments, SegmentSet, UserHistory};
use chrono::{DateTime, TimeDelta, Utc};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

#[path = "common/shopper.rs"]
mod shopper;

const HISTORY: usize = 10_000;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-21T10:00:00Z")
        .unwrap()
        .to_utc()
}

fn event(i: usize, at: DateTime<Utc>) -> WireEvent {
    shopper::stored_event(i, "bench", at)
}

/// 10,000 events spread over the last 120 days, oldest first.
fn history() -> Vec<WireEvent> {
    let span = TimeDelta::days(120).num_seconds() as usize;
    (0..HISTORY)
        .map(|i| {
            let ago = span - span * i / HISTORY;
            event(i, now() - TimeDelta::seconds(ago as i64))
        })
        .collect()
}

fn builtins() -> SegmentSet {
    SegmentSet::new(templates::builtin()).unwrap()
}

/// The device's segments, built from the stored events as on a first start.
fn load(events: &[WireEvent]) -> (DeviceSegments, Vec<beckon::segments::MembershipChange>) {
    DeviceSegments::load(
        builtins(),
        None,
        &[],
        || events.to_vec(),
        BTreeSet::new(),
        now(),
    )
}

fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    (
        samples[samples.len() / 2],
        samples[samples.len() * 99 / 100],
    )
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn latency_report() {
    let events = history();
    let (mut device, _) = load(&events);
    let mut baseline = UserHistory::from_wire(&events);
    let set = builtins();

    let mut record_only = Vec::new();
    let mut incremental = Vec::new();
    for i in 0..5_000 {
        let at = now() + TimeDelta::milliseconds(i as i64);
        let next = event(HISTORY + i, at);
        let start = Instant::now();
        baseline.record_wire(&next);
        record_only.push(start.elapsed());
        let start = Instant::now();
        device.record(&next, at);
        incremental.push(start.elapsed());
    }
    let mut full = Vec::new();
    for _ in 0..300 {
        let start = Instant::now();
        std::hint::black_box(set.evaluate_all(&baseline, now()));
        full.push(start.elapsed());
    }
    let (b50, b99) = percentiles(record_only);
    let (i50, i99) = percentiles(incremental);
    let (f50, f99) = percentiles(full);
    println!(
        "segments latency ({} events, {} built-in segments):",
        baseline.len(),
        set.len()
    );
    println!(
        "  baseline: record the event only   p50 {:8.2} µs  p99 {:8.2} µs",
        micros(b50),
        micros(b99)
    );
    println!(
        "  incremental update after an event p50 {:8.2} µs  p99 {:8.2} µs",
        micros(i50),
        micros(i99)
    );
    println!(
        "  full re-evaluation                p50 {:8.2} µs  p99 {:8.2} µs",
        micros(f50),
        micros(f99)
    );
    println!(
        "  ratios: incremental / record-only p50 {:.1}x; full / incremental p50 {:.1}x",
        i50.as_secs_f64() / b50.as_secs_f64(),
        f50.as_secs_f64() / i50.as_secs_f64()
    );
}

fn benches(c: &mut Criterion) {
    latency_report();
    let events = history();
    let history = UserHistory::from_wire(&events);
    let next = event(HISTORY, now());
    let mut group = c.benchmark_group("segments_10k_events");
    group.bench_function("record_only_baseline", |b| {
        b.iter_batched_ref(
            || history.clone(),
            |history| history.record_wire(&next),
            BatchSize::LargeInput,
        )
    });
    group.bench_function("incremental_after_product_added", |b| {
        let (mut device, _) = load(&events);
        let mut i = 0;
        b.iter(|| {
            i += 1;
            let at = now() + TimeDelta::milliseconds(i);
            device.record(&event(HISTORY + 1, at), at)
        })
    });
    let set = builtins();
    group.bench_function("full_reevaluation", |b| {
        b.iter(|| set.evaluate_all(&history, now()))
    });
    group.finish();
}

criterion_group! {
    name = segments;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = benches
}
criterion_main!(segments);
