//! A weapon's life beyond the door: service due, problem reports and
//! quarantine, overdue returns, and the armorer's service record.
//!
//! Each alert is raised by a state transition of the weapon (not yet due
//! to due, in service to quarantined, out to overdue to escalated), so a
//! repeated or redelivered event that causes no transition raises nothing
//! twice. Each transition is committed to the store, with its audit row,
//! before the state changes here. Each panel report and service record
//! leaves a row carrying its event id, which the store holds once.

use ractor::ActorRef;
use uuid::Uuid;

use super::{Condition, WeaponMsg, WeaponState};
use crate::activity::Alert;
use crate::domain::{EmployeeId, ServiceStatus};
use crate::maintenance::{ServiceDue, UseCounters};
use crate::ports::{
    AuditAction, AuditEntry, Decision, OutstandingSignOut, OverdueStage, ProblemNote, ServiceNote,
    StoreError, WeaponChange,
};
use crate::protocol::Severity;
use crate::rules::Reason;

/// How long after a return its holder may still report a problem with it.
const REPORT_AFTER_RETURN: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// What a panel report did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportEffect {
    /// Recorded; nothing else to do.
    Recorded,
    /// The weapon was quarantined while its sign-out was still open: it
    /// goes back in its compartment and the holder should be offered
    /// another of the class.
    PutBack,
    /// The report had been recorded before (a redelivery): nothing done.
    Redelivered,
}

impl WeaponState {
    /// Whether the counters and today's date reach a threshold, and which.
    pub(super) fn due_by_counters(&self) -> Option<ServiceDue> {
        let counters = UseCounters {
            sign_outs_since_service: self.weapon.sign_outs_since_service,
            deployments_since_service: self.weapon.deployments_since_service,
            last_service_date: self.weapon.last_service_date,
        };
        let today = self
            .services
            .clock
            .now()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date();
        ServiceDue::check(&self.rule, &counters, today)
    }

    /// Raises the service-due alert once, when a threshold is first reached.
    pub(super) async fn check_due(&mut self) {
        if self.due.is_some() || self.weapon.status != ServiceStatus::InService {
            return;
        }
        let Some(why) = self.due_by_counters() else {
            return;
        };

        let happening = self.happening();
        let entry = happening.audit_entry(AuditAction::ServiceDue, Decision::Recorded, why.code());
        let change = WeaponChange::StatusChanged {
            asset_tag: self.weapon.asset_tag.clone(),
            status: ServiceStatus::NeedsService,
        };
        if let Err(error) = self.services.store.commit(entry, Some(change)).await {
            tracing::error!(weapon = %self.weapon.asset_tag, %error, "service due not recorded");
            return;
        }
        self.weapon.status = ServiceStatus::NeedsService;
        self.due = Some(why);
        let message = format!(
            "{} ({}) is due for service: {}",
            self.weapon.asset_tag,
            self.weapon.class,
            why.code()
        );
        let alert = Alert {
            kind: "service_due",
            severity: Severity::Warning,
            badge: None,
            message,
        };
        happening.alert(&self.services, alert);
        self.publish();
    }

    /// A panel report: rounds deployed, a problem.
    ///
    /// Its first audit row carries the panel event's id, and it always has
    /// one (a report of nothing, or of a problem with a weapon already
    /// quarantined, is recorded as such), so that the store holds each
    /// report once: a redelivery, or its locker closing out the reports
    /// of a failed reader, finds it decided and changes nothing.
    pub(super) async fn report(
        &mut self,
        event_id: Uuid,
        reporter: EmployeeId,
        deployments: Option<u32>,
        problem: Option<ProblemNote>,
    ) -> Result<ReportEffect, Reason> {
        if !self.reported_by_holder(&reporter) {
            return Err(Reason::ReportNotHolder);
        }
        let mut own_id = Some(event_id);

        if let Some(rounds) = deployments.filter(|rounds| *rounds > 0) {
            let mut entry = self.happening().audit_entry(
                AuditAction::Deployment,
                Decision::Recorded,
                "rounds_deployed",
            );
            entry.employee_id = Some(reporter.clone());
            entry.event_id = own_id.take();
            let change = WeaponChange::Deployed {
                asset_tag: self.weapon.asset_tag.clone(),
                rounds,
            };
            if !self.commit_once(entry, Some(change)).await? {
                return Ok(ReportEffect::Redelivered);
            }
            self.weapon.deployments_since_service =
                self.weapon.deployments_since_service.saturating_add(rounds);
            self.check_due().await;
        }

        // Nothing to change: recorded all the same, unless rounds were.
        let Some(note) = problem else {
            return self
                .record_only(
                    own_id,
                    &reporter,
                    AuditAction::Deployment,
                    "no_rounds_deployed",
                )
                .await;
        };
        if self.weapon.status == ServiceStatus::Quarantined {
            let code = note.code.as_str();
            return self
                .record_only(own_id, &reporter, AuditAction::ProblemReport, code)
                .await;
        }
        let code = note.code;
        let mut entry = self.happening().audit_entry(
            AuditAction::ProblemReport,
            Decision::Recorded,
            code.as_str(),
        );
        entry.employee_id = Some(reporter.clone());
        entry.event_id = own_id;
        let change = WeaponChange::ProblemReported {
            asset_tag: self.weapon.asset_tag.clone(),
            note,
        };
        if !self.commit_once(entry, Some(change)).await? {
            return Ok(ReportEffect::Redelivered);
        }
        self.weapon.status = ServiceStatus::Quarantined;

        let message = format!(
            "{} ({}) quarantined: {} reported by {reporter}",
            self.weapon.asset_tag,
            self.weapon.class,
            code.as_str()
        );
        let alert = Alert {
            kind: "weapon_quarantined",
            severity: Severity::Warning,
            badge: None,
            message,
        };
        self.happening().alert(&self.services, alert);
        self.publish();

        let still_in_hand = matches!(self.condition, Condition::Reserved { .. });
        Ok(if still_in_hand {
            ReportEffect::PutBack
        } else {
            ReportEffect::Recorded
        })
    }

    /// A report that changes nothing gets its row (with its event id),
    /// unless one of its rows was written already.
    async fn record_only(
        &self,
        own_id: Option<Uuid>,
        reporter: &EmployeeId,
        action: AuditAction,
        reason: &str,
    ) -> Result<ReportEffect, Reason> {
        let Some(event_id) = own_id else {
            return Ok(ReportEffect::Recorded);
        };
        let mut entry = self
            .happening()
            .audit_entry(action, Decision::Recorded, reason);
        entry.employee_id = Some(reporter.clone());
        entry.event_id = Some(event_id);
        if self.commit_once(entry, None).await? {
            Ok(ReportEffect::Recorded)
        } else {
            Ok(ReportEffect::Redelivered)
        }
    }

    /// Commits a row that carries a panel event's id; false if the store
    /// held that id already (a redelivery), and nothing was written.
    async fn commit_once(
        &self,
        entry: AuditEntry,
        change: Option<WeaponChange>,
    ) -> Result<bool, Reason> {
        match self.services.store.commit(entry, change).await {
            Ok(_) => Ok(true),
            Err(StoreError::Duplicate { .. }) => Ok(false),
            Err(_) => Err(Reason::StoreUnavailable),
        }
    }

    fn reported_by_holder(&self, reporter: &EmployeeId) -> bool {
        match &self.condition {
            Condition::Reserved { holder, .. } | Condition::SignedOut { holder, .. } => {
                holder == reporter
            }
            Condition::InCompartment => self.last_holder.as_ref().is_some_and(|(holder, at)| {
                holder == reporter && at.elapsed() <= REPORT_AFTER_RETURN
            }),
            Condition::Servicing { .. } => false,
        }
    }

    /// An armorer's service record: release to service or retire. Its row
    /// carries the panel event's id; false if the store held it already (a
    /// redelivery), and nothing changes.
    pub(super) async fn serviced(
        &mut self,
        event_id: Uuid,
        note: ServiceNote,
    ) -> Result<bool, Reason> {
        if !matches!(
            self.condition,
            Condition::InCompartment | Condition::Servicing { .. }
        ) {
            return Err(Reason::WeaponNotInCompartment);
        }
        let released = note.outcome == ServiceStatus::InService;
        if released && !note.function_test_passed {
            return Err(Reason::FunctionTestFailed);
        }

        let reason = if released { "released" } else { "retired" };
        let mut entry =
            self.happening()
                .audit_entry(AuditAction::Service, Decision::Recorded, reason);
        entry.employee_id = Some(note.armorer.clone());
        entry.event_id = Some(event_id);
        let date = note.date;
        let outcome = note.outcome;
        let change = WeaponChange::Serviced {
            asset_tag: self.weapon.asset_tag.clone(),
            note,
        };
        if !self.commit_once(entry, Some(change)).await? {
            return Ok(false);
        }

        self.weapon.status = outcome;
        self.weapon.sign_outs_since_service = 0;
        self.weapon.deployments_since_service = 0;
        self.weapon.last_service_date = date;
        self.due = None;
        tracing::info!(weapon = %self.weapon.asset_tag, outcome = reason, "weapon serviced");
        self.publish();
        Ok(true)
    }

    /// Out when the service started: the overdue count goes on from the
    /// stored sign-out, and an alert that already went out is not sent
    /// again. A check whose time has passed runs at once.
    pub(super) fn resume_overdue(
        &mut self,
        myself: &ActorRef<WeaponMsg>,
        sign_out: &OutstandingSignOut,
    ) {
        let transaction = sign_out.transaction;
        let out_for = self
            .services
            .clock
            .now()
            .duration_since(sign_out.signed_out_at)
            .max(jiff::SignedDuration::ZERO)
            .unsigned_abs();
        let overdue_at = self.rule.expected_return();
        let escalate_at = overdue_at.saturating_add(self.rule.escalate_after());

        self.overdue = sign_out.overdue;
        match sign_out.overdue {
            OverdueStage::OnTime => {
                myself.send_after(overdue_at.saturating_sub(out_for), move || {
                    WeaponMsg::OverdueCheck { transaction }
                });
            }
            OverdueStage::Late => {
                myself.send_after(escalate_at.saturating_sub(out_for), move || {
                    WeaponMsg::EscalateCheck { transaction }
                });
            }
            OverdueStage::Escalated => {}
        }
    }

    /// The expected return time passed: overdue, unless it came back.
    pub(super) async fn overdue_check(&mut self, myself: &ActorRef<WeaponMsg>, transaction: Uuid) {
        let still_out = matches!(
            &self.condition,
            Condition::SignedOut { transaction: out, .. } if *out == transaction
        );
        if !still_out || self.overdue != OverdueStage::OnTime {
            return;
        }
        self.overdue = OverdueStage::Late;
        self.overdue_alert(transaction, "weapon_overdue", Severity::Warning)
            .await;
        myself.send_after(self.rule.escalate_after(), move || {
            WeaponMsg::EscalateCheck { transaction }
        });
    }

    /// Still out after the escalation period: tell the supervisors.
    pub(super) async fn escalate_check(&mut self, transaction: Uuid) {
        let still_out = matches!(
            &self.condition,
            Condition::SignedOut { transaction: out, .. } if *out == transaction
        );
        if !still_out || self.overdue != OverdueStage::Late {
            return;
        }
        self.overdue = OverdueStage::Escalated;
        let kind = "weapon_overdue_escalated";
        self.overdue_alert(transaction, kind, Severity::Critical)
            .await;
    }

    /// Back after being overdue: the alert clears.
    pub(super) async fn overdue_cleared(&mut self, transaction: Uuid) {
        if self.overdue == OverdueStage::OnTime {
            return;
        }
        self.overdue = OverdueStage::OnTime;
        self.overdue_alert(transaction, "weapon_overdue_cleared", Severity::Info)
            .await;
    }

    async fn overdue_alert(&self, transaction: Uuid, kind: &'static str, severity: Severity) {
        let mut happening = self.happening();
        happening.transaction = Some(transaction);
        happening.employee_id = self.weapon.holder.clone();
        let entry = happening.audit_entry(AuditAction::Overdue, Decision::Recorded, kind);
        if let Err(error) = self.services.store.commit(entry, None).await {
            tracing::error!(weapon = %self.weapon.asset_tag, %error, kind, "not recorded");
        }
        let holder = self
            .weapon
            .holder
            .as_ref()
            .map(|h| h.to_string())
            .unwrap_or_else(|| "-".into());
        let message = match kind {
            "weapon_overdue_cleared" => format!("{} is back", self.weapon.asset_tag),
            _ => format!("{} is overdue from {holder}", self.weapon.asset_tag),
        };
        let alert = Alert {
            kind,
            severity,
            badge: None,
            message,
        };
        happening.alert(&self.services, alert);
    }
}
