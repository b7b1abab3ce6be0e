//! The weapon lifecycle in the store: rounds deployed, service status,
//! problem reports and service records; and the armorer's views of weapons
//! due, quarantined and overdue.

use armory_actors::domain::{AssetTag, EmployeeId, LockerId, ServiceStatus, SiteId, WeaponClass};
use armory_actors::ports::WeaponChange;
use jiff::Timestamp;
use rusqlite::Connection;

use super::writer::RequestFailure;
use super::{parse_utc, utc_text, Database, DbError, SqlContext};

/// Applies a lifecycle change; the caller checked that the weapon exists.
pub(super) fn apply(conn: &Connection, change: &WeaponChange) -> Result<(), RequestFailure> {
    match change {
        WeaponChange::Deployed { asset_tag, rounds } => {
            conn.execute(
                "UPDATE weapons SET deployments_since_service = deployments_since_service + ?2
                 WHERE asset_tag = ?1",
                (asset_tag.as_str(), rounds),
            )
            .context("recording rounds deployed")?;
        }
        WeaponChange::StatusChanged { asset_tag, status } => {
            set_status(conn, asset_tag, *status)?;
        }
        WeaponChange::ProblemReported { asset_tag, note } => {
            set_status(conn, asset_tag, ServiceStatus::Quarantined)?;
            conn.execute(
                "INSERT INTO problem_reports (asset_tag, reported_at, reporter, code, text)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                (
                    asset_tag.as_str(),
                    utc_text(note.at),
                    note.reporter.as_str(),
                    note.code.as_str(),
                    note.text.as_deref(),
                ),
            )
            .context("recording the problem report")?;
        }
        WeaponChange::Serviced { asset_tag, note } => {
            let work = serde_json::to_string(&note.work).unwrap_or_else(|_| "[]".to_owned());
            conn.execute(
                "INSERT INTO service_records (asset_tag, serviced_on, armorer, work,
                                              function_test_passed, outcome, notes)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                (
                    asset_tag.as_str(),
                    note.date.to_string(),
                    note.armorer.as_str(),
                    work,
                    note.function_test_passed,
                    note.outcome.as_str(),
                    note.notes.as_deref(),
                ),
            )
            .context("recording the service")?;
            conn.execute(
                "UPDATE weapons SET status = ?2, sign_outs_since_service = 0,
                        deployments_since_service = 0, last_service_date = ?3
                 WHERE asset_tag = ?1",
                (
                    asset_tag.as_str(),
                    note.outcome.as_str(),
                    note.date.to_string(),
                ),
            )
            .context("resetting the counters")?;
            conn.execute(
                "UPDATE problem_reports SET resolved_at = ?2
                 WHERE asset_tag = ?1 AND resolved_at IS NULL",
                (asset_tag.as_str(), note.date.to_string()),
            )
            .context("resolving problem reports")?;
        }
        WeaponChange::SignedOut { .. } | WeaponChange::Returned { .. } => {}
    }
    Ok(())
}

fn set_status(
    conn: &Connection,
    asset_tag: &AssetTag,
    status: ServiceStatus,
) -> Result<(), RequestFailure> {
    conn.execute(
        "UPDATE weapons SET status = ?2 WHERE asset_tag = ?1",
        (asset_tag.as_str(), status.as_str()),
    )
    .context("changing the service status")?;
    Ok(())
}

/// One line of an armorer's view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeaponLine {
    /// Weapon.
    pub asset_tag: AssetTag,
    /// Class.
    pub class: WeaponClass,
    /// Site.
    pub site: SiteId,
    /// Locker.
    pub locker: LockerId,
    /// Compartment.
    pub compartment: u16,
    /// Service status.
    pub status: ServiceStatus,
    /// Sign-outs since service.
    pub sign_outs_since_service: u32,
    /// Rounds deployed since service.
    pub deployments_since_service: u32,
    /// Last service.
    pub last_service_date: String,
    /// Holder, if out.
    pub holder: Option<EmployeeId>,
    /// When it went out, if out.
    pub signed_out_at: Option<Timestamp>,
    /// The open problem report's code, if quarantined.
    pub problem: Option<String>,
}

impl Database {
    /// Weapons with a service status, e.g. `needs_service` or `quarantined`.
    pub fn weapons_with_status(&self, status: ServiceStatus) -> Result<Vec<WeaponLine>, DbError> {
        self.weapon_lines("w.status = ?1", status.as_str())
    }

    /// Weapons signed out before `before`.
    pub fn weapons_out_since(&self, before: Timestamp) -> Result<Vec<WeaponLine>, DbError> {
        self.weapon_lines(
            "w.holder IS NOT NULL AND s.signed_out_at < ?1",
            &utc_text(before),
        )
    }

    fn weapon_lines(&self, condition: &str, value: &str) -> Result<Vec<WeaponLine>, DbError> {
        let sql = format!(
            "SELECT w.asset_tag, w.class, w.site_id, w.locker_id, w.compartment, w.status,
                    w.sign_outs_since_service, w.deployments_since_service,
                    w.last_service_date, w.holder, s.signed_out_at,
                    (SELECT code FROM problem_reports p
                     WHERE p.asset_tag = w.asset_tag AND p.resolved_at IS NULL
                     ORDER BY p.id DESC LIMIT 1)
             FROM weapons w
             LEFT JOIN sign_outs s ON s.transaction_id = w.current_transaction
             WHERE {condition}
             ORDER BY w.site_id, w.locker_id, w.compartment"
        );
        let mut statement = self.conn.prepare(&sql).context("reading weapons")?;
        let mut rows = statement.query([value]).context("reading weapons")?;
        let mut lines = Vec::new();
        while let Some(row) = rows.next().context("reading weapons")? {
            let tag: String = row.get(0).context("reading weapons")?;
            let corrupt = |column: &'static str, detail: String| DbError::Corrupt {
                table: "weapons",
                key: tag.clone(),
                column,
                detail,
            };
            let class: String = row.get(1).context("reading weapons")?;
            let status: String = row.get(5).context("reading weapons")?;
            let signed_out_at: Option<String> = row.get(10).context("reading weapons")?;
            lines.push(WeaponLine {
                class: class
                    .parse()
                    .map_err(|e: armory_actors::domain::DomainError| {
                        corrupt("class", e.to_string())
                    })?,
                site: SiteId(row.get(2).context("reading weapons")?),
                locker: LockerId(row.get(3).context("reading weapons")?),
                compartment: row.get(4).context("reading weapons")?,
                status: status
                    .parse()
                    .map_err(|e: armory_actors::domain::DomainError| {
                        corrupt("status", e.to_string())
                    })?,
                sign_outs_since_service: row.get(6).context("reading weapons")?,
                deployments_since_service: row.get(7).context("reading weapons")?,
                last_service_date: row.get(8).context("reading weapons")?,
                holder: row
                    .get::<_, Option<String>>(9)
                    .context("reading weapons")?
                    .map(EmployeeId),
                signed_out_at: signed_out_at
                    .map(|text| parse_utc(&text).map_err(|e| corrupt("signed_out_at", e)))
                    .transpose()?,
                problem: row.get(11).context("reading weapons")?,
                asset_tag: AssetTag(tag),
            });
        }
        Ok(lines)
    }
}
