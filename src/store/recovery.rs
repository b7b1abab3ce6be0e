//! What a restarted weapon or compartment resumes: the grant that was
//! written ahead but never completed, and the sign-out still out.
//!
//! A grant is open when the trail has the granted sign-out or return of a
//! weapon and nothing that closes its transaction: no `signed_out`,
//! `returned` or `unlock_expired` row and no anomaly of it. After a crash
//! between the grant and the door closing, this is how the service knows
//! that an officer may be standing at an open compartment.
//!
//! A weapon still out when the service starts goes on counting toward
//! overdue from its stored sign-out time, and the trail's `overdue` rows
//! say which alerts already went out, so a restart repeats none of them.

use armory_actors::domain::{AssetTag, EmployeeId};
use armory_actors::ports::{OpenGrant, OutstandingSignOut, OverdueStage};
use armory_actors::protocol::UnlockPurpose;
use rusqlite::{Connection, OptionalExtension};
use uuid::Uuid;

use super::{parse_utc, DbError, SqlContext};

/// The rows that are open grants: a granted sign-out or return whose
/// transaction has no closing row (`audit g`, to be narrowed further).
const OPEN_GRANTS: &str = "FROM audit g
     WHERE g.decision = 'granted'
       AND g.action IN ('sign_out_request', 'return_request')
       AND g.transaction_id IS NOT NULL
       AND NOT EXISTS (
           SELECT 1 FROM audit c
           WHERE c.transaction_id = g.transaction_id
             AND c.action IN ('signed_out', 'returned', 'unlock_expired', 'anomaly'))";

/// How many granted openings, of any weapon, the trail has not closed:
/// officers the service may still hear a door from.
pub(super) fn open_grant_count(conn: &Connection) -> Result<u64, DbError> {
    conn.query_row(&format!("SELECT COUNT(*) {OPEN_GRANTS}"), [], |row| {
        row.get(0)
    })
    .context("counting open grants")
}

/// The open grant of a weapon, if any.
pub(super) fn open_grant(
    conn: &Connection,
    asset_tag: &AssetTag,
) -> Result<Option<OpenGrant>, DbError> {
    let row: Option<(String, String, Option<String>, String)> = conn
        .query_row(
            &format!(
                "SELECT g.transaction_id, g.action, g.employee_id, g.at_utc
                 {OPEN_GRANTS} AND g.asset_tag = ?1
                 ORDER BY g.seq DESC LIMIT 1"
            ),
            [asset_tag.as_str()],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
        )
        .optional()
        .context("looking for an open grant")?;
    let Some((transaction, action, holder, at)) = row else {
        return Ok(None);
    };

    let corrupt = |column: &'static str, detail: String| DbError::Corrupt {
        table: "audit",
        key: transaction.clone(),
        column,
        detail,
    };
    let purpose = match action.as_str() {
        "return_request" => UnlockPurpose::Return,
        _ => UnlockPurpose::SignOut,
    };
    Ok(Some(OpenGrant {
        transaction: Uuid::parse_str(&transaction)
            .map_err(|e| corrupt("transaction_id", e.to_string()))?,
        purpose,
        holder: EmployeeId(holder.ok_or_else(|| corrupt("employee_id", "empty".into()))?),
        granted_at: parse_utc(&at).map_err(|e| corrupt("at_utc", e))?,
    }))
}

/// The outstanding sign-out of a weapon, if it is out.
pub(super) fn outstanding_sign_out(
    conn: &Connection,
    asset_tag: &AssetTag,
) -> Result<Option<OutstandingSignOut>, DbError> {
    let row: Option<(String, String, Option<String>)> = conn
        .query_row(
            "SELECT s.transaction_id, s.signed_out_at,
                    (SELECT a.reason FROM audit a
                     WHERE a.asset_tag = w.asset_tag AND a.action = 'overdue'
                       AND a.transaction_id = s.transaction_id
                     ORDER BY a.seq DESC LIMIT 1)
             FROM weapons w
             JOIN sign_outs s ON s.transaction_id = w.current_transaction
             WHERE w.asset_tag = ?1 AND w.holder IS NOT NULL AND s.returned_at IS NULL",
            [asset_tag.as_str()],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .optional()
        .context("looking for an outstanding sign-out")?;
    let Some((transaction, signed_out_at, overdue)) = row else {
        return Ok(None);
    };

    let corrupt = |column: &'static str, detail: String| DbError::Corrupt {
        table: "sign_outs",
        key: transaction.clone(),
        column,
        detail,
    };
    let overdue = match overdue.as_deref() {
        Some("weapon_overdue") => OverdueStage::Late,
        Some("weapon_overdue_escalated") => OverdueStage::Escalated,
        _ => OverdueStage::OnTime,
    };
    Ok(Some(OutstandingSignOut {
        transaction: Uuid::parse_str(&transaction)
            .map_err(|e| corrupt("transaction_id", e.to_string()))?,
        signed_out_at: parse_utc(&signed_out_at).map_err(|e| corrupt("signed_out_at", e))?,
        overdue,
    }))
}
