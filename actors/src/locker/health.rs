//! A locker's health: is its controller alive, has it been tampered with,
//! and what happens when one of its child actors fails.
//!
//! Liveness: every authenticated event counts as a sign of life; a
//! controller silent past the heartbeat timeout (several missed beats, not
//! one) is offline, and so is one whose sealed last will arrives. Until it
//! first speaks after a start the controller is `unknown`, never assumed
//! fine.
//!
//! Supervision: a failed reader or compartment is restarted (a compartment
//! resumes its opening from the store) up to the restart budget; past it,
//! it is isolated: events to it are refused, no weapon in it is chosen, an
//! alert goes out, and the rest of the locker keeps working. An
//! acknowledgement at the locker by a supervisor or armorer (the
//! technician's "clear") brings isolated children back with a fresh
//! budget. A failed weapon actor is isolated at once: its state lives in
//! the store and comes back with the next service start.

use ractor::{ActorCell, ActorRef};
use tokio::time::Instant;

use super::{ChildKey, LockerMsg, LockerState};
use crate::activity::{Alert, Happening};
use crate::ports::{AuditAction, Decision};
use crate::protocol::{Liveness, Severity};

impl LockerState {
    /// An authenticated event arrived: the controller is alive.
    pub(super) async fn heard(&mut self) {
        self.last_heard = Some(Instant::now());
        if self.controller != Liveness::Online {
            let was = self.controller;
            self.set_liveness(Liveness::Online);
            if was == Liveness::Offline {
                self.health_event(
                    "controller_online",
                    Severity::Info,
                    "controller back online",
                )
                .await;
            }
            tracing::info!(locker = %self.locker.id, "locker controller online");
            self.publish().await;
        }
    }

    /// The periodic check: silent past the timeout means offline.
    pub(super) async fn check_liveness(&mut self) {
        let timeout = self.services.timing.heartbeat_timeout;
        let silent = self
            .last_heard
            .is_some_and(|heard| heard.elapsed() > timeout);
        if self.controller == Liveness::Online && silent {
            self.went_offline("silent past the heartbeat timeout").await;
        }
    }

    /// The controller is gone (timeout or last will).
    pub(super) async fn went_offline(&mut self, why: &str) {
        if self.controller == Liveness::Offline {
            return;
        }
        self.set_liveness(Liveness::Offline);
        let message = format!("controller of {} offline: {why}", self.locker.id);
        self.health_event("controller_offline", Severity::Critical, &message)
            .await;
        self.publish().await;
    }

    /// The tamper switch tripped.
    pub(super) async fn tampered(&mut self) {
        if self.tamper_alarm {
            return;
        }
        self.tamper_alarm = true;
        let message = format!("tamper switch of {} tripped", self.locker.id);
        let happening = self.happening();
        let entry = happening.audit_entry(AuditAction::Alarm, Decision::Recorded, "tamper");
        if let Err(error) = self.services.store.commit(entry, None).await {
            tracing::error!(locker = %self.locker.id, %error, "tamper not recorded");
        }
        let alert = Alert {
            kind: "tamper",
            severity: Severity::Critical,
            badge: None,
            message,
        };
        happening.alert(&self.services, alert);
        self.publish().await;
    }

    fn set_liveness(&mut self, to: Liveness) {
        metrics::gauge!("armory_devices", "kind" => "controller", "state" => word(self.controller))
            .decrement(1.0);
        metrics::gauge!("armory_devices", "kind" => "controller", "state" => word(to))
            .increment(1.0);
        self.controller = to;
    }

    /// A child actor failed: restart it within budget, else isolate it.
    pub(super) async fn child_failed(&mut self, myself: &ActorRef<LockerMsg>, child: &ActorCell) {
        let Some(key) = self.child_key(child) else {
            return;
        };
        let kind = key.kind();
        metrics::counter!("armory_actor_failures_total", "parent" => "locker").increment(1);

        let budget = self.services.timing.max_restarts as usize;
        let window = self.services.timing.restart_window;
        let history = self.restarts.entry(key.clone()).or_default();
        history.retain(|at| at.elapsed() <= window);
        let within_budget = history.len() < budget && !matches!(key, ChildKey::Weapon(_));

        if within_budget {
            history.push_back(Instant::now());
            match self.respawn(myself, &key).await {
                Ok(()) => {
                    metrics::counter!("armory_actor_restarts_total", "kind" => kind).increment(1);
                    let message = format!("{} {} restarted", kind, key.name());
                    self.health_event("actor_restarted", Severity::Warning, &message)
                        .await;
                    return;
                }
                Err(error) => {
                    tracing::error!(
                        locker = %self.locker.id,
                        child = key.name(),
                        %error,
                        "restart failed"
                    );
                }
            }
        }
        self.isolate(key).await;
    }

    async fn isolate(&mut self, key: ChildKey) {
        let kind = key.kind();
        match &key {
            ChildKey::Reader(reader) => {
                self.readers.remove(reader);
            }
            ChildKey::Compartment(number) => {
                self.compartments.remove(number);
                self.held.insert(*number);
            }
            ChildKey::Weapon(tag) => {
                self.weapons.retain(|(_, _, weapon_tag)| weapon_tag != tag);
            }
        }
        metrics::counter!("armory_actor_isolations_total", "kind" => kind).increment(1);
        let message = format!(
            "{kind} {} isolated after repeated failures; the rest of {} keeps working",
            key.name(),
            self.locker.id
        );
        self.isolated.insert(key);
        self.health_event("actor_isolated", Severity::Critical, &message)
            .await;
        self.publish().await;
    }

    /// Brings isolated readers and compartments back with a fresh budget.
    pub(super) async fn reinstate(&mut self, myself: &ActorRef<LockerMsg>) {
        let isolated: Vec<ChildKey> = self.isolated.drain().collect();
        for key in isolated {
            self.restarts.remove(&key);
            if matches!(key, ChildKey::Weapon(_)) {
                self.isolated.insert(key);
                continue;
            }
            match self.respawn(myself, &key).await {
                Ok(()) => {
                    if let ChildKey::Compartment(number) = key {
                        self.held.remove(&number);
                    }
                    let message = format!("{} {} back in service", key.kind(), key.name());
                    self.health_event("actor_reinstated", Severity::Info, &message)
                        .await;
                }
                Err(error) => {
                    tracing::error!(locker = %self.locker.id, %error, "reinstatement failed");
                    self.isolated.insert(key);
                }
            }
        }
    }

    async fn health_event(&self, kind: &'static str, severity: Severity, message: &str) {
        let happening = self.happening();
        let entry = happening.audit_entry(AuditAction::DeviceHealth, Decision::Recorded, kind);
        if let Err(error) = self.services.store.commit(entry, None).await {
            tracing::error!(locker = %self.locker.id, %error, kind, "health event not recorded");
        }
        let alert = Alert {
            kind,
            severity,
            badge: None,
            message: message.to_owned(),
        };
        happening.alert(&self.services, alert);
    }

    fn happening(&self) -> Happening {
        Happening::at_locker(&self.site, &self.locker.id, self.services.clock.now())
    }
}

/// The word of a liveness state, for metric labels.
pub(super) fn word(liveness: Liveness) -> &'static str {
    match liveness {
        Liveness::Unknown => "unknown",
        Liveness::Online => "online",
        Liveness::Offline => "offline",
    }
}
