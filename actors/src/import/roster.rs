//! `roster.csv`: the HR roster, one person a row, with their badge.
//!
//! Badge UIDs are normalised to upper-case hex; a duplicate is named by
//! its fingerprint only, since error messages end up in logs.

use super::table::{read_table, FirstSeen, Table};
use crate::domain::{BadgeUid, EmployeeId, Person, SiteId};

/// The columns of `roster.csv`, in the order the agency exports them.
pub const COLUMNS: &[&str] = &[
    "employee_id",
    "last_name",
    "first_name",
    "rank",
    "role",
    "home_site",
    "status",
    "badge_uid",
    "hire_date",
];

/// Reads `roster.csv`; see [`super::parse_roster`].
pub(super) fn read(file: &str, bytes: &[u8]) -> Table<Person> {
    let mut ids = FirstSeen::new();
    let mut badges = FirstSeen::new();
    read_table(file, bytes, COLUMNS, |row| {
        let employee_id = row.text("employee_id").map(EmployeeId::from);
        let last_name = row.string("last_name");
        let first_name = row.string("first_name");
        let rank = row.string("rank");
        let role = row.word("role");
        let home_site = row.text("home_site").map(SiteId::from);
        let status = row.word("status");
        let badge = row.text("badge_uid").and_then(|text| {
            BadgeUid::parse(text)
                .map_err(|error| row.fault("badge_uid", error.to_string()))
                .ok()
        });
        let hire_date = row.date("hire_date");

        let (employee_id, badge) = (employee_id?, badge?);
        ids.check(
            row,
            "employee_id",
            employee_id.clone(),
            format_args!("employee id {:?}", employee_id.as_str()),
        );
        badges.check(
            row,
            "badge_uid",
            badge.clone(),
            format_args!("badge UID {}", badge.fingerprint()),
        );
        Some(Person {
            employee_id,
            last_name: last_name?,
            first_name: first_name?,
            rank: rank?,
            role: role?,
            home_site: home_site?,
            status: status?,
            badge,
            hire_date: hire_date?,
        })
    })
}
