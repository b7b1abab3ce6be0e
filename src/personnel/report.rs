//! What a personnel change did: people added, removed and changed,
//! certifications added, removed and renewed, PINs set and dropped.
//!
//! [`PersonnelDiff::between`] compares two personnel snapshots; an import
//! reports the diff of its own transaction, and the running service the
//! diff between the snapshot it had and the one it loads. Reports name
//! people by employee id and changed fields by name, never a badge UID or
//! a PIN hash.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use armory_actors::domain::{AssetTag, Certification, EmployeeId, Person, Personnel};

use super::removals::TooManyRemovals;

/// Which export was imported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportKind {
    /// The HR roster.
    Roster,
    /// The training (LMS) export.
    Training,
}

impl ImportKind {
    /// `roster` or `training`.
    pub fn as_str(self) -> &'static str {
        match self {
            ImportKind::Roster => "roster",
            ImportKind::Training => "training",
        }
    }

    /// The file in words: `roster` or `training export`.
    pub fn export(self) -> &'static str {
        match self {
            ImportKind::Roster => "roster",
            ImportKind::Training => "training export",
        }
    }
}

/// The outcome of an applied import.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportReport {
    /// Which export.
    pub kind: ImportKind,
    /// The file, as named in errors.
    pub file: String,
    /// The personnel generation the import made; 0 for a dry run.
    pub generation: u64,
    /// Whether it was written; false for a dry run.
    pub applied: bool,
    /// What changed.
    pub changes: PersonnelDiff,
    /// What was applied but needs someone's attention.
    pub warnings: Vec<ImportWarning>,
}

/// Something an import applied that needs attention.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportWarning {
    /// A person left the roster while holding weapons. The weapons stay
    /// signed out to them: their records are never dropped.
    HolderRemoved {
        /// Who left.
        employee_id: EmployeeId,
        /// What they still hold.
        asset_tags: Vec<AssetTag>,
    },
    /// More people removed (a roster), or stripped of a valid
    /// certification (a training export), than the limit allows: applied
    /// only because the command line said `--allow-removals`, or a dry run
    /// showing that a real import would be refused without it.
    ManyRemoved(TooManyRemovals),
}

impl fmt::Display for ImportWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImportWarning::HolderRemoved {
                employee_id,
                asset_tags,
            } => {
                let tags: Vec<&str> = asset_tags.iter().map(AssetTag::as_str).collect();
                write!(
                    f,
                    "{employee_id} left the roster but holds {}; \
                     it stays signed out to them until it is returned",
                    tags.join(", ")
                )
            }
            ImportWarning::ManyRemoved(refusal) => write!(
                f,
                "{} {} of the {} people in force, more than the {} \
                 allowed without --allow-removals ({})",
                match refusal.kind {
                    ImportKind::Roster => "removes",
                    ImportKind::Training => "takes a valid certification from",
                },
                refusal.removed.len(),
                refusal.in_force,
                refusal.allowed,
                refusal.limit
            ),
        }
    }
}

/// One person on both rosters whose record changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersonChange {
    /// Who.
    pub employee_id: EmployeeId,
    /// The fields that changed, by column name: `status`, `role`,
    /// `home_site`, `badge_uid`, `rank`, `name`, `hire_date`.
    pub fields: Vec<&'static str>,
}

/// How the certifications changed. A certification is known by its
/// holder, course and weapon class; for each such key that is in both
/// snapshots with other dates or instructor, it counts as renewed when its
/// latest expiry moved later, and as changed otherwise.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CertificationChanges {
    /// Certifications that are new.
    pub added: usize,
    /// Certifications that are gone.
    pub removed: usize,
    /// Keys whose expiry moved later.
    pub renewed: usize,
    /// Keys that changed otherwise.
    pub changed: usize,
    /// The people whose certifications differ.
    pub people: BTreeSet<EmployeeId>,
}

/// The difference between two personnel snapshots.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PersonnelDiff {
    /// People only in the new snapshot.
    pub added: Vec<EmployeeId>,
    /// People only in the old snapshot.
    pub removed: Vec<EmployeeId>,
    /// People in both whose roster record changed.
    pub changed: Vec<PersonChange>,
    /// Certifications.
    pub certifications: CertificationChanges,
    /// People in both whose PIN was enrolled or replaced.
    pub pins_set: Vec<EmployeeId>,
    /// People in both whose PIN hash is gone, and people removed who had one.
    pub pins_dropped: Vec<EmployeeId>,
}

type CertKey<'a> = (&'a EmployeeId, &'a str, &'static str);

impl PersonnelDiff {
    /// What changed from `old` to `new`.
    pub fn between(old: &Personnel, new: &Personnel) -> PersonnelDiff {
        let mut diff = PersonnelDiff::default();
        for (id, person) in &new.people {
            match old.people.get(id) {
                None => diff.added.push(id.clone()),
                Some(before) => {
                    let fields = changed_fields(before, person);
                    if !fields.is_empty() {
                        diff.changed.push(PersonChange {
                            employee_id: id.clone(),
                            fields,
                        });
                    }
                }
            }
        }
        diff.removed = old
            .people
            .keys()
            .filter(|id| !new.people.contains_key(*id))
            .cloned()
            .collect();

        for (id, phc) in &new.pin_hashes {
            if old.people.contains_key(id) && old.pin_hashes.get(id) != Some(phc) {
                diff.pins_set.push(id.clone());
            }
        }
        diff.pins_dropped = old
            .pin_hashes
            .keys()
            .filter(|id| !new.pin_hashes.contains_key(*id))
            .cloned()
            .collect();

        diff.certifications = certification_changes(old, new);
        diff
    }

    /// How many people are in both snapshots and differ in anything: their
    /// record, their certifications or their PIN.
    pub fn people_changed(&self) -> usize {
        let mut touched: BTreeSet<&EmployeeId> =
            self.changed.iter().map(|c| &c.employee_id).collect();
        touched.extend(&self.certifications.people);
        touched.extend(&self.pins_set);
        touched.extend(&self.pins_dropped);
        touched
            .into_iter()
            .filter(|id| !self.added.contains(id) && !self.removed.contains(id))
            .count()
    }
}

fn changed_fields(old: &Person, new: &Person) -> Vec<&'static str> {
    let mut fields = Vec::new();
    let mut check = |differs: bool, name| {
        if differs {
            fields.push(name);
        }
    };
    check(old.status != new.status, "status");
    check(old.role != new.role, "role");
    check(old.home_site != new.home_site, "home_site");
    check(old.badge != new.badge, "badge_uid");
    check(old.rank != new.rank, "rank");
    let name_differs = old.last_name != new.last_name || old.first_name != new.first_name;
    check(name_differs, "name");
    check(old.hire_date != new.hire_date, "hire_date");
    fields
}

fn certification_changes(old: &Personnel, new: &Personnel) -> CertificationChanges {
    let old = by_key(old);
    let new = by_key(new);
    let mut changes = CertificationChanges::default();
    let keys: BTreeSet<&CertKey<'_>> = old.keys().chain(new.keys()).collect();
    for key in keys {
        let before = old.get(key).map(Vec::as_slice).unwrap_or_default();
        let after = new.get(key).map(Vec::as_slice).unwrap_or_default();
        if before == after {
            continue;
        }
        changes.people.insert(key.0.clone());
        let latest = |certs: &[&Certification]| certs.iter().map(|c| c.expires_at).max();
        match (before.is_empty(), after.is_empty()) {
            (true, _) => changes.added += after.len(),
            (_, true) => changes.removed += before.len(),
            _ if latest(after) > latest(before) => changes.renewed += 1,
            _ => changes.changed += 1,
        }
    }
    changes
}

/// Certifications grouped by key, each group in a fixed order so that two
/// snapshots of the same set compare equal.
fn by_key(personnel: &Personnel) -> BTreeMap<CertKey<'_>, Vec<&Certification>> {
    let mut groups: BTreeMap<CertKey<'_>, Vec<&Certification>> = BTreeMap::new();
    for cert in personnel.certifications.values().flatten() {
        let key = (
            &cert.employee_id,
            cert.course_code.as_str(),
            cert.class.as_str(),
        );
        groups.entry(key).or_default().push(cert);
    }
    for group in groups.values_mut() {
        group.sort_by_key(|c| (c.completed_on, c.expires_at, c.instructor.clone()));
    }
    groups
}

impl fmt::Display for ImportReport {
    /// Several lines, each ending in a newline, for the command line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let changes = &self.changes;
        if self.applied {
            writeln!(
                f,
                "{}: {} applied; personnel generation {}",
                self.file,
                self.kind.as_str(),
                self.generation
            )?;
        } else {
            writeln!(
                f,
                "{}: {} checked, nothing applied (dry run); it would change:",
                self.file,
                self.kind.as_str()
            )?;
        }
        writeln!(
            f,
            "people: {} added, {} removed, {} changed",
            changes.added.len(),
            changes.removed.len(),
            changes.changed.len()
        )?;
        list(f, "added", changes.added.iter().map(ToString::to_string))?;
        list(
            f,
            "removed",
            changes.removed.iter().map(ToString::to_string),
        )?;
        let changed = changes
            .changed
            .iter()
            .map(|c| format!("{} ({})", c.employee_id, c.fields.join(", ")));
        list(f, "changed", changed)?;

        let certs = &changes.certifications;
        writeln!(
            f,
            "certifications: {} added, {} removed, {} renewed, {} changed",
            certs.added, certs.removed, certs.renewed, certs.changed
        )?;
        if !changes.pins_dropped.is_empty() {
            let dropped = changes.pins_dropped.iter().map(ToString::to_string);
            list(f, "PINs dropped", dropped)?;
        }
        for warning in &self.warnings {
            writeln!(f, "warning: {warning}")?;
        }
        Ok(())
    }
}

/// Writes `  label: a, b, c` if there is anything to list.
fn list(
    f: &mut fmt::Formatter<'_>,
    label: &str,
    items: impl Iterator<Item = String>,
) -> fmt::Result {
    let items: Vec<String> = items.collect();
    if items.is_empty() {
        return Ok(());
    }
    writeln!(f, "  {label}: {}", items.join(", "))
}
