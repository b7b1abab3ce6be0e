//! A locker's memory of who is locked out and who waits for a second
//! person: plain bookkeeping, owned by the locker actor so that every
//! reader of the locker sees the same state.
//!
//! Lockouts: each wrong PIN for a badge is remembered for the policy's
//! window; when the count in the window reaches the policy's limit the
//! badge is locked out until the lockout period ends or a supervisor clears
//! it. A correct PIN forgets the earlier failures.
//!
//! Dual authorization: a first person's granted-in-principle request
//! waits, oldest first, until a second person authorizes it or its window
//! passes.

use std::collections::{HashMap, VecDeque};

use jiff::{SignedDuration, Timestamp};
use uuid::Uuid;

use crate::domain::{BadgeUid, EmployeeId, ReaderId, Role, WeaponClass};
use crate::policy::DualRule;
use crate::protocol::seal::later_by;
use crate::rules::Reason;

/// Failures and lockouts per badge.
#[derive(Debug, Default)]
pub struct Lockouts {
    badges: HashMap<BadgeUid, BadgeRecord>,
}

#[derive(Debug, Default)]
struct BadgeRecord {
    failures: VecDeque<Timestamp>,
    locked_until: Option<Timestamp>,
}

/// What a wrong PIN led to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureOutcome {
    /// Counted; `remaining` more within the window lock the badge out.
    Counted {
        /// Wrong PINs still allowed.
        remaining: u32,
    },
    /// This failure locked the badge out until the instant given.
    LockedOut {
        /// When the lockout ends by itself.
        until: Timestamp,
    },
}

impl Lockouts {
    /// When the badge's lockout ends, if it is locked out at `now`.
    pub fn locked_until(&mut self, badge: &BadgeUid, now: Timestamp) -> Option<Timestamp> {
        let record = self.badges.get_mut(badge)?;
        match record.locked_until {
            Some(until) if now < until => Some(until),
            Some(_) => {
                record.locked_until = None;
                record.failures.clear();
                None
            }
            None => None,
        }
    }

    /// Records a wrong PIN.
    pub fn failed(
        &mut self,
        badge: &BadgeUid,
        now: Timestamp,
        attempts: u32,
        window: SignedDuration,
        lockout: SignedDuration,
    ) -> FailureOutcome {
        let record = self.badges.entry(badge.clone()).or_default();
        let window_start = now.checked_sub(window).unwrap_or(Timestamp::MIN);
        record.failures.retain(|at| *at > window_start);
        record.failures.push_back(now);

        let count = u32::try_from(record.failures.len()).unwrap_or(u32::MAX);
        if count >= attempts {
            let until = later_by(now, lockout);
            record.locked_until = Some(until);
            record.failures.clear();
            FailureOutcome::LockedOut { until }
        } else {
            FailureOutcome::Counted {
                remaining: attempts - count,
            }
        }
    }

    /// A correct PIN: earlier failures no longer count.
    pub fn succeeded(&mut self, badge: &BadgeUid) {
        if let Some(record) = self.badges.get_mut(badge) {
            record.failures.clear();
        }
    }

    /// Clears every lockout and failure; returns how many badges were
    /// locked out.
    pub fn clear(&mut self, now: Timestamp) -> usize {
        let locked = self
            .badges
            .values()
            .filter(|r| r.locked_until.is_some_and(|until| now < until))
            .count();
        self.badges.clear();
        locked
    }
}

/// A sign-out that waits for a second person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingDual {
    /// Its id, for the expiry timer.
    pub id: Uuid,
    /// The first person.
    pub holder: EmployeeId,
    /// Their badge.
    pub badge: BadgeUid,
    /// The class asked for.
    pub class: WeaponClass,
    /// Where the first person asked.
    pub reader: ReaderId,
    /// Who may be the second person.
    pub rule: DualRule,
}

/// Requests waiting for a second person, oldest first.
#[derive(Debug, Default)]
pub struct DualQueue {
    waiting: VecDeque<PendingDual>,
}

impl DualQueue {
    /// Adds a waiting request; a person asking again replaces their own.
    pub fn push(&mut self, pending: PendingDual) {
        self.waiting.retain(|p| p.holder != pending.holder);
        self.waiting.push_back(pending);
    }

    /// Takes the oldest waiting request for `second` to authorize, if they
    /// are another person with a role its rule names; otherwise it stays.
    pub fn take_for(&mut self, second: &EmployeeId, role: Role) -> Result<PendingDual, Reason> {
        let oldest = self.waiting.front().ok_or(Reason::NothingToAuthorize)?;
        if oldest.holder == *second {
            return Err(Reason::SecondPersonSame);
        }
        if !oldest.rule.roles.contains(&role) {
            return Err(Reason::SecondPersonNotPermitted);
        }
        self.waiting.pop_front().ok_or(Reason::NothingToAuthorize)
    }

    /// Removes a request whose window has passed; `None` if it was taken.
    pub fn expire(&mut self, id: Uuid) -> Option<PendingDual> {
        let index = self.waiting.iter().position(|p| p.id == id)?;
        self.waiting.remove(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(1_780_000_000 + second).expect("valid instant")
    }

    #[test]
    fn the_nth_wrong_pin_within_the_window_locks_out_until_the_period_ends() {
        let badge = BadgeUid::parse("618C664A").expect("valid");
        let mut lockouts = Lockouts::default();
        let window = SignedDuration::from_secs(60);
        let period = SignedDuration::from_secs(300);

        assert_eq!(
            lockouts.failed(&badge, at(0), 3, window, period),
            FailureOutcome::Counted { remaining: 2 }
        );
        // The first failure falls out of the window before the third.
        lockouts.failed(&badge, at(30), 3, window, period);
        assert_eq!(
            lockouts.failed(&badge, at(61), 3, window, period),
            FailureOutcome::Counted { remaining: 1 }
        );
        assert_eq!(
            lockouts.failed(&badge, at(62), 3, window, period),
            FailureOutcome::LockedOut { until: at(362) }
        );
        assert_eq!(lockouts.locked_until(&badge, at(361)), Some(at(362)));
        assert_eq!(lockouts.locked_until(&badge, at(362)), None);
    }

    #[test]
    fn a_waiting_sign_out_goes_only_to_another_permitted_person() {
        let mut queue = DualQueue::default();
        let pending = PendingDual {
            id: Uuid::new_v4(),
            holder: EmployeeId::from("E1"),
            badge: BadgeUid::parse("618C664A").expect("valid"),
            class: WeaponClass::PatrolRifle,
            reader: ReaderId::from("R1"),
            rule: DualRule {
                roles: vec![Role::Supervisor],
                window_seconds: 60,
            },
        };
        let first = EmployeeId::from("E1");
        let other = EmployeeId::from("E2");
        assert_eq!(
            queue.take_for(&other, Role::Supervisor),
            Err(Reason::NothingToAuthorize)
        );
        queue.push(pending.clone());
        assert_eq!(
            queue.take_for(&first, Role::Supervisor),
            Err(Reason::SecondPersonSame)
        );
        assert_eq!(
            queue.take_for(&other, Role::Officer),
            Err(Reason::SecondPersonNotPermitted)
        );
        assert_eq!(
            queue.take_for(&other, Role::Supervisor),
            Ok(pending.clone())
        );
        queue.push(pending.clone());
        assert_eq!(queue.expire(pending.id), Some(pending.clone()));
        assert_eq!(queue.expire(pending.id), None);
    }

    #[test]
    fn a_correct_pin_forgets_failures_and_a_supervisor_clears_lockouts() {
        let badge = BadgeUid::parse("618C664A").expect("valid");
        let mut lockouts = Lockouts::default();
        let window = SignedDuration::from_secs(60);
        let period = SignedDuration::from_secs(300);
        lockouts.failed(&badge, at(0), 2, window, period);
        lockouts.succeeded(&badge);
        assert_eq!(
            lockouts.failed(&badge, at(1), 2, window, period),
            FailureOutcome::Counted { remaining: 1 }
        );
        lockouts.failed(&badge, at(2), 2, window, period);
        assert!(lockouts.locked_until(&badge, at(3)).is_some());
        assert_eq!(lockouts.clear(at(3)), 1);
        assert_eq!(lockouts.locked_until(&badge, at(3)), None);
    }
}
