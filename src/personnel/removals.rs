//! The guard against a roster that removes too many people at once.
//!
//! A roster import replaces the roster: whoever is not in the file leaves,
//! and with them go their certifications and PIN hashes, which a later
//! import of the full roster cannot bring back. A short or truncated export
//! would therefore lock most of the agency out until everyone re-enrols.
//! An import that would remove more than [`RemovalLimit::allowed`] people
//! is refused whole unless [`ImportOptions::allow_removals`] is set, which
//! only `armory import roster --allow-removals` does; the watched inbox
//! never sets it.

use std::fmt;

use armory_actors::domain::EmployeeId;

use crate::config::Config;

/// How many people a roster import may remove without an explicit
/// override: the larger of a number of people and a share of the people
/// in force (`[agency] max_roster_removals` and
/// `max_roster_removal_percent`).
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

    /// How many of `in_force` people one import may remove.
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
    /// The most people a roster may remove unless `allow_removals`.
    pub removal_limit: RemovalLimit,
    /// Applies a roster that removes more people than the limit.
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

/// A roster that would remove more people than the limit allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TooManyRemovals {
    /// People on the roster in force.
    pub in_force: usize,
    /// The people the file would remove, in id order.
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
        write!(
            f,
            "it would remove {removed} of the {} people on the roster in force, \
             more than the {} an import may remove ({}; [agency] \
             max_roster_removals and max_roster_removal_percent)",
            self.in_force, self.allowed, self.limit
        )?;
        let named: Vec<&str> = self
            .removed
            .iter()
            .take(NAMED)
            .map(|id| id.as_str())
            .collect();
        write!(f, "\nit would remove: {}", named.join(", "))?;
        if removed > NAMED {
            write!(f, " and {} more", removed - NAMED)?;
        }
        write!(
            f,
            "\nthose people would lose their certifications and PINs for good.\n\
             If the file is the complete roster, see every change with \
             `armory import roster FILE --dry-run`, then apply it with \
             `armory import roster FILE --allow-removals`"
        )
    }
}

/// `Some` refusal if `removed` of `in_force` people is more than `options`
/// allow.
pub(super) fn check(
    options: &ImportOptions,
    in_force: usize,
    removed: Vec<EmployeeId>,
) -> Option<TooManyRemovals> {
    let allowed = options.removal_limit.allowed(in_force);
    (removed.len() > allowed).then_some(TooManyRemovals {
        in_force,
        removed,
        allowed,
        limit: options.removal_limit,
    })
}

#[cfg(test)]
mod tests {
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
        assert_eq!(check(&options, 612, ids(61)), None);
        let refused = check(&options, 612, ids(62)).expect("over the limit");
        assert_eq!((refused.allowed, refused.removed.len()), (61, 62));
        let text = refused.to_string();
        assert!(text.contains("remove 62 of the 612 people"), "{text}");
        assert!(text.contains("E00009 and 52 more"), "{text}");
        assert!(text.contains("--allow-removals"), "{text}");
    }
}
