//! A locker's health: has it been tampered with, and what happens when one
//! of its child actors fails. Whether its devices are alive is in
//! [`super::liveness`].
//!
//! Supervision: a failed reader first has the scans and panel events it
//! left undecided refused as `reader_failed` ([`super::undecided`]). A
//! failed reader or compartment is restarted (a compartment resumes its
//! opening from the store) up to the restart budget; past it, it is
//! isolated: events to it are refused (a scan at an isolated reader is
//! denied and audited as `device_isolated`, a panel report or service
//! record there refused and audited the same), no weapon in it is chosen,
//! an isolated reader is published as `faulted`, an alert goes out, and
//! the rest of the locker keeps working. An acknowledgement at the locker
//! by a supervisor or armorer (the technician's "clear") brings isolated
//! children back with a fresh budget; a reader brought back is `unknown`
//! until it speaks. A failed weapon actor is isolated at once: its state
//! lives in the store and comes back with the next service start.

use ractor::{ActorCell, ActorRef};
use tokio::time::Instant;

use super::{ChildKey, LockerMsg, LockerState};
use crate::activity::{Alert, Happening};
use crate::domain::CompartmentNo;
use crate::ports::{AuditAction, Decision};
use crate::protocol::{
    CompartmentStatePayload, DoorState, Liveness, Severity, Topic, SCHEMA_VERSION,
};

impl LockerState {
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

    /// A child actor failed: restart it within budget, else isolate it.
    pub(super) async fn child_failed(&mut self, myself: &ActorRef<LockerMsg>, child: &ActorCell) {
        let Some(key) = self.child_key(child) else {
            return;
        };
        let kind = key.kind();
        metrics::counter!("armory_actor_failures_total", "parent" => "locker").increment(1);

        // What waited in its mailbox died with it; none goes unaudited.
        if let ChildKey::Reader(reader) = &key {
            self.deny_undecided(reader).await;
        }

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
                    self.health_event(Some(&key), "actor_restarted", Severity::Warning, &message)
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
                self.set_reader_liveness(reader, Liveness::Faulted);
            }
            ChildKey::Compartment(number) => {
                self.compartments.remove(number);
                self.held.insert(*number);
                self.publish_isolated(*number);
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
        self.health_event(Some(&key), "actor_isolated", Severity::Critical, &message)
            .await;
        self.isolated.insert(key);
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
                    match &key {
                        ChildKey::Compartment(number) => {
                            self.held.remove(number);
                        }
                        // Back, but not heard yet: unknown until it speaks.
                        ChildKey::Reader(reader) => {
                            self.set_reader_liveness(reader, Liveness::Unknown);
                        }
                        ChildKey::Weapon(_) => {}
                    }
                    let message = format!("{} {} back in service", key.kind(), key.name());
                    self.health_event(Some(&key), "actor_reinstated", Severity::Info, &message)
                        .await;
                    self.publish().await;
                }
                Err(error) => {
                    tracing::error!(locker = %self.locker.id, %error, "reinstatement failed");
                    self.isolated.insert(key);
                }
            }
        }
    }

    /// An isolated compartment's retained state, which its own actor can no
    /// longer publish: held as `isolated`, its door unknown since nobody
    /// follows it now.
    fn publish_isolated(&self, number: CompartmentNo) {
        let payload = CompartmentStatePayload {
            v: SCHEMA_VERSION,
            site: self.site.clone(),
            locker: self.locker.id.clone(),
            compartment: number,
            weapon: self.homes.get(&number).map(|(tag, _, _)| tag.clone()),
            door: DoorState::Unknown,
            weapon_present: None,
            held: Some("isolated".to_owned()),
            alarm: None,
            at: self.services.clock.now(),
        };
        let topic = Topic::CompartmentState {
            site: self.site.clone(),
            locker: self.locker.id.clone(),
            compartment: number,
        };
        self.services.bus.publish_state(topic.name(), &payload);
    }

    /// Records a health event (audit row) and raises its alert, naming the
    /// reader or compartment it is about, if any.
    pub(super) async fn health_event(
        &self,
        about: Option<&ChildKey>,
        kind: &'static str,
        severity: Severity,
        message: &str,
    ) {
        let mut happening = self.happening();
        match about {
            Some(ChildKey::Reader(reader)) => happening.reader = Some(reader.clone()),
            Some(ChildKey::Compartment(number)) => happening.compartment = Some(*number),
            Some(ChildKey::Weapon(tag)) => happening.asset_tag = Some(tag.clone()),
            None => {}
        }
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

    pub(super) fn happening(&self) -> Happening {
        Happening::at_locker(&self.site, &self.locker.id, self.services.clock.now())
    }
}
