//! `armory weapons due|quarantined|overdue`: the armorer's views, read
//! from the store, by site and locker.

use std::path::PathBuf;

use anyhow::Context as _;
use armory_actors::domain::{LockerId, ServiceStatus, SiteId};
use clap::{Args, Subcommand};

use crate::config::Config;
use crate::store::{Database, WeaponLine};

/// Which weapons to list.
#[derive(Subcommand, Debug)]
pub enum WeaponsCommand {
    /// Weapons due for service (status `needs_service`).
    Due(Where),
    /// Weapons quarantined after a problem report, with the problem.
    Quarantined(Where),
    /// Weapons signed out longer than their class's expected return time.
    Overdue(Where),
}

/// Where to look.
#[derive(Args, Debug)]
pub struct Where {
    /// Configuration file (for the store and the service policy).
    #[arg(long, default_value = "config/armory.toml")]
    config: PathBuf,
    /// Only this site.
    #[arg(long)]
    site: Option<String>,
    /// Only this locker.
    #[arg(long)]
    locker: Option<String>,
}

/// Prints the list asked for.
pub fn run(command: WeaponsCommand) -> anyhow::Result<()> {
    let (place, lines) = match command {
        WeaponsCommand::Due(place) => {
            let lines = open(&place)?
                .1
                .weapons_with_status(ServiceStatus::NeedsService)?;
            (place, lines)
        }
        WeaponsCommand::Quarantined(place) => {
            let lines = open(&place)?
                .1
                .weapons_with_status(ServiceStatus::Quarantined)?;
            (place, lines)
        }
        WeaponsCommand::Overdue(place) => {
            let (config, database) = open(&place)?;
            let now = jiff::Timestamp::now();
            let lines = database
                .weapons_out_since(now)?
                .into_iter()
                .filter(|line| {
                    let rule = config.maintenance.class(line.class);
                    let allowed = jiff::SignedDuration::try_from(rule.expected_return())
                        .unwrap_or(jiff::SignedDuration::MAX);
                    line.signed_out_at
                        .is_some_and(|out| now.duration_since(out) > allowed)
                })
                .collect();
            (place, lines)
        }
    };

    let site = place.site.map(|s| SiteId::from(s.as_str()));
    let locker = place.locker.map(|l| LockerId::from(l.as_str()));
    let shown: Vec<&WeaponLine> = lines
        .iter()
        .filter(|line| site.as_ref().is_none_or(|site| line.site == *site))
        .filter(|line| locker.as_ref().is_none_or(|locker| line.locker == *locker))
        .collect();
    print_table(&shown);
    Ok(())
}

fn open(place: &Where) -> anyhow::Result<(Config, Database)> {
    let config = Config::load(&place.config)?;
    let path = config.resolved_state_dir().join("armory.sqlite3");
    anyhow::ensure!(path.exists(), "no store at {}", path.display());
    let database = Database::open_reader(&path)
        .with_context(|| format!("opening the store {}", path.display()))?;
    Ok((config, database))
}

fn print_table(lines: &[&WeaponLine]) {
    println!(
        "{:<10} {:<16} {:<5} {:<8} {:>4} {:<15} {:>8} {:>6} {:<11} {:<8} {:<20} problem",
        "weapon",
        "class",
        "site",
        "locker",
        "comp",
        "status",
        "uses",
        "rounds",
        "serviced",
        "holder",
        "out since",
    );
    for line in lines {
        println!(
            "{:<10} {:<16} {:<5} {:<8} {:>4} {:<15} {:>8} {:>6} {:<11} {:<8} {:<20} {}",
            line.asset_tag.as_str(),
            line.class.as_str(),
            line.site.as_str(),
            line.locker.as_str(),
            line.compartment,
            line.status.as_str(),
            line.sign_outs_since_service,
            line.deployments_since_service,
            line.last_service_date,
            line.holder.as_ref().map_or("-", |h| h.as_str()),
            line.signed_out_at.map_or_else(
                || "-".to_owned(),
                |at| { at.round(jiff::Unit::Second).unwrap_or(at).to_string() }
            ),
            line.problem.as_deref().unwrap_or("-"),
        );
    }
    println!("{} weapon(s)", lines.len());
}
