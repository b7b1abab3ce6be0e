//! What the store says after a crash: grants and how each one closed, and
//! the sign-out ledger's intervals per weapon.
//!
//! Read through a read-only connection beside (or after) the service; the
//! instants are stored in a fixed UTC text form, so text order is time
//! order and the interval checks compare text.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use armory::store::Database;
use rusqlite::{Connection, OpenFlags};

/// Audit actions that close a granted opening.
const CLOSING: &str = "'signed_out', 'returned', 'unlock_expired', 'anomaly'";

/// The store's account of a shift.
#[derive(Debug, Default)]
pub struct Facts {
    /// Transactions of granted rows.
    pub granted: BTreeSet<String>,
    /// Granted transactions with no closing row yet.
    pub open_grants: BTreeSet<String>,
    /// Closing rows per action (`unlock_expired` split by reason).
    pub closings: BTreeMap<String, usize>,
    /// Transactions closed out as interrupted by a restart.
    pub interrupted: BTreeSet<String>,
    /// Weapons issued again before their previous sign-out was returned.
    pub overlaps: Vec<String>,
    /// Sign-outs in the ledger.
    pub sign_outs: usize,
    /// Sign-outs not returned.
    pub unreturned: Vec<String>,
}

impl Facts {
    /// Reads the store at `path`.
    pub fn read(path: &Path) -> Facts {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)
            .unwrap_or_else(|error| panic!("{}: store does not open: {error}", path.display()));
        let mut facts = Facts {
            granted: strings(
                &conn,
                "SELECT transaction_id FROM audit
                 WHERE decision = 'granted' AND transaction_id IS NOT NULL",
            ),
            open_grants: strings(
                &conn,
                &format!(
                    "SELECT g.transaction_id FROM audit g
                     WHERE g.decision = 'granted' AND g.transaction_id IS NOT NULL
                       AND NOT EXISTS (SELECT 1 FROM audit c
                                       WHERE c.transaction_id = g.transaction_id
                                         AND c.action IN ({CLOSING}))"
                ),
            ),
            interrupted: strings(
                &conn,
                "SELECT transaction_id FROM audit
                 WHERE action = 'unlock_expired' AND reason = 'interrupted'",
            ),
            ..Facts::default()
        };

        let closings = rows(
            &conn,
            &format!(
                "SELECT CASE action WHEN 'unlock_expired' THEN action || '/' || reason
                                    ELSE action END
                 FROM audit WHERE action IN ({CLOSING}) AND transaction_id IS NOT NULL"
            ),
            |row| row.get::<_, String>(0),
        );
        for closing in closings {
            *facts.closings.entry(closing).or_default() += 1;
        }

        let ledger = rows(
            &conn,
            "SELECT asset_tag, transaction_id, signed_out_at, returned_at
             FROM sign_outs ORDER BY asset_tag, signed_out_at",
            |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, Option<String>>(3)?,
                ))
            },
        );
        facts.sign_outs = ledger.len();
        for pair in ledger.windows(2) {
            let ((tag, first, _, returned), (next_tag, second, out, _)) = (&pair[0], &pair[1]);
            let back_in_time = returned.as_ref().is_some_and(|back| back <= out);
            if tag == next_tag && !back_in_time {
                facts.overlaps.push(format!(
                    "{tag}: {second} signed out at {out} while {first} (returned {returned:?}) \
                     was still out"
                ));
            }
        }
        facts.unreturned = ledger
            .iter()
            .filter(|(_, _, _, returned)| returned.is_none())
            .map(|(tag, transaction, _, _)| format!("{tag} ({transaction})"))
            .collect();
        facts
    }
}

/// Recomputes the audit hash chain, as `armory audit verify` does.
pub fn verify_audit(path: &Path) -> u64 {
    let database = Database::open_reader(path)
        .unwrap_or_else(|error| panic!("{}: store does not open: {error}", path.display()));
    database
        .verify_audit()
        .unwrap_or_else(|error| panic!("{}: audit verify fails: {error}", path.display()))
}

fn strings(conn: &Connection, sql: &str) -> BTreeSet<String> {
    rows(conn, sql, |row| row.get::<_, String>(0))
        .into_iter()
        .collect()
}

fn rows<T>(
    conn: &Connection,
    sql: &str,
    read: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Vec<T> {
    let mut statement = conn
        .prepare(sql)
        .unwrap_or_else(|error| panic!("{sql}: {error}"));
    let found = statement
        .query_map([], read)
        .unwrap_or_else(|error| panic!("{sql}: {error}"));
    found
        .collect::<rusqlite::Result<Vec<T>>>()
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
}
