//! The watched inbox: roster and training exports dropped in a folder.
//!
//! Each scan looks at the files directly in the folder whose names match
//! `roster*.csv` or `training*.csv`. A file is taken only once it has kept
//! the same size and modification time over two scans, so one still being
//! copied in is left alone; copying it elsewhere and moving it in is still
//! the safe way. Settled files are imported rosters first, then oldest
//! first, then by name, each through [`import_roster`] or
//! [`import_training`] on a writer connection of the inbox's own. A file
//! that applied moves to `done/`; a file with faults moves to `rejected/`
//! with `NAME.errors.txt` beside it, one fault a line. So does a roster
//! that would remove more people than `[agency] max_roster_removals` /
//! `max_roster_removal_percent` allow, and a training export that would
//! take a valid certification from more people than that: the inbox has
//! no override, such a file goes through `armory import roster|training
//! FILE --allow-removals`. A name already taken there gets a number
//! (`roster.2.csv`). When the store fails, the file
//! stays where it is and is tried again at the next scan.
//!
//! A file that cannot be moved away after it was applied would be applied
//! again at every scan; it is remembered instead (size and time) and
//! skipped until it changes, with an error in the log.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use armory_actors::clock::Clock;

use super::apply::{import_roster, import_training};
use super::removals::{ImportOptions, RemovalLimit};
use super::report::ImportKind;
use super::{ImportReport, PersonnelError};
use crate::store::Database;

/// What a file looked like at a scan: its length and modification time.
type Signature = (u64, Option<SystemTime>);

/// Sub-folder for files that applied.
const DONE: &str = "done";
/// Sub-folder for files with faults.
const REJECTED: &str = "rejected";

/// The inbox's state between scans.
pub(super) struct Inbox {
    dir: PathBuf,
    /// Imports made here: the configured removal limit, no override.
    options: ImportOptions,
    /// What each candidate looked like at the previous scan.
    seen: HashMap<PathBuf, Signature>,
    /// Applied files that could not be moved away, with their signature.
    stuck: HashMap<PathBuf, Signature>,
    /// A writer connection, opened when a file first needs it.
    writer: Option<Database>,
    /// The last folder error logged, so a lasting one is logged once.
    trouble: Option<String>,
}

/// One settled file.
struct Candidate {
    path: PathBuf,
    name: String,
    kind: ImportKind,
    modified: Option<SystemTime>,
}

impl Inbox {
    /// The inbox at `dir`, created (owner-only) if it is missing; its
    /// rosters may remove at most what `removal_limit` allows.
    pub(super) fn open(dir: &Path, removal_limit: RemovalLimit) -> Result<Inbox, PersonnelError> {
        create_private_dir(dir).map_err(|cause| PersonnelError::Inbox {
            action: "creating the inbox",
            path: dir.to_owned(),
            cause,
        })?;
        Ok(Inbox {
            dir: dir.to_owned(),
            options: ImportOptions {
                removal_limit,
                ..ImportOptions::default()
            },
            seen: HashMap::new(),
            stuck: HashMap::new(),
            writer: None,
            trouble: None,
        })
    }

    /// Imports and moves every settled file; see the module documentation.
    pub(super) fn scan(&mut self, database: &Path, clock: &Clock) {
        for candidate in self.settled() {
            if !self.take(database, clock, &candidate) {
                // The store failed: leave the rest for the next scan too.
                return;
            }
        }
    }

    /// The files that look as they did at the previous scan, in order.
    fn settled(&mut self) -> Vec<Candidate> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => {
                self.trouble = None;
                entries
            }
            Err(error) => {
                let text = error.to_string();
                if self.trouble.as_ref() != Some(&text) {
                    tracing::error!(inbox = %self.dir.display(), %error, "cannot read the inbox");
                    self.trouble = Some(text);
                }
                return Vec::new();
            }
        };

        let mut now_seen = HashMap::new();
        let mut ready = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(name) = path.file_name().and_then(OsStr::to_str).map(str::to_owned) else {
                continue;
            };
            let Some(kind) = kind_of(&name) else { continue };
            let Ok(metadata) = entry.metadata() else {
                continue;
            };
            if !metadata.is_file() {
                continue;
            }
            let signature = (metadata.len(), metadata.modified().ok());
            if self.stuck.get(&path) == Some(&signature) {
                continue;
            }
            if self.seen.get(&path) == Some(&signature) {
                ready.push(Candidate {
                    path: path.clone(),
                    name,
                    kind,
                    modified: signature.1,
                });
            }
            now_seen.insert(path, signature);
        }
        self.seen = now_seen;
        self.stuck.retain(|path, _| self.seen.contains_key(path));

        let rank = |kind: ImportKind| kind != ImportKind::Roster;
        ready.sort_by(|a, b| {
            (rank(a.kind), a.modified, &a.name).cmp(&(rank(b.kind), b.modified, &b.name))
        });
        ready
    }

    /// Imports one file and moves it; false if the store failed.
    fn take(&mut self, database: &Path, clock: &Clock, candidate: &Candidate) -> bool {
        let bytes = match fs::read(&candidate.path) {
            Ok(bytes) => bytes,
            Err(error) => {
                // Gone or unreadable since the listing; the next scan sees.
                tracing::warn!(file = %candidate.name, %error, "inbox file not readable");
                return true;
            }
        };
        let writer = match &mut self.writer {
            Some(writer) => writer,
            None => match super::open_store(database) {
                Ok(writer) => self.writer.insert(writer),
                Err(error) => {
                    tracing::error!(%error, "inbox import not possible; retried at the next scan");
                    return false;
                }
            },
        };

        let at = clock.now();
        let outcome = match candidate.kind {
            ImportKind::Roster => import_roster(writer, &candidate.name, &bytes, at, &self.options),
            ImportKind::Training => {
                import_training(writer, &candidate.name, &bytes, at, &self.options)
            }
        };
        self.seen.remove(&candidate.path);
        match outcome {
            Ok(report) => {
                log_applied(&report);
                self.move_to(candidate, DONE, None);
                true
            }
            Err(PersonnelError::Invalid { errors, .. }) => {
                tracing::warn!(
                    file = %candidate.name,
                    errors = errors.len(),
                    "inbox file rejected; nothing of it was applied"
                );
                self.move_to(candidate, REJECTED, Some(&errors.to_string()));
                true
            }
            Err(ref error @ PersonnelError::TooManyRemovals { ref refusal, .. }) => {
                tracing::warn!(
                    file = %candidate.name,
                    kind = refusal.kind.as_str(),
                    removed = refusal.removed.len(),
                    in_force = refusal.in_force,
                    allowed = refusal.allowed,
                    "inbox file rejected: it takes too much away; nothing was applied"
                );
                let text = format!(
                    "{error}\nThe inbox never applies such a {}: run the commands \
                     above on rejected/{}.",
                    refusal.kind.export(),
                    candidate.name
                );
                self.move_to(candidate, REJECTED, Some(&text));
                true
            }
            Err(error) => {
                self.writer = None;
                tracing::error!(
                    file = %candidate.name,
                    %error,
                    "inbox import failed; retried at the next scan"
                );
                false
            }
        }
    }

    /// Moves a handled file into `folder`, with its errors beside it.
    fn move_to(&mut self, candidate: &Candidate, folder: &str, errors: Option<&str>) {
        match self.try_move(candidate, folder, errors) {
            Ok(to) => {
                tracing::info!(file = %candidate.name, to = %to.display(), "inbox file moved")
            }
            Err(error) => {
                tracing::error!(
                    file = %candidate.name,
                    %error,
                    "inbox file handled but not moved; skipped until it changes"
                );
                if let Ok(metadata) = fs::metadata(&candidate.path) {
                    let signature = (metadata.len(), metadata.modified().ok());
                    self.stuck.insert(candidate.path.clone(), signature);
                }
            }
        }
    }

    fn try_move(
        &self,
        candidate: &Candidate,
        folder: &str,
        errors: Option<&str>,
    ) -> std::io::Result<PathBuf> {
        let folder = self.dir.join(folder);
        create_private_dir(&folder)?;
        let to = free_name(&folder, &candidate.name);
        if let Some(errors) = errors {
            let mut errors_file = to.clone().into_os_string();
            errors_file.push(".errors.txt");
            fs::write(PathBuf::from(errors_file), format!("{errors}\n"))?;
        }
        fs::rename(&candidate.path, &to)?;
        Ok(to)
    }
}

/// Which export a file name stands for, if any.
fn kind_of(name: &str) -> Option<ImportKind> {
    if !name.ends_with(".csv") {
        None
    } else if name.starts_with("roster") {
        Some(ImportKind::Roster)
    } else if name.starts_with("training") {
        Some(ImportKind::Training)
    } else {
        None
    }
}

/// `folder/name`, or `folder/STEM.N.csv` with the first free N from 2.
fn free_name(folder: &Path, name: &str) -> PathBuf {
    let first = folder.join(name);
    if !first.exists() {
        return first;
    }
    let stem = name.strip_suffix(".csv").unwrap_or(name);
    (2u32..)
        .map(|n| folder.join(format!("{stem}.{n}.csv")))
        .find(|path| !path.exists())
        .unwrap_or(first)
}

fn log_applied(report: &ImportReport) {
    let changes = &report.changes;
    tracing::info!(
        file = %report.file,
        kind = report.kind.as_str(),
        generation = report.generation,
        added = changes.added.len(),
        removed = changes.removed.len(),
        changed = changes.changed.len(),
        certifications_added = changes.certifications.added,
        certifications_removed = changes.certifications.removed,
        certifications_renewed = changes.certifications.renewed,
        "inbox file applied"
    );
    for warning in &report.warnings {
        tracing::warn!(file = %report.file, %warning, "inbox import needs attention");
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}
