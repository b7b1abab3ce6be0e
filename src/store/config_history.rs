//! Which configuration the service started with, start after start.

use jiff::Timestamp;
use rusqlite::OptionalExtension;

use super::{utc_text, Database, DbError, SqlContext};

impl Database {
    /// Records the configuration's fingerprint if it differs from the last
    /// one; returns the previous fingerprint when it changed (`Some(None)`
    /// on the very first start), `None` when it is unchanged.
    pub fn note_configuration(
        &mut self,
        sha256: &str,
        at: Timestamp,
    ) -> Result<Option<Option<String>>, DbError> {
        let last: Option<String> = self
            .conn
            .query_row(
                "SELECT sha256 FROM config_history ORDER BY id DESC LIMIT 1",
                [],
                |row| row.get(0),
            )
            .optional()
            .context("reading the configuration history")?;
        if last.as_deref() == Some(sha256) {
            return Ok(None);
        }
        self.conn
            .execute(
                "INSERT INTO config_history (loaded_at, sha256) VALUES (?1, ?2)",
                (utc_text(at), sha256),
            )
            .context("recording the configuration")?;
        Ok(Some(last))
    }
}
