//! `armory keys locker ID` and `armory keys rotate`: provisioning locker
//! controllers and rotating the fleet secret.
//!
//! `keys locker` prints one locker's key, 64 hex digits, on standard
//! output and nothing else there, so it can be piped straight into a
//! provisioning tool; the warning that it is a secret goes to standard
//! error. The controller derives its MQTT password and PIN seal from it
//! (see `docs/security.md`).
//!
//! `keys rotate` writes a new fleet secret and keeps the old one as
//! `fleet.key.previous`; a service started afterwards still accepts events
//! under the old locker keys for `[security] retired_key_grace_seconds`,
//! while its commands use the new keys only. Every locker must be
//! re-provisioned within that time. The running service keeps the secrets
//! it started with until it is restarted.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use armory_actors::domain::LockerId;
use armory_actors::protocol::bounds::is_id;
use clap::Subcommand;
use jiff::Timestamp;

use crate::config::Config;
use crate::keyfile;

/// Key provisioning and rotation.
#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Print one locker's key (hex) for provisioning its controller.
    Locker {
        /// The locker id, e.g. SLM-L1.
        locker: String,
        /// Configuration file.
        #[arg(long, default_value = "config/armory.toml")]
        config: PathBuf,
    },
    /// Make a new fleet secret; the old one is accepted on events for the
    /// configured grace period. Restart the service afterwards.
    Rotate {
        /// Configuration file.
        #[arg(long, default_value = "config/armory.toml")]
        config: PathBuf,
        /// Rotate even while the previous rotation's grace period runs
        /// (lockers still on the secret before it are cut off).
        #[arg(long)]
        force: bool,
    },
}

/// Runs one keys command.
pub fn run(command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Locker { locker, config } => locker_key(&locker, &config),
        KeysCommand::Rotate { config, force } => rotate(&config, force),
    }
}

fn locker_key(locker: &str, config: &Path) -> anyhow::Result<()> {
    if !is_id(locker) {
        anyhow::bail!("{locker:?} is not a locker id (1 to 64 characters of [A-Za-z0-9._-])");
    }
    let config = Config::load(config)?;
    let state_dir = config.resolved_state_dir();

    // The same rule as `serve`: no key leaves a folder others may enter.
    keyfile::check_state_dir(&state_dir)?;
    let key_path = state_dir.join(keyfile::FLEET_KEY);
    let secret = keyfile::load(&key_path)?;

    // A typo would provision a controller no one will ever hear from.
    let store = state_dir.join("armory.sqlite3");
    if store.exists() {
        let armory = crate::store::Database::open_reader(&store)
            .and_then(|database| database.load_armory())
            .with_context(|| format!("reading the lockers from {}", store.display()))?;
        if !armory.lockers.contains_key(&LockerId::from(locker)) {
            anyhow::bail!("no locker {locker} in the store {}", store.display());
        }
    }

    let key = secret.locker_key(&LockerId::from(locker));
    eprintln!(
        "warning: this is locker {locker}'s secret key; load it into its controller \
         and do not store or share it anywhere else"
    );
    println!("{}", key.to_hex());
    Ok(())
}

fn rotate(config: &Path, force: bool) -> anyhow::Result<()> {
    let config = Config::load(config)?;
    let state_dir = config.resolved_state_dir();
    let grace = jiff::SignedDuration::try_from(config.security.retired_key_grace)
        .context("the grace period is out of range")?;
    keyfile::check_state_dir(&state_dir)?;
    let now = Timestamp::now();
    keyfile::rotate(&state_dir, now, grace, force)?;
    let until = armory_actors::protocol::seal::later_by(now, grace);
    println!(
        "new fleet secret in {}; the old one is accepted on events until {until}",
        state_dir.join(keyfile::FLEET_KEY).display()
    );
    println!("restart the service, then re-provision every locker (armory keys locker ID)");
    Ok(())
}
