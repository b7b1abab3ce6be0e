//! One service per state folder: an exclusive lock on `armory.lock` in the
//! state folder, taken before anything else starts and held for the
//! service's life.
//!
//! Two services on one store would each run an actor for every weapon, and
//! each would believe its own actor holds the one truth about who has it
//! (invariant 3, one holder). The second start therefore fails, naming the
//! folder. The lock is the operating system's (`flock` on Unix): it goes
//! away with the process, even after a crash, so a stale file never locks
//! anyone out. The file holds the owner's process id, for the message.
//!
//! Only the service takes the lock. The read-only commands (`audit`,
//! `weapons`) open the store read-only and run beside it; `import` and
//! `pin set` write through SQLite's own locking while the service runs,
//! which picks their changes up; `keys rotate` replaces key files that a
//! running service reads only at start. None of them takes this lock.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::Path;

/// The lock file's name in the state folder.
pub const LOCK_FILE: &str = "armory.lock";

/// Why the state folder could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum StateLockError {
    /// Another service holds the lock.
    #[error(
        "another armory service{owner} is using the state folder {folder}; stop it first, \
         or give this one its own [service] state_dir"
    )]
    InUse {
        /// The state folder.
        folder: String,
        /// ` (process N)` when the holder wrote its id, else empty.
        owner: String,
    },
    /// The lock file could not be opened, locked or written.
    #[error("cannot lock the state folder {folder} through {file}: {source}")]
    Io {
        /// The state folder.
        folder: String,
        /// The lock file.
        file: String,
        /// The operating system's answer.
        source: std::io::Error,
    },
}

/// The held lock; dropping it (or the process ending) releases it.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
}

impl StateLock {
    /// Takes the lock of `state_dir`, which must exist, without waiting.
    pub fn acquire(state_dir: &Path) -> Result<StateLock, StateLockError> {
        let path = state_dir.join(LOCK_FILE);
        let io = |source| StateLockError::Io {
            folder: state_dir.display().to_string(),
            file: path.display().to_string(),
            source,
        };

        // Not truncated on open: a holder's process id must survive a
        // second start's attempt.
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&path).map_err(io)?;

        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(StateLockError::InUse {
                    folder: state_dir.display().to_string(),
                    owner: holder(&mut file),
                });
            }
            Err(TryLockError::Error(source)) => return Err(io(source)),
        }

        // Ours now: record who holds it.
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        tracing::debug!(path = %path.display(), "state folder locked");
        Ok(StateLock { _file: file })
    }
}

/// ` (process N)` from the holder's file, or nothing if unreadable.
fn holder(file: &mut File) -> String {
    let mut text = String::new();
    if file.read_to_string(&mut text).is_err() {
        return String::new();
    }
    match text.trim().parse::<u32>() {
        Ok(pid) => format!(" (process {pid})"),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = StateLock::acquire(dir.path()).expect("first lock");

        let refused = StateLock::acquire(dir.path()).expect_err("already locked");
        let message = refused.to_string();
        assert!(matches!(refused, StateLockError::InUse { .. }));
        assert!(
            message.contains(&dir.path().display().to_string()),
            "{message}"
        );
        assert!(message.contains("another armory service"), "{message}");
        let pid = std::process::id().to_string();
        assert!(message.contains(&pid), "{message}");

        drop(first);
        StateLock::acquire(dir.path()).expect("free again");
    }
}
