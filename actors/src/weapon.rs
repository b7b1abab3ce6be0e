//! One weapon: the only place its transitions happen.
//!
//! A weapon is available, reserved for a granted sign-out whose door has not
//! closed yet, signed out to one holder, or unavailable (needs service, out
//! of service). Because every change goes through this actor's mailbox, two
//! requests for the same weapon are served one after the other and only the
//! first reservation wins. Sign-outs and returns are made durable (audit row
//! and weapon row in one transaction) before the state changes here and
//! before the new state is published.
//!
//! Messages: [`WeaponMsg::Status`], [`WeaponMsg::Reserve`],
//! [`WeaponMsg::Release`], [`WeaponMsg::ConfirmSignOut`],
//! [`WeaponMsg::BeginReturn`], [`WeaponMsg::ConfirmReturn`].

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use uuid::Uuid;

use crate::domain::{AssetTag, CompartmentNo, EmployeeId, ServiceStatus, Weapon, WeaponClass};
use crate::ports::{AuditAction, AuditEntry, Decision, StoreError, WeaponChange};
use crate::protocol::{Topic, WeaponCondition, WeaponStatePayload, SCHEMA_VERSION};
use crate::services::Services;

/// The weapon actor.
pub struct WeaponActor;

/// What a weapon actor starts from.
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
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Condition {
    Available,
    Reserved {
        transaction: Uuid,
        holder: EmployeeId,
    },
    SignedOut {
        holder: EmployeeId,
        returning: Option<Uuid>,
    },
    Unavailable,
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
    /// Drop a reservation or a pending return that will not complete.
    Release {
        /// The sign-out or return.
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
}

impl Actor for WeaponActor {
    type Msg = WeaponMsg;
    type State = WeaponState;
    type Arguments = WeaponArguments;

    async fn pre_start(
        &self,
        _myself: ActorRef<WeaponMsg>,
        args: WeaponArguments,
    ) -> Result<WeaponState, ActorProcessingErr> {
        let condition = match (&args.weapon.holder, args.weapon.status) {
            (Some(holder), _) => Condition::SignedOut {
                holder: holder.clone(),
                returning: None,
            },
            (None, ServiceStatus::InService) => Condition::Available,
            (None, _) => Condition::Unavailable,
        };
        let state = WeaponState {
            weapon: args.weapon,
            condition,
            services: args.services,
        };
        state.publish();
        Ok(state)
    }

    async fn handle(
        &self,
        _myself: ActorRef<WeaponMsg>,
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
                let outcome = state.reserve(transaction, holder);
                let _ = reply.send(outcome);
            }
            WeaponMsg::Release { transaction } => state.release(transaction),
            WeaponMsg::ConfirmSignOut { transaction, reply } => {
                let outcome = state.confirm_sign_out(transaction).await;
                let _ = reply.send(outcome);
            }
            WeaponMsg::BeginReturn {
                transaction,
                holder,
                reply,
            } => {
                let outcome = state.begin_return(transaction, &holder);
                let _ = reply.send(outcome);
            }
            WeaponMsg::ConfirmReturn { transaction, reply } => {
                let outcome = state.confirm_return(transaction).await;
                let _ = reply.send(outcome);
            }
        }
        Ok(())
    }
}

impl WeaponState {
    fn view(&self) -> WeaponView {
        let holder = match &self.condition {
            Condition::Reserved { holder, .. } | Condition::SignedOut { holder, .. } => {
                Some(holder.clone())
            }
            Condition::Available | Condition::Unavailable => None,
        };
        WeaponView {
            asset_tag: self.weapon.asset_tag.clone(),
            class: self.weapon.class,
            compartment: self.weapon.compartment,
            condition: self.public_condition(),
            holder,
            sign_outs_since_service: self.weapon.sign_outs_since_service,
        }
    }

    fn public_condition(&self) -> WeaponCondition {
        match self.condition {
            Condition::Available => WeaponCondition::Available,
            Condition::Reserved { .. } => WeaponCondition::Reserved,
            Condition::SignedOut { .. } => WeaponCondition::SignedOut,
            Condition::Unavailable => WeaponCondition::Unavailable,
        }
    }

    fn reserve(&mut self, transaction: Uuid, holder: EmployeeId) -> Result<(), WeaponRefusal> {
        if self.condition != Condition::Available {
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
            } if *reserved == transaction => {
                self.condition = Condition::Available;
                self.publish();
            }
            Condition::SignedOut { returning, .. } if *returning == Some(transaction) => {
                *returning = None;
            }
            _ => {}
        }
    }

    async fn confirm_sign_out(&mut self, transaction: Uuid) -> Result<(), StoreError> {
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
            returning: None,
        };
        metrics::counter!("armory_sign_outs_total", "weapon_class" => self.weapon.class.as_str())
            .increment(1);
        self.publish();
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
            holder,
            transaction,
            at,
        };
        self.services.store.commit(entry, Some(change)).await?;

        self.weapon.holder = None;
        self.condition = match self.weapon.status {
            ServiceStatus::InService => Condition::Available,
            _ => Condition::Unavailable,
        };
        metrics::counter!("armory_returns_total", "weapon_class" => self.weapon.class.as_str())
            .increment(1);
        self.publish();
        Ok(())
    }

    fn record(
        &self,
        action: AuditAction,
        holder: &EmployeeId,
        transaction: Uuid,
        reason: &str,
    ) -> AuditEntry {
        AuditEntry {
            event_id: None,
            at: self.services.clock.now(),
            site: self.weapon.site.clone(),
            locker: self.weapon.locker.clone(),
            reader: None,
            action,
            badge: None,
            employee_id: Some(holder.clone()),
            weapon_class: Some(self.weapon.class),
            asset_tag: Some(self.weapon.asset_tag.clone()),
            compartment: Some(self.weapon.compartment),
            decision: Decision::Recorded,
            reason: reason.to_owned(),
            transaction: Some(transaction),
        }
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
