//! One reader on a locker: turns a scan into a decision.
//!
//! For each authenticated scan it resolves the badge, checks the second
//! factor (PIN or fingerprint) unless the badge is locked out, applies the
//! access policy, asks its locker for a weapon (sign-out), for the weapon
//! the person holds (return), or for the sign-out waiting for a second
//! person (authorize), writes the decision to the audit trail, and only
//! when that row is durable asks the compartment to unlock. Every scan gets
//! exactly one audit row of its own and one outcome on the reader's
//! display; a redelivered scan finds its row already written and has no
//! further effect.
//!
//! A reader that floods garbage (badge reads that are no badge at all,
//! [`GARBAGE_LIMIT`] of them within [`GARBAGE_WINDOW`]) is a faulty device:
//! after denying and auditing the scan that reaches the limit, the actor
//! fails, so that its locker restarts it and, past the restart budget,
//! isolates it. A fault drill ([`ReaderMsg::FaultDrill`]) makes it fail on
//! purpose, by an error or a panic.
//!
//! When the actor fails, the scans, panel reports and service records still
//! waiting in its mailbox go with it; its locker, which remembers what it
//! routed here, refuses those as `reader_failed` (see
//! `locker/undecided.rs`).
//!
//! Messages: [`ReaderMsg::Scan`], [`ReaderMsg::Panel`], [`ReaderMsg::FaultDrill`].

mod decide;
mod panel;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef};
use uuid::Uuid;

use crate::activity::Happening;
use crate::compartment::{CompartmentMsg, DrillFault, PendingOpening, UnlockRefusal};
use crate::domain::{BadgeUid, CompartmentNo, EmployeeId, LockerId, ReaderId, ReaderKind, SiteId};
use crate::locker::{Allocation, LockerMsg};
use crate::ports::{AuditAction, Decision, StoreError};
use crate::protocol::seal::Header;
use crate::protocol::{AccessRequest, Command, LockerKey, SealedEnvelope, Topic, UnlockPurpose};
use crate::rules::Reason;
use crate::services::Services;
use decide::Outcome;

/// Garbage reads within [`GARBAGE_WINDOW`] that make a reader fail.
pub const GARBAGE_LIMIT: usize = 5;

/// The window of [`GARBAGE_LIMIT`].
pub const GARBAGE_WINDOW: Duration = Duration::from_secs(10);

/// The reader actor.
pub struct ReaderActor;

/// Why a reader actor failed.
#[derive(Debug, thiserror::Error)]
pub enum ReaderError {
    /// The device sent too many reads that are no badge.
    #[error("reader {reader} sent {count} garbage reads within {window:?}")]
    Flooding {
        /// The reader.
        reader: ReaderId,
        /// Garbage reads within the window.
        count: usize,
        /// The window.
        window: Duration,
    },
}

/// A reader's live state: what it started from, and its recent garbage.
pub struct ReaderState {
    args: ReaderArguments,
    garbage: VecDeque<tokio::time::Instant>,
}

impl ReaderState {
    /// Counts a garbage read; fails once the reader floods.
    fn garbage_read(&mut self) -> Result<(), ReaderError> {
        let now = tokio::time::Instant::now();
        self.garbage
            .retain(|at| now.duration_since(*at) <= GARBAGE_WINDOW);
        self.garbage.push_back(now);
        tracing::warn!(reader = %self.args.reader, locker = %self.args.locker, "garbage read");
        if self.garbage.len() < GARBAGE_LIMIT {
            return Ok(());
        }
        Err(ReaderError::Flooding {
            reader: self.args.reader.clone(),
            count: self.garbage.len(),
            window: GARBAGE_WINDOW,
        })
    }
}

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
    /// An authenticated panel report or service record, with its event id.
    Panel(Uuid, crate::protocol::DeviceEvent),
    /// Fail on purpose, for fault drills and their tests: reachable only
    /// in-process, never from the bus.
    FaultDrill(DrillFault),
}

impl Actor for ReaderActor {
    type Msg = ReaderMsg;
    type State = ReaderState;
    type Arguments = ReaderArguments;

    async fn pre_start(
        &self,
        _myself: ActorRef<ReaderMsg>,
        args: ReaderArguments,
    ) -> Result<ReaderState, ActorProcessingErr> {
        Ok(ReaderState {
            args,
            garbage: VecDeque::new(),
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<ReaderMsg>,
        message: ReaderMsg,
        state: &mut ReaderState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            ReaderMsg::Scan(scan) => {
                let garbage = BadgeUid::parse(&scan.badge_uid).is_err();
                let decided = state.args.on_scan(scan).await;
                if garbage && decided {
                    state.garbage_read()?;
                }
            }
            ReaderMsg::Panel(event_id, event) => state.args.on_panel(event_id, event).await,
            ReaderMsg::FaultDrill(fault) => {
                tracing::warn!(
                    locker = %state.args.locker,
                    reader = %state.args.reader,
                    ?fault,
                    "fault drill"
                );
                let what = "fault drill: reader actor failed on purpose";
                match fault {
                    DrillFault::Error => return Err(From::from(what)),
                    // Reachable only from a drill, never from input.
                    DrillFault::Panic => panic!("{what}"),
                }
            }
        }
        Ok(())
    }
}

impl ReaderArguments {
    /// Decides a scan; false if it had been decided before (a redelivery).
    async fn on_scan(&mut self, scan: Scan) -> bool {
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

        // Write ahead: the scan's own row is durable before any lock moves.
        let (decision, reason) = match &verdict.outcome {
            Outcome::Open { authorized, .. } => match authorized {
                Some(_) => (Decision::Recorded, Reason::SecondPersonAuthorized),
                None => (Decision::Granted, Reason::Granted),
            },
            Outcome::Denied(reason) => (Decision::Denied, *reason),
            Outcome::Recorded(reason) => (Decision::Recorded, *reason),
        };
        let mut scan_row = happening.clone();
        if let Outcome::Open {
            allocation,
            authorized: None,
            ..
        } = &verdict.outcome
        {
            scan_row = with_allocation(scan_row, allocation, transaction);
        }
        let mut entry = scan_row.audit_entry(verdict.action, decision, reason.code());
        entry.event_id = Some(scan.event_id);
        entry.badge = verdict.badge.clone();
        let written = self.services.store.commit(entry, None).await;

        let shown = match (written, verdict.outcome) {
            (Err(StoreError::Duplicate { .. }), outcome) => {
                release(&outcome, transaction);
                metrics::counter!("armory_device_events_duplicate_total").increment(1);
                tracing::debug!(
                    reader = %self.reader,
                    event = %scan.event_id,
                    "scan already decided"
                );
                return false;
            }
            (Err(error), outcome) => {
                release(&outcome, transaction);
                tracing::error!(reader = %self.reader, %error, "decision not durable; denying");
                Shown::refused(Reason::StoreUnavailable)
            }
            (
                Ok(_),
                Outcome::Open {
                    allocation,
                    holder,
                    holder_badge,
                    authorized,
                },
            ) => {
                let opening = Opening {
                    allocation,
                    holder,
                    holder_badge,
                    grant_row: authorized.is_some(),
                    transaction,
                    purpose: match scan.request {
                        AccessRequest::Return => UnlockPurpose::Return,
                        AccessRequest::Service { .. } => UnlockPurpose::Service,
                        _ => UnlockPurpose::SignOut,
                    },
                };
                self.open(&happening, opening).await
            }
            (Ok(_), Outcome::Denied(reason)) => Shown::refused(reason),
            (Ok(_), Outcome::Recorded(reason)) => Shown::refused(reason),
        };

        self.show_outcome(scan.event_id, &shown);
        let mut announced = happening;
        announced.asset_tag = shown.asset_tag.clone();
        announced.compartment = shown.compartment;
        if shown.granted {
            announced.transaction = Some(transaction);
        }
        let kind = if shown.granted {
            "access_granted"
        } else {
            "access_denied"
        };
        let kind = if matches!(
            shown.reason,
            Reason::AwaitingSecondPerson | Reason::LockoutsCleared | Reason::AlarmsAcknowledged
        ) {
            "access_recorded"
        } else {
            kind
        };
        announced.announce(&self.services, kind, shown.reason.code());

        let class = announced.weapon_class.map(|c| c.as_str()).unwrap_or("none");
        let decision = if shown.granted {
            "granted"
        } else {
            decision.as_str()
        };
        metrics::counter!(
            "armory_access_decisions_total",
            "decision" => decision,
            "reason" => shown.reason.code(),
            "weapon_class" => class,
        )
        .increment(1);
        metrics::histogram!("armory_access_decision_seconds").record(started.elapsed());
        tracing::info!(
            locker = %self.locker,
            reader = %self.reader,
            request = request_word(scan.request),
            badge = verdict.badge.as_ref().map(BadgeUid::fingerprint).unwrap_or_default(),
            employee = announced.employee_id.as_ref().map(|e| e.as_str()).unwrap_or("-"),
            weapon_class = class,
            weapon = announced.asset_tag.as_ref().map(|a| a.as_str()).unwrap_or("-"),
            compartment = shown.compartment.map(|c| c.to_string()).unwrap_or_else(|| "-".into()),
            reason = shown.reason.code(),
            decision,
            "access decided"
        );
        true
    }

    /// Writes the grant if the scan's own row was not it, then sends the
    /// unlock.
    async fn open(&self, happening: &Happening, opening: Opening) -> Shown {
        let Opening {
            allocation,
            holder,
            holder_badge,
            grant_row,
            transaction,
            purpose,
        } = opening;

        // A second person's authorization, or a panel report that offers
        // another weapon, was not itself the grant; the grant, in the
        // holder's name, must be durable before the unlock.
        if grant_row {
            let mut grant = with_allocation(happening.clone(), &allocation, transaction);
            grant.employee_id = Some(holder.clone());
            let mut entry =
                grant.audit_entry(AuditAction::SignOutRequest, Decision::Granted, "granted");
            entry.badge = Some(holder_badge);
            if let Err(error) = self.services.store.commit(entry, None).await {
                allocation.release(transaction);
                tracing::error!(reader = %self.reader, %error, "grant not durable; denying");
                return Shown::refused(Reason::StoreUnavailable);
            }
        }

        let pending = PendingOpening {
            transaction,
            purpose,
            weapon: allocation.weapon.clone(),
            asset_tag: allocation.asset_tag.clone(),
            weapon_class: allocation.weapon_class,
            holder,
            door_opened: false,
            resumed: false,
        };
        let asked = ractor::call!(allocation.compartment_actor, |reply| {
            CompartmentMsg::Unlock {
                opening: Box::new(pending),
                reply,
            }
        });
        let refused = match asked {
            Ok(Ok(())) => {
                return Shown {
                    granted: true,
                    reason: Reason::Granted,
                    asset_tag: Some(allocation.asset_tag.clone()),
                    compartment: Some(allocation.compartment),
                }
            }
            Ok(Err(UnlockRefusal::Busy)) => Reason::NoWeaponAvailable,
            Ok(Err(UnlockRefusal::Held { .. })) => Reason::CompartmentHeld,
            Ok(Err(UnlockRefusal::Bus(_))) | Err(_) => Reason::BusUnavailable,
        };
        allocation.release(transaction);
        let mut anomaly = with_allocation(happening.clone(), &allocation, transaction);
        anomaly.employee_id = happening.employee_id.clone();
        anomaly
            .record_anomaly(&self.services, "unlock_not_sent")
            .await;
        Shown::refused(refused)
    }

    fn show_outcome(&self, scan: Uuid, shown: &Shown) {
        let display = Display {
            services: &self.services,
            key: &self.key,
            site: &self.site,
            locker: &self.locker,
            reader: &self.reader,
        };
        display.show(scan, shown.granted, shown.reason, shown.compartment);
    }
}

/// A reader's display, as the service addresses it.
pub(crate) struct Display<'a> {
    /// Shared services.
    pub services: &'a Services,
    /// The locker's key.
    pub key: &'a LockerKey,
    /// Site.
    pub site: &'a SiteId,
    /// Locker.
    pub locker: &'a LockerId,
    /// Reader.
    pub reader: &'a ReaderId,
}

impl Display<'_> {
    /// Shows the outcome of scan `scan` with a sealed command.
    pub(crate) fn show(
        &self,
        scan: Uuid,
        granted: bool,
        reason: Reason,
        compartment: Option<CompartmentNo>,
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
        let sealed = SealedEnvelope::seal_with_id(self.key, &topic, header, command);
        if let Err(error) = self.services.bus.publish_command(topic, sealed.to_bytes()) {
            tracing::warn!(reader = %self.reader, %error, "outcome not shown on the reader");
        }
    }
}

/// What the audit trail records a request at a reader as.
pub(crate) fn audit_action(request: AccessRequest) -> AuditAction {
    match request {
        AccessRequest::SignOut { .. } => AuditAction::SignOutRequest,
        AccessRequest::Return => AuditAction::ReturnRequest,
        AccessRequest::Authorize => AuditAction::DualAuthorization,
        AccessRequest::ClearLockouts => AuditAction::LockoutCleared,
        AccessRequest::Service { .. } => AuditAction::Service,
        AccessRequest::Acknowledge => AuditAction::AlarmAcknowledged,
    }
}

/// A granted opening about to be sent.
struct Opening {
    allocation: Allocation,
    holder: EmployeeId,
    holder_badge: BadgeUid,
    /// Whether the grant row is still to be written.
    grant_row: bool,
    transaction: Uuid,
    purpose: UnlockPurpose,
}

/// What the reader's display shows.
struct Shown {
    granted: bool,
    reason: Reason,
    asset_tag: Option<crate::domain::AssetTag>,
    compartment: Option<CompartmentNo>,
}

impl Shown {
    fn refused(reason: Reason) -> Self {
        Self {
            granted: false,
            reason,
            asset_tag: None,
            compartment: None,
        }
    }
}

fn with_allocation(
    mut happening: Happening,
    allocation: &Allocation,
    transaction: Uuid,
) -> Happening {
    happening.asset_tag = Some(allocation.asset_tag.clone());
    happening.weapon_class = Some(allocation.weapon_class);
    happening.compartment = Some(allocation.compartment);
    happening.transaction = Some(transaction);
    happening
}

fn release(outcome: &Outcome, transaction: Uuid) {
    if let Outcome::Open { allocation, .. } = outcome {
        allocation.release(transaction);
    }
}

fn request_word(request: AccessRequest) -> &'static str {
    match request {
        AccessRequest::SignOut { .. } => "sign_out",
        AccessRequest::Return => "return",
        AccessRequest::Authorize => "authorize",
        AccessRequest::ClearLockouts => "clear_lockouts",
        AccessRequest::Service { .. } => "service",
        AccessRequest::Acknowledge => "acknowledge",
    }
}
