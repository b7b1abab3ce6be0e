//! Turns a byte offset in the configuration text into what a reader needs:
//! a line and column, and the dotted key the offset belongs to.
//!
//! The toml crate gives a span for each error but keeps the key path to
//! itself, so the key is recovered from the text: the table header above
//! the span, and the key on the span's line. That is exact for files of
//! plain tables and `key = value` lines, which is all this configuration
//! has; inside a multi-line array or string it may name the wrong key,
//! while the line and column stay exact.

use super::ConfigProblem;

/// The tables at the top of the file; a missing one is reported at the
/// start of the file, not under whatever table comes first.
const TABLES: &[&str] = &[
    "service", "broker", "metrics", "agency", "timing", "security",
];

/// The 1-based line and column (in characters) of a byte offset.
pub(super) fn position(text: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(text, offset);
    let before = &text[..offset];
    let line = 1 + before.matches('\n').count();
    let line_start = before.rfind('\n').map_or(0, |at| at + 1);
    let column = 1 + text[line_start..offset].chars().count();
    (line, column)
}

/// The problem for an error from toml: a syntax error or a file whose
/// shape does not match (unknown key, missing key, wrong type).
pub(super) fn shape_problem(text: &str, error: &toml::de::Error) -> ConfigProblem {
    let offset = error.span().map_or(0, |span| span.start);
    let (line, column) = position(text, offset);
    let message = error.message().trim().to_owned();
    ConfigProblem {
        line,
        column,
        key: key_path(text, offset, &message),
        message,
    }
}

/// The dotted key an error at `offset` is about.
fn key_path(text: &str, offset: usize, message: &str) -> String {
    // serde names a missing key only in its message, at the table's span.
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split_once('`'))
        .map(|(name, _)| name);
    if let Some(table) = missing.filter(|name| TABLES.contains(name)) {
        return table.to_owned();
    }

    let offset = floor_char_boundary(text, offset);
    let line_start = text[..offset].rfind('\n').map_or(0, |at| at + 1);
    let line_end = text[offset..]
        .find('\n')
        .map_or(text.len(), |at| offset + at);
    let this_line = &text[line_start..line_end];

    let table = text[..line_end].lines().rev().find_map(header_name);
    let key = if header_name(this_line).is_some() {
        None
    } else {
        key_name(this_line)
    };
    [table, key, missing.map(str::to_owned)]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(".")
}

/// The name in a `[table]` header line.
fn header_name(line: &str) -> Option<String> {
    let inner = line.trim().strip_prefix('[')?;
    let inner = inner.trim_start_matches('[');
    let (name, _) = inner.split_once(']')?;
    Some(unquote(name))
}

/// The key of a `key = value` line.
fn key_name(line: &str) -> Option<String> {
    let line = line.trim();
    if line.starts_with('#') {
        return None;
    }
    let (key, _) = line.split_once('=')?;
    let key = unquote(key);
    (!key.is_empty()).then_some(key)
}

fn unquote(name: &str) -> String {
    name.trim()
        .trim_matches(|c| c == '"' || c == '\'')
        .to_owned()
}

fn floor_char_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}
