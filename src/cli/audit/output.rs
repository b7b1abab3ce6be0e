//! How `armory audit` writes rows: the inspector's view (an aligned table,
//! or its columns as CSV or JSON Lines), which shows a badge only by its
//! fingerprint, and the export, which carries every stored column.
//!
//! The export writes each value as the store holds it (`at_utc` with its
//! nine fractional digits, ids as stored), so that the hash chain
//! described in `store/audit.rs` can be recomputed from an export alone.
//! An absent value is an empty CSV field and a JSON `null`.

use std::io::Write;

use serde::Serialize;

use crate::store::AuditRow;

/// The columns of the view, in order; the field names of [`ViewRow`].
pub(super) const VIEW_HEADERS: &[&str] = &[
    "seq",
    "local_time",
    "site",
    "locker",
    "reader",
    "action",
    "badge",
    "employee",
    "class",
    "weapon",
    "compartment",
    "decision",
    "reason",
];

/// The columns of the export, in order; the field names of [`ExportRow`].
pub(super) const EXPORT_HEADERS: &[&str] = &[
    "seq",
    "at_utc",
    "local_time",
    "site",
    "locker",
    "reader",
    "action",
    "badge_uid",
    "employee_id",
    "weapon_class",
    "asset_tag",
    "compartment",
    "decision",
    "reason",
    "transaction",
    "event_id",
    "prev_hash",
    "row_hash",
];

/// One row as the inspector's view shows it.
#[derive(Debug, Serialize)]
pub(super) struct ViewRow<'a> {
    seq: i64,
    local_time: &'a str,
    site: &'a str,
    locker: &'a str,
    reader: Option<&'a str>,
    action: &'static str,
    /// The badge's fingerprint, never the whole id.
    badge: Option<String>,
    employee: Option<&'a str>,
    class: Option<&'static str>,
    weapon: Option<&'a str>,
    compartment: Option<u16>,
    decision: &'static str,
    reason: &'a str,
}

impl<'a> From<&'a AuditRow> for ViewRow<'a> {
    fn from(row: &'a AuditRow) -> Self {
        let entry = &row.entry;
        ViewRow {
            seq: row.seq,
            local_time: &row.local_time,
            site: entry.site.as_str(),
            locker: entry.locker.as_str(),
            reader: entry.reader.as_ref().map(|reader| reader.as_str()),
            action: entry.action.as_str(),
            badge: entry.badge.as_ref().map(|badge| badge.fingerprint()),
            employee: entry.employee_id.as_ref().map(|id| id.as_str()),
            class: entry.weapon_class.map(|class| class.as_str()),
            weapon: entry.asset_tag.as_ref().map(|tag| tag.as_str()),
            compartment: entry.compartment,
            decision: entry.decision.as_str(),
            reason: &entry.reason,
        }
    }
}

impl ViewRow<'_> {
    /// The table's cells, in [`VIEW_HEADERS`] order; `-` for absent.
    fn cells(&self) -> [String; 13] {
        let or_dash = |value: Option<&str>| value.unwrap_or("-").to_owned();
        [
            self.seq.to_string(),
            self.local_time.to_owned(),
            self.site.to_owned(),
            self.locker.to_owned(),
            or_dash(self.reader),
            self.action.to_owned(),
            or_dash(self.badge.as_deref()),
            or_dash(self.employee),
            or_dash(self.class),
            or_dash(self.weapon),
            self.compartment
                .map_or_else(|| "-".to_owned(), |no| no.to_string()),
            self.decision.to_owned(),
            self.reason.to_owned(),
        ]
    }
}

/// One row with every stored column, for an inspector.
#[derive(Debug, Serialize)]
pub(super) struct ExportRow<'a> {
    seq: i64,
    at_utc: String,
    local_time: &'a str,
    site: &'a str,
    locker: &'a str,
    reader: Option<&'a str>,
    action: &'static str,
    /// The full credential id; the store holds no PIN to leak.
    badge_uid: Option<&'a str>,
    employee_id: Option<&'a str>,
    weapon_class: Option<&'static str>,
    asset_tag: Option<&'a str>,
    compartment: Option<u16>,
    decision: &'static str,
    reason: &'a str,
    transaction: Option<String>,
    event_id: Option<String>,
    prev_hash: &'a str,
    row_hash: &'a str,
}

impl<'a> From<&'a AuditRow> for ExportRow<'a> {
    fn from(row: &'a AuditRow) -> Self {
        let entry = &row.entry;
        ExportRow {
            seq: row.seq,
            // The stored form: nine fractional digits and a Z.
            at_utc: format!("{:.9}", entry.at),
            local_time: &row.local_time,
            site: entry.site.as_str(),
            locker: entry.locker.as_str(),
            reader: entry.reader.as_ref().map(|reader| reader.as_str()),
            action: entry.action.as_str(),
            badge_uid: entry.badge.as_ref().map(|badge| badge.reveal()),
            employee_id: entry.employee_id.as_ref().map(|id| id.as_str()),
            weapon_class: entry.weapon_class.map(|class| class.as_str()),
            asset_tag: entry.asset_tag.as_ref().map(|tag| tag.as_str()),
            compartment: entry.compartment,
            decision: entry.decision.as_str(),
            reason: &entry.reason,
            transaction: entry.transaction.map(|id| id.to_string()),
            event_id: entry.event_id.map(|id| id.to_string()),
            prev_hash: &row.prev_hash,
            row_hash: &row.row_hash,
        }
    }
}

/// Aligned columns under a header line, two spaces apart; the last column
/// (the reason) is not padded.
pub(super) fn write_table<'a>(
    rows: impl Iterator<Item = ViewRow<'a>>,
    mut out: impl Write,
) -> std::io::Result<()> {
    let header: [String; 13] = std::array::from_fn(|i| VIEW_HEADERS[i].to_owned());
    let lines: Vec<[String; 13]> = std::iter::once(header)
        .chain(rows.map(|row| row.cells()))
        .collect();

    // Widths in characters: a fingerprint starts with a one-character
    // ellipsis that is three bytes long.
    let mut widths = [0usize; 13];
    for line in &lines {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.chars().count());
        }
    }

    for line in &lines {
        let mut text = String::new();
        for (index, cell) in line.iter().enumerate() {
            if index + 1 == line.len() {
                text.push_str(cell);
            } else {
                let pad = widths[index] - cell.chars().count();
                text.push_str(cell);
                text.extend(std::iter::repeat_n(' ', pad + 2));
            }
        }
        writeln!(out, "{text}")?;
    }
    Ok(())
}

/// CSV with a header row, written even when no row matches.
pub(super) fn write_csv<R: Serialize>(
    headers: &[&str],
    rows: impl Iterator<Item = R>,
    out: impl Write,
) -> std::io::Result<()> {
    let mut writer = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(out);
    writer.write_record(headers)?;
    for row in rows {
        writer.serialize(row)?;
    }
    writer.flush()
}

/// One compact JSON object per line.
pub(super) fn write_jsonl<R: Serialize>(
    rows: impl Iterator<Item = R>,
    mut out: impl Write,
) -> std::io::Result<()> {
    for row in rows {
        serde_json::to_writer(&mut out, &row)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header constants name the serialised fields, in order.
    #[test]
    fn headers_match_the_serialised_fields() {
        let row = crate::store::AuditRow {
            seq: 1,
            entry: armory_actors::ports::AuditEntry {
                event_id: None,
                at: jiff::Timestamp::UNIX_EPOCH,
                site: "S".into(),
                locker: "L".into(),
                reader: None,
                action: armory_actors::ports::AuditAction::Anomaly,
                badge: None,
                employee_id: None,
                weapon_class: None,
                asset_tag: None,
                compartment: None,
                decision: armory_actors::ports::Decision::Recorded,
                reason: "r".to_owned(),
                transaction: None,
            },
            local_time: "t".to_owned(),
            prev_hash: "p".to_owned(),
            row_hash: "h".to_owned(),
        };
        assert_eq!(csv_header(ViewRow::from(&row)), VIEW_HEADERS.join(","));
        assert_eq!(csv_header(ExportRow::from(&row)), EXPORT_HEADERS.join(","));
    }

    /// The header line csv derives from a record's fields, in their order.
    fn csv_header<R: Serialize>(record: R) -> String {
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.serialize(record).expect("serialises");
        let bytes = writer.into_inner().expect("a Vec never fails to flush");
        let text = String::from_utf8(bytes).expect("csv writes UTF-8 here");
        text.lines().next().unwrap_or_default().to_owned()
    }
}
