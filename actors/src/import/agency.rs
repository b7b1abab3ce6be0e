//! The six files together: read them all, check that they agree, and
//! build the armory and its personnel.
//!
//! The good rows of a file are checked against each file they refer to,
//! but only when that file read without a fault; otherwise one bad site
//! row would bury the real fault under a hundred "unknown site" errors
//! about lockers and weapons.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::Path;

use super::file_names::{INVENTORY, LOCKERS, PINS, ROSTER, SITES, TRAINING};
use super::inventory::Stocked;
use super::table::{FileErrors, Lined, Table};
use super::{inventory, lockers, pins, roster, sites, training, ImportError, ImportErrors};
use crate::domain::{
    Armory, Certification, EmployeeId, Locker, LockerId, Person, Personnel, Site, SiteId,
};

/// The raw bytes of an agency's files, as read from disk or built by a test.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AgencyFiles {
    /// `sites.csv`.
    pub sites: Vec<u8>,
    /// `lockers.csv`.
    pub lockers: Vec<u8>,
    /// `inventory.csv`.
    pub inventory: Vec<u8>,
    /// `roster.csv`.
    pub roster: Vec<u8>,
    /// `training.csv`.
    pub training: Vec<u8>,
    /// `pins.csv`, if the agency's set has one.
    pub pins: Option<Vec<u8>>,
}

impl fmt::Debug for AgencyFiles {
    /// Sizes only: the PIN file must not reach a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgencyFiles")
            .field("sites_bytes", &self.sites.len())
            .field("lockers_bytes", &self.lockers.len())
            .field("inventory_bytes", &self.inventory.len())
            .field("roster_bytes", &self.roster.len())
            .field("training_bytes", &self.training.len())
            .field("pins_bytes", &self.pins.as_ref().map(Vec::len))
            .finish()
    }
}

impl AgencyFiles {
    /// Reads the six files from `dir`; `pins.csv` may be absent. Every
    /// file that cannot be read is reported, by its path.
    pub fn read_dir(dir: &Path) -> Result<Self, ImportErrors> {
        let mut unreadable = Vec::new();
        let mut read = |name: &str, optional: bool| -> Option<Vec<u8>> {
            let path = dir.join(name);
            match std::fs::read(&path) {
                Ok(bytes) => Some(bytes),
                Err(error) if optional && error.kind() == io::ErrorKind::NotFound => None,
                Err(error) => {
                    unreadable.push(ImportError {
                        file: path.display().to_string(),
                        line: 0,
                        column: None,
                        message: format!("cannot read the file: {error}"),
                    });
                    None
                }
            }
        };

        let files = AgencyFiles {
            sites: read(SITES, false).unwrap_or_default(),
            lockers: read(LOCKERS, false).unwrap_or_default(),
            inventory: read(INVENTORY, false).unwrap_or_default(),
            roster: read(ROSTER, false).unwrap_or_default(),
            training: read(TRAINING, false).unwrap_or_default(),
            pins: read(PINS, true),
        };
        if unreadable.is_empty() {
            Ok(files)
        } else {
            Err(ImportErrors(unreadable))
        }
    }
}

/// An agency's data, read and checked: nothing in it refers to a site,
/// locker, compartment or person that is not there.
#[derive(Clone, PartialEq, Eq)]
pub struct AgencyData {
    /// Sites, lockers and weapons (every weapon in its compartment).
    pub armory: Armory,
    /// People and certifications; `pin_hashes` is empty, since the
    /// service hashes PINs with its own cost settings.
    pub personnel: Personnel,
    /// Enrolled PINs in clear, from `pins.csv`; empty without that file.
    pub pins: Vec<(EmployeeId, String)>,
}

impl fmt::Debug for AgencyData {
    /// Leaves the PINs out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgencyData")
            .field("sites", &self.armory.sites.len())
            .field("lockers", &self.armory.lockers.len())
            .field("weapons", &self.armory.weapons.len())
            .field("people", &self.personnel.people.len())
            .field("pins", &self.pins.len())
            .finish()
    }
}

impl AgencyData {
    /// Reads `sites.csv`, `lockers.csv`, `inventory.csv`, `roster.csv`,
    /// `training.csv` and, if present, `pins.csv` from `dir`.
    pub fn load_dir(dir: &Path) -> Result<Self, ImportErrors> {
        Self::from_files(&AgencyFiles::read_dir(dir)?)
    }

    /// Reads every file and checks them against each other: a locker's
    /// site exists; a weapon's site and locker exist, the locker stands at
    /// that site, the compartment is within the locker and of the stated
    /// size; a person's home site exists; certifications and PINs belong
    /// to people on the roster. Instructors are not checked: they may come
    /// from outside the agency. All faults of all files are reported.
    pub fn from_files(files: &AgencyFiles) -> Result<Self, ImportErrors> {
        let sites = sites::read(SITES, &files.sites);
        let mut lockers = lockers::read(LOCKERS, &files.lockers);
        let mut inventory = inventory::read(INVENTORY, &files.inventory);
        let mut roster = roster::read(ROSTER, &files.roster);
        let mut training = training::read(TRAINING, &files.training);
        let mut pins = match &files.pins {
            Some(bytes) => pins::read(PINS, bytes),
            None => Table {
                rows: Vec::new(),
                errors: FileErrors::new(PINS),
            },
        };

        // The good rows of a file are checked against another file only
        // if that one read without a fault.
        let site_ids = sites.errors.is_empty().then(|| ids(&sites.rows, |s| &s.id));
        let locker_ids = lockers
            .errors
            .is_empty()
            .then(|| ids(&lockers.rows, |l| &l.id));
        let people = roster
            .errors
            .is_empty()
            .then(|| ids(&roster.rows, |p| &p.employee_id));
        if let Some(site_ids) = &site_ids {
            let site: fn(&Locker) -> &SiteId = |locker| &locker.site;
            check_references(
                &lockers.rows,
                &mut lockers.errors,
                "site_id",
                site_ids,
                site,
            );
            let home: fn(&Person) -> &SiteId = |person| &person.home_site;
            check_references(
                &roster.rows,
                &mut roster.errors,
                "home_site",
                site_ids,
                home,
            );
        }
        check_inventory(&mut inventory, site_ids.as_ref(), locker_ids.as_ref());
        if let Some(people) = &people {
            let holder: fn(&Certification) -> &EmployeeId = |cert| &cert.employee_id;
            check_references(
                &training.rows,
                &mut training.errors,
                "employee_id",
                people,
                holder,
            );
            let holder: fn(&(EmployeeId, String)) -> &EmployeeId = |pin| &pin.0;
            check_references(&pins.rows, &mut pins.errors, "employee_id", people, holder);
        }

        // All or nothing: one fault anywhere and no file is applied.
        let mut errors = Vec::new();
        let sites = keep(sites, &mut errors);
        let lockers = keep(lockers, &mut errors);
        let inventory = keep(inventory, &mut errors);
        let roster = keep(roster, &mut errors);
        let training = keep(training, &mut errors);
        let pins = keep(pins, &mut errors);
        if !errors.is_empty() {
            return Err(ImportErrors(errors));
        }

        let mut armory = Armory::default();
        for site in sites {
            armory.sites.insert(site.id.clone(), site);
        }
        for locker in lockers {
            armory.lockers.insert(locker.id.clone(), locker);
        }
        for Stocked { weapon, .. } in inventory {
            armory.weapons.insert(weapon.asset_tag.clone(), weapon);
        }
        let mut personnel = Personnel::default();
        for person in roster {
            personnel.people.insert(person.employee_id.clone(), person);
        }
        for cert in training {
            let held = personnel.certifications.entry(cert.employee_id.clone());
            held.or_default().push(cert);
        }
        Ok(AgencyData {
            armory,
            personnel,
            pins,
        })
    }
}

/// The values of a file without faults; else its faults join `errors`.
fn keep<T>(table: Table<T>, errors: &mut Vec<ImportError>) -> Vec<T> {
    match table.finish() {
        Ok(rows) => rows.into_iter().map(|row| row.value).collect(),
        Err(file_errors) => {
            errors.extend(file_errors);
            Vec::new()
        }
    }
}

fn ids<T, K: Ord + Clone>(rows: &[Lined<T>], key: fn(&T) -> &K) -> BTreeMap<K, &T> {
    rows.iter()
        .map(|row| (key(&row.value).clone(), &row.value))
        .collect()
}

/// Notes each row whose `column` names something missing from `known`.
fn check_references<T, K: Ord + fmt::Display, V>(
    rows: &[Lined<T>],
    errors: &mut FileErrors,
    column: &str,
    known: &BTreeMap<K, V>,
    reference: fn(&T) -> &K,
) {
    let what = if column == "employee_id" {
        "employee"
    } else {
        "site"
    };
    for row in rows {
        let target = reference(&row.value);
        if !known.contains_key(target) {
            let message = format!("unknown {what} {target}");
            errors.push(row.line, Some(column), message);
        }
    }
}

/// A weapon's site, locker, compartment number and size against the
/// layout; a check is skipped when the file it needs has faults.
fn check_inventory(
    stock: &mut Table<Stocked>,
    site_ids: Option<&BTreeMap<SiteId, &Site>>,
    lockers: Option<&BTreeMap<LockerId, &Locker>>,
) {
    let errors = &mut stock.errors;
    for row in &stock.rows {
        let Stocked { weapon, size } = &row.value;
        let line = row.line;

        if site_ids.is_some_and(|sites| !sites.contains_key(&weapon.site)) {
            errors.push(
                line,
                Some("site_id"),
                format!("unknown site {}", weapon.site),
            );
        }
        let Some(lockers) = lockers else { continue };
        let Some(locker) = lockers.get(&weapon.locker) else {
            let message = format!("unknown locker {}", weapon.locker);
            errors.push(line, Some("locker_id"), message);
            continue;
        };
        if locker.site != weapon.site {
            let message = format!(
                "locker {} stands at site {}, not {}",
                locker.id, locker.site, weapon.site
            );
            errors.push(line, Some("locker_id"), message);
        }
        let index = usize::from(weapon.compartment).checked_sub(1);
        match index.and_then(|index| locker.compartments.get(index)) {
            None => {
                let message = format!(
                    "locker {} has compartments 1 to {}, not {}",
                    locker.id,
                    locker.compartments.len(),
                    weapon.compartment
                );
                errors.push(line, Some("compartment"), message);
            }
            Some(actual) if actual != size => {
                let message = format!(
                    "compartment {} of locker {} is {actual}, not {size}",
                    weapon.compartment, locker.id
                );
                errors.push(line, Some("compartment_size"), message);
            }
            Some(_) => {}
        }
    }
}
