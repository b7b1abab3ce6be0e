//! One reader on a locker: turns a scan into a decision.
//!
//! For each authenticated scan it resolves the badge, checks the other
//! factor (PIN or fingerprint), applies the access rules, asks its locker
//! for a weapon (sign-out) or for the weapon the person holds (return),
//! writes the decision to the audit trail, and only when that row is
//! durable asks the compartment to unlock. Every scan gets one audit row and
//! one outcome on the reader's display; a redelivered scan finds its row
//! already written and has no further effect.
//!
//! Messages: [`ReaderMsg::Scan`].

use std::time::Instant;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use uuid::Uuid;

use crate::activity::Happening;
use crate::compartment::{CompartmentMsg, PendingOpening, UnlockRefusal};
use crate::domain::{BadgeUid, LockerId, Person, ReaderId, ReaderKind, SiteId};
use crate::locker::{Allocation, LockerMsg};
use crate::ports::{AuditAction, Decision, StoreError};
use crate::protocol::seal::Header;
use crate::protocol::{AccessRequest, Command, LockerKey, SealedEnvelope, Topic, UnlockPurpose};
use crate::rules::{self, Credentials, Reason};
use crate::services::Services;

/// The reader actor.
pub struct ReaderActor;

/// What a reader actor starts from.
pub struct ReaderArguments {
    /// Site.
    pub site: SiteId,
    /// Locker.
    pub locker: LockerId,
    /// Its id.
    pub reader: ReaderId,
    /// The factors it takes.
    pub kind: ReaderKind,
    /// The locker's key, for PINs and display commands.
    pub key: LockerKey,
    /// Its locker, which chooses weapons.
    pub parent: ActorRef<LockerMsg>,
    /// Shared services.
    pub services: Services,
}

/// A scan as the reader hardware reported it.
#[derive(Clone, Debug)]
pub struct Scan {
    /// The event's envelope id; the audit trail holds it once.
    pub event_id: Uuid,
    /// Badge text as read.
    pub badge_uid: String,
    /// PIN sealed under the locker key.
    pub pin_sealed: Option<String>,
    /// Fingerprint verdict.
    pub fingerprint_match: Option<bool>,
    /// What is asked for.
    pub request: AccessRequest,
}

/// Messages to a reader.
pub enum ReaderMsg {
    /// An authenticated scan.
    Scan(Scan),
}

impl Actor for ReaderActor {
    type Msg = ReaderMsg;
    type State = ReaderArguments;
    type Arguments = ReaderArguments;

    async fn pre_start(
        &self,
        _myself: ActorRef<ReaderMsg>,
        args: ReaderArguments,
    ) -> Result<ReaderArguments, ActorProcessingErr> {
        Ok(args)
    }

    async fn handle(
        &self,
        _myself: ActorRef<ReaderMsg>,
        message: ReaderMsg,
        state: &mut ReaderArguments,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            ReaderMsg::Scan(scan) => state.on_scan(scan).await,
        }
        Ok(())
    }
}

/// What the checks concluded before anything was written.
struct Verdict {
    badge: Option<BadgeUid>,
    person: Option<Person>,
    outcome: Result<Allocation, Reason>,
}

impl ReaderArguments {
    async fn on_scan(&mut self, scan: Scan) {
        let started = Instant::now();
        let transaction = Uuid::new_v4();
        let verdict = self.decide(&scan, transaction).await;

        let mut happening =
            Happening::at_locker(&self.site, &self.locker, self.services.clock.now());
        happening.reader = Some(self.reader.clone());
        happening.employee_id = verdict.person.as_ref().map(|p| p.employee_id.clone());
        if let AccessRequest::SignOut { weapon_class } = scan.request {
            happening.weapon_class = Some(weapon_class);
        }
        if let Ok(allocation) = &verdict.outcome {
            happening.asset_tag = Some(allocation.asset_tag.clone());
            happening.weapon_class = Some(allocation.weapon_class);
            happening.compartment = Some(allocation.compartment);
            happening.transaction = Some(transaction);
        }

        let (action, purpose) = match scan.request {
            AccessRequest::SignOut { .. } => (AuditAction::SignOutRequest, UnlockPurpose::SignOut),
            AccessRequest::Return => (AuditAction::ReturnRequest, UnlockPurpose::Return),
        };
        let (decision, reason) = match &verdict.outcome {
            Ok(_) => (Decision::Granted, Reason::Granted),
            Err(reason) => (Decision::Denied, *reason),
        };

        // Write ahead: the decision is durable before any lock moves.
        let mut entry = happening.audit_entry(action, decision, reason.code());
        entry.event_id = Some(scan.event_id);
        entry.badge = verdict.badge.clone();
        let written = self.services.store.commit(entry, None).await;

        let mut final_reason = reason;
        let holder = verdict.person.as_ref().map(|p| p.employee_id.clone());
        match (written, verdict.outcome) {
            (Err(StoreError::Duplicate { .. }), outcome) => {
                if let Ok(allocation) = outcome {
                    allocation.release(transaction);
                }
                metrics::counter!("armory_device_events_duplicate_total").increment(1);
                tracing::debug!(reader = %self.reader, event = %scan.event_id, "scan already decided");
                return;
            }
            (Err(error), outcome) => {
                if let Ok(allocation) = outcome {
                    allocation.release(transaction);
                }
                tracing::error!(reader = %self.reader, %error, "decision not durable; denying");
                final_reason = Reason::StoreUnavailable;
            }
            (Ok(_), Ok(allocation)) => {
                let opened = self.open(&allocation, holder, purpose, transaction).await;
                if let Err(reason) = opened {
                    allocation.release(transaction);
                    happening
                        .record_anomaly(&self.services, "unlock_not_sent")
                        .await;
                    final_reason = reason;
                }
            }
            (Ok(_), Err(_)) => {}
        }

        let granted = final_reason == Reason::Granted;
        let compartment = if granted { happening.compartment } else { None };
        self.show_outcome(scan.event_id, granted, final_reason, compartment);
        let kind = if granted {
            "access_granted"
        } else {
            "access_denied"
        };
        happening.announce(&self.services, kind, final_reason.code());

        let class = happening.weapon_class.map(|c| c.as_str()).unwrap_or("none");
        metrics::counter!(
            "armory_access_decisions_total",
            "decision" => if granted { "granted" } else { "denied" },
            "reason" => final_reason.code(),
            "weapon_class" => class,
        )
        .increment(1);
        metrics::histogram!("armory_access_decision_seconds").record(started.elapsed());
        tracing::info!(
            locker = %self.locker,
            reader = %self.reader,
            badge = verdict.badge.as_ref().map(BadgeUid::fingerprint).unwrap_or_default(),
            employee = happening.employee_id.as_ref().map(|e| e.as_str()).unwrap_or("-"),
            weapon_class = class,
            weapon = happening.asset_tag.as_ref().map(|a| a.as_str()).unwrap_or("-"),
            compartment = compartment.map(|c| c.to_string()).unwrap_or_else(|| "-".into()),
            request = match scan.request {
                AccessRequest::SignOut { .. } => "sign_out",
                AccessRequest::Return => "return",
            },
            reason = final_reason.code(),
            decision = if granted { "granted" } else { "denied" },
            "access decided"
        );
    }

    async fn decide(&self, scan: &Scan, transaction: Uuid) -> Verdict {
        let mut verdict = Verdict {
            badge: None,
            person: None,
            outcome: Err(Reason::BadRequest),
        };

        let Ok(badge) = BadgeUid::parse(&scan.badge_uid) else {
            return verdict;
        };
        verdict.badge = Some(badge.clone());

        let pin = match &scan.pin_sealed {
            Some(sealed) => match self.key.open_pin(sealed, &scan.event_id) {
                Ok(pin) => Some(pin),
                Err(_) => return verdict,
            },
            None => None,
        };
        let credentials = Credentials {
            badge,
            pin,
            fingerprint_match: scan.fingerprint_match,
        };

        // Argon2 is slow on purpose; keep it off the async workers.
        let personnel = self.services.personnel.snapshot();
        let kind = self.kind;
        let checked = tokio::task::spawn_blocking(move || {
            rules::identify(&personnel, kind, &credentials).cloned()
        })
        .await;
        let person = match checked {
            Ok(Ok(person)) => person,
            Ok(Err(reason)) => {
                verdict.outcome = Err(reason);
                return verdict;
            }
            Err(error) => {
                tracing::error!(%error, "identity check failed");
                verdict.outcome = Err(Reason::StoreUnavailable);
                return verdict;
            }
        };
        verdict.person = Some(person.clone());

        verdict.outcome = match scan.request {
            AccessRequest::SignOut { weapon_class } => {
                let personnel = self.services.personnel.snapshot();
                let certifications = personnel.certifications_of(&person.employee_id);
                let now = self.services.clock.now();
                match rules::may_draw(&person, certifications, weapon_class, now) {
                    Ok(()) => {
                        self.ask_locker(|reply| LockerMsg::Allocate {
                            weapon_class,
                            holder: person.employee_id.clone(),
                            transaction,
                            reply,
                        })
                        .await
                    }
                    Err(reason) => Err(reason),
                }
            }
            AccessRequest::Return => {
                self.ask_locker(|reply| LockerMsg::FindHeld {
                    holder: person.employee_id.clone(),
                    transaction,
                    reply,
                })
                .await
            }
        };
        verdict
    }

    async fn ask_locker(
        &self,
        message: impl FnOnce(ractor::RpcReplyPort<Result<Allocation, Reason>>) -> LockerMsg,
    ) -> Result<Allocation, Reason> {
        match self.parent.call(message, None).await {
            Ok(ractor::rpc::CallResult::Success(outcome)) => outcome,
            _ => {
                tracing::error!(locker = %self.locker, "locker did not answer; denying");
                Err(Reason::StoreUnavailable)
            }
        }
    }

    async fn open(
        &self,
        allocation: &Allocation,
        holder: Option<crate::domain::EmployeeId>,
        purpose: UnlockPurpose,
        transaction: Uuid,
    ) -> Result<(), Reason> {
        let Some(holder) = holder else {
            return Err(Reason::BadRequest);
        };
        let opening = PendingOpening {
            transaction,
            purpose,
            weapon: allocation.weapon.clone(),
            asset_tag: allocation.asset_tag.clone(),
            weapon_class: allocation.weapon_class,
            holder,
            door_opened: false,
        };
        let asked = ractor::call!(allocation.compartment_actor, |reply| {
            CompartmentMsg::Unlock {
                opening: Box::new(opening),
                reply,
            }
        });
        match asked {
            Ok(Ok(())) => Ok(()),
            Ok(Err(UnlockRefusal::Busy)) => Err(Reason::NoWeaponAvailable),
            Ok(Err(UnlockRefusal::Bus(_))) | Err(_) => Err(Reason::BusUnavailable),
        }
    }

    fn show_outcome(
        &self,
        scan: Uuid,
        granted: bool,
        reason: Reason,
        compartment: Option<crate::domain::CompartmentNo>,
    ) {
        let topic = Topic::ReaderCommand {
            site: self.site.clone(),
            locker: self.locker.clone(),
            reader: self.reader.clone(),
        }
        .name();
        let command = Command::ShowOutcome {
            scan,
            granted,
            reason: reason.code().to_owned(),
            compartment,
        };
        let header = Header {
            id: Uuid::new_v4(),
            sender: "armory",
            counter: self.services.commands.next(),
            at: self.services.clock.now(),
            lifetime: self.services.timing.command_lifetime,
        };
        let sealed = SealedEnvelope::seal_with_id(&self.key, &topic, header, command);
        if let Err(error) = self.services.bus.publish_command(topic, sealed.to_bytes()) {
            tracing::warn!(reader = %self.reader, %error, "outcome not shown on the reader");
        }
    }
}
