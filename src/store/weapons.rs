//! Weapons and the sign-out ledger.
//!
//! A weapon row carries its holder and the transaction it left under; the
//! `sign_outs` table keeps one row per sign-out, closed by its return. The
//! writer applies a [`WeaponChange`] here inside the same savepoint as its
//! audit row, after checking that it fits the stored state: a weapon is
//! signed out only when nobody holds it, and returned only by its holder.
//! Whether a weapon may be issued at all (its service status, the person's
//! certification) is the rules' decision; the store records what happened.

use std::str::FromStr;

use armory_actors::domain::{AssetTag, EmployeeId, LockerId, SiteId, Weapon};
use armory_actors::ports::{StoreError, WeaponChange};
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Row};
use uuid::Uuid;

use super::agency::parsed;
use super::writer::RequestFailure;
use super::{parse_utc, utc_text, Database, DbError, SqlContext};

/// The columns [`weapon_from_row`] reads, in its order.
pub(super) const WEAPON_COLUMNS: &str = "asset_tag, serial_number, make, model, class, site_id, \
     locker_id, compartment, status, sign_outs_since_service, total_sign_outs, \
     last_service_date, holder, deployments_since_service";

/// One sign-out, open or closed by its return.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignOutRecord {
    /// The sign-out transaction.
    pub transaction: Uuid,
    /// The weapon.
    pub asset_tag: AssetTag,
    /// Who took it.
    pub holder: EmployeeId,
    /// When it left its compartment.
    pub signed_out_at: Timestamp,
    /// When it came back, if it has.
    pub returned_at: Option<Timestamp>,
    /// The return transaction, if it has come back.
    pub return_transaction: Option<Uuid>,
}

impl Database {
    /// One weapon as stored, with its holder; `None` if the tag is unknown.
    pub fn weapon(&self, asset_tag: &AssetTag) -> Result<Option<Weapon>, DbError> {
        let sql = format!("SELECT {WEAPON_COLUMNS} FROM weapons WHERE asset_tag = ?1");
        let mut statement = self.conn.prepare(&sql).context("reading a weapon")?;
        let mut rows = statement
            .query([asset_tag.as_str()])
            .context("reading a weapon")?;
        match rows.next().context("reading a weapon")? {
            Some(row) => weapon_from_row(row).map(Some),
            None => Ok(None),
        }
    }

    /// How many granted openings the trail has not closed yet (no sign-out,
    /// return, expiry or anomaly recorded for them).
    pub fn open_grant_count(&self) -> Result<u64, DbError> {
        super::recovery::open_grant_count(&self.conn)
    }

    /// Every sign-out not yet closed by a return, oldest first.
    pub fn open_sign_outs(&self) -> Result<Vec<SignOutRecord>, DbError> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT transaction_id, asset_tag, holder, signed_out_at, returned_at,
                        return_transaction
                 FROM sign_outs WHERE returned_at IS NULL ORDER BY signed_out_at",
            )
            .context("reading open sign-outs")?;
        let mut rows = statement.query([]).context("reading open sign-outs")?;
        let mut records = Vec::new();
        while let Some(row) = rows.next().context("reading open sign-outs")? {
            records.push(sign_out_from_row(row)?);
        }
        Ok(records)
    }
}

pub(super) fn insert_weapon(conn: &Connection, weapon: &Weapon) -> Result<(), DbError> {
    conn.execute(
        "INSERT INTO weapons (asset_tag, serial_number, make, model, class, site_id, locker_id,
                              compartment, status, sign_outs_since_service, total_sign_outs,
                              last_service_date, holder, deployments_since_service)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        rusqlite::params![
            weapon.asset_tag.as_str(),
            weapon.serial_number,
            weapon.make,
            weapon.model,
            weapon.class.as_str(),
            weapon.site.as_str(),
            weapon.locker.as_str(),
            weapon.compartment,
            weapon.status.as_str(),
            weapon.sign_outs_since_service,
            weapon.total_sign_outs,
            weapon.last_service_date.to_string(),
            weapon.holder.as_ref().map(EmployeeId::as_str),
            weapon.deployments_since_service,
        ],
    )
    .map(drop)
    .map_err(|source| DbError::Insert {
        table: "weapons",
        key: weapon.asset_tag.to_string(),
        source,
    })
}

/// Reads a row selected with [`WEAPON_COLUMNS`].
pub(super) fn weapon_from_row(row: &Row<'_>) -> Result<Weapon, DbError> {
    let tag: String = row.get(0).context("reading weapons")?;
    let holder: Option<String> = row.get(12).context("reading weapons")?;
    Ok(Weapon {
        serial_number: row.get(1).context("reading weapons")?,
        make: row.get(2).context("reading weapons")?,
        model: row.get(3).context("reading weapons")?,
        class: parsed(row, 4, "weapons", &tag, "class", FromStr::from_str)?,
        site: SiteId(row.get(5).context("reading weapons")?),
        locker: LockerId(row.get(6).context("reading weapons")?),
        compartment: row.get(7).context("reading weapons")?,
        status: parsed(row, 8, "weapons", &tag, "status", FromStr::from_str)?,
        sign_outs_since_service: row.get(9).context("reading weapons")?,
        total_sign_outs: row.get(10).context("reading weapons")?,
        last_service_date: parsed(row, 11, "weapons", &tag, "last_service_date", |text| {
            text.parse::<jiff::civil::Date>()
        })?,
        holder: holder.map(EmployeeId),
        deployments_since_service: row.get(13).context("reading weapons")?,
        asset_tag: AssetTag(tag),
    })
}

fn sign_out_from_row(row: &Row<'_>) -> Result<SignOutRecord, DbError> {
    let key: String = row.get(0).context("reading sign-outs")?;
    let table = "sign_outs";
    let returned_at: Option<String> = row.get(4).context("reading sign-outs")?;
    let return_transaction: Option<String> = row.get(5).context("reading sign-outs")?;
    let corrupt = |column, detail: String| DbError::Corrupt {
        table,
        key: key.clone(),
        column,
        detail,
    };
    Ok(SignOutRecord {
        transaction: parsed(row, 0, table, &key, "transaction_id", Uuid::parse_str)?,
        asset_tag: AssetTag(row.get(1).context("reading sign-outs")?),
        holder: EmployeeId(row.get(2).context("reading sign-outs")?),
        signed_out_at: parsed(row, 3, table, &key, "signed_out_at", parse_utc)?,
        returned_at: returned_at
            .map(|text| parse_utc(&text).map_err(|e| corrupt("returned_at", e)))
            .transpose()?,
        return_transaction: return_transaction
            .map(|text| {
                Uuid::parse_str(&text).map_err(|e| corrupt("return_transaction", e.to_string()))
            })
            .transpose()?,
    })
}

/// Applies `change` if it fits the stored state, else refuses it with a
/// conflict that says what contradicts what.
pub(super) fn apply_change(conn: &Connection, change: &WeaponChange) -> Result<(), RequestFailure> {
    match change {
        WeaponChange::SignedOut {
            asset_tag,
            holder,
            transaction,
            at,
        } => {
            match current_holder(conn, asset_tag)? {
                None => return Err(unknown_weapon(asset_tag)),
                Some(Some(current)) => {
                    return Err(conflict(format!(
                        "weapon {asset_tag} is already signed out to {current}"
                    )))
                }
                Some(None) => {}
            }
            let transaction = transaction.to_string();
            let recorded: bool = conn
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM sign_outs WHERE transaction_id = ?1)",
                    [&transaction],
                    |row| row.get(0),
                )
                .context("looking up the sign-out transaction")?;
            if recorded {
                return Err(conflict(format!(
                    "sign-out transaction {transaction} is already recorded"
                )));
            }

            conn.execute(
                "UPDATE weapons SET holder = ?2, current_transaction = ?3,
                        sign_outs_since_service = sign_outs_since_service + 1,
                        total_sign_outs = total_sign_outs + 1
                 WHERE asset_tag = ?1",
                (asset_tag.as_str(), holder.as_str(), &transaction),
            )
            .context("recording the holder")?;
            conn.execute(
                "INSERT INTO sign_outs (transaction_id, asset_tag, holder, signed_out_at)
                 VALUES (?1, ?2, ?3, ?4)",
                (
                    &transaction,
                    asset_tag.as_str(),
                    holder.as_str(),
                    utc_text(*at),
                ),
            )
            .context("recording the sign-out")?;
        }
        WeaponChange::Returned {
            asset_tag,
            holder,
            transaction,
            at,
        } => {
            match current_holder(conn, asset_tag)? {
                None => return Err(unknown_weapon(asset_tag)),
                Some(None) => {
                    return Err(conflict(format!("weapon {asset_tag} is not signed out")))
                }
                Some(Some(current)) if current != holder.as_str() => {
                    return Err(conflict(format!(
                        "weapon {asset_tag} is held by {current}, not {holder}"
                    )))
                }
                Some(Some(_)) => {}
            }

            // Close the ledger row first: it is found through the weapon's
            // current transaction, which the next statement clears.
            conn.execute(
                "UPDATE sign_outs SET returned_at = ?2, return_transaction = ?3
                 WHERE transaction_id = (SELECT current_transaction FROM weapons
                                         WHERE asset_tag = ?1)",
                (asset_tag.as_str(), utc_text(*at), transaction.to_string()),
            )
            .context("closing the sign-out")?;
            conn.execute(
                "UPDATE weapons SET holder = NULL, current_transaction = NULL
                 WHERE asset_tag = ?1",
                [asset_tag.as_str()],
            )
            .context("clearing the holder")?;
        }
        WeaponChange::Deployed { .. }
        | WeaponChange::StatusChanged { .. }
        | WeaponChange::ProblemReported { .. }
        | WeaponChange::Serviced { .. } => {
            if current_holder(conn, change_asset(change))?.is_none() {
                return Err(unknown_weapon(change_asset(change)));
            }
            super::lifecycle::apply(conn, change)?;
        }
    }
    Ok(())
}

fn change_asset(change: &WeaponChange) -> &AssetTag {
    match change {
        WeaponChange::SignedOut { asset_tag, .. }
        | WeaponChange::Returned { asset_tag, .. }
        | WeaponChange::Deployed { asset_tag, .. }
        | WeaponChange::StatusChanged { asset_tag, .. }
        | WeaponChange::ProblemReported { asset_tag, .. }
        | WeaponChange::Serviced { asset_tag, .. } => asset_tag,
    }
}

/// `None` if the weapon is unknown, else its holder if any.
fn current_holder(
    conn: &Connection,
    asset_tag: &AssetTag,
) -> Result<Option<Option<String>>, DbError> {
    conn.query_row(
        "SELECT holder FROM weapons WHERE asset_tag = ?1",
        [asset_tag.as_str()],
        |row| row.get(0),
    )
    .optional()
    .context("reading the weapon's holder")
}

fn unknown_weapon(asset_tag: &AssetTag) -> RequestFailure {
    conflict(format!("weapon {asset_tag} is not in the store"))
}

fn conflict(detail: String) -> RequestFailure {
    RequestFailure::Refused(StoreError::Conflict { detail })
}
