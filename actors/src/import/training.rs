//! `training.csv`: the training system's export of certifications.
//!
//! `expires_at` is an instant (RFC 3339 with an offset); a certification
//! is valid up to and including that second.

use super::table::{read_table, Table};
use crate::domain::{Certification, EmployeeId};

/// The columns of `training.csv`, in the order the agency exports them.
pub const COLUMNS: &[&str] = &[
    "employee_id",
    "course_code",
    "weapon_class",
    "completed_on",
    "expires_at",
    "instructor_id",
];

/// Reads `training.csv`; see [`super::parse_training`].
pub(super) fn read(file: &str, bytes: &[u8]) -> Table<Certification> {
    read_table(file, bytes, COLUMNS, |row| {
        let employee_id = row.text("employee_id").map(EmployeeId::from);
        let course_code = row.string("course_code");
        let class = row.word("weapon_class");
        let completed_on = row.date("completed_on");
        let expires_at = row.timestamp("expires_at");
        let instructor = row.text("instructor_id").map(EmployeeId::from);

        Some(Certification {
            employee_id: employee_id?,
            course_code: course_code?,
            class: class?,
            completed_on: completed_on?,
            expires_at: expires_at?,
            instructor: instructor?,
        })
    })
}
