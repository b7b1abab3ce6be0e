//! The command line: one subcommand per module under `cli/`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub use error_text::error_text;

mod audit;
mod broker_users;
mod data;
mod error_text;
mod import;
mod keys;
mod pin;
mod run;
mod weapons;

/// Runs the intelligent weapon lockers of a law-enforcement armory.
#[derive(Parser, Debug)]
#[command(version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// The armorer's views: weapons due for service, quarantined, overdue.
    #[command(subcommand)]
    Weapons(weapons::WeaponsCommand),
    /// Run the service: broker, store, actor tree.
    Serve {
        /// Configuration file.
        #[arg(long, default_value = "config/armory.toml")]
        config: PathBuf,
    },
    /// Run the service and simulated lockers together, and play a shift.
    Demo {
        /// Configuration file.
        #[arg(long, default_value = "config/armory.toml")]
        config: PathBuf,
        /// Sign-outs (each followed by its return) in the shift.
        #[arg(long, default_value_t = 120)]
        sign_outs: usize,
        /// Officers at lockers at the same time.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Stop after the shift instead of running until Ctrl-C.
        #[arg(long)]
        exit: bool,
    },
    /// Print the default configuration file.
    DefaultConfig,
    /// Check a folder of agency files (sites, lockers, inventory, roster,
    /// training, pins) and report every problem with file, line and column.
    CheckData {
        /// The folder.
        dir: PathBuf,
    },
    /// Apply an HR roster or training export to the store; a running
    /// service takes it into force within seconds, without a restart.
    Import {
        /// Which export.
        #[command(subcommand)]
        what: import::ImportCommand,
    },
    /// Enrol PINs; the PIN is read from standard input, never an argument.
    Pin {
        /// What to do.
        #[command(subcommand)]
        what: pin::PinCommand,
    },
    /// The inspector's commands on the audit trail: verify, query, export.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Locker keys: print one for provisioning, rotate the fleet secret.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// The embedded broker's users: hash a password for the configuration.
    #[command(subcommand)]
    Broker(broker_users::BrokerCommand),
}

/// Runs one subcommand.
pub async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve { config } => run::serve(&config).await,
        Command::Demo {
            config,
            sign_outs,
            concurrency,
            exit,
        } => run::demo(&config, sign_outs, concurrency, exit).await,
        Command::DefaultConfig => {
            print!("{}", crate::config::Config::default_toml());
            Ok(())
        }
        Command::CheckData { dir } => data::check(&dir),
        Command::Weapons(command) => weapons::run(command),
        Command::Import { what } => import::run(what),
        Command::Pin { what } => pin::run(what),
        Command::Audit(command) => audit::run(command),
        Command::Keys(command) => keys::run(command),
        Command::Broker(command) => broker_users::run(command),
    }
}
