//! `armory import roster|training FILE`: apply an HR roster or a training
//! (LMS) export to the store of the configured state folder.
//!
//! The whole file is checked first, against itself and against the store;
//! with any fault, every fault is printed as `file:line: column C: message`,
//! nothing is applied and the command fails. A roster that would remove
//! more people than `[agency] max_roster_removals` /
//! `max_roster_removal_percent` allow, or a training export that would
//! take a valid certification from more people than that, is refused the
//! same way unless `--allow-removals` is given. `--dry-run` checks and prints what would
//! change without applying anything. A running service picks an applied
//! file up within one poll period, without a restart.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Subcommand;
use jiff::Timestamp;

use crate::config::Config;
use crate::personnel::{self, ImportKind, ImportOptions};

/// Which export to import.
#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// Replace the roster with an HR export (the columns of roster.csv).
    /// People who stay keep their certifications and PINs; people who
    /// leave lose both.
    Roster {
        /// The export.
        file: PathBuf,
        /// Configuration file.
        #[arg(long, default_value = "config/armory.toml")]
        config: PathBuf,
        /// Apply the roster even if it removes more people than
        /// `[agency] max_roster_removals` / `max_roster_removal_percent`
        /// allow.
        #[arg(long)]
        allow_removals: bool,
        /// Check the file and print what would change; apply nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Replace all certifications with a training export (the columns of
    /// training.csv).
    Training {
        /// The export.
        file: PathBuf,
        /// Configuration file.
        #[arg(long, default_value = "config/armory.toml")]
        config: PathBuf,
        /// Apply the export even if it takes a certification valid now,
        /// with no valid one for that weapon class in the file, from more
        /// people than `[agency] max_roster_removals` /
        /// `max_roster_removal_percent` allow.
        #[arg(long)]
        allow_removals: bool,
        /// Check the file and print what would change; apply nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// Applies the file (or checks it, for a dry run) and prints what changed.
pub fn run(command: ImportCommand) -> anyhow::Result<()> {
    let (kind, file, config, allow_removals, dry_run) = match command {
        ImportCommand::Roster {
            file,
            config,
            allow_removals,
            dry_run,
        } => (ImportKind::Roster, file, config, allow_removals, dry_run),
        ImportCommand::Training {
            file,
            config,
            allow_removals,
            dry_run,
        } => (ImportKind::Training, file, config, allow_removals, dry_run),
    };
    let config = Config::load(&config)?;
    let options = ImportOptions {
        allow_removals,
        dry_run,
        ..ImportOptions::from_config(&config)
    };
    let report = apply(kind, &file, &config, &options)?;
    print!("{report}");
    Ok(())
}

fn apply(
    kind: ImportKind,
    file: &Path,
    config: &Config,
    options: &ImportOptions,
) -> anyhow::Result<personnel::ImportReport> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let mut db = personnel::open_store(&personnel::store_path(config))?;

    // Errors name the file as it was given, so they point at it.
    let name = file.display().to_string();
    let now = Timestamp::now();
    let report = match kind {
        ImportKind::Roster => personnel::import_roster(&mut db, &name, &bytes, now, options),
        ImportKind::Training => personnel::import_training(&mut db, &name, &bytes, now, options),
    }?;
    Ok(report)
}
