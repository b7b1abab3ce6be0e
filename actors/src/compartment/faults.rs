//! A compartment's faults: door alarms (forced open, held open), jammed
//! locks, missing or wrong weapons that hold it locked, and the opening it
//! resumes from the store after a restart.
//!
//! Alarms stay until the door is closed and someone acknowledges them;
//! holds stay until an armorer's service opening finds the right weapon.

use uuid::Uuid;

use super::{CompartmentState, PendingOpening};
use crate::activity::Alert;
use crate::locker::LockerMsg;
use crate::ports::{AuditAction, Decision};
use crate::protocol::{DoorState, Severity, WeaponCondition};
use crate::weapon::WeaponMsg;

/// Unlocks in a row whose door never opened before the lock counts as jammed.
const JAMMED_AFTER: u32 = 2;

impl CompartmentState {
    /// Alarms clear once acknowledged and their cause is gone.
    pub(super) fn acknowledge(&mut self) {
        if self.alarm.is_some() {
            self.alarm_acknowledged = true;
            self.clear_alarm_if_resolved();
        }
    }

    pub(super) fn clear_alarm_if_resolved(&mut self) {
        if self.alarm.is_some() && self.alarm_acknowledged && self.door == DoorState::Closed {
            self.alarm = None;
            self.alarm_acknowledged = false;
            self.publish();
        }
    }

    /// A door closed with no opening in progress: is what is inside what
    /// the store says should be?
    pub(super) async fn check_contents(&mut self, weapon_present: bool) {
        let Some(weapon) = &self.args.home_weapon else {
            return;
        };
        let expected_in = match ractor::call!(weapon, WeaponMsg::Status) {
            Ok(view) => !matches!(
                view.condition,
                WeaponCondition::SignedOut | WeaponCondition::Reserved
            ),
            Err(_) => return,
        };
        if expected_in && !weapon_present {
            let message = format!(
                "{} closed empty but {} should be in it",
                self.compartment_name(),
                self.args
                    .home_of
                    .as_ref()
                    .map_or("its weapon", |a| a.as_str())
            );
            self.hold("weapon_missing", message).await;
        }
    }

    /// Holds the compartment locked, with an alert and an anomaly row.
    pub(super) async fn hold(&mut self, reason: &'static str, message: String) {
        if self.held == Some(reason) {
            return;
        }
        self.held = Some(reason);
        self.tell_locker_held(true);
        let mut happening = self.happening();
        happening.asset_tag = self.args.home_of.clone();
        let alert = Alert {
            kind: reason,
            severity: Severity::Critical,
            badge: None,
            message,
        };
        happening.alert(&self.args.services, alert);
        happening.record_anomaly(&self.args.services, reason).await;
        self.publish();
    }

    /// Raises a door alarm: alert, audit row, published state.
    pub(super) async fn raise_alarm(&mut self, kind: &'static str, message: String) {
        if self.alarm == Some(kind) {
            return;
        }
        self.alarm = Some(kind);
        self.alarm_acknowledged = false;
        tracing::warn!(locker = %self.args.locker, compartment = self.args.number, kind, "alarm");
        let mut happening = self.happening();
        happening.asset_tag = self.args.home_of.clone();
        let entry = happening.audit_entry(AuditAction::Alarm, Decision::Recorded, kind);
        if let Err(error) = self.args.services.store.commit(entry, None).await {
            tracing::error!(locker = %self.args.locker, %error, "alarm not recorded");
        }
        let alert = Alert {
            kind,
            severity: Severity::Critical,
            badge: None,
            message,
        };
        happening.alert(&self.args.services, alert);
        self.publish();
    }

    /// The door-open limit passed: still the same opening, still open?
    pub(super) async fn door_open_check(&mut self, opening: u64) {
        if self.openings == opening && self.door == DoorState::Open {
            let limit = self.args.services.timing.door_open_limit.as_secs();
            let message = format!("{} open longer than {limit} s", self.compartment_name());
            self.raise_alarm("door_held_open", message).await;
        }
    }

    /// An unlock whose door never opened; the second in a row jams the lock.
    pub(super) async fn unlock_failed(&mut self) {
        self.failed_unlocks = self.failed_unlocks.saturating_add(1);
        if self.failed_unlocks >= JAMMED_AFTER {
            let message = format!(
                "{} did not open after {} unlocks: lock jammed",
                self.compartment_name(),
                self.failed_unlocks
            );
            self.hold("lock_jammed", message).await;
        }
    }

    /// After a restart: the grant written ahead for this compartment's
    /// weapon that never completed, if any, becomes the opening in
    /// progress. Nothing is sent to the lock: the command has expired.
    pub(super) async fn resume(&mut self, myself: &ractor::ActorRef<super::CompartmentMsg>) {
        let (Some(asset_tag), Some(weapon), Some(class)) = (
            self.args.home_of.clone(),
            self.args.home_weapon.clone(),
            self.args.home_class,
        ) else {
            return;
        };
        let grant = match self.args.services.store.open_grant(asset_tag.clone()).await {
            Ok(Some(grant)) => grant,
            Ok(None) => return,
            Err(error) => {
                tracing::error!(locker = %self.args.locker, %error, "open grant not read");
                return;
            }
        };
        let transaction: Uuid = grant.transaction;
        tracing::warn!(
            locker = %self.args.locker,
            compartment = self.args.number,
            %transaction,
            "resuming an opening interrupted by a restart"
        );
        self.pending = Some(PendingOpening {
            transaction,
            purpose: grant.purpose,
            weapon,
            asset_tag,
            weapon_class: class,
            holder: grant.holder,
            door_opened: true,
            resumed: true,
        });
        myself.send_after(self.args.services.timing.unlock_window, move || {
            super::CompartmentMsg::WindowElapsed { transaction }
        });
        if self.args.parent.cast(LockerMsg::Changed).is_err() {
            tracing::debug!("locker gone while resuming");
        }
    }
}
