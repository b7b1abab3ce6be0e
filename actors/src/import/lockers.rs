//! `lockers.csv`: each intelligent locker, its compartments and readers.
//!
//! A row gives compartment counts per size; compartments are numbered
//! from 1, the small ones first, then the medium, then the large. The
//! `readers` column lists one reader kind per reader, separated by `;`;
//! reader ids follow that order (`R1`, `R2`, ...).

use super::table::{read_table, FirstSeen, Row, Table};
use crate::domain::{CompartmentNo, CompartmentSize, Locker, LockerId, ReaderKind, SiteId};

/// The columns of `lockers.csv`, in the order the agency exports them.
pub const COLUMNS: &[&str] = &[
    "site_id",
    "locker_id",
    "model",
    "small",
    "medium",
    "large",
    "readers",
];

/// Reads `lockers.csv`; see [`super::parse_lockers`].
pub(super) fn read(file: &str, bytes: &[u8]) -> Table<Locker> {
    let mut ids = FirstSeen::new();
    read_table(file, bytes, COLUMNS, |row| {
        let site = row.text("site_id").map(SiteId::from);
        let id = row.text("locker_id").map(LockerId::from);
        let model = row.string("model");
        let compartments = compartments(row);
        let readers = readers(row);

        let id = id?;
        ids.check(
            row,
            "locker_id",
            id.clone(),
            format_args!("locker id {:?}", id.as_str()),
        );
        Some(Locker {
            site: site?,
            id,
            model: model?,
            compartments: compartments?,
            readers: readers?,
        })
    })
}

/// The sizes of compartments 1, 2, ... from the three counts.
fn compartments(row: &Row<'_>) -> Option<Vec<CompartmentSize>> {
    let small = row.count("small", CompartmentNo::MAX);
    let medium = row.count("medium", CompartmentNo::MAX);
    let large = row.count("large", CompartmentNo::MAX);
    let counts = [
        (CompartmentSize::Small, small?),
        (CompartmentSize::Medium, medium?),
        (CompartmentSize::Large, large?),
    ];

    // Compartment numbers are u16, so the total must fit one too.
    let total: u32 = counts.iter().map(|(_, count)| u32::from(*count)).sum();
    if total == 0 || total > u32::from(CompartmentNo::MAX) {
        let message = format!(
            "a locker has 1 to {} compartments, these counts make {total}",
            CompartmentNo::MAX
        );
        row.fault("large", message);
        return None;
    }
    Some(
        counts
            .iter()
            .flat_map(|&(size, count)| std::iter::repeat_n(size, usize::from(count)))
            .collect(),
    )
}

/// The reader kinds in order; a trailing or doubled `;` is tolerated.
fn readers(row: &Row<'_>) -> Option<Vec<ReaderKind>> {
    let text = row.text("readers")?;
    let mut kinds = Vec::new();
    let mut faulty = false;
    for word in text
        .split(';')
        .map(str::trim)
        .filter(|word| !word.is_empty())
    {
        match word.parse::<ReaderKind>() {
            Ok(kind) => kinds.push(kind),
            Err(error) => {
                row.fault("readers", error.to_string());
                faulty = true;
            }
        }
    }
    if kinds.is_empty() && !faulty {
        row.fault("readers", "a locker has at least one reader");
        return None;
    }
    (!faulty).then_some(kinds)
}
