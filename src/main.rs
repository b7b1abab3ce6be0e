//! The `armory` command: run the service, run the demo, check files.

use std::path::PathBuf;

use anyhow::Context as _;
use armory::config::Config;
use armory::serve::Service;
use armory_actors::clock::Clock;
use clap::{Parser, Subcommand};

/// Runs the intelligent weapon lockers of a law-enforcement armory.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
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
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    armory::logging::init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(run(cli.command))
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve { config } => {
            let config = Config::load(&config)?;
            let mut service = Service::start(&config, Clock::system()).await?;
            tokio::select! {
                error = service.broker_failed() => return Err(error),
                _ = tokio::signal::ctrl_c() => {}
            }
            service.stop().await;
            Ok(())
        }
        Command::Demo {
            config,
            sign_outs,
            concurrency,
            exit,
        } => {
            let config = Config::load(&config)?;
            armory::demo::run(&config, sign_outs, concurrency, exit).await
        }
        Command::DefaultConfig => {
            print!("{}", Config::default_toml());
            Ok(())
        }
        Command::CheckData { dir } => match armory_actors::import::AgencyData::load_dir(&dir) {
            Ok(data) => {
                println!(
                    "ok: {} sites, {} lockers, {} weapons, {} people, {} PINs",
                    data.armory.sites.len(),
                    data.armory.lockers.len(),
                    data.armory.weapons.len(),
                    data.personnel.people.len(),
                    data.pins.len()
                );
                Ok(())
            }
            Err(errors) => anyhow::bail!("{errors}"),
        },
    }
}
