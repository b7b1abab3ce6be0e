//! Reads the agency's CSV exports into the armory's own types.
//!
//! Six files describe an agency: `sites.csv`, `lockers.csv`,
//! `inventory.csv`, `roster.csv`, `training.csv` and, for the simulator
//! and tests only, `pins.csv`. Each `parse_*` function reads one file from
//! its bytes and is pure; [`AgencyData::from_files`] reads all of them and
//! checks that they agree with each other; [`AgencyData::load_dir`] reads
//! them from a folder.
//!
//! Real exports come with a byte-order mark, CRLF line ends, spaces around
//! fields, lower-case hex and trailing blank lines; those are accepted.
//! Real faults are not: every one found in a file is reported (up to
//! [`MAX_ERRORS_PER_FILE`]) with file, line and column, and nothing is
//! returned from a file that has any. Columns are matched by name, so a
//! file whose header has exactly the expected columns in another order is
//! read as well.

mod agency;
mod inventory;
mod lockers;
mod pins;
mod records;
mod roster;
mod sites;
mod table;
mod training;

use std::fmt;

pub use agency::{AgencyData, AgencyFiles};
pub use table::MAX_ERRORS_PER_FILE;

use crate::domain::{Certification, EmployeeId, Locker, Person, Site, Weapon};
use table::Lined;

/// The file names the agency's exports go by.
pub mod file_names {
    /// Offices.
    pub const SITES: &str = "sites.csv";
    /// Lockers.
    pub const LOCKERS: &str = "lockers.csv";
    /// Weapons.
    pub const INVENTORY: &str = "inventory.csv";
    /// People.
    pub const ROSTER: &str = "roster.csv";
    /// Certifications.
    pub const TRAINING: &str = "training.csv";
    /// Enrolled PINs (simulator and tests only).
    pub const PINS: &str = "pins.csv";
}

/// One fault in the agency's files.
///
/// Displayed as `roster.csv:14: column badge_uid: <message>`. `line` is
/// counted as a text editor does, the header being line 1; it is 0 when the
/// fault concerns the whole file (it could not be read), and the line is
/// then left out of the display.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}{}{message}", location(.file, *.line), in_column(.column))]
pub struct ImportError {
    /// The file's name, or its path when it could not be read.
    pub file: String,
    /// The line, counted from 1; 0 for the whole file.
    pub line: usize,
    /// The column, when the fault is in one field.
    pub column: Option<String>,
    /// What is wrong. Never contains a PIN or a full badge UID of a
    /// well-formed badge.
    pub message: String,
}

fn location(file: &str, line: usize) -> String {
    if line == 0 {
        format!("{file}: ")
    } else {
        format!("{file}:{line}: ")
    }
}

fn in_column(column: &Option<String>) -> String {
    column
        .as_ref()
        .map(|column| format!("column {column}: "))
        .unwrap_or_default()
}

/// Every fault found, in file order and then line order within a file.
///
/// Displayed one fault per line. Never empty when returned as an error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportErrors(pub Vec<ImportError>);

impl ImportErrors {
    /// The faults.
    pub fn iter(&self) -> std::slice::Iter<'_, ImportError> {
        self.0.iter()
    }

    /// How many faults are listed.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True if none are listed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for ImportErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (at, error) in self.0.iter().enumerate() {
            if at > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ImportErrors {}

impl IntoIterator for ImportErrors {
    type Item = ImportError;
    type IntoIter = std::vec::IntoIter<ImportError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a ImportErrors {
    type Item = &'a ImportError;
    type IntoIter = std::slice::Iter<'a, ImportError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

fn values<T>(rows: Vec<Lined<T>>) -> Vec<T> {
    rows.into_iter().map(|row| row.value).collect()
}

/// Reads `sites.csv` (`site_id,name,timezone`); `file` names it in errors.
pub fn parse_sites(file: &str, bytes: &[u8]) -> Result<Vec<Site>, ImportErrors> {
    sites::read(file, bytes).finish().map(values)
}

/// Reads `lockers.csv`
/// (`site_id,locker_id,model,small,medium,large,readers`).
pub fn parse_lockers(file: &str, bytes: &[u8]) -> Result<Vec<Locker>, ImportErrors> {
    lockers::read(file, bytes).finish().map(values)
}

/// Reads `inventory.csv`. Weapons come back in their compartments
/// (`holder` is `None`) with `total_sign_outs` equal to
/// `sign_outs_since_service`. Two weapons in one compartment are a fault;
/// the stated compartment size is checked against the locker only by
/// [`AgencyData::from_files`].
pub fn parse_inventory(file: &str, bytes: &[u8]) -> Result<Vec<Weapon>, ImportErrors> {
    inventory::read(file, bytes)
        .finish()
        .map(|rows| rows.into_iter().map(|row| row.value.weapon).collect())
}

/// Reads `roster.csv`; badge UIDs are normalised, duplicates are faults.
pub fn parse_roster(file: &str, bytes: &[u8]) -> Result<Vec<Person>, ImportErrors> {
    roster::read(file, bytes).finish().map(values)
}

/// Reads `training.csv`; `expires_at` is an RFC 3339 instant.
pub fn parse_training(file: &str, bytes: &[u8]) -> Result<Vec<Certification>, ImportErrors> {
    training::read(file, bytes).finish().map(values)
}

/// Reads `roster.csv` as [`parse_roster`] does, but returns the people
/// that read well, each with its line, beside every fault (none if the file
/// is good), so that a caller can check them against its own records and
/// report all faults of the file at once.
pub fn roster_rows(file: &str, bytes: &[u8]) -> (Vec<(usize, Person)>, Vec<ImportError>) {
    rows_and_faults(roster::read(file, bytes))
}

/// Reads `training.csv` as [`parse_training`] does, returning good rows
/// with their lines beside every fault; see [`roster_rows`].
pub fn training_rows(file: &str, bytes: &[u8]) -> (Vec<(usize, Certification)>, Vec<ImportError>) {
    rows_and_faults(training::read(file, bytes))
}

fn rows_and_faults<T>(table: table::Table<T>) -> (Vec<(usize, T)>, Vec<ImportError>) {
    let table::Table { rows, errors } = table;
    let faults = errors.finish(()).err().map(|e| e.0).unwrap_or_default();
    let rows = rows.into_iter().map(|row| (row.line, row.value)).collect();
    (rows, faults)
}

/// Reads `pins.csv` (`employee_id,pin`); PINs are 4 to 12 digits.
pub fn parse_pins(file: &str, bytes: &[u8]) -> Result<Vec<(EmployeeId, String)>, ImportErrors> {
    pins::read(file, bytes).finish().map(values)
}

#[cfg(test)]
mod tests;
