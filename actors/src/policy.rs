//! The agency's access policy, from the `[access]` table of the
//! configuration: which roles may draw each weapon class, whether a
//! certification is required, at which sites, whether a second person must
//! authorize, which second factor each locker requires, and how repeated
//! wrong PINs lock a badge out.
//!
//! Everything has a default, so a configuration without `[access]` gets
//! the conservative policy: officers, supervisors and armorers may draw
//! any class they are certified for, at any site, with the factor their
//! reader takes; five wrong PINs in five minutes lock a badge out of that
//! locker for fifteen minutes.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::domain::{LockerId, ReaderKind, Role, SiteId, WeaponClass};
use crate::rules::Reason;

/// The whole access policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccessPolicy {
    /// The second factor lockers require unless overridden.
    pub second_factor: SecondFactor,
    /// Wrong PINs for one badge at one locker, within the window, that lock
    /// the badge out there.
    pub lockout_attempts: u32,
    /// The window in which wrong PINs are counted.
    pub lockout_window_seconds: u64,
    /// How long a lockout lasts unless a supervisor clears it.
    pub lockout_seconds: u64,
    /// Rules per weapon class; a class not listed gets [`ClassRule::default`].
    pub classes: BTreeMap<WeaponClass, ClassRule>,
    /// Overrides per locker.
    pub lockers: BTreeMap<LockerId, LockerRule>,
}

impl Default for AccessPolicy {
    fn default() -> Self {
        Self {
            second_factor: SecondFactor::Reader,
            lockout_attempts: 5,
            lockout_window_seconds: 300,
            lockout_seconds: 900,
            classes: BTreeMap::new(),
            lockers: BTreeMap::new(),
        }
    }
}

/// Which second factor, besides the badge, a locker requires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecondFactor {
    /// Whatever the reader takes: a PIN on a keypad reader, a fingerprint
    /// on a biometric reader.
    Reader,
    /// A PIN; fingerprint readers of such a locker refuse every scan.
    Pin,
    /// A fingerprint; keypad readers of such a locker refuse every scan.
    Fingerprint,
}

/// Overrides for one locker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockerRule {
    /// The second factor this locker requires.
    pub second_factor: SecondFactor,
}

/// The rule for one weapon class.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClassRule {
    /// Roles that may draw it.
    pub roles: Vec<Role>,
    /// Whether a current certification for the class is required.
    pub certification_required: bool,
    /// Sites whose lockers issue it; empty means every site.
    pub sites: Vec<SiteId>,
    /// A second, different person who must authorize each sign-out.
    pub dual_authorization: Option<DualRule>,
}

impl Default for ClassRule {
    fn default() -> Self {
        Self {
            roles: vec![Role::Officer, Role::Supervisor, Role::Armorer],
            certification_required: true,
            sites: Vec::new(),
            dual_authorization: None,
        }
    }
}

/// Dual authorization: who may be the second person, and how soon.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DualRule {
    /// Roles the second person may have.
    pub roles: Vec<Role>,
    /// The second person must badge within this many seconds of the first.
    pub window_seconds: u64,
}

impl DualRule {
    /// The window as a duration.
    pub fn window(&self) -> Duration {
        Duration::from_secs(self.window_seconds)
    }
}

/// A value of the policy that makes no sense.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("access.{key}: {message}")]
pub struct PolicyProblem {
    /// The key, e.g. `classes.patrol_rifle.roles`.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl AccessPolicy {
    /// Every problem with the values (shape is checked by serde).
    pub fn problems(&self) -> Vec<PolicyProblem> {
        let mut problems = Vec::new();
        let mut problem = |key: String, message: &str| {
            problems.push(PolicyProblem {
                key,
                message: message.to_owned(),
            })
        };
        if self.lockout_attempts == 0 {
            problem("lockout_attempts".into(), "must be at least 1");
        }
        if self.lockout_window_seconds == 0 {
            problem("lockout_window_seconds".into(), "must be at least 1");
        }
        if self.lockout_seconds == 0 {
            problem("lockout_seconds".into(), "must be at least 1");
        }
        for (class, rule) in &self.classes {
            if rule.roles.is_empty() {
                let key = format!("classes.{class}.roles");
                problem(
                    key,
                    "no role may draw this class; remove the class or name a role",
                );
            }
            if let Some(dual) = &rule.dual_authorization {
                if dual.roles.is_empty() {
                    let key = format!("classes.{class}.dual_authorization.roles");
                    problem(key, "name at least one role for the second person");
                }
                if dual.window_seconds == 0 {
                    let key = format!("classes.{class}.dual_authorization.window_seconds");
                    problem(key, "must be at least 1");
                }
            }
        }
        problems
    }

    /// The rule for a class.
    pub fn class(&self, class: WeaponClass) -> ClassRule {
        self.classes.get(&class).cloned().unwrap_or_default()
    }

    /// The second factor a locker requires.
    pub fn second_factor(&self, locker: &LockerId) -> SecondFactor {
        self.lockers
            .get(locker)
            .map_or(self.second_factor, |rule| rule.second_factor)
    }

    /// Whether a reader of `kind` at `locker` can take the required factor.
    pub fn reader_allowed(&self, locker: &LockerId, kind: ReaderKind) -> Result<(), Reason> {
        match (self.second_factor(locker), kind) {
            (SecondFactor::Reader, _)
            | (SecondFactor::Pin, ReaderKind::BadgePin)
            | (SecondFactor::Fingerprint, ReaderKind::BadgeFingerprint) => Ok(()),
            _ => Err(Reason::MissingFactor),
        }
    }

    /// The lockout window.
    pub fn lockout_window(&self) -> jiff::SignedDuration {
        jiff::SignedDuration::from_secs(self.lockout_window_seconds.min(i64::MAX as u64) as i64)
    }

    /// How long a lockout lasts.
    pub fn lockout_duration(&self) -> jiff::SignedDuration {
        jiff::SignedDuration::from_secs(self.lockout_seconds.min(i64::MAX as u64) as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_table_is_the_default_policy() {
        let policy: AccessPolicy = toml::from_str("").expect("empty is valid");
        assert_eq!(policy, AccessPolicy::default());
        assert!(policy.problems().is_empty());
        let rule = policy.class(WeaponClass::PatrolRifle);
        assert!(rule.certification_required);
        assert!(!rule.roles.contains(&Role::Admin));
    }

    #[test]
    fn classes_lockers_and_dual_rules_parse() {
        let text = r#"
            second_factor = "pin"
            [lockers.SLM-L2]
            second_factor = "reader"
            [classes.patrol_rifle]
            roles = ["officer", "supervisor"]
            sites = ["SLM"]
            dual_authorization = { roles = ["supervisor"], window_seconds = 60 }
        "#;
        let policy: AccessPolicy = toml::from_str(text).expect("valid");
        let rifle = policy.class(WeaponClass::PatrolRifle);
        assert_eq!(rifle.sites, vec![SiteId::from("SLM")]);
        let dual = rifle.dual_authorization.expect("dual rule");
        assert_eq!(dual.window(), Duration::from_secs(60));
        let l1 = LockerId::from("SLM-L1");
        let l2 = LockerId::from("SLM-L2");
        assert_eq!(
            policy.reader_allowed(&l1, ReaderKind::BadgeFingerprint),
            Err(Reason::MissingFactor)
        );
        assert_eq!(
            policy.reader_allowed(&l2, ReaderKind::BadgeFingerprint),
            Ok(())
        );
    }

    #[test]
    fn unknown_keys_and_nonsense_values_are_refused() {
        assert!(toml::from_str::<AccessPolicy>("lockout_attempt = 3").is_err());
        assert!(toml::from_str::<AccessPolicy>("[classes.rifle]\nroles = []").is_err());
        let policy: AccessPolicy =
            toml::from_str("lockout_attempts = 0\n[classes.cew]\nroles = []").expect("shape ok");
        let keys: Vec<_> = policy.problems().into_iter().map(|p| p.key).collect();
        assert_eq!(keys, ["lockout_attempts", "classes.cew.roles"]);
    }
}
