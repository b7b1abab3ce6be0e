//! The guard against an import that takes too much away at once.
//!
//! A roster import replaces the roster: whoever is not in the file leaves,
//! and with them go their certifications and PIN hashes, which a later
//! import of the full roster cannot bring back. A short or truncated export
//! would therefore lock most of the agency out until everyone re-enrols.
//! A training import replaces the certifications in force, so a short
//! training export would strip most officers of the certifications they
//! draw weapons with. A roster that would remove more than
//! [`RemovalLimit::allowed`] people, or a training export that would take
//! a certification valid now from more people than that (see
//! [`losing_certifications`]), is refused whole unless
//! [`ImportOptions::allow_removals`] is set, which only `armory import
//! roster|training --allow-removals` does; the watched inbox never sets it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use armory_actors::domain::{Certification, EmployeeId};
use jiff::Timestamp;

use super::report::ImportKind;
use crate::config::Config;

/// How many people a roster import may remove, and a training import may
/// take a valid certification from, without an explicit override: the
/// larger of a number of people and a share of the people in force
/// (`[agency] max_roster_removals` and `max_roster_removal_percent`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemovalLimit {
    /// Removals always allowed, however small the roster.
    pub people: u32,
    /// Removals allowed as a share of the people in force, in percent
    /// (0 to 100), rounded down.
    pub percent: u32,
}

impl RemovalLimit {
    /// The default: 25 people or 10 percent, whichever is larger.
    pub const DEFAULT: RemovalLimit = RemovalLimit {
        people: 25,
        percent: 10,
    };

    /// How many of `in_force` people one import may remove (or take a
    /// valid certification from).
    pub fn allowed(&self, in_force: usize) -> usize {
        let share = in_force.saturating_mul(self.percent as usize) / 100;
        share.max(self.people as usize)
    }
}

impl Default for RemovalLimit {
    fn default() -> Self {
        RemovalLimit::DEFAULT
    }
}

impl fmt::Display for RemovalLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the larger of {} people and {}% of the roster",
            self.people, self.percent
        )
    }
}

/// How an import is applied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// The most people a roster may remove, or a training export may take
    /// a valid certification from, unless `allow_removals`.
    pub removal_limit: RemovalLimit,
    /// Applies an import that goes beyond the limit.
    pub allow_removals: bool,
    /// Checks the file and reports what it would change, writing nothing.
    pub dry_run: bool,
}

impl ImportOptions {
    /// The configured limit, no override, applied for real.
    pub fn from_config(config: &Config) -> ImportOptions {
        ImportOptions {
            removal_limit: config.agency.roster_removal_limit,
            ..ImportOptions::default()
        }
    }
}

/// A roster that would remove more people than the limit allows, or a
/// training export that would take a valid certification from more.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TooManyRemovals {
    /// Which export: a roster removes people, a training export takes
    /// their certifications.
    pub kind: ImportKind,
    /// People on the roster in force.
    pub in_force: usize,
    /// The people the file would remove (a roster) or take a valid
    /// certification from (a training export), in id order.
    pub removed: Vec<EmployeeId>,
    /// How many it may remove.
    pub allowed: usize,
    /// The rule the limit comes from.
    pub limit: RemovalLimit,
}

/// How many removed ids the refusal names before it only counts them.
const NAMED: usize = 10;

impl fmt::Display for TooManyRemovals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let removed = self.removed.len();
        let (would, named_as, consequence) = match self.kind {
            ImportKind::Roster => (
                "remove",
                "it would remove",
                "those people would lose their certifications and PINs for good",
            ),
            ImportKind::Training => (
                "take a valid certification from",
                "people who would lose one",
                "those people would be denied the weapons of the classes they lose \
                 until a training import restores the certifications",
            ),
        };
        let (command, export) = (self.kind.as_str(), self.kind.export());
        write!(
            f,
            "it would {would} {removed} of the {} people on the roster in force, \
             more than the {} an import may {would} ({}; [agency] \
             max_roster_removals and max_roster_removal_percent)",
            self.in_force, self.allowed, self.limit
        )?;
        let named: Vec<&str> = self
            .removed
            .iter()
            .take(NAMED)
            .map(|id| id.as_str())
            .collect();
        write!(f, "\n{named_as}: {}", named.join(", "))?;
        if removed > NAMED {
            write!(f, " and {} more", removed - NAMED)?;
        }
        write!(
            f,
            "\n{consequence}.\n\
             If the file is the complete {export}, see every change with \
             `armory import {command} FILE --dry-run`, then apply it with \
             `armory import {command} FILE --allow-removals`"
        )
    }
}

/// `Some` refusal if `removed` of `in_force` people is more than `options`
/// allow for an import of `kind`.
pub(super) fn check(
    options: &ImportOptions,
    kind: ImportKind,
    in_force: usize,
    removed: Vec<EmployeeId>,
) -> Option<TooManyRemovals> {
    let allowed = options.removal_limit.allowed(in_force);
    (removed.len() > allowed).then_some(TooManyRemovals {
        kind,
        in_force,
        removed,
        allowed,
        limit: options.removal_limit,
    })
}

/// The people, in id order, who hold a certification in `old` that is
/// valid at `at` for some weapon class and would hold none valid at `at`
/// for that class among `new`: a training import of `new` would take that
/// class from them. Certifications already expired do not count, nor
/// does a renewal or another course for the same class.
pub(super) fn losing_certifications(
    old: &BTreeMap<EmployeeId, Vec<Certification>>,
    new: &[Certification],
    at: Timestamp,
) -> Vec<EmployeeId> {
    // `expires_at` is the last valid instant, as in the access rules.
    let valid = |certification: &&Certification| at <= certification.expires_at;
    let kept: BTreeSet<_> = new
        .iter()
        .filter(valid)
        .map(|certification| (&certification.employee_id, certification.class))
        .collect();

    old.iter()
        .filter(|(employee_id, certifications)| {
            certifications
                .iter()
                .filter(valid)
                .any(|certification| !kept.contains(&(*employee_id, certification.class)))
        })
        .map(|(employee_id, _)| employee_id.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use armory_actors::domain::WeaponClass;

    use super::*;

    #[test]
    fn the_limit_is_the_larger_of_people_and_share() {
        let limit = RemovalLimit::DEFAULT;
        assert_eq!(limit.allowed(0), 25);
        assert_eq!(limit.allowed(100), 25);
        assert_eq!(limit.allowed(612), 61);
        assert_eq!(limit.allowed(10_000), 1_000);
        let none = RemovalLimit {
            people: 0,
            percent: 0,
        };
        assert_eq!(none.allowed(612), 0);
    }

    #[test]
    fn a_removal_at_the_limit_passes_and_one_more_is_refused() {
        let options = ImportOptions::default();
        let ids = |n: usize| (0..n).map(|i| EmployeeId(format!("E{i:05}"))).collect();
        let roster = ImportKind::Roster;
        assert_eq!(check(&options, roster, 612, ids(61)), None);
        let refused = check(&options, roster, 612, ids(62)).expect("over the limit");
        assert_eq!((refused.allowed, refused.removed.len()), (61, 62));
        let text = refused.to_string();
        assert!(text.contains("remove 62 of the 612 people"), "{text}");
        assert!(text.contains("E00009 and 52 more"), "{text}");
        assert!(text.contains("--allow-removals"), "{text}");
    }

    #[test]
    fn a_training_refusal_counts_people_who_lose_a_valid_certification() {
        let ids = |n: usize| (0..n).map(|i| EmployeeId(format!("E{i:05}"))).collect();
        let refused = check(
            &ImportOptions::default(),
            ImportKind::Training,
            612,
            ids(70),
        )
        .expect("over the limit");
        let text = refused.to_string();
        assert!(
            text.contains("take a valid certification from 70 of the 612"),
            "{text}"
        );
        assert!(
            text.contains("armory import training FILE --allow-removals"),
            "{text}"
        );
    }

    #[test]
    fn only_a_valid_certification_without_a_valid_replacement_is_lost() {
        let at: Timestamp = "2026-12-03T14:00:00Z".parse().expect("an instant");
        let cert = |id: &str, class: WeaponClass, expires_at: &str| Certification {
            employee_id: EmployeeId::from(id),
            course_code: "QUAL".to_owned(),
            class,
            completed_on: jiff::civil::date(2026, 1, 1),
            expires_at: expires_at.parse().expect("an instant"),
            instructor: EmployeeId::from("E00000"),
        };
        let (cew, rifle) = (WeaponClass::Cew, WeaponClass::PatrolRifle);
        let valid = "2027-01-01T00:00:00Z";
        let expired = "2026-01-01T00:00:00Z";
        let mut old = BTreeMap::new();
        for (id, class, expires_at) in [
            ("E1", cew, valid),   // kept as it is
            ("E2", cew, valid),   // replaced by an expired one: lost
            ("E3", cew, expired), // already expired: nothing to lose
            ("E4", rifle, valid), // dropped from the file: lost
            ("E5", cew, valid),   // renewed: kept
            ("E5", rifle, valid), // only the other class: lost
        ] {
            let entry: &mut Vec<_> = old.entry(EmployeeId::from(id)).or_default();
            entry.push(cert(id, class, expires_at));
        }
        let new = [
            cert("E1", cew, valid),
            cert("E2", cew, expired),
            cert("E5", cew, "2028-01-01T00:00:00Z"),
            cert("E5", cew, valid),
        ];
        let lost: Vec<_> = losing_certifications(&old, &new, at);
        let lost: Vec<&str> = lost.iter().map(EmployeeId::as_str).collect();
        assert_eq!(lost, ["E2", "E4", "E5"]);
    }
}
