//! The `[access]` table's references to the armory's sites and lockers.
//!
//! The configuration is read before the armory's layout is known (it comes
//! from the store, seeded from the agency files), so a site or locker id
//! misspelt in `[access]` passes the file's own checks. Once the service
//! has loaded the layout, [`check_access_references`] compares every id the
//! policy names with it, and refuses the start naming the file, the key,
//! the unknown id and the ids the armory has. Weapon classes and roles need
//! no such check: they are a fixed vocabulary, and serde refuses any other
//! word when the file is read.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use armory_actors::domain::Armory;

use super::Config;

/// An id in `[access]` that the armory does not have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReferenceProblem {
    /// The dotted key, e.g. `access.classes.cew.sites`.
    pub key: String,
    /// What is wrong, with the ids the armory has.
    pub message: String,
}

/// Why the service refuses a configuration against the armory it runs.
#[derive(Debug, thiserror::Error)]
#[error("{}", Listed { path, problems })]
pub struct ReferenceError {
    /// The configuration file, as given.
    pub path: PathBuf,
    /// Every unknown id, in key order.
    pub problems: Vec<ReferenceProblem>,
}

/// Renders problems one a line as `path: key: message`.
struct Listed<'a> {
    path: &'a PathBuf,
    problems: &'a [ReferenceProblem],
}

impl fmt::Display for Listed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (at, problem) in self.problems.iter().enumerate() {
            if at > 0 {
                f.write_str("\n")?;
            }
            write!(
                f,
                "{}: {}: {}",
                self.path.display(),
                problem.key,
                problem.message
            )?;
        }
        Ok(())
    }
}

/// Checks that every site and locker `config.access` names is in
/// `armory`; see the module documentation.
pub fn check_access_references(config: &Config, armory: &Armory) -> Result<(), ReferenceError> {
    let policy = &config.access;
    let mut problems = Vec::new();

    for (class, rule) in &policy.classes {
        for site in rule.sites.iter().filter(|s| !armory.sites.contains_key(*s)) {
            problems.push(ReferenceProblem {
                key: format!("access.classes.{class}.sites"),
                message: format!(
                    "no site {site} in the armory (sites: {})",
                    known_ids(&armory.sites)
                ),
            });
        }
    }

    for locker in policy.lockers.keys() {
        if !armory.lockers.contains_key(locker) {
            problems.push(ReferenceProblem {
                key: format!("access.lockers.{locker}"),
                message: format!(
                    "no locker {locker} in the armory (lockers: {})",
                    known_ids(&armory.lockers)
                ),
            });
        }
    }

    if problems.is_empty() {
        Ok(())
    } else {
        Err(ReferenceError {
            path: config.path().to_owned(),
            problems,
        })
    }
}

/// The keys of `map`, comma-separated, or `none` if it is empty: the ids
/// an error names beside an unknown one.
pub(crate) fn known_ids<K: fmt::Display, V>(map: &BTreeMap<K, V>) -> String {
    if map.is_empty() {
        return "none".to_owned();
    }
    map.keys()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use armory_actors::domain::{Locker, LockerId, Site, SiteId};

    use super::*;

    fn armory() -> Armory {
        let mut armory = Armory::default();
        for id in ["SLM", "NHD"] {
            let site = Site {
                id: SiteId::from(id),
                name: id.to_owned(),
                timezone: "UTC".to_owned(),
            };
            armory.sites.insert(site.id.clone(), site);
        }
        let locker = Locker {
            site: SiteId::from("SLM"),
            id: LockerId::from("SLM-L1"),
            model: "test".to_owned(),
            compartments: Vec::new(),
            readers: Vec::new(),
        };
        armory.lockers.insert(locker.id.clone(), locker);
        armory
    }

    fn config(access: &str) -> Config {
        let text = format!("{}\n{access}", Config::default_toml());
        Config::from_str_at(&text, Path::new("/etc/armory/armory.toml")).expect("valid shape")
    }

    #[test]
    fn known_ids_pass() {
        let config = config(
            "[access.classes.cew]\nsites = [\"SLM\"]\n\
             [access.lockers.SLM-L1]\nsecond_factor = \"pin\"",
        );
        assert!(check_access_references(&config, &armory()).is_ok());
    }

    #[test]
    fn every_unknown_site_and_locker_is_named_with_the_known_ones() {
        let config = config(
            "[access.classes.cew]\nsites = [\"NOPE\", \"SLM\"]\n\
             [access.lockers.NOPE-L9]\nsecond_factor = \"pin\"",
        );
        let error = check_access_references(&config, &armory()).expect_err("unknown ids");
        assert_eq!(
            error.to_string(),
            "/etc/armory/armory.toml: access.classes.cew.sites: \
             no site NOPE in the armory (sites: NHD, SLM)\n\
             /etc/armory/armory.toml: access.lockers.NOPE-L9: \
             no locker NOPE-L9 in the armory (lockers: SLM-L1)"
        );
    }
}
