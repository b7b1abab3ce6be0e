//! A metrics recorder for bench tests that keeps its counters in memory.
//!
//! Installed as the thread's default recorder, it sees every counter the
//! actors increment, because a `#[tokio::test]` with a paused clock runs
//! every task on the test's own thread. Gauges are kept as well (as the
//! bits of an `f64`, the way `metrics` stores them); histograms are dropped.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use metrics::{
    Counter, Gauge, Histogram, Key, KeyName, LocalRecorderGuard, Metadata, Recorder, SharedString,
    Unit,
};

/// Counters and gauges by name and labels, as `name{label="value",...}`.
#[derive(Clone, Default)]
pub struct Counted {
    counters: Arc<Mutex<BTreeMap<String, Arc<AtomicU64>>>>,
    gauges: Arc<Mutex<BTreeMap<String, Arc<AtomicU64>>>>,
}

impl Counted {
    /// Makes this the recorder of the current thread while the guard lives.
    pub fn install(&self) -> LocalRecorderGuard<'_> {
        metrics::set_default_local_recorder(self)
    }

    /// The value of `name` with exactly these labels, 0 if never counted.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        let key = render(name, labels.iter().map(|(k, v)| (*k, *v)));
        self.counters
            .lock()
            .expect("counter lock")
            .get(&key)
            .map_or(0, |value| value.load(Ordering::SeqCst))
    }

    /// The value of gauge `name` with exactly these labels, 0 if never set.
    pub fn gauge(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let key = render(name, labels.iter().map(|(k, v)| (*k, *v)));
        self.gauges
            .lock()
            .expect("gauge lock")
            .get(&key)
            .map_or(0.0, |value| f64::from_bits(value.load(Ordering::SeqCst)))
    }
}

/// `name{a="1",b="2"}`, labels sorted, or just `name` without labels.
fn render<'a>(name: &str, labels: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut labels: Vec<_> = labels.map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    labels.sort();
    if labels.is_empty() {
        name.to_owned()
    } else {
        format!("{name}{{{}}}", labels.join(","))
    }
}

impl Recorder for Counted {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let name = render(key.name(), key.labels().map(|l| (l.key(), l.value())));
        let value = self
            .counters
            .lock()
            .expect("counter lock")
            .entry(name)
            .or_default()
            .clone();
        Counter::from_arc(value)
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        let name = render(key.name(), key.labels().map(|l| (l.key(), l.value())));
        let value = self
            .gauges
            .lock()
            .expect("gauge lock")
            .entry(name)
            .or_default()
            .clone();
        Gauge::from_arc(value)
    }

    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}
