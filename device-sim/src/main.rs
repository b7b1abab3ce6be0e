//! The `armory-device-sim` command: the hardware of every locker of an
//! agency's data set, on an MQTT broker.
//!
//! `announce` connects every locker and idles until Ctrl-C, so a service
//! sees its fleet come online. `shift` plays a shift of officers signing
//! weapons out and back in, and prints what happened as a table.
//!
//! Limitation: which compartments hold their weapon at start comes from
//! the inventory file, not from the service's store; after an interrupted
//! run the two can disagree until each door has cycled once. Running the
//! lockers inside the service (`armory demo`) reads the store instead.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use armory_actors::import::AgencyData;
use armory_actors::policy::AccessPolicy;
use armory_actors::protocol::FleetSecret;
use armory_device_sim::{run_shift, ShiftPlan, SimConfig, SimTls, Simulator};
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// Simulates the locker hardware of an armory over MQTT.
#[derive(Debug, Parser)]
#[command(name = "armory-device-sim", version)]
struct Cli {
    /// The MQTT broker, host:port (plain TCP unless --tls-ca is given).
    #[arg(long, default_value = "127.0.0.1:1883")]
    broker: String,

    /// Connect over TLS, trusting the CA certificate in this PEM file. The
    /// broker's certificate must name the broker's IP address.
    #[arg(long)]
    tls_ca: Option<PathBuf>,

    /// With --tls-ca: present this client certificate chain (PEM).
    #[arg(long, requires_all = ["tls_ca", "tls_client_key"])]
    tls_client_cert: Option<PathBuf>,

    /// With --tls-client-cert: its private key (PEM).
    #[arg(long, requires = "tls_client_cert")]
    tls_client_key: Option<PathBuf>,

    /// Folder with the agency's CSV files (sites, lockers, inventory,
    /// roster, training, pins).
    #[arg(long, default_value = "config/demo")]
    data_dir: PathBuf,

    /// File holding the fleet secret, 64 hex digits: the service's
    /// `fleet.key` in its state directory.
    #[arg(long)]
    key_file: PathBuf,

    /// The service's configuration file; its `[access]` table tells the
    /// shift whom and which readers the service accepts. Without it, the
    /// service's default policy is assumed.
    #[arg(long)]
    config: Option<PathBuf>,

    /// Shortest time a person takes at an open door, in milliseconds.
    #[arg(long, default_value_t = 300)]
    handling_min_ms: u64,

    /// Longest time a person takes at an open door, in milliseconds.
    #[arg(long, default_value_t = 800)]
    handling_max_ms: u64,

    /// How long a scan waits for its outcome, in seconds.
    #[arg(long, default_value_t = 10)]
    outcome_timeout_secs: u64,

    #[command(subcommand)]
    command: Action,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Connect every locker, announce it, and idle until Ctrl-C.
    Announce,
    /// Play a shift of sign-outs and returns and print the report.
    Shift {
        /// Sign-outs to attempt (each is followed by its return).
        #[arg(long, default_value_t = 120)]
        sign_outs: usize,
        /// Officers at lockers at the same time.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Seed of the shift's plan.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();

    let config = config_from(&cli)?;
    let simulator = Simulator::start(config)
        .await
        .context("starting the lockers")?;

    match cli.command {
        Action::Announce => {
            tracing::info!("lockers announced; Ctrl-C stops them");
            let stopped = tokio::signal::ctrl_c().await;
            simulator.shutdown().await;
            stopped.context("waiting for Ctrl-C")?;
        }
        Action::Shift {
            sign_outs,
            concurrency,
            seed,
        } => {
            let plan = ShiftPlan {
                sign_outs,
                officers_at_once: concurrency,
                seed,
            };
            let report = run_shift(&simulator, plan).await;
            simulator.shutdown().await;
            let report = report.context("running the shift")?;
            println!("{report}");
        }
    }
    Ok(())
}

fn config_from(cli: &Cli) -> anyhow::Result<SimConfig> {
    let broker = resolve(&cli.broker)?;

    let key_text = std::fs::read_to_string(&cli.key_file)
        .with_context(|| format!("reading the key file {}", cli.key_file.display()))?;
    let fleet_secret = FleetSecret::from_hex(&key_text)
        .with_context(|| format!("key file {}", cli.key_file.display()))?;

    let agency = AgencyData::load_dir(&cli.data_dir)
        .with_context(|| format!("loading the agency data in {}", cli.data_dir.display()))?;
    if agency.pins.is_empty() {
        tracing::warn!(dir = %cli.data_dir.display(), "no pins.csv: every keypad scan will fail");
    }

    let mut config = SimConfig::new(broker, fleet_secret, agency);
    config.tls = tls_from(cli)?;
    if let Some(path) = &cli.config {
        config.access = access_policy(path)?;
    }
    config.handling_delay = (
        Duration::from_millis(cli.handling_min_ms),
        Duration::from_millis(cli.handling_max_ms),
    );
    config.outcome_timeout = Duration::from_secs(cli.outcome_timeout_secs);
    Ok(config)
}

/// TLS settings from the `--tls-*` options.
fn tls_from(cli: &Cli) -> anyhow::Result<Option<SimTls>> {
    let read =
        |path: &PathBuf| std::fs::read(path).with_context(|| format!("reading {}", path.display()));
    let Some(ca) = &cli.tls_ca else {
        return Ok(None);
    };
    let client = match (&cli.tls_client_cert, &cli.tls_client_key) {
        (Some(cert), Some(key)) => Some((read(cert)?, read(key)?)),
        _ => None,
    };
    Ok(Some(SimTls {
        ca_pem: read(ca)?,
        client,
    }))
}

/// The `[access]` table of the service's configuration file; the other
/// tables are the service's business and are not checked here.
fn access_policy(path: &Path) -> anyhow::Result<AccessPolicy> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the configuration {}", path.display()))?;
    let mut table: toml::Table =
        toml::from_str(&text).with_context(|| format!("configuration {}", path.display()))?;
    let policy: AccessPolicy = match table.remove("access") {
        Some(access) => access
            .try_into()
            .with_context(|| format!("[access] in {}", path.display()))?,
        None => AccessPolicy::default(),
    };
    let problems = policy.problems();
    if let Some(first) = problems.first() {
        bail!(
            "{}: {first} ({} problem(s))",
            path.display(),
            problems.len()
        );
    }
    Ok(policy)
}

fn resolve(broker: &str) -> anyhow::Result<SocketAddr> {
    let mut addresses = broker
        .to_socket_addrs()
        .with_context(|| format!("broker address {broker:?}"))?;
    match addresses.next() {
        Some(address) => Ok(address),
        None => bail!("broker address {broker:?} resolves to nothing"),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::{access_policy, Cli};

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_access_table_is_read_and_the_rest_left_alone() {
        let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("temp dir: {error}"));
        let path = dir.path().join("armory.toml");
        let text = "[service]\nstate_dir = \"x\"\n\n[access]\nlockout_attempts = 3\n";
        std::fs::write(&path, text).unwrap_or_else(|error| panic!("write: {error}"));
        let policy = access_policy(&path).unwrap_or_else(|error| panic!("{error:#}"));
        assert_eq!(policy.lockout_attempts, 3);

        std::fs::write(&path, "[access]\nlockout_attempts = 0\n")
            .unwrap_or_else(|error| panic!("write: {error}"));
        let error = access_policy(&path)
            .map(|_| ())
            .expect_err("zero lockout attempts are refused");
        assert!(error.to_string().contains("lockout_attempts"), "{error:#}");
    }
}
