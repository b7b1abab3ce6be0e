//! Schema migrations, recorded in `schema_migrations`.
//!
//! Each migration has a version and runs once, in its own immediate
//! transaction together with the row that records it, so a crash leaves
//! either all of it or none. Migrations are only ever appended to
//! [`MIGRATIONS`]; a released one is never edited. A file whose recorded
//! version is newer than this build knows is refused rather than guessed at.

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::{utc_text, DbError, SqlContext};

/// One step of the schema.
struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
}

/// Every migration, in order.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial schema",
        sql: INITIAL_SCHEMA,
    },
    Migration {
        version: 2,
        name: "personnel generation",
        sql: PERSONNEL_GENERATION,
    },
    Migration {
        version: 3,
        name: "weapon lifecycle",
        sql: WEAPON_LIFECYCLE,
    },
    Migration {
        version: 4,
        name: "configuration history",
        sql: CONFIGURATION_HISTORY,
    },
];

/// Version 1. Times are RFC 3339 text (UTC ones in the fixed form of
/// `utc_text`), ids are text, uuids are hyphenated lower-case text.
/// `weapons.holder` and `audit.employee_id` deliberately have no foreign
/// key: a person who leaves the roster still holds what they signed out and
/// still appears in the trail.
const INITIAL_SCHEMA: &str = "
CREATE TABLE sites (
    site_id  TEXT PRIMARY KEY,
    name     TEXT NOT NULL,
    timezone TEXT NOT NULL
) STRICT;

CREATE TABLE lockers (
    locker_id    TEXT PRIMARY KEY,
    site_id      TEXT NOT NULL REFERENCES sites (site_id),
    model        TEXT NOT NULL,
    compartments TEXT NOT NULL, -- JSON array of sizes, compartment 1 first
    readers      TEXT NOT NULL  -- JSON array of reader kinds, R1 first
) STRICT;

CREATE TABLE weapons (
    asset_tag               TEXT PRIMARY KEY,
    serial_number           TEXT NOT NULL,
    make                    TEXT NOT NULL,
    model                   TEXT NOT NULL,
    class                   TEXT NOT NULL,
    site_id                 TEXT NOT NULL REFERENCES sites (site_id),
    locker_id               TEXT NOT NULL REFERENCES lockers (locker_id),
    compartment             INTEGER NOT NULL CHECK (compartment >= 1),
    status                  TEXT NOT NULL,
    sign_outs_since_service INTEGER NOT NULL DEFAULT 0 CHECK (sign_outs_since_service >= 0),
    total_sign_outs         INTEGER NOT NULL DEFAULT 0 CHECK (total_sign_outs >= 0),
    last_service_date       TEXT NOT NULL,
    holder                  TEXT,
    current_transaction     TEXT
) STRICT;
CREATE INDEX weapons_by_locker ON weapons (locker_id, compartment);

CREATE TABLE people (
    employee_id TEXT PRIMARY KEY,
    last_name   TEXT NOT NULL,
    first_name  TEXT NOT NULL,
    rank        TEXT NOT NULL,
    role        TEXT NOT NULL,
    home_site   TEXT NOT NULL,
    status      TEXT NOT NULL,
    badge_uid   TEXT NOT NULL UNIQUE,
    hire_date   TEXT NOT NULL
) STRICT;

CREATE TABLE certifications (
    id            INTEGER PRIMARY KEY,
    employee_id   TEXT NOT NULL REFERENCES people (employee_id) ON DELETE CASCADE,
    course_code   TEXT NOT NULL,
    weapon_class  TEXT NOT NULL,
    completed_on  TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    instructor_id TEXT NOT NULL
) STRICT;
CREATE INDEX certifications_by_employee ON certifications (employee_id);

CREATE TABLE pin_hashes (
    employee_id TEXT PRIMARY KEY,
    phc         TEXT NOT NULL
) STRICT;

CREATE TABLE audit (
    seq            INTEGER PRIMARY KEY,
    event_id       TEXT UNIQUE,
    at_utc         TEXT NOT NULL,
    site           TEXT NOT NULL,
    local_time     TEXT NOT NULL,
    locker         TEXT NOT NULL,
    reader         TEXT,
    action         TEXT NOT NULL,
    badge_uid      TEXT,
    employee_id    TEXT,
    weapon_class   TEXT,
    asset_tag      TEXT,
    compartment    INTEGER,
    decision       TEXT NOT NULL,
    reason         TEXT NOT NULL,
    transaction_id TEXT,
    prev_hash      TEXT NOT NULL,
    row_hash       TEXT NOT NULL
) STRICT;
CREATE INDEX audit_by_time ON audit (at_utc);
CREATE INDEX audit_by_employee ON audit (employee_id, at_utc);
CREATE INDEX audit_by_asset ON audit (asset_tag, at_utc);
CREATE INDEX audit_by_locker ON audit (locker, at_utc);

-- The trail is append-only. The hash chain is what proves it; these
-- triggers only stop honest mistakes.
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;

CREATE TABLE sign_outs (
    transaction_id     TEXT PRIMARY KEY,
    asset_tag          TEXT NOT NULL REFERENCES weapons (asset_tag),
    holder             TEXT NOT NULL,
    signed_out_at      TEXT NOT NULL,
    returned_at        TEXT,
    return_transaction TEXT
) STRICT;
CREATE INDEX sign_outs_by_asset ON sign_outs (asset_tag, signed_out_at);
CREATE INDEX sign_outs_by_holder ON sign_outs (holder, signed_out_at);
CREATE INDEX sign_outs_open ON sign_outs (signed_out_at) WHERE returned_at IS NULL;
";

/// Version 2. `meta` holds named counters. `personnel_generation` goes up
/// by one with every committed change to people, certifications or PIN
/// hashes, so that a running service learns from one small read whether it
/// must reload its personnel, whichever process made the change.
const PERSONNEL_GENERATION: &str = "
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) STRICT;
INSERT INTO meta (key, value) VALUES ('personnel_generation', 0);
";

/// Version 3. Rounds deployed since service; the problems officers report
/// and the services armorers record, each with the weapon it concerns.
/// `work` is a JSON array of words (inspection, repair, parts,
/// function_test).
const WEAPON_LIFECYCLE: &str = "
ALTER TABLE weapons ADD COLUMN deployments_since_service INTEGER NOT NULL DEFAULT 0
    CHECK (deployments_since_service >= 0);

CREATE TABLE problem_reports (
    id          INTEGER PRIMARY KEY,
    asset_tag   TEXT NOT NULL REFERENCES weapons (asset_tag),
    reported_at TEXT NOT NULL,
    reporter    TEXT NOT NULL,
    code        TEXT NOT NULL,
    text        TEXT,
    resolved_at TEXT
) STRICT;
CREATE INDEX problem_reports_open ON problem_reports (asset_tag) WHERE resolved_at IS NULL;

CREATE TABLE service_records (
    id                   INTEGER PRIMARY KEY,
    asset_tag            TEXT NOT NULL REFERENCES weapons (asset_tag),
    serviced_on          TEXT NOT NULL,
    armorer              TEXT NOT NULL,
    work                 TEXT NOT NULL,
    function_test_passed INTEGER NOT NULL,
    outcome              TEXT NOT NULL,
    notes                TEXT
) STRICT;
CREATE INDEX service_records_by_asset ON service_records (asset_tag, serviced_on);
";

/// Version 4. The fingerprint of each configuration the service started
/// with, so that a change between starts is written to the audit trail.
const CONFIGURATION_HISTORY: &str = "
CREATE TABLE config_history (
    id        INTEGER PRIMARY KEY,
    loaded_at TEXT NOT NULL,
    sha256    TEXT NOT NULL
) STRICT;
";

/// The version this build brings a database to.
pub(super) fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |migration| migration.version)
}

/// The highest version recorded in the file; 0 for a new file.
pub(super) fn current_version(conn: &Connection) -> Result<i64, DbError> {
    let exists: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
            [],
            |row| row.get(0),
        )
        .optional()
        .context("looking for schema_migrations")?;
    if exists.is_none() {
        return Ok(0);
    }
    conn.query_row(
        "SELECT coalesce(max(version), 0) FROM schema_migrations",
        [],
        |row| row.get(0),
    )
    .context("reading the schema version")
}

/// Applies every migration the file has not seen yet.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), DbError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version    INTEGER PRIMARY KEY,
            name       TEXT NOT NULL,
            applied_at TEXT NOT NULL
        ) STRICT",
    )
    .context("creating schema_migrations")?;

    for migration in MIGRATIONS {
        let failed = |source| DbError::Migration {
            version: migration.version,
            name: migration.name,
            source,
        };
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(failed)?;

        // Read the version under the write lock: another process may have
        // migrated the file between our open and now.
        let found = current_version(&tx)?;
        if found > latest_version() {
            return Err(DbError::SchemaVersion {
                path: tx.path().map(Into::into).unwrap_or_default(),
                found,
                expected: latest_version(),
            });
        }
        if found >= migration.version {
            continue;
        }

        tx.execute_batch(migration.sql).map_err(failed)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            (
                migration.version,
                migration.name,
                utc_text(Timestamp::now()),
            ),
        )
        .map_err(failed)?;
        tx.commit().map_err(failed)?;
        tracing::info!(
            version = migration.version,
            name = migration.name,
            "schema migration applied"
        );
    }
    Ok(())
}
