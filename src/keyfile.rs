//! The fleet secret's file: created owner-only, refused if others can read
//! it.

use std::fs;
use std::io::Write;
use std::path::Path;

use armory_actors::protocol::FleetSecret;

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
}

/// Loads the fleet secret at `path`, creating a new one if none exists.
pub fn load_or_create(path: &Path) -> Result<FleetSecret, KeyFileError> {
    let shown = path.display().to_string();
    let io = |source| KeyFileError::Io {
        path: shown.clone(),
        source,
    };

    if !path.exists() {
        let secret = FleetSecret::generate();
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(io)?;
        writeln!(file, "{}", secret.to_hex()).map_err(io)?;
        tracing::info!(path = %shown, "new fleet secret created");
        return Ok(secret);
    }

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path).map_err(io)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyFileError::TooOpen { path: shown, mode });
        }
    }
    let text = fs::read_to_string(path).map_err(io)?;
    FleetSecret::from_hex(&text).map_err(|_| KeyFileError::Malformed { path: shown })
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
}
