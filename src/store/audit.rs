//! The audit trail: appending to its hash chain, verifying it, querying it.
//!
//! Each row's `row_hash` is the lower-case hex SHA-256 of its `prev_hash`
//! (64 ASCII hex digits, the previous row's `row_hash`; [`GENESIS_HASH`]
//! for the first row) followed by the row's canonical content: a compact
//! JSON array of the fifteen content columns in table order (`event_id`,
//! `at_utc`, `site`, `local_time`, `locker`, `reader`, `action`,
//! `badge_uid`, `employee_id`, `weapon_class`, `asset_tag`, `compartment`,
//! `decision`, `reason`, `transaction_id`), each as stored: SQL NULL as
//! `null`, integers as JSON numbers, text as JSON strings (only `"`, `\` and
//! control characters escaped, no spaces between items). Anything else
//! (a blob, text that is not UTF-8) can only come from tampering and is
//! written as `{"bytes":"<hex>"}`, which never matches.
//!
//! `seq` is not hashed: the chain itself fixes the order. Changing,
//! inserting or removing a row breaks the chain at that row or the next.
//! Cutting rows off the end does not: only a copy of the newest hash kept
//! elsewhere (an export, a published checkpoint) shows that.

use std::str::FromStr;

use armory_actors::domain::{AssetTag, BadgeUid, EmployeeId, LockerId, ReaderId, SiteId};
use armory_actors::ports::{AuditEntry, Decision};
use jiff::tz::TimeZone;
use jiff::Timestamp;
use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, OptionalExtension, Row};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::agency::parsed;
use super::{parse_utc, utc_text, Database, DbError, SqlContext};

/// The `prev_hash` of the first row.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hashed columns, in table and hash order.
const CONTENT_COLUMNS: &str = "event_id, at_utc, site, local_time, locker, reader, action, \
     badge_uid, employee_id, weapon_class, asset_tag, compartment, decision, reason, \
     transaction_id";
const CONTENT_COUNT: usize = 15;

/// One stored audit row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRow {
    /// Position in the trail, from 1.
    pub seq: i64,
    /// What was recorded.
    pub entry: AuditEntry,
    /// The instant in the site's wall-clock time, with its offset.
    pub local_time: String,
    /// The previous row's hash.
    pub prev_hash: String,
    /// This row's hash.
    pub row_hash: String,
}

/// Which audit rows to return; every field left `None` matches all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Rows about this person.
    pub employee_id: Option<EmployeeId>,
    /// Rows about this weapon.
    pub asset_tag: Option<AssetTag>,
    /// Rows from this locker.
    pub locker: Option<LockerId>,
    /// Rows from this site.
    pub site: Option<SiteId>,
    /// Rows with this outcome.
    pub decision: Option<Decision>,
    /// Rows at or after this instant.
    pub since: Option<Timestamp>,
    /// Rows strictly before this instant.
    pub until: Option<Timestamp>,
}

impl Database {
    /// Recomputes the whole hash chain. Returns the number of rows checked,
    /// or [`DbError::AuditBreak`] naming the first row that does not check.
    pub fn verify_audit(&self) -> Result<u64, DbError> {
        let sql =
            format!("SELECT seq, {CONTENT_COLUMNS}, prev_hash, row_hash FROM audit ORDER BY seq");
        let mut statement = self.conn.prepare(&sql).context("reading the audit trail")?;
        let mut rows = statement.query([]).context("reading the audit trail")?;

        let mut expected_prev = GENESIS_HASH.to_owned();
        let mut checked = 0u64;
        while let Some(row) = rows.next().context("reading the audit trail")? {
            let seq: i64 = row.get(0).context("reading the audit trail")?;
            let broken = |detail: &str| DbError::AuditBreak {
                seq,
                detail: detail.to_owned(),
            };
            let prev =
                text_at(row, CONTENT_COUNT + 1)?.ok_or_else(|| broken("prev_hash is not text"))?;
            let stored =
                text_at(row, CONTENT_COUNT + 2)?.ok_or_else(|| broken("row_hash is not text"))?;
            if prev != expected_prev {
                return Err(broken("prev_hash differs from the previous row's row_hash"));
            }

            let mut content = Vec::with_capacity(CONTENT_COUNT);
            for index in 1..=CONTENT_COUNT {
                content.push(row.get_ref(index).context("reading the audit trail")?);
            }
            if chain_hash(&prev, &canonical(content)) != stored {
                return Err(broken("row_hash does not match the row's content"));
            }
            expected_prev = stored;
            checked += 1;
        }
        Ok(checked)
    }

    /// The rows that match `filter`, in time order (ties in trail order).
    pub fn audit_rows(&self, filter: &AuditFilter) -> Result<Vec<AuditRow>, DbError> {
        let mut conditions = Vec::new();
        let mut values: Vec<Value> = Vec::new();
        let mut condition = |sql: &str, value: String| {
            values.push(Value::Text(value));
            conditions.push(format!("{sql} ?{}", values.len()));
        };
        if let Some(employee_id) = &filter.employee_id {
            condition("employee_id =", employee_id.to_string());
        }
        if let Some(asset_tag) = &filter.asset_tag {
            condition("asset_tag =", asset_tag.to_string());
        }
        if let Some(locker) = &filter.locker {
            condition("locker =", locker.to_string());
        }
        if let Some(site) = &filter.site {
            condition("site =", site.to_string());
        }
        if let Some(decision) = filter.decision {
            condition("decision =", decision.as_str().to_owned());
        }
        // The fixed text form of instants sorts as time does.
        if let Some(since) = filter.since {
            condition("at_utc >=", utc_text(since));
        }
        if let Some(until) = filter.until {
            condition("at_utc <", utc_text(until));
        }

        let mut sql = format!("SELECT seq, {CONTENT_COLUMNS}, prev_hash, row_hash FROM audit");
        if !conditions.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conditions.join(" AND "));
        }
        sql.push_str(" ORDER BY at_utc, seq");

        let mut statement = self
            .conn
            .prepare(&sql)
            .context("querying the audit trail")?;
        let mut rows = statement
            .query(rusqlite::params_from_iter(values))
            .context("querying the audit trail")?;
        let mut found = Vec::new();
        while let Some(row) = rows.next().context("querying the audit trail")? {
            found.push(audit_row(row)?);
        }
        Ok(found)
    }

    /// How many rows have this outcome (all rows for `None`).
    pub fn count_audit(&self, decision: Option<Decision>) -> Result<u64, DbError> {
        let count: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM audit WHERE ?1 IS NULL OR decision = ?1",
                [decision.map(Decision::as_str)],
                |row| row.get(0),
            )
            .context("counting audit rows")?;
        Ok(u64::try_from(count).unwrap_or_default())
    }

    /// The newest row's `seq` and `row_hash`, `None` for an empty trail.
    /// Kept elsewhere, it is what shows later that rows were cut off the
    /// end, which the chain alone cannot.
    pub fn audit_head(&self) -> Result<Option<(i64, String)>, DbError> {
        self.conn
            .query_row(
                "SELECT seq, row_hash FROM audit ORDER BY seq DESC LIMIT 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .context("reading the newest audit row")
    }
}

/// The site's wall-clock time of `at`, with its offset, to the second.
pub(super) fn local_time(at: Timestamp, zone: &TimeZone) -> String {
    at.to_zoned(zone.clone())
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// Appends `entry` to the chain and returns its `seq`. The caller has
/// checked that its event id is new.
pub(super) fn append(
    conn: &Connection,
    entry: &AuditEntry,
    local_time: &str,
) -> Result<i64, DbError> {
    let text = |value: Option<&str>| value.map_or(Value::Null, |v| Value::Text(v.to_owned()));
    let content: [Value; CONTENT_COUNT] = [
        text(entry.event_id.map(|id| id.to_string()).as_deref()),
        Value::Text(utc_text(entry.at)),
        Value::Text(entry.site.to_string()),
        Value::Text(local_time.to_owned()),
        Value::Text(entry.locker.to_string()),
        text(entry.reader.as_ref().map(ReaderId::as_str)),
        Value::Text(entry.action.as_str().to_owned()),
        text(entry.badge.as_ref().map(BadgeUid::reveal)),
        text(entry.employee_id.as_ref().map(EmployeeId::as_str)),
        text(entry.weapon_class.map(|class| class.as_str())),
        text(entry.asset_tag.as_ref().map(AssetTag::as_str)),
        entry
            .compartment
            .map_or(Value::Null, |no| Value::Integer(i64::from(no))),
        Value::Text(entry.decision.as_str().to_owned()),
        Value::Text(entry.reason.clone()),
        text(entry.transaction.map(|id| id.to_string()).as_deref()),
    ];

    let prev: String = conn
        .query_row(
            "SELECT row_hash FROM audit ORDER BY seq DESC LIMIT 1",
            [],
            |row| row.get(0),
        )
        .optional()
        .context("reading the last audit hash")?
        .unwrap_or_else(|| GENESIS_HASH.to_owned());
    let row_hash = chain_hash(&prev, &canonical(content.iter().map(ValueRef::from)));

    let sql = format!(
        "INSERT INTO audit ({CONTENT_COLUMNS}, prev_hash, row_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"
    );
    let params = content
        .into_iter()
        .chain([Value::Text(prev), Value::Text(row_hash)]);
    conn.execute(&sql, rusqlite::params_from_iter(params))
        .context("appending to the audit trail")?;
    Ok(conn.last_insert_rowid())
}

/// Whether a row with this event id is already in the trail.
pub(super) fn has_event(conn: &Connection, event_id: Uuid) -> Result<bool, DbError> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM audit WHERE event_id = ?1)",
        [event_id.to_string()],
        |row| row.get(0),
    )
    .context("looking up the event id")
}

/// The canonical content described in the module documentation.
fn canonical<'a>(values: impl IntoIterator<Item = ValueRef<'a>>) -> String {
    let bytes = |bytes: &[u8]| serde_json::json!({ "bytes": hex::encode(bytes) });
    let items = values
        .into_iter()
        .map(|value| match value {
            ValueRef::Null => serde_json::Value::Null,
            ValueRef::Integer(number) => serde_json::Value::from(number),
            ValueRef::Real(number) => serde_json::Value::from(number),
            ValueRef::Text(text) => match std::str::from_utf8(text) {
                Ok(text) => serde_json::Value::from(text),
                Err(_) => bytes(text),
            },
            ValueRef::Blob(blob) => bytes(blob),
        })
        .collect();
    serde_json::Value::Array(items).to_string()
}

fn chain_hash(prev_hash: &str, canonical: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(canonical.as_bytes());
    hex::encode(hasher.finalize())
}

/// A column as text, `None` if it holds anything else.
fn text_at(row: &Row<'_>, index: usize) -> Result<Option<String>, DbError> {
    let value = row.get_ref(index).context("reading the audit trail")?;
    Ok(match value {
        ValueRef::Text(text) => std::str::from_utf8(text).ok().map(str::to_owned),
        _ => None,
    })
}

/// Parses an [`AuditAction`](armory_actors::ports::AuditAction) or a
/// [`Decision`] from the word serde writes for it, which is its `as_str`.
fn word<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, serde_json::Error> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
}

/// Reads a row selected as `seq, CONTENT_COLUMNS, prev_hash, row_hash`.
fn audit_row(row: &Row<'_>) -> Result<AuditRow, DbError> {
    let seq: i64 = row.get(0).context("reading the audit trail")?;
    let key = seq.to_string();
    let table = "audit";
    let opt = |index: usize| -> Result<Option<String>, DbError> {
        row.get(index).context("reading the audit trail")
    };
    let corrupt = |column: &'static str, detail: String| DbError::Corrupt {
        table,
        key: key.clone(),
        column,
        detail,
    };
    let uuid = |index: usize, column| {
        opt(index)?
            .map(|text| Uuid::parse_str(&text).map_err(|e| corrupt(column, e.to_string())))
            .transpose()
    };

    let entry = AuditEntry {
        event_id: uuid(1, "event_id")?,
        at: parsed(row, 2, table, &key, "at_utc", parse_utc)?,
        site: SiteId(row.get(3).context("reading the audit trail")?),
        locker: LockerId(row.get(5).context("reading the audit trail")?),
        reader: opt(6)?.map(ReaderId),
        action: parsed(row, 7, table, &key, "action", word)?,
        badge: opt(8)?
            .map(|text| BadgeUid::parse(&text).map_err(|e| corrupt("badge_uid", e.to_string())))
            .transpose()?,
        employee_id: opt(9)?.map(EmployeeId),
        weapon_class: opt(10)?
            .map(|text| {
                FromStr::from_str(&text).map_err(|e| corrupt("weapon_class", format!("{e}")))
            })
            .transpose()?,
        asset_tag: opt(11)?.map(AssetTag),
        compartment: row.get(12).context("reading the audit trail")?,
        decision: parsed(row, 13, table, &key, "decision", word)?,
        reason: row.get(14).context("reading the audit trail")?,
        transaction: uuid(15, "transaction_id")?,
    };
    Ok(AuditRow {
        seq,
        entry,
        local_time: row.get(4).context("reading the audit trail")?,
        prev_hash: row.get(16).context("reading the audit trail")?,
        row_hash: row.get(17).context("reading the audit trail")?,
    })
}
