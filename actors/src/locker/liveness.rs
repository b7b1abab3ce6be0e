//! Whether a locker's devices are alive: its controller and each reader.
//!
//! Every authenticated event counts as a sign of life of the controller,
//! which publishes every event of the locker; an event on a reader's topic
//! (a scan, a panel report, or the reader's own heartbeat, which the
//! controller sends for each reader that answers its polls) is also one of
//! that reader. A device silent past the heartbeat timeout (several missed
//! beats, not one) is offline; the controller also goes offline when its
//! sealed last will arrives. Its readers, which reach the service only
//! through it, then fall back to `unknown`. After a start, and after an
//! isolated reader is cleared, a device is `unknown` until it speaks, never
//! assumed fine. An isolated reader is `faulted` whatever it sends.
//!
//! Each change moves the `armory_devices{kind,state}` gauge; going offline
//! and coming back from offline are audited and alerted; the locker's
//! retained state carries every device's word.

use std::collections::BTreeMap;

use tokio::time::Instant;

use super::{ChildKey, LockerState};
use crate::domain::ReaderId;
use crate::protocol::{Liveness, Severity};

/// A reader's liveness and when it was last heard from.
#[derive(Clone, Copy, Debug)]
pub(super) struct ReaderHealth {
    liveness: Liveness,
    last_heard: Option<Instant>,
}

/// Every reader of a locker, unknown.
pub(super) fn readers_unknown(
    readers: impl Iterator<Item = ReaderId>,
) -> BTreeMap<ReaderId, ReaderHealth> {
    readers
        .map(|reader| {
            let health = ReaderHealth {
                liveness: Liveness::Unknown,
                last_heard: None,
            };
            (reader, health)
        })
        .collect()
}

impl LockerState {
    /// An authenticated event arrived: the controller is alive.
    pub(super) async fn heard(&mut self) {
        self.last_heard = Some(Instant::now());
        if self.controller == Liveness::Online {
            return;
        }
        let was = self.controller;
        self.set_liveness(Liveness::Online);
        if was == Liveness::Offline {
            let message = "controller back online";
            self.health_event(None, "controller_online", Severity::Info, message)
                .await;
        }
        tracing::info!(locker = %self.locker.id, "locker controller online");
        self.publish().await;
    }

    /// An authenticated event arrived on a reader's topic: it is alive. A
    /// faulted (isolated) reader stays faulted until it is cleared.
    pub(super) async fn reader_heard(&mut self, reader: &ReaderId) {
        let Some(health) = self.reader_health.get_mut(reader) else {
            return;
        };
        health.last_heard = Some(Instant::now());
        let was = health.liveness;
        if matches!(was, Liveness::Online | Liveness::Faulted) {
            return;
        }
        self.set_reader_liveness(reader, Liveness::Online);
        if was == Liveness::Offline {
            let message = format!("reader {reader} of {} back online", self.locker.id);
            let about = ChildKey::Reader(reader.clone());
            self.health_event(Some(&about), "reader_online", Severity::Info, &message)
                .await;
        }
        tracing::info!(locker = %self.locker.id, reader = %reader, "reader online");
        self.publish().await;
    }

    /// The periodic check: silent past the timeout means offline. A silent
    /// controller takes its readers with it, so they are not reported one
    /// by one.
    pub(super) async fn check_liveness(&mut self) {
        let timeout = self.services.timing.heartbeat_timeout;
        let silent = |heard: Option<Instant>| heard.is_some_and(|at| at.elapsed() > timeout);
        if self.controller == Liveness::Online && silent(self.last_heard) {
            self.went_offline("silent past the heartbeat timeout").await;
        }
        if self.controller != Liveness::Online {
            return;
        }

        let quiet: Vec<ReaderId> = self
            .reader_health
            .iter()
            .filter(|(_, h)| h.liveness == Liveness::Online && silent(h.last_heard))
            .map(|(reader, _)| reader.clone())
            .collect();
        for reader in &quiet {
            self.set_reader_liveness(reader, Liveness::Offline);
            let message = format!(
                "reader {reader} of {} offline: silent past the heartbeat timeout",
                self.locker.id
            );
            tracing::warn!(locker = %self.locker.id, reader = %reader, "reader offline");
            let about = ChildKey::Reader(reader.clone());
            self.health_event(Some(&about), "reader_offline", Severity::Warning, &message)
                .await;
        }
        if !quiet.is_empty() {
            self.publish().await;
        }
    }

    /// The controller is gone (timeout or last will); its readers can no
    /// longer be heard, so they are unknown until they speak again.
    pub(super) async fn went_offline(&mut self, why: &str) {
        if self.controller == Liveness::Offline {
            return;
        }
        self.set_liveness(Liveness::Offline);
        // A faulted reader stays faulted: it is isolated, not just unheard.
        let readers: Vec<ReaderId> = self
            .reader_health
            .iter()
            .filter(|(_, health)| health.liveness != Liveness::Faulted)
            .map(|(reader, _)| reader.clone())
            .collect();
        for reader in &readers {
            self.set_reader_liveness(reader, Liveness::Unknown);
        }
        tracing::warn!(locker = %self.locker.id, why, "locker controller offline");
        let message = format!("controller of {} offline: {why}", self.locker.id);
        self.health_event(None, "controller_offline", Severity::Critical, &message)
            .await;
        self.publish().await;
    }

    /// Liveness of every reader, for the locker's retained state.
    pub(super) fn reader_words(&self) -> BTreeMap<ReaderId, Liveness> {
        self.reader_health
            .iter()
            .map(|(reader, health)| (reader.clone(), health.liveness))
            .collect()
    }

    /// Moves a reader to `to` and the gauge with it. A faulted reader
    /// leaves `faulted` only when it is cleared (to `unknown`).
    pub(super) fn set_reader_liveness(&mut self, reader: &ReaderId, to: Liveness) {
        let Some(health) = self.reader_health.get_mut(reader) else {
            return;
        };
        let from = health.liveness;
        let stays_faulted = from == Liveness::Faulted && to != Liveness::Unknown;
        if from == to || stays_faulted {
            return;
        }
        if to != Liveness::Online {
            health.last_heard = None;
        }
        health.liveness = to;
        move_gauge("reader", from, to);
    }

    pub(super) fn set_liveness(&mut self, to: Liveness) {
        move_gauge("controller", self.controller, to);
        self.controller = to;
    }

    /// Takes this locker's devices off the gauge when it stops.
    pub(super) fn forget_devices(&self) {
        self.gauge_devices(-1.0);
    }

    /// Puts this locker's devices on the gauge when it starts.
    pub(super) fn count_devices(&self) {
        self.gauge_devices(1.0);
    }

    fn gauge_devices(&self, by: f64) {
        gauge("controller", self.controller, by);
        for health in self.reader_health.values() {
            gauge("reader", health.liveness, by);
        }
    }
}

fn move_gauge(kind: &'static str, from: Liveness, to: Liveness) {
    gauge(kind, from, -1.0);
    gauge(kind, to, 1.0);
}

fn gauge(kind: &'static str, state: Liveness, by: f64) {
    metrics::gauge!("armory_devices", "kind" => kind, "state" => word(state)).increment(by);
}

/// The word of a liveness state, for metric labels.
pub(super) fn word(liveness: Liveness) -> &'static str {
    match liveness {
        Liveness::Unknown => "unknown",
        Liveness::Online => "online",
        Liveness::Offline => "offline",
        Liveness::Faulted => "faulted",
    }
}
