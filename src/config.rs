//! The service's configuration file (TOML), read and checked as a whole.
//!
//! Every table rejects unknown keys, so a misspelt key is an error rather
//! than a silently ignored setting. A file that is not TOML or does not
//! have the expected shape gets one error with its line, column and key;
//! a file of the right shape whose values make no sense (an address that
//! is not one, a zero timeout) gets every such problem at once. Relative
//! paths in the file are relative to the folder the file is in, so the
//! service finds its data wherever it is started from. The commented
//! default is `config/armory.toml`, compiled in as [`Config::default_toml`].

mod locate;
mod raw;
mod references;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use armory_actors::rules::PinHashCost;

pub(crate) use references::known_ids;
pub use references::{check_access_references, ReferenceError, ReferenceProblem};

/// The configuration, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `[service]`.
    pub service: ServiceConfig,
    /// `[broker]`.
    pub broker: BrokerConfig,
    /// `[metrics]`.
    pub metrics: MetricsConfig,
    /// `[agency]`.
    pub agency: AgencyConfig,
    /// `[timing]`.
    pub timing: TimingConfig,
    /// `[security]`.
    pub security: SecurityConfig,
    /// `[access]` (optional): who may draw what; see
    /// [`armory_actors::policy`].
    pub access: armory_actors::policy::AccessPolicy,
    /// `[maintenance]` (optional): service due and overdue returns; see
    /// [`armory_actors::maintenance`].
    pub maintenance: armory_actors::maintenance::MaintenancePolicy,
    /// The folder relative paths are resolved against.
    base_dir: PathBuf,
    /// The file, as given, for errors found after it was read.
    path: PathBuf,
    /// SHA-256 of the file's text, so a change between starts is audited.
    fingerprint: String,
}

/// `[service]`: where the service keeps its state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceConfig {
    /// The store and keys, as written in the file; see
    /// [`Config::resolved_state_dir`].
    pub state_dir: PathBuf,
}

/// `[broker]`: the embedded MQTT broker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerConfig {
    /// Address of the plain MQTT listener; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Connections beyond this are refused; at least 1.
    pub max_connections: usize,
    /// `[[broker.users]]` (optional): people and dashboards that may log
    /// in. Lockers and the service log in with passwords derived from the
    /// fleet secret and need no entry.
    pub users: Vec<BrokerUser>,
    /// `[broker.tls]` (optional): a second listener that speaks TLS.
    pub tls: Option<BrokerTls>,
}

/// One `[[broker.users]]` entry.
#[derive(Clone, PartialEq, Eq)]
pub struct BrokerUser {
    /// The user name; not `armory-service` and not starting `locker-`.
    pub name: String,
    /// The password's argon2 PHC string (`armory broker hash-password`).
    pub password_hash: String,
}

impl fmt::Debug for BrokerUser {
    /// The name only: the hash stays out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BrokerUser")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// `[broker.tls]`: the TLS listener. Paths are as written in the file and
/// resolved against its folder by [`Config::resolve`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerTls {
    /// Address of the TLS listener; port 0 picks a free port.
    pub listen: SocketAddr,
    /// The server's certificate chain, PEM.
    pub cert: PathBuf,
    /// The server's private key, PEM; refused if others may read it.
    pub key: PathBuf,
    /// The CA whose client certificates are required (builds with the
    /// `client-certs` feature only).
    pub client_ca: Option<PathBuf>,
}

/// `[metrics]`: the Prometheus endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricsConfig {
    /// Whether to serve `/metrics` at all (optional in the file, default
    /// true).
    pub enabled: bool,
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
}

/// `[agency]`: the agency's CSV exports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgencyConfig {
    /// The folder with the six files, as written in the file; see
    /// [`Config::resolved_data_dir`].
    pub data_dir: PathBuf,
    /// Optional: a folder the running service watches for new roster and
    /// training exports, as written in the file; see
    /// [`Config::resolved_inbox_dir`].
    pub inbox_dir: Option<PathBuf>,
    /// Optional in the file as `poll_interval_ms`, default 2 s: how often
    /// the running service looks for personnel changes in the store and in
    /// the inbox.
    pub poll_interval: Duration,
    /// Optional in the file as `max_roster_removals` and
    /// `max_roster_removal_percent`, default 25 people or 10%, whichever
    /// is larger: how many people one roster import may remove, and one
    /// training import may take a valid certification from, without
    /// `armory import roster|training --allow-removals`.
    pub roster_removal_limit: crate::personnel::RemovalLimit,
}

/// The default of `[agency] poll_interval_ms`.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(2);

/// `[timing]`: timeouts, each from 1 second to [`MAX_SECONDS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimingConfig {
    /// A granted unlock whose door does not open in time is closed out.
    pub unlock_window_seconds: u64,
    /// A door open longer than this is reported.
    pub door_open_limit_seconds: u64,
    /// How long a command to a locker stays valid.
    pub command_lifetime_seconds: u64,
    /// A controller silent this long is offline (optional, default 30).
    pub heartbeat_timeout_seconds: u64,
    /// Restarts of one child actor within the window before it is
    /// isolated (optional, default 3).
    pub max_restarts: u32,
    /// The restart window (optional, default 60).
    pub restart_window_seconds: u64,
}

/// The longest timeout the file may set: one day.
pub const MAX_SECONDS: u64 = 24 * 60 * 60;

impl TimingConfig {
    /// The unlock window, for tokio timers.
    pub fn unlock_window(&self) -> Duration {
        Duration::from_secs(self.unlock_window_seconds)
    }

    /// The door-open limit, for tokio timers.
    pub fn door_open_limit(&self) -> Duration {
        Duration::from_secs(self.door_open_limit_seconds)
    }

    /// The actors' timing policy.
    pub fn actor_timing(&self) -> armory_actors::services::Timing {
        armory_actors::services::Timing {
            unlock_window: self.unlock_window(),
            command_lifetime: self.command_lifetime(),
            door_open_limit: self.door_open_limit(),
            heartbeat_timeout: Duration::from_secs(self.heartbeat_timeout_seconds),
            max_restarts: self.max_restarts,
            restart_window: Duration::from_secs(self.restart_window_seconds),
        }
    }

    /// A command's lifetime, to add to a timestamp.
    pub fn command_lifetime(&self) -> jiff::SignedDuration {
        // Checked to be at most MAX_SECONDS when the file was read.
        let seconds = i64::try_from(self.command_lifetime_seconds).unwrap_or(i64::MAX);
        jiff::SignedDuration::from_secs(seconds)
    }
}

/// `[security]`: the cost of PIN hashes, and key rotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecurityConfig {
    /// Argon2id memory in KiB; at least 8.
    pub pin_hash_memory_kib: u32,
    /// Argon2id passes; at least 1.
    pub pin_hash_iterations: u32,
    /// Optional in the file as `retired_key_grace_seconds`, default
    /// [`DEFAULT_RETIRED_KEY_GRACE`]: how long after `armory keys rotate`
    /// events under the retired fleet secret are still accepted.
    pub retired_key_grace: Duration,
}

/// The default of `[security] retired_key_grace_seconds`: seven days.
pub const DEFAULT_RETIRED_KEY_GRACE: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// Why a configuration was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the configuration file {}: {source}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file was read but is not a valid configuration.
    #[error("{}", Problems { path, problems })]
    Invalid {
        /// The file, as given.
        path: PathBuf,
        /// Every problem found, in the order of the file.
        problems: Vec<ConfigProblem>,
    },
}

impl ConfigError {
    /// The problems found in the file; empty if it could not be read.
    pub fn problems(&self) -> &[ConfigProblem] {
        match self {
            ConfigError::Unreadable { .. } => &[],
            ConfigError::Invalid { problems, .. } => problems,
        }
    }
}

/// One problem in the file, with where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigProblem {
    /// Line, counted from 1.
    pub line: usize,
    /// Column in characters, counted from 1.
    pub column: usize,
    /// The key concerned, dotted (`broker.listen`); empty when the problem
    /// is not about one key.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

/// Renders problems one a line as `path:line:column: key: message`.
struct Problems<'a> {
    path: &'a Path,
    problems: &'a [ConfigProblem],
}

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (at, problem) in self.problems.iter().enumerate() {
            if at > 0 {
                f.write_str("\n")?;
            }
            let ConfigProblem {
                line,
                column,
                key,
                message,
            } = problem;
            write!(f, "{}:{line}:{column}: ", self.path.display())?;
            if !key.is_empty() {
                write!(f, "{key}: ")?;
            }
            f.write_str(message)?;
        }
        Ok(())
    }
}

impl Config {
    /// The commented default configuration, as shipped in
    /// `config/armory.toml`.
    pub fn default_toml() -> &'static str {
        include_str!("../config/armory.toml")
    }

    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Unreadable {
            path: path.to_owned(),
            source,
        })?;
        Config::from_str_at(&text, path)
    }

    /// Checks `text` as if read from the file at `origin`: errors name
    /// `origin`, and relative paths are resolved against its folder.
    pub fn from_str_at(text: &str, origin: &Path) -> Result<Config, ConfigError> {
        let invalid = |problems| ConfigError::Invalid {
            path: origin.to_owned(),
            problems,
        };
        let raw: raw::RawConfig = toml::from_str(text)
            .map_err(|error| invalid(vec![locate::shape_problem(text, &error)]))?;

        let base_dir = origin.parent().map(Path::to_owned).unwrap_or_default();
        let mut config = raw.check(text, base_dir).map_err(invalid)?;
        config.path = origin.to_owned();
        config.fingerprint = {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(text.as_bytes()))
        };
        Ok(config)
    }

    /// The file the configuration was read from, as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The SHA-256 of the configuration text, hex.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The state folder, resolved against the configuration's folder.
    pub fn resolved_state_dir(&self) -> PathBuf {
        self.base_dir.join(&self.service.state_dir)
    }

    /// The agency data folder, resolved against the configuration's folder.
    pub fn resolved_data_dir(&self) -> PathBuf {
        self.base_dir.join(&self.agency.data_dir)
    }

    /// The watched inbox, resolved against the configuration's folder;
    /// `None` when the file sets none.
    pub fn resolved_inbox_dir(&self) -> Option<PathBuf> {
        self.agency
            .inbox_dir
            .as_ref()
            .map(|dir| self.base_dir.join(dir))
    }

    /// A path of the file (a TLS certificate or key), resolved against the
    /// configuration's folder.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        self.base_dir.join(path)
    }

    /// The argon2 cost for PIN hashes.
    pub fn pin_hash_cost(&self) -> PinHashCost {
        PinHashCost {
            memory_kib: self.security.pin_hash_memory_kib,
            iterations: self.security.pin_hash_iterations,
        }
    }
}

#[cfg(test)]
mod tests;
