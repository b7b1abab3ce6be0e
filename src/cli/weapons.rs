//! `armory weapons due|quarantined|overdue`: the armorer's views, read
//! from the store, by site and locker.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use armory_actors::domain::{LockerId, ServiceStatus, SiteId};
use clap::{Args, Subcommand};

use crate::config::{known_ids, Config};
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
    known(&place.config, site.as_ref(), locker.as_ref())?;
    let shown: Vec<&WeaponLine> = lines
        .iter()
        .filter(|line| site.as_ref().is_none_or(|site| line.site == *site))
        .filter(|line| locker.as_ref().is_none_or(|locker| line.locker == *locker))
        .collect();
    print_table(&shown);
    Ok(())
}

/// Refuses a site or locker the store does not have, so that a mistyped
/// name is not taken for "nothing to list".
fn known(config: &Path, site: Option<&SiteId>, locker: Option<&LockerId>) -> anyhow::Result<()> {
    if site.is_none() && locker.is_none() {
        return Ok(());
    }
    let (_, database) = open_at(config)?;
    let armory = database.load_armory()?;
    if let Some(site) = site {
        anyhow::ensure!(
            armory.sites.contains_key(site),
            "no site {site} in the store (sites: {})",
            known_ids(&armory.sites)
        );
    }
    if let Some(locker) = locker {
        anyhow::ensure!(
            armory.lockers.contains_key(locker),
            "no locker {locker} in the store (lockers: {})",
            known_ids(&armory.lockers)
        );
    }
    Ok(())
}

fn open(place: &Where) -> anyhow::Result<(Config, Database)> {
    open_at(&place.config)
}

fn open_at(path: &Path) -> anyhow::Result<(Config, Database)> {
    let config = Config::load(path)?;
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
