//! `pins.csv`: enrolled PINs, for the device simulator and tests only.
//!
//! The service hashes these on import and keeps only the hashes. No error
//! message built here repeats a PIN.

use super::table::{read_table, FirstSeen, Table};
use crate::domain::EmployeeId;

/// The columns of `pins.csv`, in the order the agency exports them.
pub const COLUMNS: &[&str] = &["employee_id", "pin"];

/// Reads `pins.csv`; see [`super::parse_pins`].
pub(super) fn read(file: &str, bytes: &[u8]) -> Table<(EmployeeId, String)> {
    let mut ids = FirstSeen::new();
    read_table(file, bytes, COLUMNS, |row| {
        let employee = row.text("employee_id").map(EmployeeId::from);
        let pin = row.text("pin");

        // Same shape rule as enrolment, checked here to name the line.
        if let Some(pin) = pin {
            if !(4..=12).contains(&pin.len()) || !pin.bytes().all(|b| b.is_ascii_digit()) {
                row.fault("pin", "a PIN is 4 to 12 digits");
            }
        }
        let employee = employee?;
        ids.check(
            row,
            "employee_id",
            employee.clone(),
            format_args!("employee id {:?}", employee.as_str()),
        );
        Some((employee, pin?.to_owned()))
    })
}
