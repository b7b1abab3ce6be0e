//! Changing personnel beside a running service, and noticing the change.
//!
//! A roster import, a training import or a PIN enrolment runs in one
//! [`PersonnelTx`]: an immediate transaction (SQLite's write lock, taken at
//! `BEGIN`) in which the caller reads what is stored, checks its file
//! against it, writes, and commits with an audit row and a bumped
//! `personnel_generation`. Because the lock is held from the first read,
//! the checks see exactly what the writes replace, and the audit row's
//! `prev_hash` is the trail's real last hash even though the service's own
//! writer thread uses another connection. Dropping the transaction without
//! committing leaves everything as it was.
//!
//! A running service polls [`Database::personnel_generation`] through a
//! read-only connection and reloads with [`Database::personnel_snapshot`]
//! when it moved.

use std::collections::{BTreeMap, BTreeSet};

use armory_actors::domain::{AssetTag, Certification, EmployeeId, Person, Personnel, SiteId};
use armory_actors::ports::AuditEntry;
use jiff::tz::TimeZone;
use rusqlite::{Transaction, TransactionBehavior};

use super::agency::{
    bump_generation, insert_certifications, read_personnel, set_pin_hash, write_personnel,
};
use super::audit::{append, local_time};
use super::{Database, DbError, SqlContext};

/// A write transaction on people, certifications and PIN hashes; see the
/// module documentation. Nothing is stored until [`PersonnelTx::commit`].
#[derive(Debug)]
pub struct PersonnelTx<'db> {
    tx: Transaction<'db>,
}

impl Database {
    /// Takes the write lock (waiting up to the busy timeout for another
    /// writer) and starts a personnel change.
    pub fn begin_personnel(&mut self) -> Result<PersonnelTx<'_>, DbError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .context("starting a personnel change")?;
        Ok(PersonnelTx { tx })
    }

    /// How many personnel changes the store has committed.
    pub fn personnel_generation(&self) -> Result<u64, DbError> {
        generation(&self.conn)
    }

    /// The generation and the personnel of that generation, read in one
    /// transaction so that people, certifications and PIN hashes agree.
    pub fn personnel_snapshot(&self) -> Result<(u64, Personnel), DbError> {
        // A deferred transaction only reads; it works on a read-only
        // connection and sees one snapshot of the WAL.
        let tx = self
            .conn
            .unchecked_transaction()
            .context("starting a personnel read")?;
        let generation = generation(&tx)?;
        let personnel = read_personnel(&tx)?;
        tx.commit().context("ending a personnel read")?;
        Ok((generation, personnel))
    }
}

impl PersonnelTx<'_> {
    /// The ids of the stored sites.
    pub fn site_ids(&self) -> Result<BTreeSet<SiteId>, DbError> {
        let mut statement = self
            .tx
            .prepare("SELECT site_id FROM sites")
            .context("reading site ids")?;
        let rows = statement
            .query_map([], |row| Ok(SiteId(row.get(0)?)))
            .context("reading site ids")?;
        rows.collect::<Result<_, _>>().context("reading site ids")
    }

    /// The personnel in force, as the change started.
    pub fn personnel(&self) -> Result<Personnel, DbError> {
        read_personnel(&self.tx)
    }

    /// The weapons signed out now, by holder.
    pub fn weapons_held(&self) -> Result<BTreeMap<EmployeeId, Vec<AssetTag>>, DbError> {
        let mut statement = self
            .tx
            .prepare(
                "SELECT holder, asset_tag FROM weapons WHERE holder IS NOT NULL
                 ORDER BY holder, asset_tag",
            )
            .context("reading weapon holders")?;
        let rows = statement
            .query_map([], |row| {
                Ok((EmployeeId(row.get(0)?), AssetTag(row.get(1)?)))
            })
            .context("reading weapon holders")?;
        let mut held: BTreeMap<EmployeeId, Vec<AssetTag>> = BTreeMap::new();
        for row in rows {
            let (holder, asset_tag) = row.context("reading weapon holders")?;
            held.entry(holder).or_default().push(asset_tag);
        }
        Ok(held)
    }

    /// Makes `people` the roster. People who stay keep their
    /// certifications and PIN hashes; people who leave lose both. Weapon
    /// records are not touched: a weapon keeps its holder, on the roster or
    /// not, until it comes back.
    pub fn replace_people(&self, people: &BTreeMap<EmployeeId, Person>) -> Result<(), DbError> {
        let before = read_personnel(&self.tx)?;
        let kept = before
            .certifications
            .into_iter()
            .filter(|(employee_id, _)| people.contains_key(employee_id))
            .collect();
        let roster = Personnel {
            people: people.clone(),
            certifications: kept,
            pin_hashes: BTreeMap::new(),
        };

        // Certifications go first: they refer to people.
        self.tx
            .execute_batch("DELETE FROM certifications; DELETE FROM people;")
            .context("clearing the roster")?;
        write_personnel(&self.tx, &roster)?;
        self.tx
            .execute(
                "DELETE FROM pin_hashes
                 WHERE employee_id NOT IN (SELECT employee_id FROM people)",
                [],
            )
            .context("dropping the PIN hashes of people who left")?;
        Ok(())
    }

    /// Makes `certifications` the whole set of certifications. Each must
    /// belong to someone on the roster (a foreign key refuses it otherwise).
    pub fn replace_certifications(&self, certifications: &[Certification]) -> Result<(), DbError> {
        self.tx
            .execute("DELETE FROM certifications", [])
            .context("clearing the certifications")?;
        insert_certifications(&self.tx, certifications)
    }

    /// Enrols (or replaces) a person's PIN hash, an argon2 PHC string.
    pub fn set_pin_hash(&self, employee_id: &EmployeeId, phc: &str) -> Result<(), DbError> {
        set_pin_hash(&self.tx, employee_id, phc)
    }

    /// Bumps the personnel generation, appends `entry` to the audit trail
    /// and commits, all or nothing. Returns the new generation.
    ///
    /// The row's local time is shown in UTC: changes of personnel belong to
    /// no site's wall clock.
    pub fn commit(self, entry: &AuditEntry) -> Result<u64, DbError> {
        let generation = bump_generation(&self.tx)?;
        append(&self.tx, entry, &local_time(entry.at, &TimeZone::UTC))?;
        self.tx.commit().context("committing a personnel change")?;
        Ok(generation)
    }
}

fn generation(conn: &rusqlite::Connection) -> Result<u64, DbError> {
    let value: i64 = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'personnel_generation'",
            [],
            |row| row.get(0),
        )
        .context("reading the personnel generation")?;
    Ok(u64::try_from(value).unwrap_or_default())
}
