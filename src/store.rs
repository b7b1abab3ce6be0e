//! The SQLite store: the durable truth of the armory.
//!
//! One database file holds the agency's layout (sites, lockers, weapons),
//! its personnel (people, certifications, PIN hashes), the hash-chained
//! audit trail and the sign-out ledger. [`Database::open`] creates the file
//! owner-only, turns on WAL with `synchronous=FULL` (a commit is on disk
//! before it returns) and applies the schema migrations that are missing.
//!
//! Exactly one connection writes while the service runs: the writer thread
//! of [`spawn_writer`], which drains the actors' [`StoreRequest`]s and
//! commits everything that queued up together in one transaction (group
//! commit). The one exception is a change of personnel (a roster or
//! training import, a PIN enrolment), which takes the write lock for one
//! short transaction of its own through [`PersonnelTx`]. Queries for the
//! CLI and for tests use a second, read-only connection from
//! [`Database::open_reader`]; under WAL a reader never blocks the writer
//! nor waits for it.
//!
//! [`StoreRequest`]: armory_actors::ports::StoreRequest

use std::path::{Path, PathBuf};
use std::time::Duration;

use armory_actors::domain::EmployeeId;
use armory_actors::ports::{AuditAction, AuditEntry, Decision};
use jiff::Timestamp;
use rusqlite::{Connection, OpenFlags};

mod agency;
mod audit;
mod config_history;
mod lifecycle;
mod personnel;
mod recovery;
mod schema;
mod weapons;
mod writer;

#[cfg(test)]
mod tests;

pub use audit::{AuditFilter, AuditRow, GENESIS_HASH};
pub use lifecycle::WeaponLine;
pub use personnel::PersonnelTx;
pub use weapons::SignOutRecord;
pub use writer::spawn_writer;

/// The site and the locker named in audit rows about the service itself
/// rather than a locker: personnel imports, PIN enrolments, configuration
/// changes. Their local time is UTC.
pub const SERVICE_LOCATION: &str = "service";

/// An audit row about the service itself, at [`SERVICE_LOCATION`]: no
/// reader, badge, weapon or transaction, and nothing decided, only recorded.
pub fn service_audit_entry(
    action: AuditAction,
    reason: &str,
    employee_id: Option<&EmployeeId>,
    at: Timestamp,
) -> AuditEntry {
    AuditEntry {
        event_id: None,
        at,
        site: SERVICE_LOCATION.into(),
        locker: SERVICE_LOCATION.into(),
        reader: None,
        action,
        badge: None,
        employee_id: employee_id.cloned(),
        weapon_class: None,
        asset_tag: None,
        compartment: None,
        decision: Decision::Recorded,
        reason: reason.to_owned(),
        transaction: None,
    }
}

/// How long a connection waits for another one's lock before it fails.
/// Only a second process (a CLI import next to the running service) can
/// hold the write lock; the service itself has one writer.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Errors of the SQLite store.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database file could not be created.
    #[error("cannot create database file {path}: {source}")]
    Create {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The writer thread could not be started.
    #[error("cannot start the store writer thread: {source}")]
    Thread {
        /// What the OS said.
        source: std::io::Error,
    },
    /// SQLite failed.
    #[error("{context}: {source}")]
    Sqlite {
        /// What the store was doing.
        context: &'static str,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// One row of an import was refused (a constraint, a foreign key).
    #[error("cannot insert {table} row {key}: {source}")]
    Insert {
        /// The table.
        table: &'static str,
        /// The row's key.
        key: String,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// A schema migration failed; nothing of it was applied.
    #[error("schema migration {version} ({name}) failed: {source}")]
    Migration {
        /// Its version.
        version: i64,
        /// Its name.
        name: &'static str,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// The file was written by a newer armory, or not migrated yet.
    #[error("database {path} has schema version {found}, this build expects {expected}")]
    SchemaVersion {
        /// The file.
        path: PathBuf,
        /// The version recorded in the file.
        found: i64,
        /// The version this build knows.
        expected: i64,
    },
    /// Seeding needs an empty database.
    #[error("the database already holds an agency; seeding needs an empty one")]
    NotEmpty,
    /// A site names a time zone that is not in the time zone database.
    #[error("site {site} has time zone {timezone:?}, which is unknown: {detail}")]
    BadTimezone {
        /// The site.
        site: String,
        /// The zone name.
        timezone: String,
        /// Why it was refused.
        detail: String,
    },
    /// A PIN was enrolled for someone not on the roster.
    #[error("employee {employee_id} is not on the roster")]
    UnknownEmployee {
        /// The employee id.
        employee_id: String,
    },
    /// A stored value does not parse; the file was edited or damaged.
    #[error("{table} row {key}, column {column}: {detail}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// The row's key.
        key: String,
        /// The column.
        column: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// The audit hash chain is broken at this row: it, or the row before
    /// it, was changed, inserted or removed after it was written.
    #[error("audit trail broken at row {seq}: {detail}")]
    AuditBreak {
        /// The first row whose hashes do not check out.
        seq: i64,
        /// Which check failed.
        detail: String,
    },
}

/// Attaches what the store was doing to a SQLite error.
trait SqlContext<T> {
    fn context(self, context: &'static str) -> Result<T, DbError>;
}

impl<T> SqlContext<T> for rusqlite::Result<T> {
    fn context(self, context: &'static str) -> Result<T, DbError> {
        self.map_err(|source| DbError::Sqlite { context, source })
    }
}

/// One connection to the armory database.
#[derive(Debug)]
pub struct Database {
    conn: Connection,
    path: PathBuf,
}

impl Database {
    /// Opens (creating if needed) the database at `path` for writing, and
    /// brings its schema up to date.
    pub fn open(path: &Path) -> Result<Database, DbError> {
        create_private(path)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags).context("opening the database")?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .context("setting busy_timeout")?;

        // WAL lets the reader run beside the writer; FULL syncs the WAL on
        // every commit, so a grant is on disk before its unlock is sent.
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .context("switching to WAL")?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %path.display(), %mode, "database is not in WAL mode");
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .context("setting synchronous=FULL")?;
        conn.pragma_update(None, "foreign_keys", true)
            .context("enabling foreign keys")?;

        schema::migrate(&mut conn)?;
        Ok(Database {
            conn,
            path: path.to_owned(),
        })
    }

    /// Opens an existing, migrated database read-only, for queries.
    pub fn open_reader(path: &Path) -> Result<Database, DbError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).context("opening the database")?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .context("setting busy_timeout")?;
        conn.pragma_update(None, "query_only", true)
            .context("setting query_only")?;

        // A reader cannot migrate, so it insists on the schema it knows.
        let found = schema::current_version(&conn)?;
        if found != schema::latest_version() {
            return Err(DbError::SchemaVersion {
                path: path.to_owned(),
                found,
                expected: schema::latest_version(),
            });
        }
        Ok(Database {
            conn,
            path: path.to_owned(),
        })
    }

    /// The file this connection is open on.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version recorded in the file.
    pub fn schema_version(&self) -> Result<i64, DbError> {
        schema::current_version(&self.conn)
    }

    /// The raw connection, for tests that tamper with the file.
    #[cfg(test)]
    fn connection(&self) -> &Connection {
        &self.conn
    }
}

/// Creates the database file readable by its owner only, if it is new.
/// SQLite gives its `-wal` and `-shm` files the same permissions.
fn create_private(path: &Path) -> Result<(), DbError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }

    match options.open(path) {
        Ok(_) => {
            tracing::info!(path = %path.display(), "database file created");
            Ok(())
        }
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            warn_if_shared(path);
            Ok(())
        }
        Err(source) => Err(DbError::Create {
            path: path.to_owned(),
            source,
        }),
    }
}

/// An existing file that others can read leaks the audit trail and the PIN
/// hashes; it is the operator's file, so say so rather than chmod it.
fn warn_if_shared(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(metadata) = std::fs::metadata(path) {
            let mode = metadata.permissions().mode();
            if mode & 0o077 != 0 {
                tracing::warn!(
                    path = %path.display(),
                    mode = format_args!("{:o}", mode & 0o777),
                    "database file is readable by others than its owner"
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// A UTC instant as stored: RFC 3339, always nine fractional digits and a
/// `Z`, so that text order is time order (for years 0000 to 9999).
fn utc_text(at: Timestamp) -> String {
    format!("{at:.9}")
}

/// Parses a stored instant.
fn parse_utc(text: &str) -> Result<Timestamp, String> {
    text.parse::<Timestamp>().map_err(|error| error.to_string())
}
