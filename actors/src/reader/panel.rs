//! Reports from the locker panel during an open session: rounds deployed
//! and problems found (any holder), and service records (armorers).
//!
//! The panel identifies the session by its badge; the report is accepted
//! only about a weapon that person holds (or has just returned), or, for a
//! service record, from an armorer. A report that is refused changes
//! nothing and is audited as an anomaly with its reason. A problem found
//! while the sign-out is still open puts the weapon back (quarantined) and
//! offers the holder another weapon of the class at once.
//!
//! Each panel event is audited once by its event id: the weapon's first
//! row for it, or its refusal, carries the id. A redelivered event finds
//! its row and has no further effect; so does the refusal its locker
//! writes, as `reader_failed`, for one left waiting when this actor fails.

use uuid::Uuid;

use super::{ReaderArguments, Shown};
use crate::activity::Happening;
use crate::domain::{AssetTag, BadgeUid, Person, Role, ServiceStatus};
use crate::locker::LockerMsg;
use crate::ports::{AuditAction, Decision, ProblemCode, ProblemNote, ServiceNote, StoreError};
use crate::protocol::{DeviceEvent, ProblemPayload, UnlockPurpose};
use crate::rules::{self, Reason};
use crate::weapon::{ReportEffect, WeaponMsg};

impl ReaderArguments {
    /// Handles one panel event; answers on the reader's display.
    pub(super) async fn on_panel(&mut self, event_id: Uuid, event: DeviceEvent) {
        let (badge_text, asset_tag) = match &event {
            DeviceEvent::PanelReport {
                badge_uid,
                asset_tag,
                ..
            }
            | DeviceEvent::ServiceRecord {
                badge_uid,
                asset_tag,
                ..
            } => (badge_uid.clone(), asset_tag.clone()),
            _ => return,
        };
        let mut happening =
            Happening::at_locker(&self.site, &self.locker, self.services.clock.now());
        happening.reader = Some(self.reader.clone());
        happening.asset_tag = Some(asset_tag.clone());

        let person = BadgeUid::parse(&badge_text)
            .ok()
            .and_then(|badge| self.services.personnel.snapshot().by_badge(&badge).cloned());
        let Some(person) = person else {
            return self
                .refuse(&happening, event_id, Reason::UnknownBadge)
                .await;
        };
        happening.employee_id = Some(person.employee_id.clone());

        let shown = match event {
            DeviceEvent::PanelReport {
                deployments,
                problem,
                ..
            } => {
                self.panel_report(&person, &asset_tag, deployments, problem, event_id)
                    .await
            }
            DeviceEvent::ServiceRecord {
                work,
                function_test_passed,
                outcome,
                notes,
                ..
            } => {
                let record = Record {
                    work,
                    function_test_passed,
                    outcome,
                    notes,
                };
                self.service_record(&person, &asset_tag, record, event_id)
                    .await
            }
            _ => return,
        };
        match shown {
            Ok(Some(shown)) => self.show_outcome(event_id, &shown),
            Ok(None) => {
                metrics::counter!("armory_device_events_duplicate_total").increment(1);
                tracing::debug!(
                    reader = %self.reader,
                    event = %event_id,
                    "panel event already recorded"
                );
            }
            Err(reason) => self.refuse(&happening, event_id, reason).await,
        }
    }

    async fn panel_report(
        &self,
        person: &Person,
        asset_tag: &AssetTag,
        deployments: Option<u32>,
        problem: Option<ProblemPayload>,
        event_id: Uuid,
    ) -> Result<Option<Shown>, Reason> {
        let problem = match problem {
            Some(payload) => Some(ProblemNote {
                code: payload
                    .code
                    .parse::<ProblemCode>()
                    .map_err(|_| Reason::UnknownProblemCode)?,
                text: payload.text,
                reporter: person.employee_id.clone(),
                at: self.services.clock.now(),
            }),
            None => None,
        };
        let (weapon, class, _) = self.weapon_by_tag(asset_tag).await?;
        let effect = ractor::call!(weapon, |reply| WeaponMsg::Report {
            event_id,
            reporter: person.employee_id.clone(),
            deployments,
            problem,
            reply,
        })
        .map_err(|_| Reason::StoreUnavailable)??;

        match effect {
            ReportEffect::Redelivered => return Ok(None),
            ReportEffect::Recorded => return Ok(Some(Shown::refused(Reason::ReportRecorded))),
            ReportEffect::PutBack => {}
        }
        // Put back: offer another weapon of the class at once.
        let transaction = Uuid::new_v4();
        let allocation = self
            .ask_locker(|reply| LockerMsg::Allocate {
                weapon_class: class,
                holder: person.employee_id.clone(),
                transaction,
                reply,
            })
            .await?;
        let Ok(allocation) = allocation else {
            return Ok(Some(Shown::refused(Reason::NoWeaponAvailable)));
        };
        let mut grant = Happening::at_locker(&self.site, &self.locker, self.services.clock.now());
        grant.reader = Some(self.reader.clone());
        let grant = super::with_allocation(grant, &allocation, transaction);
        let opening = super::Opening {
            allocation,
            holder: person.employee_id.clone(),
            holder_badge: person.badge.clone(),
            grant_row: true,
            transaction,
            purpose: UnlockPurpose::SignOut,
        };
        tracing::info!(reader = %self.reader, event = %event_id, "offering another weapon");
        let shown = self.open(&grant, opening).await;
        if shown.granted {
            metrics::counter!(
                "armory_access_decisions_total",
                "decision" => "granted",
                "reason" => "granted",
                "weapon_class" => class.as_str(),
            )
            .increment(1);
        }
        Ok(Some(shown))
    }

    async fn service_record(
        &self,
        person: &Person,
        asset_tag: &AssetTag,
        record: Record,
        event_id: Uuid,
    ) -> Result<Option<Shown>, Reason> {
        rules::may_act(person)?;
        if person.role != Role::Armorer {
            return Err(Reason::RoleNotPermitted);
        }
        let outcome = match record.outcome.as_str() {
            "release" => ServiceStatus::InService,
            "retire" => ServiceStatus::Retired,
            _ => return Err(Reason::BadRequest),
        };
        let (weapon, _, _) = self.weapon_by_tag(asset_tag).await?;
        let date = self
            .services
            .clock
            .now()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date();
        let note = ServiceNote {
            work: record.work,
            function_test_passed: record.function_test_passed,
            outcome,
            notes: record.notes,
            armorer: person.employee_id.clone(),
            date,
        };
        let recorded = ractor::call!(weapon, |reply| WeaponMsg::Serviced {
            event_id,
            note,
            reply
        })
        .map_err(|_| Reason::StoreUnavailable)??;
        Ok(recorded.then(|| Shown::refused(Reason::ServiceRecorded)))
    }

    async fn weapon_by_tag(
        &self,
        asset_tag: &AssetTag,
    ) -> Result<
        (
            ractor::ActorRef<WeaponMsg>,
            crate::domain::WeaponClass,
            crate::domain::CompartmentNo,
        ),
        Reason,
    > {
        self.ask_locker(|reply| LockerMsg::WeaponByTag {
            asset_tag: asset_tag.clone(),
            reply,
        })
        .await?
        .ok_or(Reason::BadRequest)
    }

    async fn refuse(&self, happening: &Happening, event_id: Uuid, reason: Reason) {
        let mut entry =
            happening.audit_entry(AuditAction::Anomaly, Decision::Denied, reason.code());
        entry.event_id = Some(event_id);
        match self.services.store.commit(entry, None).await {
            Ok(_) => {}
            // Refused before: a redelivery, nothing more to do.
            Err(StoreError::Duplicate { .. }) => return,
            Err(error) => {
                tracing::error!(reader = %self.reader, %error, "refused report not recorded");
            }
        }
        metrics::counter!("armory_anomalies_total", "reason" => reason.code()).increment(1);
        happening.announce(&self.services, "anomaly", reason.code());
        tracing::warn!(reader = %self.reader, reason = reason.code(), "panel report refused");
        self.show_outcome(event_id, &Shown::refused(reason));
    }
}

/// A service record as the panel sent it.
struct Record {
    work: Vec<String>,
    function_test_passed: bool,
    outcome: String,
    notes: Option<String>,
}
