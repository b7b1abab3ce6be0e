//! One weapon: the only place its transitions happen.
//!
//! A weapon is available, reserved for a granted sign-out whose door has
//! not closed yet, signed out to one holder, opened for service by an
//! armorer, or unavailable (due for service under a blocking policy,
//! quarantined after a problem report, out of service, retired). Because
//! every change goes through this actor's mailbox, two requests for the
//! same weapon are served one after the other and only the first
//! reservation wins. Every change is made durable (audit row and weapon row
//! in one transaction) before the state changes here and before the new
//! state is published.
//!
//! Its life beyond the door lives in [`lifecycle`]: use counters and
//! service-due alerts, problem reports and quarantine, overdue returns and
//! their escalation, and the armorer's service record.
//!
//! Messages: see [`WeaponMsg`].

mod lifecycle;

use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use uuid::Uuid;

use crate::activity::Happening;
use crate::domain::{AssetTag, CompartmentNo, EmployeeId, ServiceStatus, Weapon, WeaponClass};
use crate::maintenance::{ServiceDue, ServiceRule, WhenDue};
use crate::ports::WeaponChange;
use crate::ports::{
    AuditAction, AuditEntry, Decision, OverdueStage, ProblemNote, ServiceNote, StoreError,
};
use crate::protocol::{Topic, UnlockPurpose, WeaponCondition, WeaponStatePayload, SCHEMA_VERSION};
use crate::rules::Reason;
use crate::services::Services;

pub use lifecycle::ReportEffect;

/// How often a weapon checks whether it has become due by days.
pub const DUE_CHECK_EVERY: Duration = Duration::from_secs(3600);

/// The weapon actor.
pub struct WeaponActor;

/// What a weapon actor starts from.
#[derive(Clone, Debug)]
pub struct WeaponArguments {
    /// The weapon as stored.
    pub weapon: Weapon,
    /// Shared services.
    pub services: Services,
}

/// A weapon's live state.
pub struct WeaponState {
    weapon: Weapon,
    condition: Condition,
    services: Services,
    rule: ServiceRule,
    /// Why it is due, once the service-due alert has been raised.
    due: Option<ServiceDue>,
    /// How far an overdue sign-out has gone.
    overdue: OverdueStage,
    /// Who last returned it, for a problem reported right after a return.
    last_holder: Option<(EmployeeId, tokio::time::Instant)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Condition {
    /// In its compartment; issuable or not depending on its status.
    InCompartment,
    Reserved {
        transaction: Uuid,
        holder: EmployeeId,
    },
    SignedOut {
        holder: EmployeeId,
        transaction: Uuid,
        returning: Option<Uuid>,
    },
    Servicing {
        transaction: Uuid,
    },
}

/// A snapshot of a weapon for its locker's choices and state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeaponView {
    /// Asset tag.
    pub asset_tag: AssetTag,
    /// Class.
    pub class: WeaponClass,
    /// Home compartment.
    pub compartment: CompartmentNo,
    /// Condition.
    pub condition: WeaponCondition,
    /// Service status.
    pub status: ServiceStatus,
    /// Holder while signed out or reserved.
    pub holder: Option<EmployeeId>,
    /// Sign-outs since service, for least-used selection.
    pub sign_outs_since_service: u32,
}

/// Why a weapon refused a reservation or a return.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WeaponRefusal {
    /// Not in a state that allows it.
    #[error("weapon is {condition:?}")]
    NotAvailable {
        /// Its condition.
        condition: WeaponCondition,
    },
    /// Held by someone else, or not at all.
    #[error("weapon is not held by this person")]
    NotHolder,
}

/// Messages to a weapon.
pub enum WeaponMsg {
    /// Report the current view.
    Status(RpcReplyPort<WeaponView>),
    /// Reserve for a granted sign-out.
    Reserve {
        /// The sign-out.
        transaction: Uuid,
        /// Who will take it.
        holder: EmployeeId,
        /// Whether it was reserved.
        reply: RpcReplyPort<Result<(), WeaponRefusal>>,
    },
    /// Drop a reservation, a pending return or a service opening that
    /// will not complete.
    Release {
        /// The transaction.
        transaction: Uuid,
    },
    /// The door closed on an empty compartment: the sign-out happened.
    ConfirmSignOut {
        /// The sign-out.
        transaction: Uuid,
        /// Whether it is recorded.
        reply: RpcReplyPort<Result<(), StoreError>>,
    },
    /// A holder asked to return it.
    BeginReturn {
        /// The return.
        transaction: Uuid,
        /// Who asks.
        holder: EmployeeId,
        /// Whether the return may go ahead.
        reply: RpcReplyPort<Result<(), WeaponRefusal>>,
    },
    /// The door closed with the weapon inside: the return happened.
    ConfirmReturn {
        /// The return.
        transaction: Uuid,
        /// Whether it is recorded.
        reply: RpcReplyPort<Result<(), StoreError>>,
    },
    /// An armorer opens its compartment for service.
    BeginService {
        /// The opening.
        transaction: Uuid,
        /// Whether it may open.
        reply: RpcReplyPort<Result<(), WeaponRefusal>>,
    },
    /// The service opening's door closed.
    EndService {
        /// The opening.
        transaction: Uuid,
    },
    /// The panel reports on it: rounds deployed, a problem.
    Report {
        /// The panel event's id; its first audit row carries it.
        event_id: Uuid,
        /// Who reports.
        reporter: EmployeeId,
        /// Rounds deployed.
        deployments: Option<u32>,
        /// The problem.
        problem: Option<ProblemNote>,
        /// What came of it, or why it was refused.
        reply: RpcReplyPort<Result<ReportEffect, Reason>>,
    },
    /// An armorer records its service.
    Serviced {
        /// The panel event's id; its audit row carries it.
        event_id: Uuid,
        /// What was done.
        note: ServiceNote,
        /// Whether it is recorded now (false: it was before, a
        /// redelivery), or why it was refused.
        reply: RpcReplyPort<Result<bool, Reason>>,
    },
    /// The expected return time of a sign-out has passed.
    OverdueCheck {
        /// The sign-out.
        transaction: Uuid,
    },
    /// The escalation time of an overdue sign-out has passed.
    EscalateCheck {
        /// The sign-out.
        transaction: Uuid,
    },
    /// Check whether it has become due by days.
    DueCheck,
}

impl Actor for WeaponActor {
    type Msg = WeaponMsg;
    type State = WeaponState;
    type Arguments = WeaponArguments;

    async fn pre_start(
        &self,
        myself: ActorRef<WeaponMsg>,
        args: WeaponArguments,
    ) -> Result<WeaponState, ActorProcessingErr> {
        let mut condition = match &args.weapon.holder {
            Some(holder) => Condition::SignedOut {
                holder: holder.clone(),
                transaction: Uuid::nil(),
                returning: None,
            },
            None => Condition::InCompartment,
        };

        // A grant written ahead but never completed (the service or this
        // actor restarted mid sign-out or return) resumes where it was.
        match args
            .services
            .store
            .open_grant(args.weapon.asset_tag.clone())
            .await
        {
            Ok(Some(grant)) => {
                condition = match (grant.purpose, condition) {
                    (UnlockPurpose::SignOut, Condition::InCompartment) => Condition::Reserved {
                        transaction: grant.transaction,
                        holder: grant.holder,
                    },
                    (
                        UnlockPurpose::Return,
                        Condition::SignedOut {
                            holder,
                            transaction,
                            ..
                        },
                    ) => Condition::SignedOut {
                        holder,
                        transaction,
                        returning: Some(grant.transaction),
                    },
                    (_, unchanged) => unchanged,
                };
            }
            Ok(None) => {}
            Err(error) => {
                tracing::error!(weapon = %args.weapon.asset_tag, %error, "open grant not read");
            }
        }
        // Out when the service started: the store knows the sign-out, when
        // it began, and which overdue alerts already went out.
        let mut outstanding = None;
        if let Condition::SignedOut { transaction, .. } = &mut condition {
            match args
                .services
                .store
                .outstanding_sign_out(args.weapon.asset_tag.clone())
                .await
            {
                Ok(Some(sign_out)) => {
                    *transaction = sign_out.transaction;
                    outstanding = Some(sign_out);
                }
                Ok(None) => {}
                Err(error) => {
                    tracing::error!(weapon = %args.weapon.asset_tag, %error, "sign-out not read");
                }
            }
        }

        let rule = args.services.maintenance.class(args.weapon.class);
        let due = (args.weapon.status == ServiceStatus::NeedsService).then_some(ServiceDue::Days);
        let mut state = WeaponState {
            weapon: args.weapon,
            condition,
            services: args.services,
            rule,
            due,
            overdue: OverdueStage::OnTime,
            last_holder: None,
        };
        state.publish();
        myself.send_interval(DUE_CHECK_EVERY, || WeaponMsg::DueCheck);
        if let Some(sign_out) = outstanding {
            state.resume_overdue(&myself, &sign_out);
        }
        Ok(state)
    }

    async fn handle(
        &self,
        myself: ActorRef<WeaponMsg>,
        message: WeaponMsg,
        state: &mut WeaponState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            WeaponMsg::Status(reply) => {
                let _ = reply.send(state.view());
            }
            WeaponMsg::Reserve {
                transaction,
                holder,
                reply,
            } => {
                let _ = reply.send(state.reserve(transaction, holder));
            }
            WeaponMsg::Release { transaction } => state.release(transaction),
            WeaponMsg::ConfirmSignOut { transaction, reply } => {
                let outcome = state.confirm_sign_out(&myself, transaction).await;
                let _ = reply.send(outcome);
            }
            WeaponMsg::BeginReturn {
                transaction,
                holder,
                reply,
            } => {
                let _ = reply.send(state.begin_return(transaction, &holder));
            }
            WeaponMsg::ConfirmReturn { transaction, reply } => {
                let outcome = state.confirm_return(transaction).await;
                let _ = reply.send(outcome);
            }
            WeaponMsg::BeginService { transaction, reply } => {
                let _ = reply.send(state.begin_service(transaction));
            }
            WeaponMsg::EndService { transaction } => state.end_service(transaction),
            WeaponMsg::Report {
                event_id,
                reporter,
                deployments,
                problem,
                reply,
            } => {
                let outcome = state.report(event_id, reporter, deployments, problem).await;
                let _ = reply.send(outcome);
            }
            WeaponMsg::Serviced {
                event_id,
                note,
                reply,
            } => {
                let _ = reply.send(state.serviced(event_id, note).await);
            }
            WeaponMsg::OverdueCheck { transaction } => {
                state.overdue_check(&myself, transaction).await;
            }
            WeaponMsg::EscalateCheck { transaction } => state.escalate_check(transaction).await,
            WeaponMsg::DueCheck => state.check_due().await,
        }
        Ok(())
    }
}

impl WeaponState {
    fn issuable(&self) -> bool {
        let warn = self.rule.when_due == WhenDue::Warn;
        match self.weapon.status {
            // Under `block`, a weapon whose counters already reach a
            // threshold is due even before a check has flagged it (the
            // day check runs hourly, and a weapon loaded with high
            // counters is flagged only then): it is not issued meanwhile.
            ServiceStatus::InService => warn || self.due_by_counters().is_none(),
            ServiceStatus::NeedsService => warn,
            ServiceStatus::OutOfService | ServiceStatus::Quarantined | ServiceStatus::Retired => {
                false
            }
        }
    }

    fn view(&self) -> WeaponView {
        let holder = match &self.condition {
            Condition::Reserved { holder, .. } | Condition::SignedOut { holder, .. } => {
                Some(holder.clone())
            }
            Condition::InCompartment | Condition::Servicing { .. } => None,
        };
        WeaponView {
            asset_tag: self.weapon.asset_tag.clone(),
            class: self.weapon.class,
            compartment: self.weapon.compartment,
            condition: self.public_condition(),
            status: self.weapon.status,
            holder,
            sign_outs_since_service: self.weapon.sign_outs_since_service,
        }
    }

    fn public_condition(&self) -> WeaponCondition {
        match self.condition {
            Condition::InCompartment if self.issuable() => WeaponCondition::Available,
            Condition::InCompartment | Condition::Servicing { .. } => WeaponCondition::Unavailable,
            Condition::Reserved { .. } => WeaponCondition::Reserved,
            Condition::SignedOut { .. } => WeaponCondition::SignedOut,
        }
    }

    fn reserve(&mut self, transaction: Uuid, holder: EmployeeId) -> Result<(), WeaponRefusal> {
        if self.public_condition() != WeaponCondition::Available {
            return Err(WeaponRefusal::NotAvailable {
                condition: self.public_condition(),
            });
        }
        self.condition = Condition::Reserved {
            transaction,
            holder,
        };
        self.publish();
        Ok(())
    }

    fn release(&mut self, transaction: Uuid) {
        match &mut self.condition {
            Condition::Reserved {
                transaction: reserved,
                ..
            }
            | Condition::Servicing {
                transaction: reserved,
            } if *reserved == transaction => {
                self.condition = Condition::InCompartment;
                self.publish();
            }
            Condition::SignedOut { returning, .. } if *returning == Some(transaction) => {
                *returning = None;
            }
            _ => {}
        }
    }

    async fn confirm_sign_out(
        &mut self,
        myself: &ActorRef<WeaponMsg>,
        transaction: Uuid,
    ) -> Result<(), StoreError> {
        let holder = match &self.condition {
            Condition::Reserved {
                transaction: reserved,
                holder,
            } if *reserved == transaction => holder.clone(),
            _ => {
                return Err(StoreError::Conflict {
                    detail: format!(
                        "{} is not reserved for {transaction}",
                        self.weapon.asset_tag
                    ),
                })
            }
        };

        let at = self.services.clock.now();
        let entry = self.record(AuditAction::SignedOut, &holder, transaction, "signed_out");
        let change = WeaponChange::SignedOut {
            asset_tag: self.weapon.asset_tag.clone(),
            holder: holder.clone(),
            transaction,
            at,
        };
        self.services.store.commit(entry, Some(change)).await?;

        self.weapon.sign_outs_since_service += 1;
        self.weapon.total_sign_outs += 1;
        self.weapon.holder = Some(holder.clone());
        self.condition = Condition::SignedOut {
            holder,
            transaction,
            returning: None,
        };
        self.overdue = OverdueStage::OnTime;
        myself.send_after(self.rule.expected_return(), move || {
            WeaponMsg::OverdueCheck { transaction }
        });
        metrics::counter!("armory_sign_outs_total", "weapon_class" => self.weapon.class.as_str())
            .increment(1);
        self.publish();
        self.check_due().await;
        Ok(())
    }

    fn begin_return(
        &mut self,
        transaction: Uuid,
        holder: &EmployeeId,
    ) -> Result<(), WeaponRefusal> {
        match &mut self.condition {
            Condition::SignedOut {
                holder: current,
                returning,
                ..
            } if current == holder => {
                *returning = Some(transaction);
                Ok(())
            }
            _ => Err(WeaponRefusal::NotHolder),
        }
    }

    async fn confirm_return(&mut self, transaction: Uuid) -> Result<(), StoreError> {
        let holder = match &self.condition {
            Condition::SignedOut {
                holder,
                returning: Some(returning),
                ..
            } if *returning == transaction => holder.clone(),
            _ => {
                return Err(StoreError::Conflict {
                    detail: format!("{} has no return {transaction}", self.weapon.asset_tag),
                })
            }
        };

        let at = self.services.clock.now();
        let entry = self.record(AuditAction::Returned, &holder, transaction, "returned");
        let change = WeaponChange::Returned {
            asset_tag: self.weapon.asset_tag.clone(),
            holder: holder.clone(),
            transaction,
            at,
        };
        self.services.store.commit(entry, Some(change)).await?;

        self.weapon.holder = None;
        self.condition = Condition::InCompartment;
        self.last_holder = Some((holder, tokio::time::Instant::now()));
        metrics::counter!("armory_returns_total", "weapon_class" => self.weapon.class.as_str())
            .increment(1);
        self.publish();
        self.overdue_cleared(transaction).await;
        Ok(())
    }

    fn begin_service(&mut self, transaction: Uuid) -> Result<(), WeaponRefusal> {
        if self.condition != Condition::InCompartment {
            return Err(WeaponRefusal::NotAvailable {
                condition: self.public_condition(),
            });
        }
        self.condition = Condition::Servicing { transaction };
        self.publish();
        Ok(())
    }

    fn end_service(&mut self, transaction: Uuid) {
        if self.condition == (Condition::Servicing { transaction }) {
            self.condition = Condition::InCompartment;
            self.publish();
        }
    }

    /// An audit row about this weapon.
    fn record(
        &self,
        action: AuditAction,
        person: &EmployeeId,
        transaction: Uuid,
        reason: &str,
    ) -> AuditEntry {
        let mut entry = self
            .happening()
            .audit_entry(action, Decision::Recorded, reason);
        entry.employee_id = Some(person.clone());
        entry.transaction = Some(transaction);
        entry
    }

    /// A happening at this weapon's compartment.
    fn happening(&self) -> Happening {
        let mut happening = Happening::at_locker(
            &self.weapon.site,
            &self.weapon.locker,
            self.services.clock.now(),
        );
        happening.weapon_class = Some(self.weapon.class);
        happening.asset_tag = Some(self.weapon.asset_tag.clone());
        happening.compartment = Some(self.weapon.compartment);
        happening
    }

    fn publish(&self) {
        let view = self.view();
        let topic = Topic::WeaponState {
            site: self.weapon.site.clone(),
            locker: self.weapon.locker.clone(),
            asset_tag: self.weapon.asset_tag.clone(),
        };
        let payload = WeaponStatePayload {
            v: SCHEMA_VERSION,
            asset_tag: view.asset_tag,
            weapon_class: view.class,
            site: self.weapon.site.clone(),
            locker: self.weapon.locker.clone(),
            compartment: view.compartment,
            condition: view.condition,
            service_status: self.weapon.status.as_str().to_owned(),
            holder: view.holder,
            sign_outs_since_service: self.weapon.sign_outs_since_service,
            total_sign_outs: self.weapon.total_sign_outs,
            at: self.services.clock.now(),
        };
        self.services.bus.publish_state(topic.name(), &payload);
    }
}
