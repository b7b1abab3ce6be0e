//! The fleet secret's files: created owner-only, refused if others can
//! read them.
//!
//! `fleet.key` holds the secret in force as 64 hex digits. `armory keys
//! rotate` ([`rotate`]) moves it to `fleet.key.previous`, adding the
//! instant it was retired on a second line (`retired <RFC 3339>`), and
//! writes a new one; the service accepts the retired secret on incoming
//! events for a grace period counted from that instant. Each file is
//! written whole under a temporary name and renamed into place, so a crash
//! leaves either the old file or the new one.
//!
//! The state folder that holds them must be private too
//! ([`check_state_dir`]): the service and the `keys` commands refuse one
//! that group or others may enter, whatever the files' own modes.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use armory_actors::protocol::FleetSecret;
use jiff::Timestamp;

/// The file of the secret in force, in the state folder.
pub const FLEET_KEY: &str = "fleet.key";

/// The file of the retired secret, in the state folder.
pub const RETIRED_FLEET_KEY: &str = "fleet.key.previous";

/// Why the key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// Reading or writing failed.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's answer.
        source: std::io::Error,
    },
    /// The file is not 64 hex digits.
    #[error("key file {path} does not hold a fleet secret (64 hex digits)")]
    Malformed {
        /// The file.
        path: String,
    },
    /// Group or others may read it.
    #[error("key file {path} is readable by others (mode {mode:o}); run: chmod 600 {path}")]
    TooOpen {
        /// The file.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// Group or others may enter the state folder.
    #[error("the state folder {path} is open to others (mode {mode:o}); run: chmod 700 {path}")]
    FolderTooOpen {
        /// The folder.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// There is no secret yet to use or rotate.
    #[error("no fleet secret at {path}; the service makes one on its first start")]
    Missing {
        /// The file looked for.
        path: String,
    },
    /// The retired file's second line is not `retired <RFC 3339 instant>`.
    #[error("key file {path}: line 2 must be `retired <RFC 3339 instant>`")]
    BadRetiredLine {
        /// The file.
        path: String,
    },
    /// The secret retired by the last rotation is still in its grace
    /// period; rotating again would drop it before lockers have moved on.
    #[error(
        "the previous rotation's grace period runs until {until}; lockers may still use \
         that secret (use --force to rotate anyway)"
    )]
    GraceRunning {
        /// When the running grace period ends.
        until: Timestamp,
    },
}

/// A secret retired by a rotation, and when.
pub struct Retired {
    /// The retired secret.
    pub secret: FleetSecret,
    /// When it was retired.
    pub retired_at: Timestamp,
}

/// Loads the fleet secret at `path`, creating a new one if none exists.
pub fn load_or_create(path: &Path) -> Result<FleetSecret, KeyFileError> {
    if !path.exists() {
        let secret = FleetSecret::generate();
        write_private(path, &format!("{}\n", secret.to_hex()))?;
        tracing::info!(path = %path.display(), "new fleet secret created");
        return Ok(secret);
    }
    load(path)
}

/// Loads the fleet secret at `path`, which must exist.
pub fn load(path: &Path) -> Result<FleetSecret, KeyFileError> {
    let text = read_private(path)?;
    let first = text.lines().next().unwrap_or_default();
    FleetSecret::from_hex(first).map_err(|_| KeyFileError::Malformed {
        path: path.display().to_string(),
    })
}

/// Loads the retired secret at `path`, if there is one.
pub fn load_retired(path: &Path) -> Result<Option<Retired>, KeyFileError> {
    if !path.exists() {
        return Ok(None);
    }
    let secret = load(path)?;
    let text = read_private(path)?;
    let retired_at = text
        .lines()
        .nth(1)
        .and_then(|line| line.trim().strip_prefix("retired "))
        .and_then(|instant| instant.trim().parse::<Timestamp>().ok())
        .ok_or_else(|| KeyFileError::BadRetiredLine {
            path: path.display().to_string(),
        })?;
    Ok(Some(Retired { secret, retired_at }))
}

/// Replaces the secret in `state_dir` by a new one at `now`, keeping the
/// old one as the retired secret. Refused while the grace period of the
/// previous rotation (`grace` after it) still runs, unless `force`.
/// Returns the new secret.
pub fn rotate(
    state_dir: &Path,
    now: Timestamp,
    grace: jiff::SignedDuration,
    force: bool,
) -> Result<FleetSecret, KeyFileError> {
    let current_path = state_dir.join(FLEET_KEY);
    let retired_path = state_dir.join(RETIRED_FLEET_KEY);
    if !current_path.exists() {
        return Err(KeyFileError::Missing {
            path: current_path.display().to_string(),
        });
    }
    let current = load(&current_path)?;
    if let Some(previous) = load_retired(&retired_path)? {
        let until = armory_actors::protocol::seal::later_by(previous.retired_at, grace);
        if now <= until && !force {
            return Err(KeyFileError::GraceRunning { until });
        }
    }

    // Retired first: a crash between the two leaves the old secret in
    // force and also retired, which is harmless.
    let retired = format!("{}\nretired {now}\n", current.to_hex());
    replace_private(&retired_path, &retired)?;
    let new = FleetSecret::generate();
    replace_private(&current_path, &format!("{}\n", new.to_hex()))?;
    Ok(new)
}

/// Refuses a state folder that group or others may enter. An existing
/// folder keeps its mode: it is refused rather than changed behind the
/// operator's back. Outside Unix there are no mode bits to check.
pub fn check_state_dir(dir: &Path) -> Result<(), KeyFileError> {
    let shown = dir.display().to_string();
    let open = open_to_others(dir).map_err(|source| KeyFileError::Io {
        path: shown.clone(),
        source,
    })?;
    match open {
        Some(mode) => Err(KeyFileError::FolderTooOpen { path: shown, mode }),
        None => Ok(()),
    }
}

/// Reads a key file, refusing one that group or others may read.
fn read_private(path: &Path) -> Result<String, KeyFileError> {
    let shown = path.display().to_string();
    let io = |source| KeyFileError::Io {
        path: shown.clone(),
        source,
    };
    if let Some(mode) = open_to_others(path).map_err(io)? {
        return Err(KeyFileError::TooOpen { path: shown, mode });
    }
    fs::read_to_string(path).map_err(io)
}

/// The permission bits of `path` if group or others have any, else `None`.
#[cfg(unix)]
fn open_to_others(path: &Path) -> std::io::Result<Option<u32>> {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(path)?.permissions().mode() & 0o777;
    Ok((mode & 0o077 != 0).then_some(mode))
}

/// Outside Unix there are no mode bits to check.
#[cfg(not(unix))]
fn open_to_others(_path: &Path) -> std::io::Result<Option<u32>> {
    Ok(None)
}

/// Creates `path` owner-only with `text`; fails if it exists.
fn write_private(path: &Path, text: &str) -> Result<(), KeyFileError> {
    let io = |source| KeyFileError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)
}

/// Writes `path` whole through a temporary file renamed over it.
fn replace_private(path: &Path, text: &str) -> Result<(), KeyFileError> {
    let mut temporary = PathBuf::from(path);
    temporary.set_extension("tmp");
    let _ = fs::remove_file(&temporary);
    write_private(&temporary, text)?;
    fs::rename(&temporary, path).map_err(|source| KeyFileError::Io {
        path: path.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_owner_only_and_read_back() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("fleet.key");
        let first = load_or_create(&path).expect("created");
        let again = load_or_create(&path).expect("read back");
        assert_eq!(first.to_hex(), again.to_hex());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).expect("exists").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_key_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("fleet.key");
        load_or_create(&path).expect("created");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
        let error = load_or_create(&path).expect_err("too open");
        assert!(matches!(error, KeyFileError::TooOpen { mode: 0o644, .. }));
    }

    #[cfg(unix)]
    #[test]
    fn a_state_folder_others_can_enter_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).expect("chmod");
        check_state_dir(dir.path()).expect("private");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
        let error = check_state_dir(dir.path()).expect_err("too open");
        assert!(matches!(
            error,
            KeyFileError::FolderTooOpen { mode: 0o755, .. }
        ));
        assert!(error.to_string().contains("chmod 700"), "{error}");
    }

    #[test]
    fn rotation_keeps_the_old_secret_as_retired_and_respects_its_grace() {
        let dir = tempfile::tempdir().expect("temp dir");
        let grace = jiff::SignedDuration::from_hours(24);
        let now: Timestamp = "2026-12-03T14:00:00Z".parse().expect("instant");
        let missing = rotate(dir.path(), now, grace, false).expect_err("nothing to rotate");
        assert!(matches!(missing, KeyFileError::Missing { .. }));

        let first = load_or_create(&dir.path().join(FLEET_KEY)).expect("created");
        let second = rotate(dir.path(), now, grace, false).expect("rotated");
        assert_ne!(first.to_hex(), second.to_hex());
        let in_force = load(&dir.path().join(FLEET_KEY)).expect("readable");
        assert_eq!(in_force.to_hex(), second.to_hex());
        let retired = load_retired(&dir.path().join(RETIRED_FLEET_KEY))
            .expect("readable")
            .expect("kept");
        assert_eq!(retired.secret.to_hex(), first.to_hex());
        assert_eq!(retired.retired_at, now);

        let soon = armory_actors::protocol::seal::later_by(now, grace / 2);
        let refused = rotate(dir.path(), soon, grace, false).expect_err("grace runs");
        assert!(matches!(refused, KeyFileError::GraceRunning { .. }));
        assert!(rotate(dir.path(), soon, grace, true).is_ok());
        #[cfg(unix)]
        for name in [FLEET_KEY, RETIRED_FLEET_KEY] {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join(name))
                .expect("exists")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
    }
}
