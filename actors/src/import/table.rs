//! What every CSV export has in common: a header naming a fixed set of
//! columns, then rows whose fields are read by column name.
//!
//! [`read_table`] drives one file: it checks the header, skips blank rows,
//! checks each row's field count, and hands each row to a builder. The
//! builder reads fields through [`Row`], which notes every bad field, so a
//! row with two faults yields two errors. Errors are kept per file up to
//! [`MAX_ERRORS_PER_FILE`].

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Display;
use std::hash::Hash;
use std::str::FromStr;

use jiff::civil::Date;
use jiff::Timestamp;

use super::records::{self, Record};
use super::{ImportError, ImportErrors};

/// The most errors kept for one file; a last entry says how many more
/// there were.
pub const MAX_ERRORS_PER_FILE: usize = 100;

/// A value together with the line it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Lined<T> {
    /// Line of the row, counted from 1 (the header is line 1).
    pub line: usize,
    /// What the row said.
    pub value: T,
}

/// Collects the errors of one file, up to the cap.
pub(super) struct FileErrors {
    file: String,
    kept: Vec<ImportError>,
    more: usize,
    last_line: usize,
}

impl FileErrors {
    pub fn new(file: &str) -> Self {
        Self {
            file: file.to_owned(),
            kept: Vec::new(),
            more: 0,
            last_line: 0,
        }
    }

    /// Notes an error at `line`, in `column` if the error is in one field.
    pub fn push(&mut self, line: usize, column: Option<&str>, message: impl Into<String>) {
        self.last_line = self.last_line.max(line);
        if self.kept.len() < MAX_ERRORS_PER_FILE {
            self.kept.push(ImportError {
                file: self.file.clone(),
                line,
                column: column.map(str::to_owned),
                message: message.into(),
            });
        } else {
            self.more += 1;
        }
    }

    fn absorb(&mut self, errors: Vec<ImportError>) {
        for error in errors {
            self.push(error.line, error.column.as_deref(), error.message);
        }
    }

    /// True while no error has been noted.
    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    /// The value if no error was noted, else every error in line order.
    pub fn finish<T>(mut self, value: T) -> Result<T, ImportErrors> {
        if self.kept.is_empty() {
            return Ok(value);
        }
        self.kept.sort_by_key(|error| error.line);
        if self.more > 0 {
            let message = format!("{} more errors not shown", self.more);
            self.kept.push(ImportError {
                file: self.file.clone(),
                line: self.last_line,
                column: None,
                message,
            });
        }
        Err(ImportErrors(self.kept))
    }
}

/// One data row, read by column name. Every failed read is noted; the
/// builder combines the results and gets `None` if anything failed.
pub(super) struct Row<'r> {
    line: usize,
    columns: &'static [&'static str],
    fields: Vec<&'r str>,
    errors: RefCell<Vec<ImportError>>,
    file: &'r str,
}

impl<'r> Row<'r> {
    /// The row's line.
    pub fn line(&self) -> usize {
        self.line
    }

    /// Notes an error in `column` of this row.
    pub fn fault(&self, column: &str, message: impl Into<String>) {
        self.errors.borrow_mut().push(ImportError {
            file: self.file.to_owned(),
            line: self.line,
            column: Some(column.to_owned()),
            message: message.into(),
        });
    }

    /// A field that must not be empty.
    pub fn text(&self, column: &'static str) -> Option<&'r str> {
        let Some(index) = self.columns.iter().position(|name| *name == column) else {
            // Only a builder asking for a column its table lacks gets here.
            self.fault(column, "the importer asked for a column this file has not");
            return None;
        };
        let field = self.fields.get(index).copied().unwrap_or_default();
        if field.is_empty() {
            self.fault(column, "empty required field");
            return None;
        }
        Some(field)
    }

    /// A field that must not be empty, as an owned string.
    pub fn string(&self, column: &'static str) -> Option<String> {
        self.text(column).map(str::to_owned)
    }

    /// A field parsed by its type's `FromStr`, whose error is the message.
    pub fn word<T>(&self, column: &'static str) -> Option<T>
    where
        T: FromStr,
        T::Err: Display,
    {
        let text = self.text(column)?;
        text.parse()
            .map_err(|error: T::Err| self.fault(column, error.to_string()))
            .ok()
    }

    /// A whole number from 0 to the type's maximum.
    pub fn count<T>(&self, column: &'static str, max: T) -> Option<T>
    where
        T: FromStr + Display,
    {
        let text = self.text(column)?;
        text.parse()
            .map_err(|_| {
                self.fault(
                    column,
                    format!("{text:?} is not a whole number from 0 to {max}"),
                )
            })
            .ok()
    }

    /// A calendar date, `YYYY-MM-DD`.
    pub fn date(&self, column: &'static str) -> Option<Date> {
        let text = self.text(column)?;
        text.parse()
            .map_err(|error: jiff::Error| {
                self.fault(
                    column,
                    format!("{text:?} is not a date (YYYY-MM-DD): {error}"),
                )
            })
            .ok()
    }

    /// An instant in RFC 3339 form with an offset, e.g. `2026-10-30T23:59:59Z`.
    pub fn timestamp(&self, column: &'static str) -> Option<Timestamp> {
        let text = self.text(column)?;
        text.parse()
            .map_err(|error: jiff::Error| {
                let message = format!("{text:?} is not an instant (RFC 3339 with offset): {error}");
                self.fault(column, message)
            })
            .ok()
    }
}

/// Remembers where each key was first seen, to name both lines of a
/// duplicate.
pub(super) struct FirstSeen<K>(HashMap<K, usize>);

impl<K: Hash + Eq> FirstSeen<K> {
    pub fn new() -> Self {
        Self(HashMap::new())
    }

    /// Notes `key` at the row's line; a repeat is a fault in `column`,
    /// described as `what` (which must not reveal secrets).
    pub fn check(&mut self, row: &Row<'_>, column: &str, key: K, what: impl Display) {
        match self.0.get(&key) {
            Some(first) => row.fault(column, format!("duplicate {what} (first on line {first})")),
            None => {
                self.0.insert(key, row.line());
            }
        }
    }
}

/// The rows of one file that read well, and the errors of the others.
pub(super) struct Table<T> {
    /// Good rows, in file order.
    pub rows: Vec<Lined<T>>,
    /// Faults so far; checks against other files add theirs.
    pub errors: FileErrors,
}

impl<T> Table<T> {
    /// The rows if the file has no fault at all.
    pub fn finish(self) -> Result<Vec<Lined<T>>, ImportErrors> {
        self.errors.finish(self.rows)
    }
}

/// Reads one file: header, then each row through `build`.
///
/// `columns` is the exact set of columns the file must have; they may
/// come in any order.
pub(super) fn read_table<T>(
    file: &str,
    bytes: &[u8],
    columns: &'static [&'static str],
    mut build: impl FnMut(&Row<'_>) -> Option<T>,
) -> Table<T> {
    let mut errors = FileErrors::new(file);
    let failed = |errors| Table {
        rows: Vec::new(),
        errors,
    };

    let text = match records::decode(bytes) {
        Ok(text) => text,
        Err(fault) => {
            errors.push(fault.line, None, fault.message);
            return failed(errors);
        }
    };
    let (records, faults) = records::split(text);
    for fault in faults {
        errors.push(fault.line, None, fault.message);
    }

    let mut records = records.into_iter().filter(|record| !record.is_blank());
    let Some(header) = records.next() else {
        let wanted = columns.join(",");
        errors.push(1, None, format!("no header row; expected {wanted}"));
        return failed(errors);
    };
    let Some(order) = map_header(&header, columns, &mut errors) else {
        return failed(errors);
    };

    let mut rows = Vec::new();
    for record in records {
        if record.fields.len() != columns.len() {
            let message = format!(
                "expected {} fields, found {}",
                columns.len(),
                record.fields.len()
            );
            errors.push(record.line, None, message);
            continue;
        }
        let row = Row {
            line: record.line,
            columns,
            fields: order.iter().map(|&at| record.fields[at].as_str()).collect(),
            errors: RefCell::new(Vec::new()),
            file,
        };
        let value = build(&row);
        let row_errors = row.errors.into_inner();
        match value {
            Some(value) if row_errors.is_empty() => rows.push(Lined {
                line: record.line,
                value,
            }),
            _ => errors.absorb(row_errors),
        }
    }
    Table { rows, errors }
}

/// For each expected column, the index of its field in the file's rows.
fn map_header(header: &Record, columns: &[&str], errors: &mut FileErrors) -> Option<Vec<usize>> {
    let mut faulty = false;
    for (at, name) in header.fields.iter().enumerate() {
        if !columns.contains(&name.as_str()) {
            let expected = columns.join(",");
            errors.push(
                header.line,
                Some(name),
                format!("unknown column; expected {expected}"),
            );
            faulty = true;
        } else if header.fields[..at].contains(name) {
            errors.push(header.line, Some(name), "column appears twice");
            faulty = true;
        }
    }

    let mut order = Vec::with_capacity(columns.len());
    for column in columns {
        match header.fields.iter().position(|name| name == column) {
            Some(at) => order.push(at),
            None => {
                errors.push(header.line, Some(column), "missing column");
                faulty = true;
            }
        }
    }
    (!faulty).then_some(order)
}
