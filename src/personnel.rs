//! Personnel changes while the service runs: HR roster and training (LMS)
//! imports, PIN enrolment, and the service picking them up without a
//! restart.
//!
//! [`import_roster`] and [`import_training`] read an export, check the
//! whole file against the store (every fault named by file, line and
//! column), and only then apply it, in one transaction together with an
//! audit row and a new personnel generation; a file with any fault changes
//! nothing. A roster that would remove more people than the configured
//! share, or a training export that would take a valid certification from
//! more people than that, is refused whole too, unless the command line
//! says `--allow-removals` (see [`removals`]); a dry run checks and
//! reports without writing. [`enrol_pin`] does the same for one PIN. They run
//! from the command line (`armory import`, `armory pin set`) beside a
//! running service, or inside the service for files dropped in its inbox.
//!
//! [`PersonnelWatch`] is the running service's side: a thread that polls
//! the store's personnel generation, swaps the new personnel into the
//! [`PersonnelHandle`] the readers decide with, publishes counts on
//! `armory/v1/service/personnel`, and imports what arrives in the inbox.
//!
//! Audit rows of these changes belong to no locker. Their site and locker
//! are both [`AUDIT_LOCATION`] (`service`), their local time is UTC, and
//! their decision is `recorded`: action `import` with reason
//! `roster_imported` or `training_imported` (no person), or action
//! `pin_enrolled` with reason `pin_enrolled` and the person. The trail
//! does not say which file was imported; the log and the report do.
//!
//! [`PersonnelHandle`]: armory_actors::services::PersonnelHandle

mod apply;
mod inbox;
pub mod removals;
mod report;
mod watch;

use std::path::{Path, PathBuf};

use armory_actors::domain::EmployeeId;
use armory_actors::import::ImportErrors;
use armory_actors::rules::PinError;

use crate::config::Config;
use crate::store::{Database, DbError};

pub use apply::{enrol_pin, import_roster, import_training};
pub use removals::{ImportOptions, RemovalLimit, TooManyRemovals};
pub use report::{
    CertificationChanges, ImportKind, ImportReport, ImportWarning, PersonChange, PersonnelDiff,
};
pub use watch::{PersonnelPayload, PersonnelWatch, WatchSettings};

/// The site and the locker named in audit rows of personnel changes.
pub const AUDIT_LOCATION: &str = crate::store::SERVICE_LOCATION;

/// The store's file name inside the state folder.
pub const STORE_FILE: &str = "armory.sqlite3";

/// Why a personnel change was not applied. In every case nothing of it
/// is stored.
///
/// The underlying error is part of the message and deliberately not a
/// `source`: `error: {:#}` on the command line then shows it once.
#[derive(Debug, thiserror::Error)]
pub enum PersonnelError {
    /// The file has faults, each with its file, line and column.
    #[error("{file} was not applied: {count} error(s)\n{errors}", count = errors.len())]
    Invalid {
        /// The file, as named in the errors.
        file: String,
        /// Every fault found.
        errors: ImportErrors,
    },
    /// A roster that would remove more people than the limit allows, or a
    /// training export that would take a valid certification from more,
    /// without `--allow-removals`.
    #[error("{file} was not applied: {refusal}")]
    TooManyRemovals {
        /// The file, as named in errors.
        file: String,
        /// How many, and how to proceed.
        refusal: TooManyRemovals,
    },
    /// A PIN for someone who is not on the roster in force.
    #[error("employee {employee_id} is not on the roster in force")]
    UnknownEmployee {
        /// The employee id given.
        employee_id: EmployeeId,
    },
    /// The PIN was refused; the message never repeats it.
    #[error("the PIN for {employee_id} was not enrolled: {cause}")]
    Pin {
        /// Whose PIN.
        employee_id: EmployeeId,
        /// Why.
        cause: PinError,
    },
    /// There is no store at the configured place yet.
    #[error("no store at {}; `armory serve` creates it on its first start", path.display())]
    NoStore {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The store failed.
    #[error("{action}: {cause}")]
    Store {
        /// What was being done.
        action: &'static str,
        /// The store's error.
        cause: DbError,
    },
    /// The inbox folder could not be created.
    #[error("{action} {}: {cause}", path.display())]
    Inbox {
        /// What was being done.
        action: &'static str,
        /// The folder.
        path: PathBuf,
        /// What the OS said.
        cause: std::io::Error,
    },
    /// The watch thread could not be started.
    #[error("cannot start the personnel watch thread: {cause}")]
    Thread {
        /// What the OS said.
        cause: std::io::Error,
    },
}

/// The store of the configured state folder.
pub fn store_path(config: &Config) -> PathBuf {
    config.resolved_state_dir().join(STORE_FILE)
}

/// Opens an existing store for a personnel change. Unlike
/// [`Database::open`], it refuses to create a new, empty file.
pub fn open_store(path: &Path) -> Result<Database, PersonnelError> {
    if !path.is_file() {
        return Err(PersonnelError::NoStore {
            path: path.to_owned(),
        });
    }
    Database::open(path).map_err(|cause| PersonnelError::Store {
        action: "opening the store",
        cause,
    })
}
