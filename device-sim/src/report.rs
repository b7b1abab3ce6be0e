//! What a simulation run observed: counters, latencies, and the shift table.
//!
//! [`SimStats`] counts what the lockers did on the bus (events out, commands
//! carried out or refused by code). [`LatencySummary`] reduces samples to
//! nearest-rank percentiles. [`ShiftReport`] gathers one shift's attempts
//! and prints as a table a person can read at a glance.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// Counters of the simulated hardware, summed over lockers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Events handed to the MQTT client.
    pub events_published: u64,
    /// Events the MQTT client would not take.
    pub publish_failures: u64,
    /// Commands that passed every check and were carried out.
    pub commands_accepted: u64,
    /// Commands refused, by code (`retained`, `bad_tag`, `stale`,
    /// `replayed`, `foreign_topic`, `wrong_topic`, `door_already_open`, ...).
    pub commands_refused: BTreeMap<String, u64>,
    /// Valid reader outcomes for no scan this simulator is waiting on.
    pub unmatched_outcomes: u64,
    /// ConnAcks received (first connections and reconnections).
    pub connections: u64,
    /// Connection errors seen.
    pub connection_errors: u64,
}

impl SimStats {
    /// Adds another locker's counters to these.
    pub fn merge(&mut self, other: &SimStats) {
        self.events_published += other.events_published;
        self.publish_failures += other.publish_failures;
        self.commands_accepted += other.commands_accepted;
        for (code, count) in &other.commands_refused {
            *self.commands_refused.entry(code.clone()).or_default() += count;
        }
        self.unmatched_outcomes += other.unmatched_outcomes;
        self.connections += other.connections;
        self.connection_errors += other.connection_errors;
    }

    /// All refused commands, whatever the code.
    pub fn refused_total(&self) -> u64 {
        self.commands_refused.values().sum()
    }
}

/// Percentiles of a set of latencies, by the nearest-rank method.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LatencySummary {
    /// Number of samples.
    pub count: usize,
    /// Median.
    pub p50: Duration,
    /// 95th percentile.
    pub p95: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Largest sample.
    pub max: Duration,
}

impl LatencySummary {
    /// Summarises samples in any order; all zero when there are none.
    pub fn from_samples(samples: &[Duration]) -> Self {
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        let Some(max) = sorted.last().copied() else {
            return Self::default();
        };
        Self {
            count: sorted.len(),
            p50: nearest_rank(&sorted, 50),
            p95: nearest_rank(&sorted, 95),
            p99: nearest_rank(&sorted, 99),
            max,
        }
    }
}

/// The smallest sample with at least `percent`% of samples at or below it.
fn nearest_rank(sorted: &[Duration], percent: usize) -> Duration {
    let rank = (percent * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied().unwrap_or_default()
}

/// What one shift did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShiftReport {
    /// Scans made, sign-outs, returns and deliberate denials together.
    pub attempts: usize,
    /// Scans granted.
    pub granted: usize,
    /// Scans denied, by the reason the reader showed.
    pub denied: BTreeMap<String, usize>,
    /// Deliberately bad scans (wrong PIN, suspended, unknown badge) made.
    pub deliberate_denials: usize,
    /// Deliberately bad scans that were granted: each one is a fault.
    pub deliberate_granted: usize,
    /// Sign-outs whose door closed on an empty compartment.
    pub sign_outs_completed: usize,
    /// Returns whose door closed on a present weapon.
    pub returns_completed: usize,
    /// Scans with no outcome within the timeout.
    pub outcome_timeouts: usize,
    /// Grants whose door did not open and close within the timeout.
    pub door_timeouts: usize,
    /// Jobs not played because every officer was left holding a weapon
    /// that could not be returned.
    pub skipped: usize,
    /// From scan to the reader's outcome, every answered scan.
    pub to_outcome: LatencySummary,
    /// From scan to the door closing, every granted scan whose door cycled.
    pub to_door_closed: LatencySummary,
    /// Wall time of the whole shift.
    pub elapsed: Duration,
    /// The hardware's own counters at the end of the shift.
    pub hardware: SimStats,
}

impl ShiftReport {
    /// All denials, whatever the reason.
    pub fn denied_total(&self) -> usize {
        self.denied.values().sum()
    }

    /// Timeouts of either kind.
    pub fn timeouts(&self) -> usize {
        self.outcome_timeouts + self.door_timeouts
    }
}

impl fmt::Display for ShiftReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "shift of {:.1} s", self.elapsed.as_secs_f64())?;
        row(f, "attempts", self.attempts)?;
        row(f, "granted", self.granted)?;
        row(f, "denied", self.denied_total())?;
        for (reason, count) in &self.denied {
            row(f, &format!("  {reason}"), *count)?;
        }
        row(f, "deliberate denials made", self.deliberate_denials)?;
        row(f, "deliberate denials granted", self.deliberate_granted)?;
        row(f, "sign-outs completed", self.sign_outs_completed)?;
        row(f, "returns completed", self.returns_completed)?;
        row(f, "outcome timeouts", self.outcome_timeouts)?;
        row(f, "door timeouts", self.door_timeouts)?;
        row(f, "jobs skipped", self.skipped)?;
        row(
            f,
            "commands refused by lockers",
            self.hardware.refused_total(),
        )?;
        for (code, count) in &self.hardware.commands_refused {
            row(f, &format!("  {code}"), *count)?;
        }
        row(f, "connection errors", self.hardware.connection_errors)?;

        writeln!(f)?;
        writeln!(
            f,
            "{:<18} {:>7} {:>10} {:>10} {:>10} {:>10}",
            "latency", "count", "p50", "p95", "p99", "max"
        )?;
        latency_row(f, "scan -> outcome", &self.to_outcome)?;
        latency_row(f, "scan -> door shut", &self.to_door_closed)
    }
}

fn row(f: &mut fmt::Formatter<'_>, label: &str, value: impl fmt::Display) -> fmt::Result {
    writeln!(f, "{label:<30} {value:>8}")
}

fn latency_row(f: &mut fmt::Formatter<'_>, label: &str, summary: &LatencySummary) -> fmt::Result {
    writeln!(
        f,
        "{label:<18} {:>7} {:>10} {:>10} {:>10} {:>10}",
        summary.count,
        millis(summary.p50),
        millis(summary.p95),
        millis(summary.p99),
        millis(summary.max)
    )
}

fn millis(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}
