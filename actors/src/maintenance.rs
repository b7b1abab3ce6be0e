//! The armory's service policy, from the `[maintenance]` table of the
//! configuration: when a weapon is due for service (after so many
//! sign-outs, days, or rounds deployed, whichever comes first), whether a
//! due weapon may still be issued, when a signed-out weapon is overdue, and
//! when an overdue weapon escalates to supervisors.
//!
//! [`ServiceDue::check`] is a pure function of the counters and the date,
//! so the thresholds are tested without actors or clocks.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::domain::WeaponClass;

/// The whole service policy.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MaintenancePolicy {
    /// Rules per class; a class not listed gets [`ServiceRule::default`].
    pub classes: BTreeMap<WeaponClass, ServiceRule>,
}

/// What a due weapon may still do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenDue {
    /// Still issued; the armory is alerted.
    #[default]
    Warn,
    /// No longer issued until serviced.
    Block,
}

/// The service rule of one weapon class.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceRule {
    /// Due after this many sign-outs since the last service.
    pub sign_outs: u32,
    /// Due this many days after the last service.
    pub days: u32,
    /// Due after this many cartridges or rounds deployed since service.
    pub deployments: u32,
    /// Whether a due weapon is still issued.
    pub when_due: WhenDue,
    /// A weapon out longer than this is overdue.
    pub expected_return_hours: u64,
    /// An overdue weapon escalates to supervisors after this much more.
    pub escalate_after_hours: u64,
}

impl Default for ServiceRule {
    fn default() -> Self {
        Self {
            sign_outs: 500,
            days: 365,
            deployments: 100,
            when_due: WhenDue::Warn,
            expected_return_hours: 14,
            escalate_after_hours: 2,
        }
    }
}

impl ServiceRule {
    /// How long a sign-out may last before it is overdue.
    pub fn expected_return(&self) -> Duration {
        Duration::from_secs(self.expected_return_hours.saturating_mul(3600))
    }

    /// How long after overdue the supervisors are told.
    pub fn escalate_after(&self) -> Duration {
        Duration::from_secs(self.escalate_after_hours.saturating_mul(3600))
    }
}

impl MaintenancePolicy {
    /// The rule of a class.
    pub fn class(&self, class: WeaponClass) -> ServiceRule {
        self.classes.get(&class).cloned().unwrap_or_default()
    }

    /// Every value that makes no sense, as `(key, message)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        for (class, rule) in &self.classes {
            let numbers = [
                ("sign_outs", u64::from(rule.sign_outs)),
                ("days", u64::from(rule.days)),
                ("deployments", u64::from(rule.deployments)),
                ("expected_return_hours", rule.expected_return_hours),
                ("escalate_after_hours", rule.escalate_after_hours),
            ];
            for (key, value) in numbers {
                if value == 0 {
                    problems.push((
                        format!("classes.{class}.{key}"),
                        "must be at least 1".into(),
                    ));
                }
            }
        }
        problems
    }
}

/// Why a weapon is due for service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceDue {
    /// Its sign-outs reached the limit.
    SignOuts,
    /// Its days since service reached the limit.
    Days,
    /// Its deployments reached the limit.
    Deployments,
}

impl ServiceDue {
    /// The reason code for audit rows and alerts.
    pub fn code(self) -> &'static str {
        match self {
            ServiceDue::SignOuts => "due_by_sign_outs",
            ServiceDue::Days => "due_by_days",
            ServiceDue::Deployments => "due_by_deployments",
        }
    }

    /// Whether a weapon with these counters is due on `today`, and why
    /// (the first threshold reached, in the order sign-outs, deployments,
    /// days).
    pub fn check(rule: &ServiceRule, counters: &UseCounters, today: Date) -> Option<ServiceDue> {
        if counters.sign_outs_since_service >= rule.sign_outs {
            return Some(ServiceDue::SignOuts);
        }
        if counters.deployments_since_service >= rule.deployments {
            return Some(ServiceDue::Deployments);
        }
        let days = counters.last_service_date.until(today).ok()?.get_days();
        (days >= i32::try_from(rule.days).unwrap_or(i32::MAX)).then_some(ServiceDue::Days)
    }
}

/// The counters that decide when a weapon is due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UseCounters {
    /// Sign-outs since last service.
    pub sign_outs_since_service: u32,
    /// Rounds or cartridges deployed since last service.
    pub deployments_since_service: u32,
    /// The last service.
    pub last_service_date: Date,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters(sign_outs: u32, deployments: u32, last: &str) -> UseCounters {
        UseCounters {
            sign_outs_since_service: sign_outs,
            deployments_since_service: deployments,
            last_service_date: last.parse().expect("valid date"),
        }
    }

    #[test]
    fn the_first_threshold_reached_makes_a_weapon_due() {
        let rule = ServiceRule {
            sign_outs: 10,
            days: 30,
            deployments: 5,
            ..ServiceRule::default()
        };
        let today: Date = "2026-12-03".parse().expect("valid date");
        assert_eq!(
            ServiceDue::check(&rule, &counters(9, 4, "2026-11-04"), today),
            None
        );
        assert_eq!(
            ServiceDue::check(&rule, &counters(10, 0, "2026-11-04"), today),
            Some(ServiceDue::SignOuts)
        );
        assert_eq!(
            ServiceDue::check(&rule, &counters(0, 5, "2026-11-04"), today),
            Some(ServiceDue::Deployments)
        );
        assert_eq!(
            ServiceDue::check(&rule, &counters(0, 0, "2026-11-03"), today),
            Some(ServiceDue::Days)
        );
    }

    #[test]
    fn the_policy_parses_and_refuses_zero_limits() {
        let text = "[classes.cew]\nsign_outs = 0\nwhen_due = \"block\"";
        let policy: MaintenancePolicy = toml::from_str(text).expect("shape is valid");
        assert_eq!(policy.class(WeaponClass::Cew).when_due, WhenDue::Block);
        assert_eq!(policy.problems().len(), 1);
        assert!(toml::from_str::<MaintenancePolicy>("[classes.cew]\nsignouts = 3").is_err());
    }
}
