//! The TLS listener's files, checked before the broker starts.
//!
//! rumqttd reads the certificate and key anew for every connection and
//! only logs what it cannot read, so a wrong path would show up as clients
//! that silently fail to connect. These checks turn that into a start-up
//! error naming the file: each must be readable PEM of the expected kind,
//! and the private key must not be readable by group or others.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Why the TLS files cannot serve.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file cannot be read.
    #[error("TLS file {path}: {source}")]
    Unreadable {
        /// The file.
        path: String,
        /// The operating system's answer.
        source: std::io::Error,
    },
    /// The file is not PEM of the kind expected.
    #[error("TLS file {path} holds no PEM {what}")]
    NotPem {
        /// The file.
        path: String,
        /// What it should hold.
        what: &'static str,
    },
    /// The private key may be read by group or others.
    #[error("TLS key {path} is readable by others (mode {mode:o}); run: chmod 600 {path}")]
    KeyTooOpen {
        /// The file.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// rumqttd takes paths as UTF-8 text.
    #[error("TLS file path {path} is not UTF-8")]
    NotUtf8 {
        /// The path, lossily shown.
        path: String,
    },
}

/// The TLS listener: where, and its files (already resolved).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSettings {
    /// Address; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Server certificate chain, PEM.
    pub cert: PathBuf,
    /// Server private key, PEM, owner-only.
    pub key: PathBuf,
    /// CA of required client certificates (builds with `client-certs`).
    pub client_ca: Option<PathBuf>,
}

impl TlsSettings {
    /// Checks the files and gives rumqttd's form of them.
    pub fn rumqttd_config(&self) -> Result<rumqttd::TlsConfig, TlsError> {
        expect_pem(&self.cert, "CERTIFICATE", "certificate")?;
        expect_pem(&self.key, "PRIVATE KEY", "private key")?;
        refuse_open_key(&self.key)?;
        let capath = match &self.client_ca {
            Some(client_ca) => {
                expect_pem(client_ca, "CERTIFICATE", "CA certificate")?;
                Some(utf8(client_ca)?)
            }
            None => None,
        };
        Ok(rumqttd::TlsConfig::Rustls {
            capath,
            certpath: utf8(&self.cert)?,
            keypath: utf8(&self.key)?,
        })
    }
}

fn shown(path: &Path) -> String {
    path.display().to_string()
}

fn utf8(path: &Path) -> Result<String, TlsError> {
    path.to_str()
        .map(str::to_owned)
        .ok_or_else(|| TlsError::NotUtf8 { path: shown(path) })
}

/// Reads `path` and looks for a `-----BEGIN … {label}-----` line.
fn expect_pem(path: &Path, label: &str, what: &'static str) -> Result<(), TlsError> {
    let text = std::fs::read(path).map_err(|source| TlsError::Unreadable {
        path: shown(path),
        source,
    })?;
    let text = String::from_utf8_lossy(&text);
    let found = text.lines().any(|line| {
        let line = line.trim();
        line.starts_with("-----BEGIN ") && line.ends_with(&format!("{label}-----"))
    });
    if found {
        Ok(())
    } else {
        Err(TlsError::NotPem {
            path: shown(path),
            what,
        })
    }
}

fn refuse_open_key(path: &Path) -> Result<(), TlsError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let metadata = std::fs::metadata(path).map_err(|source| TlsError::Unreadable {
            path: shown(path),
            source,
        })?;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(TlsError::KeyTooOpen {
                path: shown(path),
                mode,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(dir: &Path) -> TlsSettings {
        TlsSettings {
            listen: "127.0.0.1:0".parse().expect("literal"),
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
            client_ca: None,
        }
    }

    fn write_private(path: &Path, text: &str) {
        std::fs::write(path, text).expect("written");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let owner_only = std::fs::Permissions::from_mode(0o600);
            std::fs::set_permissions(path, owner_only).expect("chmod");
        }
    }

    #[test]
    fn missing_wrong_or_open_files_are_named() {
        let dir = tempfile::tempdir().expect("temp dir");
        let tls = settings(dir.path());
        let error = tls.rumqttd_config().expect_err("no files");
        assert!(error.to_string().contains("server.pem"), "{error}");

        std::fs::write(&tls.cert, "-----BEGIN CERTIFICATE-----\nAA==\n").expect("written");
        write_private(&tls.key, "not a key\n");
        let error = tls.rumqttd_config().expect_err("no key");
        assert!(matches!(
            error,
            TlsError::NotPem {
                what: "private key",
                ..
            }
        ));

        write_private(&tls.key, "-----BEGIN PRIVATE KEY-----\nAA==\n");
        assert!(tls.rumqttd_config().is_ok());

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let open = std::fs::Permissions::from_mode(0o644);
            std::fs::set_permissions(&tls.key, open).expect("chmod");
            let error = tls.rumqttd_config().expect_err("too open");
            assert!(matches!(error, TlsError::KeyTooOpen { mode: 0o644, .. }));
        }
    }
}
