//! Applying a roster or training export, or one PIN, to the store.
//!
//! Each function follows the same steps: read the file (the importer names
//! every fault), take the store's write lock, check the rows that read
//! well against what is stored, and stop there if anything at all is
//! wrong. Only a file without a fault is written, in the same transaction
//! as its audit row and the new personnel generation; a dry run goes as
//! far and then rolls back. The write lock is held for milliseconds; slow
//! work (argon2) happens before it is taken, since the service's own
//! writer waits for it.

use std::collections::BTreeMap;

use armory_actors::domain::EmployeeId;
use armory_actors::import::{
    roster_rows, training_rows, ImportError, ImportErrors, MAX_ERRORS_PER_FILE,
};
use armory_actors::ports::{AuditAction, AuditEntry};
use armory_actors::rules::{hash_pin, PinHashCost};
use jiff::Timestamp;

use super::removals::{self, ImportOptions, TooManyRemovals};
use super::report::{ImportKind, ImportReport, ImportWarning, PersonnelDiff};
use super::PersonnelError;
use crate::store::{service_audit_entry, Database, DbError, PersonnelTx};

/// Replaces the roster with the people of an HR export (`roster.csv`'s
/// columns), named `file` in errors and the report; `at` is the audit
/// row's instant.
///
/// Every person's home site must be a stored site. People who stay keep
/// their certifications and PINs; people who leave lose both, but the
/// weapons they hold stay signed out to them (the report warns about each).
/// An export without a single person is refused: it would remove everyone.
/// One that would remove more people than `options.removal_limit` allows
/// is refused whole unless `options.allow_removals`; see
/// [`super::removals`]. With `options.dry_run` everything is checked and
/// reported, and nothing is written.
pub fn import_roster(
    db: &mut Database,
    file: &str,
    bytes: &[u8],
    at: Timestamp,
    options: &ImportOptions,
) -> Result<ImportReport, PersonnelError> {
    let (rows, faults) = roster_rows(file, bytes);
    let tx = db
        .begin_personnel()
        .map_err(store("starting the roster import"))?;

    // The whole file against the store, before anything is written.
    let sites = tx.site_ids().map_err(store("reading the sites"))?;
    let mut checks = Vec::new();
    for (line, person) in &rows {
        if !sites.contains(&person.home_site) {
            let message = format!("unknown site {}", person.home_site);
            checks.push(fault(file, *line, "home_site", message));
        }
    }
    if rows.is_empty() && faults.is_empty() {
        checks.push(whole_file(
            file,
            "the roster lists nobody; it would remove everyone",
        ));
    }
    reject_if_any(file, faults, checks)?;

    // Removals beyond the limit: refused whole, or applied with a warning.
    let before = tx.personnel().map_err(store("reading the roster"))?;
    let people: BTreeMap<_, _> = rows
        .into_iter()
        .map(|(_, person)| (person.employee_id.clone(), person))
        .collect();
    let leaving = before
        .people
        .keys()
        .filter(|id| !people.contains_key(*id))
        .cloned()
        .collect();
    let too_many = removals::check(options, ImportKind::Roster, before.people.len(), leaving);
    let mut warnings: Vec<_> = refuse_or_warn(file, options, too_many)?
        .into_iter()
        .collect();

    let held = tx.weapons_held().map_err(store("reading weapon holders"))?;
    tx.replace_people(&people)
        .map_err(store("replacing the roster"))?;
    let after = tx.personnel().map_err(store("reading the roster"))?;

    warnings.extend(
        held.into_iter()
            .filter(|(holder, _)| before.people.contains_key(holder))
            .filter(|(holder, _)| !people.contains_key(holder))
            .map(|(employee_id, asset_tags)| ImportWarning::HolderRemoved {
                employee_id,
                asset_tags,
            }),
    );
    let entry = service_audit_entry(AuditAction::Import, "roster_imported", None, at);
    let generation = finish(tx, &entry, options, "committing the roster import")?;
    Ok(ImportReport {
        kind: ImportKind::Roster,
        file: file.to_owned(),
        generation,
        applied: !options.dry_run,
        changes: PersonnelDiff::between(&before, &after),
        warnings,
    })
}

/// Replaces every certification with those of a training export
/// (`training.csv`'s columns); see [`import_roster`] for the arguments.
///
/// Every row's employee must be on the roster in force. Instructors are
/// not checked: they may come from outside the agency. An export without a
/// single certification is refused. One that would take a certification
/// valid at `at` from more people than `options.removal_limit` allows
/// (they hold none valid for that weapon class in the file) is refused
/// whole unless `options.allow_removals`; see [`super::removals`]. With
/// `options.dry_run` everything is checked and reported, and nothing is
/// written.
pub fn import_training(
    db: &mut Database,
    file: &str,
    bytes: &[u8],
    at: Timestamp,
    options: &ImportOptions,
) -> Result<ImportReport, PersonnelError> {
    let (rows, faults) = training_rows(file, bytes);
    let tx = db
        .begin_personnel()
        .map_err(store("starting the training import"))?;

    let before = tx.personnel().map_err(store("reading the roster"))?;
    let mut checks = Vec::new();
    for (line, certification) in &rows {
        if !before.people.contains_key(&certification.employee_id) {
            let message = format!(
                "unknown employee {}: not on the roster in force",
                certification.employee_id
            );
            checks.push(fault(file, *line, "employee_id", message));
        }
    }
    if rows.is_empty() && faults.is_empty() {
        checks.push(whole_file(file, "the export lists no certification"));
    }
    reject_if_any(file, faults, checks)?;

    // Valid certifications lost by too many people: refused whole, or
    // applied with a warning.
    let certifications: Vec<_> = rows.into_iter().map(|(_, cert)| cert).collect();
    let losing = removals::losing_certifications(&before.certifications, &certifications, at);
    let too_many = removals::check(options, ImportKind::Training, before.people.len(), losing);
    let warnings: Vec<_> = refuse_or_warn(file, options, too_many)?
        .into_iter()
        .collect();

    tx.replace_certifications(&certifications)
        .map_err(store("replacing the certifications"))?;
    let after = tx
        .personnel()
        .map_err(store("reading the certifications"))?;

    let entry = service_audit_entry(AuditAction::Import, "training_imported", None, at);
    let generation = finish(tx, &entry, options, "committing the training import")?;
    Ok(ImportReport {
        kind: ImportKind::Training,
        file: file.to_owned(),
        generation,
        applied: !options.dry_run,
        changes: PersonnelDiff::between(&before, &after),
        warnings,
    })
}

/// Enrols (or replaces) `employee_id`'s PIN, hashed with argon2id at
/// `cost`, and returns the new personnel generation. The PIN goes nowhere
/// else: not into the audit row, an error or the log.
pub fn enrol_pin(
    db: &mut Database,
    employee_id: &EmployeeId,
    pin: &str,
    cost: PinHashCost,
    at: Timestamp,
) -> Result<u64, PersonnelError> {
    // Hash before taking the write lock: argon2 is slow on purpose.
    let phc = hash_pin(pin, cost).map_err(|cause| PersonnelError::Pin {
        employee_id: employee_id.clone(),
        cause,
    })?;

    let tx = db
        .begin_personnel()
        .map_err(store("starting the PIN enrolment"))?;
    match tx.set_pin_hash(employee_id, &phc) {
        Ok(()) => {}
        Err(DbError::UnknownEmployee { .. }) => {
            return Err(PersonnelError::UnknownEmployee {
                employee_id: employee_id.clone(),
            })
        }
        Err(cause) => {
            return Err(PersonnelError::Store {
                action: "storing the PIN hash",
                cause,
            })
        }
    }
    let entry = service_audit_entry(
        AuditAction::PinEnrolled,
        "pin_enrolled",
        Some(employee_id),
        at,
    );
    tx.commit(&entry)
        .map_err(store("committing the PIN enrolment"))
}

/// Fails with `too_many` unless `options` allow going beyond the limit
/// (`--allow-removals`) or only look (a dry run); then it is a warning.
fn refuse_or_warn(
    file: &str,
    options: &ImportOptions,
    too_many: Option<TooManyRemovals>,
) -> Result<Option<ImportWarning>, PersonnelError> {
    match too_many {
        Some(refusal) if !options.allow_removals && !options.dry_run => {
            Err(PersonnelError::TooManyRemovals {
                file: file.to_owned(),
                refusal,
            })
        }
        too_many => Ok(too_many.map(ImportWarning::ManyRemoved)),
    }
}

/// Commits the change with its audit row and returns the new generation;
/// for a dry run, drops it (SQLite rolls it back) and returns 0.
fn finish(
    tx: PersonnelTx<'_>,
    entry: &AuditEntry,
    options: &ImportOptions,
    action: &'static str,
) -> Result<u64, PersonnelError> {
    if options.dry_run {
        drop(tx);
        return Ok(0);
    }
    tx.commit(entry).map_err(store(action))
}

/// Wraps a store error with what was being done.
fn store(action: &'static str) -> impl FnOnce(DbError) -> PersonnelError {
    move |cause| PersonnelError::Store { action, cause }
}

fn fault(file: &str, line: usize, column: &str, message: String) -> ImportError {
    ImportError {
        file: file.to_owned(),
        line,
        column: Some(column.to_owned()),
        message,
    }
}

fn whole_file(file: &str, message: &str) -> ImportError {
    ImportError {
        file: file.to_owned(),
        line: 0,
        column: None,
        message: message.to_owned(),
    }
}

/// Fails with the importer's faults and the store checks' together, in
/// line order, if there is any. The importer's list is already capped;
/// the checks fill the room left up to [`MAX_ERRORS_PER_FILE`], and a last
/// entry counts the ones left out.
fn reject_if_any(
    file: &str,
    mut faults: Vec<ImportError>,
    checks: Vec<ImportError>,
) -> Result<(), PersonnelError> {
    if faults.is_empty() && checks.is_empty() {
        return Ok(());
    }
    let room = MAX_ERRORS_PER_FILE.saturating_sub(faults.len());
    let left_out = checks.len().saturating_sub(room);
    let last_line = checks.iter().map(|error| error.line).max().unwrap_or(0);
    faults.extend(checks.into_iter().take(room));
    faults.sort_by_key(|error| error.line);
    if left_out > 0 {
        faults.push(ImportError {
            file: file.to_owned(),
            line: last_line,
            column: None,
            message: format!("{left_out} more errors not shown"),
        });
    }
    Err(PersonnelError::Invalid {
        file: file.to_owned(),
        errors: ImportErrors(faults),
    })
}
