//! `armory import roster|training FILE`: apply an HR roster or a training
//! (LMS) export to the store of the configured state folder.
//!
//! The whole file is checked first, against itself and against the store;
//! with any fault, every fault is printed as `file:line: column C: message`,
//! nothing is applied and the command fails. A running service picks an
//! applied file up within one poll period, without a restart.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Subcommand;
use jiff::Timestamp;

use crate::config::Config;
use crate::personnel::{self, ImportKind};

/// Which export to import.
#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// Replace the roster with an HR export (the columns of roster.csv).
    /// People who stay keep their certifications and PINs.
    Roster {
        /// The export.
        file: PathBuf,
        /// Configuration file.
        #[arg(long, default_value = "config/armory.toml")]
        config: PathBuf,
    },
    /// Replace all certifications with a training export (the columns of
    /// training.csv).
    Training {
        /// The export.
        file: PathBuf,
        /// Configuration file.
        #[arg(long, default_value = "config/armory.toml")]
        config: PathBuf,
    },
}

/// Applies the file and prints what changed.
pub fn run(command: ImportCommand) -> anyhow::Result<()> {
    let (kind, file, config) = match command {
        ImportCommand::Roster { file, config } => (ImportKind::Roster, file, config),
        ImportCommand::Training { file, config } => (ImportKind::Training, file, config),
    };
    let report = apply(kind, &file, &config)?;
    print!("{report}");
    Ok(())
}

fn apply(kind: ImportKind, file: &Path, config: &Path) -> anyhow::Result<personnel::ImportReport> {
    let config = Config::load(config)?;
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let mut db = personnel::open_store(&personnel::store_path(&config))?;

    // Errors name the file as it was given, so they point at it.
    let name = file.display().to_string();
    let report = match kind {
        ImportKind::Roster => personnel::import_roster(&mut db, &name, &bytes, Timestamp::now()),
        ImportKind::Training => {
            personnel::import_training(&mut db, &name, &bytes, Timestamp::now())
        }
    }?;
    Ok(report)
}
