//! `sites.csv`: the agency's offices and their time zones.

use jiff::tz::TimeZone;

use super::table::{read_table, FirstSeen, Row, Table};
use crate::domain::{Site, SiteId};

/// The columns of `sites.csv`, in the order the agency exports them.
pub const COLUMNS: &[&str] = &["site_id", "name", "timezone"];

/// Reads `sites.csv`; see [`super::parse_sites`].
pub(super) fn read(file: &str, bytes: &[u8]) -> Table<Site> {
    let mut ids = FirstSeen::new();
    read_table(file, bytes, COLUMNS, |row| {
        let id = row.text("site_id");
        let name = row.string("name");
        let timezone = time_zone(row);

        let id = SiteId::from(id?);
        ids.check(
            row,
            "site_id",
            id.clone(),
            format_args!("site id {:?}", id.as_str()),
        );
        Some(Site {
            id,
            name: name?,
            timezone: timezone?,
        })
    })
}

/// A time zone must be one the bundled IANA database knows, since every
/// time shown at the site is converted with it.
fn time_zone(row: &Row<'_>) -> Option<String> {
    let name = row.text("timezone")?;
    match TimeZone::get(name) {
        Ok(_) => Some(name.to_owned()),
        Err(_) => {
            row.fault(
                "timezone",
                format!("{name:?} is not an IANA time zone name"),
            );
            None
        }
    }
}
