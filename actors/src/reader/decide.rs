//! The decision for one scan, before anything is written: who is this,
//! may they, and what happens.
//!
//! The order of the checks is part of the policy: a locked-out badge is
//! refused before its PIN is even checked; identity (badge and second
//! factor) before status; status, role, site and certification before a
//! weapon is reserved.

use uuid::Uuid;

use super::{ReaderArguments, Scan};
use crate::domain::{BadgeUid, EmployeeId, Person, Role, WeaponClass};
use crate::locker::{Allocation, FailureOutcome, LockerMsg, PendingDual};
use crate::ports::AuditAction;
use crate::protocol::AccessRequest;
use crate::rules::{self, Credentials, Draw, Reason};

/// What a scan leads to.
#[derive(Debug)]
pub(super) enum Outcome {
    /// A compartment opens for `holder`.
    Open {
        /// The weapon and compartment.
        allocation: Allocation,
        /// Who takes or returns the weapon.
        holder: EmployeeId,
        /// Their badge, for the grant's audit row.
        holder_badge: BadgeUid,
        /// The waiting sign-out this authorizes, for dual authorization.
        authorized: Option<Box<PendingDual>>,
    },
    /// Nothing opens; the attempt is refused.
    Denied(Reason),
    /// Nothing opens; the attempt did what it asked (waits for a second
    /// person, cleared lockouts).
    Recorded(Reason),
}

/// The checks' conclusion.
#[derive(Debug)]
pub(super) struct Verdict {
    /// The badge, if it parsed.
    pub badge: Option<BadgeUid>,
    /// The person proven by badge and second factor.
    pub person: Option<Person>,
    /// What the audit row records.
    pub action: AuditAction,
    /// What happens.
    pub outcome: Outcome,
}

impl ReaderArguments {
    pub(super) async fn decide(&self, scan: &Scan, transaction: Uuid) -> Verdict {
        let action = super::audit_action(scan.request);
        let mut verdict = Verdict {
            badge: None,
            person: None,
            action,
            outcome: Outcome::Denied(Reason::BadRequest),
        };

        let Ok(badge) = BadgeUid::parse(&scan.badge_uid) else {
            return verdict;
        };
        verdict.badge = Some(badge.clone());
        let person = match self.identify(scan, &badge).await {
            Ok(person) => person,
            Err(reason) => {
                verdict.outcome = Outcome::Denied(reason);
                return verdict;
            }
        };
        verdict.person = Some(person.clone());

        verdict.outcome = match scan.request {
            AccessRequest::SignOut { weapon_class } => {
                self.sign_out(&person, &badge, weapon_class, transaction)
                    .await
            }
            AccessRequest::Return => match self.find_held(&person, transaction).await {
                Ok(allocation) => Outcome::Open {
                    allocation,
                    holder: person.employee_id.clone(),
                    holder_badge: badge,
                    authorized: None,
                },
                Err(reason) => Outcome::Denied(reason),
            },
            AccessRequest::Authorize => self.authorize(&person, transaction).await,
            AccessRequest::ClearLockouts => self.clear_lockouts(&person).await,
            AccessRequest::Acknowledge => self.acknowledge(&person).await,
            AccessRequest::Service { compartment } => {
                self.service(&person, &badge, compartment, transaction)
                    .await
            }
        };
        verdict
    }

    /// Badge, lockout, factor policy, second factor.
    async fn identify(&self, scan: &Scan, badge: &BadgeUid) -> Result<Person, Reason> {
        self.services
            .policy
            .reader_allowed(&self.locker, self.kind)?;
        let locked = self
            .ask_locker(|reply| LockerMsg::LockedUntil {
                badge: badge.clone(),
                reply,
            })
            .await?;
        if locked.is_some() {
            return Err(Reason::BadgeLockedOut);
        }

        let pin = match &scan.pin_sealed {
            Some(sealed) => Some(
                self.key
                    .open_pin(sealed, &scan.event_id)
                    .map_err(|_| Reason::BadRequest)?,
            ),
            None => None,
        };
        let typed_pin = pin.is_some();
        let credentials = Credentials {
            badge: badge.clone(),
            pin,
            fingerprint_match: scan.fingerprint_match,
        };

        // Argon2 is slow on purpose; keep it off the async workers. A
        // fingerprint verdict needs no hashing and is checked in place.
        let personnel = self.services.personnel.snapshot();
        let kind = self.kind;
        let checked = if credentials.pin.is_none() {
            rules::identify(&personnel, kind, &credentials).cloned()
        } else {
            tokio::task::spawn_blocking(move || {
                rules::identify(&personnel, kind, &credentials).cloned()
            })
            .await
            .map_err(|error| {
                tracing::error!(%error, "identity check failed");
                Reason::StoreUnavailable
            })?
        };

        match checked {
            Err(Reason::WrongPin) => {
                let failed = self
                    .ask_locker(|reply| LockerMsg::PinFailed {
                        badge: badge.clone(),
                        reader: self.reader.clone(),
                        reply,
                    })
                    .await;
                if let Ok(FailureOutcome::LockedOut { .. }) = failed {
                    tracing::warn!(
                        locker = %self.locker,
                        badge = badge.fingerprint(),
                        "badge locked out"
                    );
                }
                Err(Reason::WrongPin)
            }
            Err(reason) => Err(reason),
            Ok(person) => {
                if typed_pin {
                    let accepted = LockerMsg::PinAccepted {
                        badge: badge.clone(),
                    };
                    self.parent.cast(accepted).ok();
                }
                Ok(person)
            }
        }
    }

    async fn sign_out(
        &self,
        person: &Person,
        badge: &BadgeUid,
        class: WeaponClass,
        transaction: Uuid,
    ) -> Outcome {
        let policy = &self.services.policy;
        let rule = policy.class(class);
        let personnel = self.services.personnel.snapshot();
        let draw = Draw {
            class,
            rule: &rule,
            site: &self.site,
            now: self.services.clock.now(),
        };
        let certifications = personnel.certifications_of(&person.employee_id);
        if let Err(reason) = rules::may_draw(person, certifications, draw) {
            return Outcome::Denied(reason);
        }

        if let Some(dual) = rule.dual_authorization.clone() {
            let pending = PendingDual {
                id: Uuid::new_v4(),
                holder: person.employee_id.clone(),
                badge: badge.clone(),
                class,
                reader: self.reader.clone(),
                rule: dual,
            };
            let waiting = LockerMsg::AwaitSecondPerson(Box::new(pending));
            return match self.parent.cast(waiting) {
                Ok(()) => Outcome::Recorded(Reason::AwaitingSecondPerson),
                Err(_) => Outcome::Denied(Reason::StoreUnavailable),
            };
        }

        match self.allocate(class, &person.employee_id, transaction).await {
            Ok(allocation) => Outcome::Open {
                allocation,
                holder: person.employee_id.clone(),
                holder_badge: badge.clone(),
                authorized: None,
            },
            Err(reason) => Outcome::Denied(reason),
        }
    }

    async fn authorize(&self, second: &Person, transaction: Uuid) -> Outcome {
        if let Err(reason) = rules::may_act(second) {
            return Outcome::Denied(reason);
        }
        let taken = self
            .ask_locker(|reply| LockerMsg::TakeWaiting {
                second: second.employee_id.clone(),
                role: second.role,
                reply,
            })
            .await;
        let pending = match taken {
            Ok(Ok(pending)) => pending,
            Ok(Err(reason)) | Err(reason) => return Outcome::Denied(reason),
        };
        match self
            .allocate(pending.class, &pending.holder, transaction)
            .await
        {
            Ok(allocation) => Outcome::Open {
                allocation,
                holder: pending.holder.clone(),
                holder_badge: pending.badge.clone(),
                authorized: Some(Box::new(pending)),
            },
            Err(reason) => Outcome::Denied(reason),
        }
    }

    async fn service(
        &self,
        person: &Person,
        badge: &BadgeUid,
        compartment: crate::domain::CompartmentNo,
        transaction: Uuid,
    ) -> Outcome {
        if let Err(reason) = rules::may_act(person) {
            return Outcome::Denied(reason);
        }
        if person.role != Role::Armorer {
            return Outcome::Denied(Reason::RoleNotPermitted);
        }
        let asked = self
            .ask_locker(|reply| LockerMsg::ForService {
                compartment,
                transaction,
                reply,
            })
            .await;
        match asked {
            Ok(Ok(allocation)) => Outcome::Open {
                allocation,
                holder: person.employee_id.clone(),
                holder_badge: badge.clone(),
                authorized: None,
            },
            Ok(Err(reason)) | Err(reason) => Outcome::Denied(reason),
        }
    }

    async fn acknowledge(&self, person: &Person) -> Outcome {
        if let Err(reason) = rules::may_act(person) {
            return Outcome::Denied(reason);
        }
        if !matches!(person.role, Role::Supervisor | Role::Armorer | Role::Admin) {
            return Outcome::Denied(Reason::RoleNotPermitted);
        }
        match self
            .ask_locker(|reply| LockerMsg::Acknowledge { reply })
            .await
        {
            Ok(()) => Outcome::Recorded(Reason::AlarmsAcknowledged),
            Err(reason) => Outcome::Denied(reason),
        }
    }

    async fn clear_lockouts(&self, person: &Person) -> Outcome {
        if let Err(reason) = rules::may_act(person) {
            return Outcome::Denied(reason);
        }
        if !matches!(person.role, Role::Supervisor | Role::Admin) {
            return Outcome::Denied(Reason::RoleNotPermitted);
        }
        match self
            .ask_locker(|reply| LockerMsg::ClearLockouts { reply })
            .await
        {
            Ok(cleared) => {
                tracing::info!(
                    locker = %self.locker,
                    cleared,
                    supervisor = %person.employee_id,
                    "lockouts cleared"
                );
                Outcome::Recorded(Reason::LockoutsCleared)
            }
            Err(reason) => Outcome::Denied(reason),
        }
    }

    async fn allocate(
        &self,
        weapon_class: WeaponClass,
        holder: &EmployeeId,
        transaction: Uuid,
    ) -> Result<Allocation, Reason> {
        self.ask_locker(|reply| LockerMsg::Allocate {
            weapon_class,
            holder: holder.clone(),
            transaction,
            reply,
        })
        .await?
    }

    async fn find_held(&self, person: &Person, transaction: Uuid) -> Result<Allocation, Reason> {
        self.ask_locker(|reply| LockerMsg::FindHeld {
            holder: person.employee_id.clone(),
            transaction,
            reply,
        })
        .await?
    }

    /// Asks the locker; a locker that does not answer means deny.
    pub(super) async fn ask_locker<T: Send + 'static>(
        &self,
        message: impl FnOnce(ractor::RpcReplyPort<T>) -> LockerMsg,
    ) -> Result<T, Reason> {
        match self.parent.call(message, None).await {
            Ok(ractor::rpc::CallResult::Success(answer)) => Ok(answer),
            _ => {
                tracing::error!(locker = %self.locker, "locker did not answer; denying");
                Err(Reason::StoreUnavailable)
            }
        }
    }
}
