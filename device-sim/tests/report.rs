//! Latency percentiles and the shift table.

use std::time::Duration;

use armory_device_sim::{LatencySummary, ShiftReport, SimStats};

fn millis(values: impl IntoIterator<Item = u64>) -> Vec<Duration> {
    values.into_iter().map(Duration::from_millis).collect()
}

#[test]
fn percentiles_use_the_nearest_rank() {
    // 1..=100 ms in reverse order: the k-th percentile is k ms.
    let summary = LatencySummary::from_samples(&millis((1..=100).rev()));
    assert_eq!(summary.count, 100);
    assert_eq!(summary.p50, Duration::from_millis(50));
    assert_eq!(summary.p95, Duration::from_millis(95));
    assert_eq!(summary.p99, Duration::from_millis(99));
    assert_eq!(summary.max, Duration::from_millis(100));
}

#[test]
fn few_samples_give_their_own_values() {
    let summary = LatencySummary::from_samples(&millis([30, 10, 20]));
    assert_eq!(summary.p50, Duration::from_millis(20));
    assert_eq!(summary.p95, Duration::from_millis(30));
    assert_eq!(summary.p99, Duration::from_millis(30));

    let one = LatencySummary::from_samples(&millis([7]));
    assert_eq!(
        (one.p50, one.max),
        (Duration::from_millis(7), Duration::from_millis(7))
    );

    assert_eq!(LatencySummary::from_samples(&[]), LatencySummary::default());
}

#[test]
fn hardware_counters_add_up_across_lockers() {
    let mut total = SimStats::default();
    let mut one = SimStats {
        events_published: 3,
        commands_accepted: 2,
        ..SimStats::default()
    };
    one.commands_refused.insert("bad_tag".to_owned(), 1);
    let mut other = one.clone();
    other.commands_refused.insert("retained".to_owned(), 2);

    total.merge(&one);
    total.merge(&other);
    assert_eq!(total.events_published, 6);
    assert_eq!(total.commands_refused["bad_tag"], 2);
    assert_eq!(total.refused_total(), 4);
}

#[test]
fn the_table_shows_counts_reasons_and_latencies() {
    let mut report = ShiftReport {
        attempts: 12,
        granted: 9,
        sign_outs_completed: 5,
        returns_completed: 4,
        to_outcome: LatencySummary::from_samples(&millis([1, 2, 3])),
        ..ShiftReport::default()
    };
    report.denied.insert("wrong_pin".to_owned(), 2);
    report.denied.insert("unknown_badge".to_owned(), 1);

    let table = report.to_string();
    assert_eq!(report.denied_total(), 3);
    for expected in [
        "attempts",
        "12",
        "wrong_pin",
        "unknown_badge",
        "p95",
        "3.00 ms",
    ] {
        assert!(
            table.contains(expected),
            "{expected:?} missing from:\n{table}"
        );
    }
    assert!(table.lines().all(|line| line.len() <= 100));
}
