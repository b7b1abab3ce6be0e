//! The file's shape as serde reads it, and the checks that turn it into a
//! [`Config`].
//!
//! Values that need checking beyond their type are read as
//! [`toml::Spanned`], so each problem can name its line and column. The
//! checks run over the whole file and report every problem, where serde
//! would stop at the first.

mod broker;

use std::net::SocketAddr;
use std::path::PathBuf;

use armory_actors::maintenance::MaintenancePolicy;
use armory_actors::policy::AccessPolicy;
use serde::Deserialize;
use toml::Spanned;

use super::locate::position;
use super::{
    AgencyConfig, Config, ConfigProblem, MetricsConfig, SecurityConfig, ServiceConfig,
    TimingConfig, MAX_SECONDS,
};
use crate::personnel::RemovalLimit;
use broker::RawBroker;

/// The most memory one PIN hash may take: 4 GiB, in KiB.
const MAX_PIN_HASH_MEMORY_KIB: u32 = 4 * 1024 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    service: RawService,
    broker: RawBroker,
    metrics: RawMetrics,
    agency: RawAgency,
    timing: RawTiming,
    security: RawSecurity,
    #[serde(default)]
    access: AccessPolicy,
    #[serde(default)]
    maintenance: MaintenancePolicy,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    state_dir: Spanned<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    #[serde(default = "enabled_by_default")]
    enabled: bool,
    listen: Spanned<String>,
}

fn enabled_by_default() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgency {
    data_dir: Spanned<PathBuf>,
    inbox_dir: Option<Spanned<PathBuf>>,
    poll_interval_ms: Option<Spanned<u64>>,
    max_roster_removals: Option<u32>,
    max_roster_removal_percent: Option<Spanned<u32>>,
}

/// The range of `[agency] poll_interval_ms`: from 10 ms (tests) to an hour.
const POLL_INTERVAL_MS: std::ops::RangeInclusive<u64> = 10..=3_600_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTiming {
    unlock_window_seconds: Spanned<u64>,
    door_open_limit_seconds: Spanned<u64>,
    command_lifetime_seconds: Spanned<u64>,
    #[serde(default = "default_heartbeat_timeout")]
    heartbeat_timeout_seconds: Spanned<u64>,
    #[serde(default = "default_max_restarts")]
    max_restarts: u32,
    #[serde(default = "default_restart_window")]
    restart_window_seconds: Spanned<u64>,
}

fn default_heartbeat_timeout() -> Spanned<u64> {
    Spanned::new(0..0, 30)
}

fn default_max_restarts() -> u32 {
    3
}

fn default_restart_window() -> Spanned<u64> {
    Spanned::new(0..0, 60)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSecurity {
    pin_hash_memory_kib: Spanned<u32>,
    pin_hash_iterations: Spanned<u32>,
    retired_key_grace_seconds: Option<Spanned<u64>>,
}

/// The longest `[security] retired_key_grace_seconds`: 90 days.
const MAX_RETIRED_KEY_GRACE_SECONDS: u64 = 90 * 24 * 60 * 60;

/// Collects problems against the text they were found in.
struct Checker<'t> {
    text: &'t str,
    problems: Vec<ConfigProblem>,
}

impl Checker<'_> {
    fn problem<T>(&mut self, key: &str, value: &Spanned<T>, message: String) {
        let (line, column) = position(self.text, value.span().start);
        self.problems.push(ConfigProblem {
            line,
            column,
            key: key.to_owned(),
            message,
        });
    }

    fn address(&mut self, key: &str, value: &Spanned<String>) -> Option<SocketAddr> {
        match value.get_ref().parse() {
            Ok(address) => Some(address),
            Err(_) => {
                let message = format!(
                    "{:?} is not an IP address and port, such as \"127.0.0.1:1883\"",
                    value.get_ref()
                );
                self.problem(key, value, message);
                None
            }
        }
    }

    fn path(&mut self, key: &str, value: &Spanned<PathBuf>) {
        if value.get_ref().as_os_str().is_empty() {
            self.problem(
                key,
                value,
                "an empty path; use \".\" for this folder".into(),
            );
        }
    }

    fn seconds(&mut self, key: &str, value: &Spanned<u64>) {
        let seconds = *value.get_ref();
        if !(1..=MAX_SECONDS).contains(&seconds) {
            let message = format!("{seconds} is not from 1 to {MAX_SECONDS} seconds");
            self.problem(key, value, message);
        }
    }
}

impl RawConfig {
    /// Checks every value; the paths stay as written and are resolved
    /// against `base_dir` on use.
    pub(super) fn check(self, text: &str, base_dir: PathBuf) -> Result<Config, Vec<ConfigProblem>> {
        let mut checker = Checker {
            text,
            problems: Vec::new(),
        };

        checker.path("service.state_dir", &self.service.state_dir);
        checker.path("agency.data_dir", &self.agency.data_dir);
        if let Some(inbox_dir) = &self.agency.inbox_dir {
            checker.path("agency.inbox_dir", inbox_dir);
        }
        if let Some(interval) = &self.agency.poll_interval_ms {
            let ms = *interval.get_ref();
            if !POLL_INTERVAL_MS.contains(&ms) {
                let message = format!(
                    "{ms} is not from {} to {} milliseconds",
                    POLL_INTERVAL_MS.start(),
                    POLL_INTERVAL_MS.end()
                );
                checker.problem("agency.poll_interval_ms", interval, message);
            }
        }
        if let Some(percent) = &self.agency.max_roster_removal_percent {
            if *percent.get_ref() > 100 {
                let message = format!("{} is not from 0 to 100 percent", percent.get_ref());
                checker.problem("agency.max_roster_removal_percent", percent, message);
            }
        }
        let default_limit = RemovalLimit::DEFAULT;
        let roster_removal_limit = RemovalLimit {
            people: self
                .agency
                .max_roster_removals
                .unwrap_or(default_limit.people),
            percent: self
                .agency
                .max_roster_removal_percent
                .as_ref()
                .map_or(default_limit.percent, |percent| *percent.get_ref()),
        };

        let broker = self.broker.check(&mut checker);
        let metrics_listen = checker.address("metrics.listen", &self.metrics.listen);

        let timing = &self.timing;
        checker.seconds(
            "timing.unlock_window_seconds",
            &timing.unlock_window_seconds,
        );
        checker.seconds(
            "timing.door_open_limit_seconds",
            &timing.door_open_limit_seconds,
        );
        checker.seconds(
            "timing.command_lifetime_seconds",
            &timing.command_lifetime_seconds,
        );
        checker.seconds(
            "timing.heartbeat_timeout_seconds",
            &timing.heartbeat_timeout_seconds,
        );
        checker.seconds(
            "timing.restart_window_seconds",
            &timing.restart_window_seconds,
        );

        // argon2 itself wants at least 8 KiB (8 per lane, one lane here)
        // and one pass; the upper bound keeps one PIN check from taking
        // the machine's memory.
        let security = &self.security;
        let memory_kib = *security.pin_hash_memory_kib.get_ref();
        if !(8..=MAX_PIN_HASH_MEMORY_KIB).contains(&memory_kib) {
            let message = format!(
                "{memory_kib} KiB is not from 8 (argon2's minimum) \
                 to {MAX_PIN_HASH_MEMORY_KIB} (4 GiB)"
            );
            checker.problem(
                "security.pin_hash_memory_kib",
                &security.pin_hash_memory_kib,
                message,
            );
        }
        let grace = security.retired_key_grace_seconds.as_ref();
        if let Some(seconds) = grace.filter(|s| *s.get_ref() > MAX_RETIRED_KEY_GRACE_SECONDS) {
            let message = format!(
                "{} is more than {MAX_RETIRED_KEY_GRACE_SECONDS} seconds (90 days)",
                seconds.get_ref()
            );
            checker.problem("security.retired_key_grace_seconds", seconds, message);
        }
        let retired_key_grace = grace.map_or(super::DEFAULT_RETIRED_KEY_GRACE, |seconds| {
            std::time::Duration::from_secs(*seconds.get_ref())
        });
        let iterations = *security.pin_hash_iterations.get_ref();
        if iterations < 1 {
            let message = "argon2 needs at least 1 pass".to_owned();
            checker.problem(
                "security.pin_hash_iterations",
                &security.pin_hash_iterations,
                message,
            );
        }

        // The policy's shape was checked by serde; its values here. They
        // are located at the `[access]` table, where they are written.
        let access_at = text.find("[access").unwrap_or(0);
        for problem in self.access.problems() {
            let (line, column) = position(text, access_at);
            checker.problems.push(ConfigProblem {
                line,
                column,
                key: format!("access.{}", problem.key),
                message: problem.message,
            });
        }

        let maintenance_at = text.find("[maintenance").unwrap_or(0);
        for (key, message) in self.maintenance.problems() {
            let (line, column) = position(text, maintenance_at);
            checker.problems.push(ConfigProblem {
                line,
                column,
                key: format!("maintenance.{key}"),
                message,
            });
        }

        let (Some(broker), Some(metrics_listen), true) =
            (broker, metrics_listen, checker.problems.is_empty())
        else {
            checker
                .problems
                .sort_by_key(|problem| (problem.line, problem.column));
            return Err(checker.problems);
        };
        Ok(Config {
            service: ServiceConfig {
                state_dir: self.service.state_dir.into_inner(),
            },
            broker,
            metrics: MetricsConfig {
                enabled: self.metrics.enabled,
                listen: metrics_listen,
            },
            agency: AgencyConfig {
                data_dir: self.agency.data_dir.into_inner(),
                inbox_dir: self.agency.inbox_dir.map(Spanned::into_inner),
                poll_interval: self
                    .agency
                    .poll_interval_ms
                    .map_or(super::DEFAULT_POLL_INTERVAL, |ms| {
                        std::time::Duration::from_millis(ms.into_inner())
                    }),
                roster_removal_limit,
            },
            timing: TimingConfig {
                unlock_window_seconds: *timing.unlock_window_seconds.get_ref(),
                door_open_limit_seconds: *timing.door_open_limit_seconds.get_ref(),
                command_lifetime_seconds: *timing.command_lifetime_seconds.get_ref(),
                heartbeat_timeout_seconds: *timing.heartbeat_timeout_seconds.get_ref(),
                max_restarts: timing.max_restarts,
                restart_window_seconds: *timing.restart_window_seconds.get_ref(),
            },
            security: SecurityConfig {
                pin_hash_memory_kib: memory_kib,
                pin_hash_iterations: iterations,
                retired_key_grace,
            },
            access: self.access,
            maintenance: self.maintenance,
            base_dir,
            path: PathBuf::new(),
            fingerprint: String::new(),
        })
    }
}
